"""Fine-tune ALBERT on a GLUE / CLUE / LCQMC / RACE task; evaluate, pick the best checkpoint, predict.

Example (SST-2 from a Hugging Face checkpoint directory, evaluation every 200 steps):
  python run_classifier.py --task_name=SST-2 --data_dir=glue/SST-2 --output_dir=runs/sst2 \
      --init_checkpoint=albert-base-v2/ --vocab_file=albert-base-v2/spiece.model \
      --do_train --do_eval --do_predict --max_seq_length=128 --train_batch_size=32 \
      --learning_rate=1e-5 --num_train_epochs=3 --eval_every_steps=200

`--task_name=help` lists the tasks, their label sets, metrics and files.
Outputs in --output_dir: eval_results/step_N.json (every evaluation), eval_results.json (final,
best checkpoint), best_checkpoint.json + best_checkpoint/ (TF1 layout, reusable as
--init_checkpoint), predictions/<TASK>.tsv (GLUE) or <task>_predict.json (CLUE), logs/ (TensorBoard).
"""

import sys

from albert_tf import tf_logs  # noqa: E402  (first: TensorFlow's start-up lines are captured at its import)

tf_logs.quiet_tensorflow()

from absl import app, flags, logging  # noqa: E402

from albert_tf.output_errors import OutputError  # noqa: E402

from albert_tf.tokenization import settings_flags  # noqa: E402
from albert_tf.training import finetuning_flags  # noqa: E402

FLAGS = flags.FLAGS
tf_logs.define_flag()

# Task and data
flags.DEFINE_string("task_name", None, "Task (GLUE, CLUE, LCQMC, RACE); 'help' lists them.")
flags.DEFINE_list("task_module", None, "Your own tasks: module names or .py files whose @register classes join the "
                  "registry (see docs/finetuning.md); installed entry points of group albert_tf.tasks load too.")
flags.DEFINE_string("data_dir", None, "Directory with the task's files (e.g. glue_data/MRPC).")
flags.DEFINE_string("output_dir", None, "Results, best checkpoint, predictions, logs.")
flags.DEFINE_string("cache_dir", None, "Tokenized-feature cache (default: <output_dir>/feature_cache).")
# Model and tokenizer
flags.DEFINE_string("init_checkpoint", None, "Pretrained or fine-tuned weights in any supported layout (TF1 "
                    "Google, TF-Hub, brightmart, Hugging Face, .keras); its config json is read from next to it.")
flags.DEFINE_string("albert_config_file", None, "Model config json (default: next to --init_checkpoint).")
flags.DEFINE_string("preset", None, "A released model's config by name (e.g. albert_base_v2).")
flags.DEFINE_string("vocab_file", None, "SentencePiece .model, WordPiece vocab.txt, or a directory with "
                    "tokenizer_config.json (default: the tokenizer stored next to --init_checkpoint).")
settings_flags.define_tokenizer_flags()
flags.DEFINE_integer("max_seq_length", 128, "Tokens per sequence, [CLS]/[SEP] included.")
flags.DEFINE_float("max_unknown_rate", 0.1, "Refuse a split whose tokens are more than this fraction unknown to the "
                   "tokenizer (e.g. Chinese text with an English model); above 1% a warning is logged.")
flags.DEFINE_integer("max_qa_length", 128, "Multiple choice: tokens kept of question+option.")
flags.DEFINE_float("classifier_dropout", 0.1, "Dropout on the pooled output before the classifier.")
# Optimization
flags.DEFINE_enum("hparams_preset", None, ["reference", "lcqmc_tiny"], "Reference hyperparameters (run_glue.sh "
                  "per GLUE task; albert_zh tiny for LCQMC) for every flag not given explicitly.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch.")
flags.DEFINE_integer("eval_batch_size", 64, "Global evaluation batch (the last batch is padded, never dropped).")
flags.DEFINE_integer("predict_batch_size", 64, "Global prediction batch.")
flags.DEFINE_float("learning_rate", 2e-5, "Peak AdamW learning rate.")
flags.DEFINE_float("num_train_epochs", 3.0, "Epochs (ignored when --train_steps > 0).")
flags.DEFINE_integer("train_steps", 0, "Optimizer steps (0: from --num_train_epochs).")
flags.DEFINE_float("warmup_proportion", 0.1, "Warmup as a fraction of the steps.")
flags.DEFINE_integer("warmup_steps", -1, "Warmup steps (overrides --warmup_proportion when >= 0).")
flags.DEFINE_float("weight_decay", 0.01, "AdamW decoupled weight decay (not on LayerNorm or bias).")
flags.DEFINE_integer("seed", 12345, "Seed of the head initialization, dropout and shuffling.")
flags.DEFINE_integer("num_seeds", 1, "Runs with seeds seed, seed+1, ...; reports mean, median and max.")
# What to do
flags.DEFINE_bool("do_train", False, "Fine-tune on the training split.")
flags.DEFINE_bool("do_eval", False, "Evaluate on the labelled dev split(s); writes eval_results.json.")
flags.DEFINE_bool("do_predict", False, "Write submission files for the test split(s).")
flags.DEFINE_integer("eval_every_steps", 0, "Evaluate every N steps and keep the best checkpoint by the task's "
                     "main metric (0: evaluate once, at the end).")
flags.DEFINE_integer("log_every_steps", 50, "Progress line every N steps.")
flags.DEFINE_string("export_dir", None, "Export the final (best) model as a raw-text SavedModel (serving_default: "
                    "text_a[, text_b] -> logits, probabilities, label), checked by a fresh-process reload.")
# Runtime (the same as run_pretraining.py's)
finetuning_flags.define_runtime_flags()


def preset_overrides(flag_values):
    """Values of --hparams_preset for the flags the user did not give."""
    if not flag_values.hparams_preset:
        return {}
    from albert_tf.finetuning import presets  # pylint: disable=import-outside-toplevel
    from albert_tf.finetuning.tasks import get_task  # pylint: disable=import-outside-toplevel
    values = presets.hparams(flag_values.hparams_preset, get_task(flag_values.task_name).name)
    chosen = {name: value for name, value in values.items() if not flag_values[name].present}
    logging.info("--hparams_preset=%s: %s", flag_values.hparams_preset, chosen)
    return chosen


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from albert_tf.finetuning.tasks import describe_tasks, load_task_modules  # pylint: disable=import-outside-toplevel
    load_task_modules(FLAGS.task_module)
    if FLAGS.task_name is None or FLAGS.task_name.lower() == "help":
        print("tasks (--task_name):\n" + describe_tasks())
        return
    for name in ("data_dir", "output_dir"):
        if not FLAGS[name].value:
            raise ValueError(f"--{name} is required")
    from albert_tf.finetuning import job  # pylint: disable=import-outside-toplevel
    job.run(job.FinetuneSettings.from_flags(FLAGS, preset_overrides(FLAGS)))


def run():
    try:
        app.run(main)
    except (ValueError, FileNotFoundError, PermissionError, ImportError, OutputError) as error:
        logging.error("%s", error)
        print(f"run_classifier.py: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
