"""Reference fine-tuning hyperparameters, selectable with `--hparams_preset`.

`reference`: google-research/albert `run_glue.sh` (ALBERT v2 GLUE runs, seq 512) and the albert_zh
LCQMC recipe for albert_tiny. Values apply only to flags the user did not set.
"""

from typing import Dict

# task -> (learning_rate, train_batch_size, train_steps, warmup_steps)
RUN_GLUE = {
    "SST-2": (1e-5, 32, 20935, 1256),
    "MNLI": (3e-5, 128, 10000, 1000),
    "CoLA": (1e-5, 16, 5336, 320),
    "QNLI": (1e-5, 32, 33112, 1986),
    "QQP": (5e-5, 128, 14000, 1000),
    "RTE": (3e-5, 32, 800, 200),
    "STS-B": (2e-5, 16, 3598, 214),
    "MRPC": (2e-5, 32, 800, 200),
}

LCQMC_TINY = {"learning_rate": 1e-4, "train_batch_size": 64, "max_seq_length": 128, "num_train_epochs": 5.0,
              "warmup_proportion": 0.1}

PRESETS = ("reference", "lcqmc_tiny")


def hparams(preset: str, task_name: str) -> Dict:
    """Flag values of `preset` for `task_name`; raises naming the tasks it covers."""
    if preset == "lcqmc_tiny":
        return dict(LCQMC_TINY)
    if preset == "reference":
        if task_name == "LCQMC":
            return dict(LCQMC_TINY)
        if task_name not in RUN_GLUE:
            raise ValueError(f"--hparams_preset=reference has values for {', '.join(sorted(RUN_GLUE))} and LCQMC, "
                             f"not {task_name}")
        lr, batch, steps, warmup = RUN_GLUE[task_name]
        return {"learning_rate": lr, "train_batch_size": batch, "train_steps": steps, "warmup_steps": warmup,
                "max_seq_length": 512, "eval_every_steps": 200}
    raise ValueError(f"--hparams_preset={preset!r}: must be one of {', '.join(PRESETS)}")
