"""Fine-tune ALBERT on SQuAD v1.1 / v2.0 (or SQuAD-format CMRC2018); predict and evaluate officially.

`albert-squad` once installed with pip (`python run_squad.py` in a checkout runs the same code).

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

from albert_tf import tf_logs  # noqa: E402  (first: TensorFlow's start-up lines are captured at its import)

tf_logs.quiet_tensorflow()

from albert_tf.cli.console import finetuning_command  # noqa: E402
from albert_tf.jobs import settings, squad  # noqa: E402

main, run = finetuning_command(settings.SquadSettings, squad.run, __name__)

if __name__ == "__main__":
    run()
