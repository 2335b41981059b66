"""albert-export: write a raw-text SavedModel from a checkpoint.

A model directory (run_classifier.py's best_checkpoint/, run_squad.py's squad_model/,
run_pretraining.py's pretrained/) says what it holds in its task.json: --kind, the labels, the
packing length and the SQuAD settings come from there, and a flag that contradicts it is refused.

Kinds:
  classifier  a fine-tuned classifier; for a bare checkpoint the labels come from --task_name (or
              --labels), the packing length from --max_seq_length.
  squad       run_squad.py's fine-tuned model directory (<output_dir>/squad_model): head, lengths and
              the v2 null threshold are read from its task.json.
  encoder     any pretrained checkpoint (TF1 Google / TF-Hub / brightmart, Hugging Face, .keras, or
              run_pretraining.py's pretrained/ export): <export_dir>/encoder and <export_dir>/preprocessor
              following TF Hub's text API, with an `mlm` endpoint when the checkpoint has the MLM head.

Every export is reloaded in a fresh process and compared with the in-memory model before it is
moved into place. Examples:
  albert-export --checkpoint=runs/mrpc/best_checkpoint --export_dir=exports/mrpc
  albert-export --kind=encoder --checkpoint=albert_base_v2/model.ckpt-best --export_dir=exports/albert_base
  albert-export --checkpoint=runs/squad2/squad_model --export_dir=exports/squad2
  albert-export --checkpoint=runs/conll/ner_model --export_dir=exports/conll   (run_ner.py's model: entities)
"""

import json

from absl import app, flags, logging  # noqa: E402

from albert_tf.tokenization import settings_flags  # noqa: E402

from albert_tf import model_directory, output_errors  # noqa: E402
from albert_tf import tf_logs  # noqa: E402
from albert_tf.training import cpu_features  # noqa: E402

FLAGS = flags.FLAGS
tf_logs.define_flag()

flags.DEFINE_enum("kind", None, ["classifier", "squad", "encoder"], "What the checkpoint holds (default for a model "
                  "directory: its task.json).")
flags.DEFINE_string("checkpoint", None, "A model directory (best_checkpoint/, squad_model/, pretrained/) or a "
                    "checkpoint of any supported layout.")
flags.DEFINE_string("export_dir", None, "Where the SavedModel goes (replaced only after the reload check passes).")
flags.DEFINE_string("albert_config_file", None, "Model config json (default: next to --checkpoint).")
flags.DEFINE_string("vocab_file", None, "SentencePiece .model or WordPiece vocab.txt (default: the tokenizer "
                    "recorded next to --checkpoint).")
settings_flags.define_tokenizer_flags()
flags.DEFINE_string("task_name", None, "classifier: the task whose labels the classifier predicts.")
flags.DEFINE_list("labels", None, "classifier: label strings in id order (instead of --task_name).")
flags.DEFINE_enum("text_fields", "auto", ["auto", "1", "2"], "classifier: one text (text_a) or a pair "
                  "(text_a, text_b); auto follows --task_name.")
flags.DEFINE_bool("regression", False, "classifier with --labels unset: one regression output (STS-B).")
flags.DEFINE_integer("max_seq_length", 128, "classifier and encoder: the packing length the model was "
                     "trained with (a model directory: read from its task.json).")
flags.DEFINE_bool("self_check", True, "Reload the export in a fresh process and compare outputs.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "bf16", "auto"], "classifier and squad: the served model's compute "
                  "precision. bf16: matrix weights stored and multiplied in bfloat16 for CPUs with AMX (amx_bf16) or "
                  "AVX-512 BF16 (avx512_bf16); LayerNorm, softmax, heads and outputs stay float32 and the reload "
                  "check compares the outputs with the float32 model within the bf16 tolerance, classifier labels "
                  "included. auto: bf16 "
                  "when this machine's CPU has those instructions (export on the kind of machine that serves).")
flags.DEFINE_bool("tflite", False, "classifier: also write model.tflite of the serving_ids signature (int32 ids in; "
                  "tokenize on the host), checked like the SavedModel.")


def export_checkpoint(kind, checkpoint, export_dir, *, albert_config_file=None, vocab_file=None,
                      do_lower_case=None, keep_accents=None, task_name=None, labels=None, text_fields="auto", regression=None,
                      max_seq_length=None, check=True, tflite=False, precision="fp32"):
    """Library entry point; returns the export info (also written to assets.extra/export.json).

    `precision`: "fp32", "bf16" (classifiers) or "auto" (bf16 where this CPU has bf16 matrix instructions).

    `kind`, `task_name`, `labels`, `regression`, `max_seq_length`: None when not given; a model
    directory supplies them, and a given value that contradicts its task.json is refused.
    """
    from albert_tf.checkpoints import load_config_for, load_weights, read_checkpoint
    from albert_tf import export
    from albert_tf.export import destination, sources
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer

    if not checkpoint or not export_dir:
        raise ValueError("--checkpoint and --export_dir are required")
    precision = export_precision(precision, tflite)
    # The export replaces --export_dir as a whole: refuse one that is not an earlier export, or
    # that holds the checkpoint, before anything is read.
    destination.check_export_dir(export_dir, protected=(checkpoint, albert_config_file, vocab_file))
    output_errors.check_writable(export_dir, is_directory=True)  # a read-only place fails before any reading
    saved = model_directory.model_directory_of(checkpoint)
    if saved:
        saved = model_directory.read_model_directory(saved)
        if saved.kind == model_directory.TOKEN_CLASSIFICATION and kind is None:
            _check_precision_for("ner", precision)
            return _export_ner(saved, export_dir, vocab_file, do_lower_case, check, keep_accents)
        kind, task_name, labels, regression, max_seq_length = _settings_of(saved, kind, task_name, labels,
                                                                           regression, max_seq_length)
        if kind == "squad":
            _check_precision_for(kind, precision)
            return _export_squad(saved, export_dir, vocab_file, do_lower_case, check, keep_accents, precision)
    elif kind == "squad":
        raise FileNotFoundError(f"{checkpoint} is not a model directory: --checkpoint must be run_squad.py's "
                                f"<output_dir>/squad_model directory for --kind=squad")
    if kind is None:
        raise ValueError("--kind is required for a checkpoint outside a model directory (classifier, squad or "
                         "encoder)")
    _check_precision_for(kind, precision)
    max_seq_length = 128 if max_seq_length is None else max_seq_length
    regression = bool(regression)
    if kind == "classifier":  # labels first: a wrong task name fails before anything is read
        label_list, names = sources.task_labels_and_fields(task_name, labels, text_fields, regression)
    read_checkpoint(saved.checkpoint_prefix if saved else checkpoint)  # a missing or unreadable one fails now
    config = load_config_for(checkpoint, albert_config_file)
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={max_seq_length} exceeds the model's max_position_embeddings "
                         f"({config.max_position_embeddings})")
    tokenizer = sources.tokenizer_for(checkpoint, vocab_file, do_lower_case, keep_accents)
    if vocab_file:
        from albert_tf.tokenization import checkpoint_match
        checkpoint_match.check_matches_checkpoint(tokenizer, checkpoint, f"--vocab_file={vocab_file}", "--checkpoint")
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} pieces but the config's vocab_size is "
                         f"{config.vocab_size}: --vocab_file does not belong to this model")
    if kind == "classifier":
        classifier = AlbertClassifier(AlbertEncoder(config), max(len(label_list), 1))
        report = (model_directory.load_model_weights(classifier, saved) if saved else
                  load_weights(classifier, checkpoint, verbose=False))
        if report.newly_initialized:
            raise ValueError(f"{checkpoint} has no classifier head ({', '.join(report.newly_initialized)} missing): "
                             "export a fine-tuned checkpoint, e.g. run_classifier.py's best_checkpoint/model.ckpt")
        with output_errors.writing(export_dir):
            return export.export_classifier(classifier, tokenizer, export_dir, max_seq_length=max_seq_length,
                                            labels=label_list, text_fields=names, task_name=task_name,
                                            check=check, tflite=tflite, precision=precision)
    pretrainer = AlbertPretrainer(AlbertEncoder(config))
    report = (model_directory.load_encoder_weights(pretrainer, saved) if saved and saved.kind != "pretraining" else
              load_weights(pretrainer, saved.checkpoint_prefix if saved else checkpoint, verbose=False))
    with_mlm = not any("predictions" in name for name in report.newly_initialized)
    with_sop = not any("seq_relationship" in name for name in report.newly_initialized)
    if not with_mlm:
        logging.warning("%s has no MLM head: the encoder is exported without the mlm endpoint and fill_mask",
                        checkpoint)
    if not with_sop:
        logging.warning("%s has no SOP head: the encoder is exported without sentence_order", checkpoint)
    with output_errors.writing(export_dir):
        return export.export_encoder(pretrainer if with_mlm or with_sop else pretrainer.encoder, tokenizer,
                                     export_dir, max_seq_length=max_seq_length, with_mlm=with_mlm,
                                     with_sop=with_sop, check=check)


def export_precision(precision: str, tflite: bool = False) -> str:
    """--precision: "fp32" | "bf16", `auto` decided by this machine's CPU flags (logged with the reason)."""
    if precision == "auto" and tflite:
        logging.info("--precision=auto with --tflite: float32 (model.tflite is a float32 model)")
        return "fp32"
    chosen, reason = cpu_features.serving_precision(precision, cpu_features.cpu_flags())
    if precision == "auto":
        logging.info("%s", reason)
    if tflite and chosen != "fp32":
        raise ValueError("--tflite with --precision=bf16: model.tflite is a float32 model; leave --precision out")
    return chosen


# The exports with a bf16 variant (`export.saved_model.serving_dtype_policy`).
_KINDS_WITH_BF16 = ("classifier", "squad")


def _check_precision_for(kind, precision):
    if precision != "fp32" and kind not in _KINDS_WITH_BF16:
        raise ValueError(f"--precision={precision}: only classifier and SQuAD exports have a bf16 variant ({kind} "
                         "exports are float32); leave --precision out")


_KIND_OF_TASK = {"classification": "classifier", "regression": "classifier", "squad": "squad",
                 "pretraining": "encoder"}


def _settings_of(saved, kind, task_name, labels, regression, max_seq_length):
    """The export settings a model directory's task.json gives; a contradicting flag is refused."""
    task, where = saved.task, f"{saved.path}/{model_directory.TASK_FILE}"
    recorded = _KIND_OF_TASK.get(saved.kind)
    if recorded is None:
        raise ValueError(f"{where}: kind {saved.kind} has no raw-text export (classification, regression, squad "
                         "and pretraining models do); --kind=encoder exports its encoder")
    if kind is None:
        kind = recorded
    elif kind not in (recorded, "encoder"):
        raise ValueError(f"--kind={kind} contradicts {where} (kind {saved.kind}): leave --kind out")

    def same(flag, given, value):
        if given is not None and given != value:
            raise ValueError(f"--{flag}={given} contradicts {where} ({flag} {value}): leave --{flag} out")
    if kind == "classifier":
        same("task_name", task_name, task.get("task_name"))
        same("labels", None if labels is None else list(labels), saved.labels)
        same("regression", regression, saved.kind == "regression")
        task_name = task.get("task_name")
        labels, regression = saved.labels, saved.kind == "regression"
        try:  # a registered task also says how many text fields it reads
            from albert_tf.finetuning.tasks import get_task  # pylint: disable=import-outside-toplevel
            get_task(task_name)
        except (ValueError, KeyError):
            task_name = None
    if saved.max_seq_length is not None:
        same("max_seq_length", max_seq_length, saved.max_seq_length)
        max_seq_length = saved.max_seq_length
    return kind, task_name, labels, regression, max_seq_length


def _export_squad(saved, export_dir, vocab_file, do_lower_case, check, keep_accents=None, precision="fp32"):
    from albert_tf import export
    from albert_tf.export import sources
    from albert_tf.squad import modeling
    head, model_dir = saved.task, saved.path
    tokenizer = sources.tokenizer_for(model_dir, vocab_file, do_lower_case, keep_accents)
    if vocab_file:
        from albert_tf.tokenization import checkpoint_match
        checkpoint_match.check_matches_checkpoint(tokenizer, model_dir, f"--vocab_file={vocab_file}", "--checkpoint")
    model = modeling.build_squad_model(saved.config, head["head"], None, head["start_n_top"], head["end_n_top"])
    model_directory.load_model_weights(model, saved)
    with output_errors.writing(export_dir):
        return export.export_squad(model, tokenizer, export_dir, max_seq_length=head["max_seq_length"],
                                   max_query_length=head["max_query_length"], head=head["head"],
                                   version=head["version"], null_threshold=head.get("null_threshold"),
                                   start_n_top=head["start_n_top"], end_n_top=head["end_n_top"], check=check,
                                   precision=precision)


def _export_ner(saved, export_dir, vocab_file, do_lower_case, check, keep_accents=None):
    """run_ner.py's model directory (<output_dir>/ner_model): labels and window length from its task.json."""
    from albert_tf.export import ner_serving, sources
    from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier
    tokenizer = sources.tokenizer_for(saved.path, vocab_file, do_lower_case, keep_accents)
    if vocab_file:
        from albert_tf.tokenization import checkpoint_match
        checkpoint_match.check_matches_checkpoint(tokenizer, saved.path, f"--vocab_file={vocab_file}", "--checkpoint")
    model = AlbertTokenClassifier(AlbertEncoder(saved.config), len(saved.labels))
    model_directory.load_model_weights(model, saved)
    with output_errors.writing(export_dir):
        return ner_serving.export_ner(model, tokenizer, export_dir, labels=saved.labels,
                                      max_seq_length=saved.max_seq_length, doc_stride=saved.task.get("doc_stride"),
                                      task_name=saved.task.get("task_name"), check=check)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    given = lambda name: FLAGS[name].value if FLAGS[name].present else None  # noqa: E731
    try:
        info = export_checkpoint(FLAGS.kind, FLAGS.checkpoint, FLAGS.export_dir,
                                 albert_config_file=FLAGS.albert_config_file, vocab_file=FLAGS.vocab_file,
                                 **settings_flags.explicit_settings(FLAGS), task_name=FLAGS.task_name, labels=FLAGS.labels,
                                 text_fields=FLAGS.text_fields, regression=given("regression"),
                                 max_seq_length=given("max_seq_length"), check=FLAGS.self_check, tflite=FLAGS.tflite,
                                 precision=FLAGS.precision)
    except (ValueError, FileNotFoundError, output_errors.OutputError) as error:
        raise SystemExit(f"albert-export: error: {error}") from None
    print(f"exported {info.get('kind', FLAGS.kind)} to {FLAGS.export_dir}: signatures {json.dumps(info['signatures'])}; "
          f"fresh-process reload max |diff| {info.get('max_abs_difference')}"
          + (f" (bf16 against float32; labels agreeing {info['labels_agreeing_with_fp32']:.1%})"
             if info.get("precision") == "bf16" and "labels_agreeing_with_fp32" in info else ""))


def run():
    from albert_tf.cli.console import show_as_main  # pylint: disable=import-outside-toplevel
    tf_logs.quiet_tensorflow()
    show_as_main(__name__)  # --help of the pip command lists these flags, not a bare USAGE line
    app.run(main)


if __name__ == "__main__":
    run()
