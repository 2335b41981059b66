"""Pretrain ALBERT (masked LM + sentence-order prediction) on records from albert-create-pretraining-data.

`albert-pretrain` once installed with pip (`python run_pretraining.py` in a checkout runs the same code).

Runs on one device, several GPUs (mirrored), several hosts (multi_worker_mirrored, TF_CONFIG) or a
Cloud TPU (tpu, with gs:// paths). Rerunning the same command after a kill or preemption resumes
from the last checkpoint in --model_dir with optimizer state, step and input position restored.

Example (CPU, tiny model):
  python run_pretraining.py --input_file='data/en128/*.tfrecord' --preset=albert_tiny_zh_google \
      --model_dir=runs/tiny --train_batch_size=32 --num_train_steps=2000 --learning_rate=1e-3 \
      --num_warmup_steps=100 --optimizer=lamb --steps_per_loop=50 --save_checkpoints_steps=500 \
      --do_eval --eval_input_file='data/en128_heldout/*.tfrecord'
"""

import os
import sys

from albert_tf import tf_logs  # noqa: E402  (first: TensorFlow's start-up lines are captured at its import)

tf_logs.quiet_tensorflow()

from absl import app, flags, logging  # noqa: E402

from albert_tf.cli import console  # noqa: E402
from albert_tf.output_errors import OutputError  # noqa: E402
from albert_tf.training import cpu_features  # noqa: E402

FLAGS = flags.FLAGS
tf_logs.define_flag()

# Data
flags.DEFINE_string("input_file", None, "Training shards: comma-separated globs (local or gs://).")
flags.DEFINE_string("eval_input_file", None, "Held-out shards for --do_eval (default: --input_file).")
flags.DEFINE_bool("verify_shard_sha256", False, "Before training, also count every shard's records and hash it "
                  "against dataset_meta.json (reads all data; every shard's size is always checked).")
# Model
flags.DEFINE_string("albert_config_file", None, "Model config json (official or Hugging Face).")
flags.DEFINE_string("preset", None, "A released model's config by name (e.g. albert_base_v2) instead.")
flags.DEFINE_string("init_checkpoint", None, "Start from these weights (TF1, brightmart, TF-Hub, HF or .keras); "
                    "ignored with a notice when --model_dir already has a checkpoint.")
# Optimization
flags.DEFINE_enum("optimizer", "lamb", ["lamb", "adamw"], "LAMB (pretraining default) or AdamW.")
flags.DEFINE_float("learning_rate", 0.00176, "Peak learning rate (reference: 0.00176 at batch 4096).")
flags.DEFINE_integer("num_train_steps", 125000, "Total optimizer steps.")
flags.DEFINE_integer("num_warmup_steps", 3125, "Linear warmup steps.")
flags.DEFINE_float("poly_power", 1.0, "Power of the polynomial decay to 0.")
flags.DEFINE_float("weight_decay", 0.01, "Decoupled weight decay (not on LayerNorm or bias).")
flags.DEFINE_integer("train_batch_size", 4096, "Global batch size (all replicas and accumulation steps).")
flags.DEFINE_integer("grad_accum_steps", 1, "Micro-batches per optimizer step (memory: batch / this).")
flags.DEFINE_integer("seed", 12345, "Seed of initialization, input shuffling and dynamic masks.")
# Runtime
flags.DEFINE_enum("strategy", "one_device", ["tpu", "mirrored", "multi_worker_mirrored", "one_device", "cpu"],
                  "Distribution strategy.")
flags.DEFINE_string("tpu", "", "TPU name or grpc:// address; empty or 'local' on a TPU VM.")
flags.DEFINE_integer("steps_per_loop", 100, "Steps per compiled call (amortizes host overhead).")
flags.DEFINE_enum("mixed_precision", "off", cpu_features.PRECISION_CHOICES, cpu_features.PRECISION_HELP)
flags.DEFINE_bool("jit_compile", False, "Compile the step with XLA.")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices (to try mirrored "
                     "strategies on one machine).")
flags.DEFINE_bool("deterministic_ops", False, "Ask TensorFlow for deterministic kernels.")
flags.DEFINE_enum("input_sharding", "auto", ["auto", "files", "records"], "Several hosts: files = each reads "
                  "its own shards (auto, when there are enough); records = all read one shuffled stream and "
                  "keep every n-th record (same global batches as one device).")
# Outputs
flags.DEFINE_string("model_dir", None, "Checkpoints, summaries and results (gs:// on TPU).")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every N steps.")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep.")
# Eval
flags.DEFINE_bool("do_train", True, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate MLM/SOP on held-out records; writes eval_results.json.")
flags.DEFINE_integer("eval_batch_size", 64, "Global eval batch size.")
flags.DEFINE_integer("max_eval_steps", 100, "Eval batches at most (0: all).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from albert_tf.training import pretraining_job  # pylint: disable=import-outside-toplevel
    pretraining_job.run(pretraining_job.JobSettings.from_flags(FLAGS))


def run():
    flags.mark_flags_as_required(["input_file", "model_dir"])
    console.show_as_main(__name__)
    try:
        app.run(main)
    except (ValueError, FileNotFoundError, PermissionError, ImportError, OutputError) as error:
        logging.error("%s", error)
        print(f"{os.path.basename(sys.argv[0])}: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
