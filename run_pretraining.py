"""Pretrain ALBERT (masked LM + sentence-order prediction).

The code is albert_tf/cli/run_pretraining.py; installed with pip, the same command is `albert-pretrain`."""

from albert_tf.cli.run_pretraining import run

if __name__ == "__main__":
    run()
