"""Fine-tune ALBERT on SQuAD v1.1 / v2.0 (or SQuAD-format CMRC2018); predict and evaluate officially.

Example (SQuAD 2.0 from a Hugging Face checkpoint directory):
  python run_squad.py --version=2.0 --train_file=train-v2.0.json --predict_file=dev-v2.0.json \
      --output_dir=runs/squad2 --init_checkpoint=albert-base-v2/ --vocab_file=albert-base-v2/spiece.model \
      --do_train --do_eval --learning_rate=3e-5 --train_batch_size=48 --num_train_epochs=2

Outputs in --output_dir: predictions.json, nbest_predictions.json, null_odds.json (v2),
eval_results.json (official EM/F1, the metric named in "metric": SQuAD's, or CMRC2018's for Chinese;
v2: exact/f1/HasAns/NoAns/best thresholds), squad_model/
(weights, config, tokenizer, squad_head.json with the v2 null threshold searched on dev; pass it as
--init_checkpoint to predict later), feature_cache/, logs/ (TensorBoard).
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

# Data
flags.DEFINE_enum("version", "1.1", ["1.1", "2.0"], "SQuAD version; checked against the data (2.0 allows "
                  "unanswerable questions).")
flags.DEFINE_string("train_file", None, "SQuAD-format json for training.")
flags.DEFINE_string("predict_file", None, "SQuAD-format json to predict (and evaluate with --do_eval).")
flags.DEFINE_string("output_dir", None, "Predictions, results, the fine-tuned model, logs.")
flags.DEFINE_string("cache_dir", None, "Window cache (default: <output_dir>/feature_cache).")
# Model and tokenizer
flags.DEFINE_string("init_checkpoint", None, "Pretrained weights in any supported layout (TF1 Google, TF-Hub, "
                    "brightmart, Hugging Face, .keras), or a squad_model/ directory written by this script.")
flags.DEFINE_string("albert_config_file", None, "Model config json (default: next to --init_checkpoint).")
flags.DEFINE_string("preset", None, "A released model's config by name (e.g. albert_base_v2).")
flags.DEFINE_string("vocab_file", None, "SentencePiece .model, WordPiece vocab.txt, or a directory with "
                    "tokenizer_config.json (default: the tokenizer stored next to --init_checkpoint).")
settings_flags.define_tokenizer_flags()
flags.DEFINE_integer("max_seq_length", 384, "Tokens per window, [CLS]/[SEP] included.")
flags.DEFINE_integer("doc_stride", 128, "Context tokens between the starts of consecutive windows.")
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept (longer questions are truncated, counted).")
flags.DEFINE_integer("n_best_size", 20, "Candidates per window and answers in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in tokens (Chinese data has longer answers: "
                     "see docs/squad.md).")
flags.DEFINE_enum("eval_metric", "auto", ["auto", "squad", "cmrc2018"], "Official metric of --do_eval: auto picks "
                  "CMRC2018 for Chinese (a Chinese WordPiece vocabulary, or mostly Chinese contexts), SQuAD otherwise.")
flags.DEFINE_enum("squad_head", "auto", ["auto", "span", "xlnet", "cls_null"], "auto: span for 1.1, the "
                  "XLNet-style answerability head for 2.0; cls_null: span head with [CLS] as the null answer.")
flags.DEFINE_integer("start_n_top", 5, "XLNet-style head: start beam.")
flags.DEFINE_integer("end_n_top", 5, "XLNet-style head: end beam per start.")
flags.DEFINE_float("null_score_diff_threshold", None, "v2: predict '' above this null score (default: the "
                   "threshold stored with the model, else 0; --do_eval searches the F1-optimal one).")
# Optimization
flags.DEFINE_integer("train_batch_size", 48, "Global training batch (windows).")
flags.DEFINE_integer("predict_batch_size", 64, "Prediction batch (the last batch is filled, never dropped).")
flags.DEFINE_float("learning_rate", 5e-5, "Peak AdamW learning rate (reference: 5e-5 for 1.1, 3e-5 for 2.0).")
flags.DEFINE_float("num_train_epochs", 2.0, "Epochs over the training windows (ignored when --train_steps > 0).")
flags.DEFINE_integer("train_steps", 0, "Optimizer steps (0: from --num_train_epochs).")
flags.DEFINE_float("warmup_proportion", 0.1, "Warmup as a fraction of the steps.")
flags.DEFINE_integer("warmup_steps", -1, "Warmup steps (overrides --warmup_proportion when >= 0).")
flags.DEFINE_float("weight_decay", 0.01, "AdamW decoupled weight decay (not on LayerNorm or bias).")
flags.DEFINE_integer("seed", 12345, "Seed of the head initialization, dropout and shuffling.")
# What to do
flags.DEFINE_bool("do_train", False, "Fine-tune on --train_file.")
flags.DEFINE_bool("do_predict", False, "Write predictions for --predict_file.")
flags.DEFINE_bool("do_eval", False, "Predict --predict_file and score it with the official definitions.")
flags.DEFINE_integer("eval_every_steps", 0, "Evaluate every N steps and keep the best model by F1 (0: only at "
                     "the end).")
flags.DEFINE_integer("log_every_steps", 50, "Progress line every N steps.")
flags.DEFINE_string("export_dir", None, "Export the final (best) model as a raw-text SavedModel (question, context "
                    "-> span logits and answer), checked by a fresh-process reload.")
# Runtime (the same as run_pretraining.py's)
finetuning_flags.define_runtime_flags()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.output_dir:
        raise ValueError("--output_dir is required")
    from albert_tf.squad import job  # pylint: disable=import-outside-toplevel
    job.run(job.SquadSettings.from_flags(FLAGS))


def run():
    try:
        app.run(main)
    except (ValueError, FileNotFoundError, PermissionError, ImportError, OutputError) as error:
        logging.error("%s", error)
        print(f"run_squad.py: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
