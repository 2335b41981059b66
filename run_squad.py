"""Fine-tune ALBERT on SQuAD v1.1 / v2.0 or CMRC2018.

The code is albert_tf/cli/run_squad.py; installed with pip, the same command is `albert-squad`."""

from albert_tf.cli.run_squad import run

if __name__ == "__main__":
    run()
