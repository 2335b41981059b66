"""Fine-tune ALBERT on a GLUE / CLUE / LCQMC / RACE task.

The code is albert_tf/cli/run_classifier.py; installed with pip, the same command is `albert-classify`."""

from albert_tf.cli.run_classifier import run

if __name__ == "__main__":
    run()
