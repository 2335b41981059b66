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

import os
import sys

from albert_tf import tf_logs  # noqa: E402  (first: TensorFlow's start-up lines are captured at its import)

tf_logs.quiet_tensorflow()

from absl import flags  # noqa: E402

from albert_tf.cli import console  # noqa: E402
from albert_tf.jobs import entry, ner, settings  # noqa: E402

FLAGS = flags.FLAGS
tf_logs.define_flag()
settings.define_flags(settings.NerSettings)


def main(argv):
    ner.run(entry.settings_from_flags(settings.NerSettings, argv))


def run():
    console.show_as_main(__name__)
    entry.run_main(main, os.path.basename(sys.argv[0]))


if __name__ == "__main__":
    run()
