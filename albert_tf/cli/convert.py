"""albert-convert: convert an ALBERT checkpoint between layouts.

Reads any supported checkpoint (TF1 Google / TF-Hub / brightmart, Hugging Face safetensors or
pytorch_model.bin, this project's .keras) and writes it as a TF1 checkpoint (readable by the
original TF1 code and by Hugging Face's TF1 loader), Hugging Face safetensors, or a .keras file.

Examples:
  albert-convert --input albert_base/model.ckpt-best --output_format hf --output out/albert_base_hf
  albert-convert --input albert-base-v2/ --output_format tf1 --output out/tf1/model.ckpt
  python -m albert_tf.cli.convert --input albert_tiny_zh/albert_model.ckpt \
      --config albert_tiny_zh/albert_config_tiny.json --output_format keras --output tiny.keras
"""

import logging
import os
import sys

from absl import app, flags

from albert_tf import atomic_files, output_errors
from albert_tf import tf_logs  # noqa: E402

FLAGS = flags.FLAGS
tf_logs.define_flag()

flags.DEFINE_string("input", None, "Checkpoint to read: TF1 prefix/.index/directory, model.safetensors, "
                                   "pytorch_model.bin, a directory holding one, or a .keras file.")
flags.DEFINE_string("config", None, "Config json (official albert_config.json or Hugging Face config.json). "
                                    "Defaults to the one next to --input.")
flags.DEFINE_string("preset", None, "Use a released model's config instead of --config (e.g. albert_base_v2).")
flags.DEFINE_enum("output_format", "tf1", ["tf1", "hf", "keras"], "Layout to write.")
flags.DEFINE_string("output", None, "TF1: checkpoint prefix; hf: directory; keras: file ending in .keras.")
flags.DEFINE_enum("model", "pretrainer", ["pretrainer", "encoder"],
                  "pretrainer keeps the MLM and SOP heads when the checkpoint has them.")
flags.DEFINE_boolean("allow_partial", False, "Convert even if encoder weights are missing (they stay random).")
flags.DEFINE_integer("global_step", None, "global_step to store in a TF1 checkpoint.")


def convert(input_path, output, output_format="tf1", config=None, model_kind="pretrainer", allow_partial=False,
            global_step=None):
    """Library entry point of the converter; returns the load report."""
    from albert_tf.checkpoints import load_config_for, read_checkpoint, save_hf, save_tf1
    from albert_tf.checkpoints.loader import assign_weights
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer

    # Flags first: nothing is read for a conversion that cannot be written.
    if output_format == "keras" and not output.endswith(".keras"):
        raise ValueError(f"--output={output}: a keras output must end in .keras")
    if global_step is not None and global_step < 0:
        raise ValueError(f"--global_step={global_step}: must be >= 0")
    output_errors.check_writable(output, is_directory=output_format == "hf")
    checkpoint = read_checkpoint(input_path)  # fails fast on missing or corrupt input
    if config is None:
        config = load_config_for(input_path)
    encoder = AlbertEncoder(config)
    model = AlbertPretrainer(encoder) if model_kind == "pretrainer" else encoder
    report = assign_weights(model, checkpoint, allow_partial=allow_partial)
    with output_errors.writing(output):
        if output_format == "tf1":
            save_tf1(model, output, global_step=global_step)
        elif output_format == "hf":
            save_hf(model, output)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
            with atomic_files.replacing_path(output, suffix=".keras") as temp:
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
    print(f"wrote {FLAGS.output_format} checkpoint to {FLAGS.output}")


def run():
    tf_logs.quiet_tensorflow()
    flags.mark_flags_as_required(["input", "output"])
    try:
        app.run(main)
    except (FileNotFoundError, ValueError, output_errors.OutputError) as err:  # one clear line, no traceback
        print(f"albert-convert: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
