"""Resuming a killed fine-tuning run where it stood.

Every `--save_checkpoints_steps` steps (and when training ends) a seed's run writes
`resume/variables-<step>.npz` (every model variable, dropout seed states included, and every
optimizer variable: its step, so the schedule position, and the moments), then `resume/state.json`
(the step, the best evaluation so far, the evaluations since it, the settings that shape training).
Each file is written under a temporary name and renamed, the state last, so a kill at any moment
leaves the previous complete pair. The input position is the step: the shuffled pipeline is rebuilt
from its seed and the batches already trained on are skipped.
"""

import dataclasses
import json
import os
from typing import Dict, Optional

import numpy as np
from absl import logging

from albert_tf import filesystem, output_errors
from albert_tf.training import artifacts

RESUME_DIR = "resume"
STATE_FILE = "state.json"
# Settings that do not change what training computes: a rerun may change them.
NOT_TRAINING = frozenset({
    "output_dir", "cache_dir", "export_dir", "do_predict", "log_every_steps", "predict_batch_size", "strategy",
    "tpu", "cpu_devices", "jit_compile", "steps_per_loop", "static_shapes", "deterministic_ops", "num_seeds",
    "save_checkpoints_steps", "task_module", "null_score_diff_threshold", "n_best_size", "max_answer_length"})


def training_settings(s) -> Dict:
    """The settings a resumed run must share with the one that wrote the state (json-ready)."""
    return {k: v for k, v in dataclasses.asdict(s).items() if k not in NOT_TRAINING}


def _keyed_variables(model) -> Dict:
    """{"model:<path>" | "optimizer:<path>": variable}; by name, because the order of `model.variables`
    is not the same before and after training, and variables of one shape would be swapped silently."""
    keyed = {}
    for owner, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
        for variable in variables:
            key = f"{owner}:{variable.path}"
            if key in keyed:
                raise ValueError(f"two variables named {key}: the training state cannot be saved by name")
            keyed[key] = variable
    return keyed


def load_state(run_dir: str) -> Optional[Dict]:
    path = filesystem.join(run_dir, RESUME_DIR, STATE_FILE)
    if not filesystem.exists(path):
        return None
    return json.loads(filesystem.read_text(path))


def check_same_run(state: Dict, s, run_dir: str):
    """A state written with other training settings is refused, naming the first difference."""
    recorded, now = state["settings"], training_settings(s)
    for name in sorted(set(recorded) | set(now)):
        if recorded.get(name) != now.get(name):
            raise ValueError(f"--output_dir={s.output_dir}: {os.path.join(run_dir, RESUME_DIR)} holds a run with "
                             f"--{name}={recorded.get(name)!r}, this one has --{name}={now.get(name)!r}; rerun "
                             "with the same flags to resume it, or give another --output_dir")


def save(run, step: int, s, finished: bool, last_loss: Optional[float] = None):
    """Writes the variables, then the state that names them; older variable files are removed."""
    directory = filesystem.join(run.output_dir, RESUME_DIR)
    name = f"variables-{step:07d}.npz"
    with output_errors.writing(directory):
        filesystem.makedirs(directory)
        # A local file (a zip archive is written with seeks, which a gs:// object being written has not),
        # published as the final name; streamed, so a large model's state is never held twice in memory.
        with filesystem.local_output(filesystem.join(directory, name), suffix=".npz") as local:
            np.savez(local, **{key: np.asarray(v.numpy()) for key, v in _keyed_variables(run.model).items()})
        artifacts.write_json(os.path.join(directory, STATE_FILE), {
            "step": step, "finished": finished, "variables": name, "best": run.best,
            "evaluations_since_best": run.evaluations_since_best, "stopped_early_at": run.stopped_early_at,
            "final_train_loss": last_loss, "settings": training_settings(s)})
    for old in filesystem.glob(filesystem.join(directory, "variables-*.npz")):
        if filesystem.basename(old) != name:
            filesystem.remove(old)


def restore(run, state: Dict):
    """Model and optimizer variables and the run's best-so-far from `state`."""
    optimizer = run.model.optimizer
    if not optimizer.built:
        optimizer.build(run.model.trainable_variables)
    variables = _keyed_variables(run.model)
    path = filesystem.join(run.output_dir, RESUME_DIR, state["variables"])
    with filesystem.local_copy(path) as local, np.load(local) as arrays:
        values = {name: arrays[name] for name in arrays.files}
    misfit = sorted(set(values) ^ set(variables)) or [
        name for name, variable in variables.items() if tuple(variable.shape) != values[name].shape]
    if misfit:
        raise ValueError(f"{path}: does not fit this model (first: {misfit[0]}); it was written by another model "
                         "or version (give another --output_dir)")
    for name, variable in variables.items():
        variable.assign(values[name])
    run.best = state["best"]
    run.evaluations_since_best = state["evaluations_since_best"]
    run.stopped_early_at = state.get("stopped_early_at")
    logging.info("resuming %s from step %d (%s)", run.output_dir, state["step"],
                 "training finished" if state["finished"] else "training continues")
