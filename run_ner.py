"""Fine-tune ALBERT for named-entity recognition (CoNLL-2003, CLUENER2020).

The code is albert_tf/cli/run_ner.py; installed with pip, the same command is `albert-ner`."""

from albert_tf.cli.run_ner import run

if __name__ == "__main__":
    run()
