"""Fine-tune ALBERT for named-entity recognition (CoNLL-2003 columns, CLUENER2020 json lines); evaluate with
seqeval's entity-level scores; tag new text.

`albert-ner` once installed with pip (`python run_ner.py` in a checkout runs the same code).

Example (CoNLL-2003 from a Hugging Face checkpoint directory):
  python run_ner.py --train_file=conll2003/train.txt --eval_file=conll2003/dev.txt \
      --output_dir=runs/conll --init_checkpoint=albert-base-v2/ --do_train --do_eval

Outputs in --output_dir: eval_results.json (micro and per-type precision/recall/F1, seqeval strict IOB2;
CLUENER input adds span F1), eval_predictions.conll (word, gold, predicted), predictions.conll and, for
CLUENER input, cluener_predict.json (the submission format) with --do_predict, ner_model/ (a model
directory: weights, config, tokenizer, task.json with the labels; pass it as --init_checkpoint to tag
later), logs/ (TensorBoard).
"""

from albert_tf import tf_logs  # noqa: E402  (first: TensorFlow's start-up lines are captured at its import)

tf_logs.quiet_tensorflow()

from albert_tf.cli.console import finetuning_command  # noqa: E402
from albert_tf.jobs import ner, settings  # noqa: E402

main, run = finetuning_command(settings.NerSettings, ner.run, __name__)

if __name__ == "__main__":
    run()
