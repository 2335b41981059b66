"""albert-convert: convert an ALBERT checkpoint between layouts.

Reads any supported checkpoint (TF1 Google / TF-Hub / brightmart, Hugging Face safetensors or
pytorch_model.bin, this project's .keras, or a model directory: best_checkpoint/, squad_model/,
pretrained/, a keras-hub preset directory) and writes it as a TF1 checkpoint (readable by the original
TF1 code and by Hugging Face's TF1 loader), a Hugging Face directory, a .keras file, a model directory,
or a keras-hub preset directory (`--output_format keras_hub`: AlbertBackbone, or AlbertTextClassifier
for a classifier, with the SentencePiece tokenizer).

A model directory's head goes with it: `--output_format hf` of a SQuAD model writes
AlbertForQuestionAnswering, of a classifier AlbertForSequenceClassification with id2label, plus the
tokenizer files transformers reads. A Hugging Face directory's head and labels come back the same way.

Examples:
  albert-convert --input albert_base/model.ckpt-best --output_format hf --output out/albert_base_hf
  albert-convert --input albert-base-v2/ --output_format tf1 --output out/tf1/model.ckpt
  albert-convert --input runs/squad/squad_model --output_format hf --output out/squad_hf
  python -m albert_tf.cli.convert --input albert_tiny_zh/albert_model.ckpt \
      --config albert_tiny_zh/albert_config_tiny.json --output_format keras --output tiny.keras
"""

import dataclasses
import logging
import sys
from typing import Optional

from absl import app, flags

from albert_tf import filesystem, model_directory, output_errors
from albert_tf import tf_logs  # noqa: E402
from albert_tf.checkpoints import huggingface
from albert_tf.checkpoints import keras_hub as keras_hub_presets

FLAGS = flags.FLAGS
tf_logs.define_flag()

flags.DEFINE_string("input", None, "Checkpoint to read: a model directory, TF1 prefix/.index/directory, "
                                   "model.safetensors, pytorch_model.bin, a directory holding one, a .keras file, "
                                   "or a keras-hub preset directory.")
flags.DEFINE_string("config", None, "Config json (official albert_config.json or Hugging Face config.json). "
                                    "Defaults to the one next to --input.")
flags.DEFINE_string("preset", None, "Use a released model's config instead of --config (e.g. albert_base_v2).")
flags.DEFINE_enum("output_format", "tf1", ["tf1", "hf", "keras", "model_dir", "keras_hub"], "Layout to write.")
flags.DEFINE_string("output", None, "TF1: checkpoint prefix; hf, model_dir and keras_hub: directory; keras: file "
                                    "ending in .keras.")
flags.DEFINE_enum("model", "pretrainer", ["pretrainer", "encoder"],
                  "pretrainer keeps the heads the input has (MLM and SOP, or a model directory's task head); "
                  "encoder: the encoder alone.")
flags.DEFINE_boolean("allow_partial", False, "Convert even if encoder weights are missing (they stay random).")
flags.DEFINE_integer("global_step", None, "global_step to store in a TF1 checkpoint.")


@dataclasses.dataclass
class Source:
    """What a conversion reads: weights, config, the head's task record and the tokenizer, if known."""

    checkpoint: str
    config: object
    task: Optional[dict] = None
    tokenizer: object = None
    directory: Optional[model_directory.ModelDirectory] = None


def read_source(input_path, config=None, max_seq_length=None) -> Source:
    """A model directory says everything; a Hugging Face directory its head, labels and tokenizer; any
    other checkpoint only its weights (`config`: the given config, else the json next to it)."""
    from albert_tf.checkpoints import load_config_for, locate_checkpoint
    from albert_tf.tokenization import load_tokenizer

    # A keras-hub preset holds its config, head and tokenizer (its task.json is keras-hub's, not a model directory's).
    if keras_hub_presets.is_preset(input_path):
        config = config if config is not None else keras_hub_presets.read_preset_config(input_path)
        return Source(input_path, config, keras_hub_presets.read_preset_task(input_path),
                      keras_hub_presets.read_preset_tokenizer(input_path))
    found = model_directory.model_directory_of(input_path)
    if found:
        saved = model_directory.read_model_directory(found)
        if config is not None and config.to_official_dict() != saved.config.to_official_dict():
            raise ValueError(f"--config/--preset contradicts {found}/{model_directory.CONFIG_FILE}: leave it out")
        tokenizer = load_tokenizer(found) if saved.has_tokenizer else None
        return Source(saved.checkpoint_prefix, saved.config, saved.task, tokenizer, saved)
    locate_checkpoint(input_path)  # a missing or unreadable input fails before any model is built
    config = config if config is not None else load_config_for(input_path)
    directory = input_path if filesystem.isdir(input_path) else filesystem.dirname(input_path) or "."
    hf_config = huggingface.read_hf_config(directory)
    if hf_config is None or hf_config.get("model_type") != "albert":
        tokenizer = None
        try:  # this project's record next to a TF1 checkpoint (run_pretraining.py's pretrained/ of old)
            tokenizer = load_tokenizer(directory)
        except (FileNotFoundError, ValueError):
            pass
        return Source(input_path, config, None, tokenizer)
    tokenizer = huggingface.read_hf_tokenizer(directory)
    task = huggingface.task_from_config(hf_config, filesystem.join(directory, "config.json"))
    if task is not None and task["kind"] != model_directory.PRETRAINING:
        task = _complete_task(task, directory, config, max_seq_length)
    return Source(input_path, config, task, tokenizer)


def _complete_task(task, directory, config, max_seq_length):
    """The task.json fields a Hugging Face directory does not record, each said in a log line."""
    if max_seq_length is None:
        max_seq_length = huggingface.model_max_length(directory) or config.max_position_embeddings
        logging.info("max_seq_length %d for the task head of %s (its tokenizer's model_max_length, else the "
                     "config's max_position_embeddings)", max_seq_length, directory)
    task = {**task, "task_name": filesystem.basename(filesystem.absolute(directory)), "max_seq_length": max_seq_length}
    if task["kind"] == model_directory.SQUAD:
        assumed = {"version": "1.1", "head": "span", "start_n_top": 5, "end_n_top": 5,
                   "doc_stride": min(128, max_seq_length // 2), "max_query_length": min(64, max_seq_length // 4),
                   "null_threshold": None}
        logging.warning("%s records no SQuAD settings; assumed %s (edit task.json if the model was trained "
                        "otherwise)", directory, assumed)
        task.update(assumed)
    return task


def convert(input_path, output, output_format="tf1", config=None, model_kind="pretrainer", allow_partial=False,
            global_step=None, max_seq_length=None):
    """Library entry point of the converter; returns the load report."""
    from albert_tf.checkpoints import export_weights, read_checkpoint, save_hf, save_tf1
    from albert_tf.checkpoints.loader import assign_weights

    # Flags first: nothing is read for a conversion that cannot be written.
    if output_format == "keras" and not output.endswith(".keras"):
        raise ValueError(f"--output={output}: a keras output must end in .keras")
    if global_step is not None and global_step < 0:
        raise ValueError(f"--global_step={global_step}: must be >= 0")
    output_errors.check_writable(output, is_directory=output_format in ("hf", "model_dir", "keras_hub"))
    source = read_source(input_path, config, max_seq_length)  # fails fast on missing or corrupt input
    encoder_only = model_kind == "encoder"
    if output_format == "model_dir" and source.tokenizer is None:
        raise ValueError(f"--input={input_path}: no tokenizer next to it (tokenizer_config.json, spiece.model or "
                         "vocab.txt), which a model directory needs; convert to tf1 and add the tokenizer files")
    task = None if encoder_only else source.task
    if output_format == "hf":
        huggingface.head_config(task)  # a head transformers has no class for is refused before any work
        if task and task.get("null_threshold") is not None:
            logging.warning("the SQuAD v2 null threshold %.4f of %s has no place in a Hugging Face directory: "
                            "transformers' question-answering pipeline (handle_impossible_answer=True) compares "
                            "the null score with the best span's without it", task["null_threshold"], input_path)
    if output_format == "keras_hub":  # what keras-hub cannot express is refused before any work
        keras_hub_presets.check_expressible(source.config, task, source.tokenizer)
        keras_hub_presets.require()
    model = model_directory.build_model(source.config, task, encoder_only=encoder_only)
    if source.directory is not None and not encoder_only:
        report = model_directory.load_model_weights(model, source.directory, allow_partial=allow_partial)
    else:
        report = assign_weights(model, read_checkpoint(source.checkpoint, like=model), allow_partial=allow_partial)
    with output_errors.writing(output):
        if output_format == "tf1":
            save_tf1(model, output, global_step=global_step)
        elif output_format == "hf":
            filesystem.makedirs(output)
            save_hf(model, output, task=task or {"kind": model_directory.PRETRAINING}, tokenizer=source.tokenizer)
        elif output_format == "model_dir":
            model_directory.save_model_directory(output, model, source.tokenizer,
                                                 task or {"kind": model_directory.PRETRAINING},
                                                 global_step=global_step)
        elif output_format == "keras_hub":
            keras_hub_presets.save_preset(export_weights(model), source.config, output,
                                          task=task or {"kind": model_directory.PRETRAINING},
                                          tokenizer=source.tokenizer)
        else:
            filesystem.makedirs(filesystem.dirname(filesystem.absolute(output)))
            with filesystem.local_output(output, suffix=".keras") as temp:  # Keras zips into a local file
                model.save(temp)
    return report


def main(argv):
    del argv
    from albert_tf.checkpoints import load_config_for
    from albert_tf.config import preset

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if FLAGS.preset and FLAGS.config:
        raise app.UsageError("give --config or --preset, not both")
    config = preset(FLAGS.preset) if FLAGS.preset else None
    if FLAGS.config:
        config = load_config_for(FLAGS.input, FLAGS.config)
    report = convert(FLAGS.input, FLAGS.output, FLAGS.output_format, config=config, model_kind=FLAGS.model,
                     allow_partial=FLAGS.allow_partial, global_step=FLAGS.global_step)
    print(report.summary())
    print(f"wrote {FLAGS.output_format} "
          f"{'directory' if FLAGS.output_format in ('hf', 'model_dir', 'keras_hub') else 'checkpoint'} "
          f"to {FLAGS.output}")


def run():
    from albert_tf.cli.console import show_as_main  # pylint: disable=import-outside-toplevel
    tf_logs.quiet_tensorflow()
    show_as_main(__name__)  # --help of the pip command lists these flags, not a bare USAGE line
    flags.mark_flags_as_required(["input", "output"])
    try:
        app.run(main)
    except (FileNotFoundError, ValueError, ImportError, output_errors.OutputError) as err:  # one line, no traceback
        print(f"albert-convert: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
