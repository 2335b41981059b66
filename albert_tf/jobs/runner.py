"""The fine-tuning runner: one path for every task family.

`run(family)`: shared checks → the family's own checks and reading (every row; nothing written yet)
→ the output lock → the family's tokenization → per seed: runtime, model built under the strategy's
scope, initial weights, AdamW + warmup/decay, Keras fit with progress lines and evaluation every N
steps, the best checkpoint by the family's main metric, then the family's final evaluation,
predictions and export. A family (`TaskFamily`) supplies only what differs between tasks.
"""

import math
import os
import statistics
from typing import Dict, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf import filesystem, model_directory, output_lock
from albert_tf.checkpoints import load_config_for
from albert_tf.config import preset
from albert_tf.export import destination
from albert_tf.finetuning import callbacks as callbacks_lib
from albert_tf.finetuning import metrics as metrics_lib
from albert_tf.jobs import resume
from albert_tf.optimization import create_optimizer
from albert_tf.tokenization import checkpoint_match
from albert_tf.tokenization.assets import tokenizer_for_model
from albert_tf.training import artifacts, runtime, settings_checks, strategies

BEST_RECORD = "best_checkpoint.json"


def need(condition, flag: str, message: str):
    if not condition:
        raise ValueError(f"--{flag}: {message}")


class SeedRun:
    """One seed's model and its best evaluation so far; families keep their per-run state here too."""

    def __init__(self, seed: int, output_dir: str):
        self.seed, self.output_dir = seed, output_dir
        self.model = None          # what Keras trains and predicts with
        self.weights_model = None  # what is saved and exported (the model itself or its inner classifier)
        self.best: Optional[Dict] = None
        self.evaluations_since_best = 0  # for --early_stopping_patience
        self.stopped_early_at: Optional[int] = None


class TaskFamily:
    """What a task family supplies to the runner. `self.s` is its settings; `self.config`,
    `self.tokenizer` are set by the runner after `read`."""

    #: how the family's models are named in logs ("classifier", "SQuAD model")
    kind = "model"

    def __init__(self, s):
        self.s = s
        self.config = self.tokenizer = None

    # --- checks and data (nothing written) --------------------------------------------------
    def check_settings(self):
        """The family's own flag checks (run before the shared ones)."""

    def check_init_checkpoint(self):
        saved = model_directory.model_directory_of(self.s.init_checkpoint)
        if saved:  # a model directory is checked whole: every file, task.json's fields
            model_directory.read_model_directory(saved)
        else:
            settings_checks.checkpoint("init_checkpoint", self.s.init_checkpoint)

    def export_subdirectories(self) -> List[Optional[str]]:
        """Where each seed's export goes, relative to --export_dir (None: --export_dir itself)."""
        return seed_subdirectories(self.s)

    def read(self):
        """Reads and checks every row of every file the run needs."""

    def check_with_tokenizer(self):
        """Checks of the read data that need the tokenizer."""

    def prepare(self, cache_dir: str):
        """Tokenization into the feature cache (the output directory exists and is locked)."""

    def num_train_examples(self) -> int:
        raise NotImplementedError

    # --- model ---------------------------------------------------------------------------------
    def build_model(self, run: SeedRun):
        """Sets `run.model` and `run.weights_model` (under the strategy's scope)."""
        raise NotImplementedError

    def load_initial_weights(self, run: SeedRun):
        raise NotImplementedError

    def compile_losses(self, run: SeedRun) -> Dict:
        """Keyword arguments of `compile` besides the optimizer: loss (and loss_weights)."""
        raise NotImplementedError

    def train_dataset(self, run: SeedRun):
        raise NotImplementedError

    def evaluates_during_training(self) -> bool:
        """Whether fit evaluates every --eval_every_steps steps (and once at its end)."""
        return bool(self.s.do_eval or self.s.eval_every_steps)

    def after_training(self, run: SeedRun, last_loss: Optional[float]):
        """Warnings about a run that did not learn."""

    # --- evaluation and best checkpoint ---------------------------------------------------------
    def evaluate(self, run: SeedRun, step: int) -> Tuple[Dict, Dict]:
        """(results written to eval_results/step_N.json, best-record fields incl. "value" of the main metric)."""
        raise NotImplementedError

    def summary(self, results: Dict) -> str:
        raise NotImplementedError

    def keep_final_results(self, run: SeedRun, results: Dict) -> Dict:
        """A seed's final evaluation as `eval_results.json`, naming the checkpoint it scored; logged."""
        results["best_checkpoint"] = run.best
        artifacts.write_json(os.path.join(run.output_dir, "eval_results.json"), results)
        logging.info("final eval (%s): %s", "best checkpoint" if run.best else "current weights",
                     self.summary(results))
        return results

    def save_best(self, run: SeedRun, step: int, record: Dict) -> Dict:
        """Writes the best model whole; returns more fields of the best record (e.g. its path)."""
        raise NotImplementedError

    def restore_best(self, run: SeedRun):
        raise NotImplementedError

    def main_result(self, eval_results: Dict) -> Tuple[str, str, float]:
        """(split, metric, value) of a final evaluation, for the seeds summary."""
        raise NotImplementedError

    # --- after training ---------------------------------------------------------------------
    def finish(self, run: SeedRun) -> Dict:
        """Final evaluation, predictions, the model directory: entries of the run's result."""
        return {}

    def export(self, run: SeedRun, export_dir: str) -> Dict:
        raise NotImplementedError


def seed_subdirectories(s) -> List[Optional[str]]:
    return [None] if s.num_seeds == 1 else [f"seed_{seed}" for seed in range(s.seed, s.seed + s.num_seeds)]


def check_shared_settings(s, family: TaskFamily):
    """The flags every family has: each error names the flag and the value."""
    need(s.do_train or s.do_eval or s.do_predict, "do_train", "give at least one of --do_train, --do_eval, "
         "--do_predict")
    settings_checks.at_least(s, 1, "train_batch_size", "predict_batch_size", "num_seeds", "steps_per_loop",
                             "log_every_steps")
    settings_checks.at_least(s, 0, "cpu_devices", "train_steps", "eval_every_steps", "early_stopping_patience",
                             "save_checkpoints_steps")
    need(not s.early_stopping_patience or (s.do_train and s.eval_every_steps
                                              and family.evaluates_during_training()),
         "early_stopping_patience", "needs --do_train and evaluations during training (--eval_every_steps)")
    check = settings_checks.need
    check(s.warmup_steps >= -1, "warmup_steps", s.warmup_steps, "must be >= 0 (-1: use --warmup_proportion)")
    check(s.learning_rate > 0, "learning_rate", s.learning_rate, "must be > 0")
    check(0 <= s.warmup_proportion <= 1, "warmup_proportion", s.warmup_proportion, "must be in [0, 1]")
    check(s.train_steps > 0 or s.num_train_epochs > 0, "num_train_epochs", s.num_train_epochs,
          "must be > 0 (or set --train_steps)")
    check(s.weight_decay >= 0, "weight_decay", s.weight_decay, "must be >= 0")
    need(not (s.init_checkpoint is None and s.preset is None and s.albert_config_file is None), "init_checkpoint",
         "give the model: --init_checkpoint (TF1, TF-Hub, brightmart, Hugging Face, .keras, or a fine-tuned model "
         "directory), or --preset/--albert_config_file to start from random weights")
    # Every input path before anything is read: a missing checkpoint is not found after tokenizing.
    settings_checks.existing_file("albert_config_file", s.albert_config_file)
    check(not s.vocab_file or filesystem.exists(s.vocab_file), "vocab_file", s.vocab_file, "no such file or directory")
    family.check_init_checkpoint()
    if s.export_dir:  # the export replaces its directory: refuse a wrong one before training, not after
        for sub in family.export_subdirectories():
            destination.check_export_dir(os.path.join(s.export_dir, sub) if sub else s.export_dir,
                                         protected=(s.output_dir, sub and os.path.join(s.output_dir, sub),
                                                    s.init_checkpoint))


def load_config(s):
    if s.preset:
        return preset(s.preset)
    if s.albert_config_file:
        return load_config_for(s.albert_config_file, s.albert_config_file)
    return load_config_for(s.init_checkpoint)


def load_tokenizer(s):
    """The run's tokenizer: recorded settings win unless a flag was given explicitly."""
    return tokenizer_for_model(s.vocab_file, s.init_checkpoint, do_lower_case=s.do_lower_case,
                               keep_accents=s.keep_accents)


def check_model_inputs(s, config, tokenizer):
    need(s.max_seq_length <= config.max_position_embeddings, "max_seq_length",
         f"{s.max_seq_length} exceeds the model's max_position_embeddings ({config.max_position_embeddings})")
    need(tokenizer.vocab_size <= config.vocab_size, "vocab_file",
         f"the tokenizer has {tokenizer.vocab_size} ids but the model's vocab_size is {config.vocab_size}")
    if s.init_checkpoint:
        # Pretrained embeddings are indexed by this vocabulary's ids: a smaller one is another vocabulary.
        need(tokenizer.vocab_size == config.vocab_size, "vocab_file",
             f"the tokenizer has {tokenizer.vocab_size} ids but the model of --init_checkpoint={s.init_checkpoint} "
             f"has vocab_size {config.vocab_size}: the vocabulary does not belong to this checkpoint")
    if s.vocab_file:
        checkpoint_match.check_matches_checkpoint(tokenizer, s.init_checkpoint, f"--vocab_file={s.vocab_file}",
                                                  "--init_checkpoint")


def train_steps(s, num_train_examples: int) -> Tuple[int, int]:
    steps = s.train_steps or int(math.ceil(num_train_examples * s.num_train_epochs / s.train_batch_size))
    warmup = s.warmup_steps if s.warmup_steps >= 0 else int(steps * s.warmup_proportion)
    need(warmup <= steps, "warmup_steps", f"{warmup} exceeds the {steps} training steps")
    return steps, warmup


def check_inputs(family: TaskFamily):
    """Every check that writes nothing, every row of every needed file."""
    s = family.s
    family.check_settings()
    check_shared_settings(s, family)
    family.read()
    family.config = load_config(s)
    family.tokenizer = load_tokenizer(s)
    check_model_inputs(s, family.config, family.tokenizer)
    family.check_with_tokenizer()


def purpose(s) -> str:
    """What the loaded weights are used for, in the words of the log."""
    if s.do_train:
        return "fine-tuning"
    return " and ".join(word for flag, word in ((s.do_eval, "evaluating"), (s.do_predict, "predicting"),
                                                (s.export_dir, "exporting")) if flag).capitalize()


class Runner:
    """Trains, evaluates and keeps the best checkpoint of one seed of `family`."""

    def __init__(self, family: TaskFamily, strategy, run: SeedRun):
        self.family, self.s, self.strategy, self.run = family, family.s, strategy, run
        self.chief = strategies.is_chief(strategy)
        self.resumed: Optional[Dict] = None  # the state a killed or finished run left

    def build(self, num_steps: int, warmup: int):
        # Fresh Keras names: the resume state keys variables by name, and names of models built earlier
        # in this process would carry suffixes (`_1`) that a restarted process does not.
        keras.backend.clear_session()
        precision = runtime.configure_runtime(self.run.seed, self.s.mixed_precision, self.s.deterministic_ops,
                                              self.s.strategy, self.s.jit_compile)
        with self.strategy.scope():
            self.family.build_model(self.run)
            self.family.load_initial_weights(self.run)
            optimizer = create_optimizer("adamw", self.s.learning_rate, max(num_steps, 1), warmup,
                                         weight_decay_rate=self.s.weight_decay)
            if precision == "fp16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.run.model.compile(optimizer=optimizer, jit_compile=self.s.jit_compile,
                                   steps_per_execution=self.s.steps_per_loop, **self.family.compile_losses(self.run))
            if self.s.do_train:
                self.resumed = resume.load_state(self.run.output_dir)
                if self.resumed:
                    resume.check_same_run(self.resumed, self.s, self.run.output_dir)
                    resume.restore(self.run, self.resumed)

    def step(self) -> int:
        return int(self.run.model.optimizer.iterations.numpy())

    def evaluate_and_keep_best(self, step: int):
        run = self.run
        results, record = self.family.evaluate(run, step)
        logging.info("eval at step %d: %s", step, self.family.summary(results))
        filesystem.makedirs(os.path.join(run.output_dir, "eval_results"))
        artifacts.write_json(os.path.join(run.output_dir, "eval_results", f"step_{step:07d}.json"), results)
        if metrics_lib.better(record["value"], run.best and run.best["value"]):
            record = {"step": step, **record}
            record.update(self.family.save_best(run, step, record))
            run.best = record
            run.evaluations_since_best = 0
            artifacts.write_json(os.path.join(run.output_dir, BEST_RECORD), record)
        else:
            run.evaluations_since_best += 1
            patience = self.s.early_stopping_patience
            if patience and run.evaluations_since_best >= patience:
                logging.info("early stop at step %d: %d evaluations without a better %s (best: step %s)", step,
                             run.evaluations_since_best, record.get("metric", "score"),
                             run.best and run.best["step"])
                run.stopped_early_at = step
                run.model.stop_training = True
        with tf.summary.create_file_writer(os.path.join(run.output_dir, "logs", "eval")).as_default(step=step):
            for name, value in _scalars(results):
                tf.summary.scalar(name, value)

    def train(self, num_steps: int) -> Optional[float]:
        run = self.run
        start = self.step()
        if self.resumed and (self.resumed["finished"] or start >= num_steps):
            logging.info("%s: training finished earlier (step %d of %d); not retrained", run.output_dir, start,
                         num_steps)
            return self.resumed.get("final_train_loss")
        # The input position: the same shuffled stream, less the batches already trained on.
        data = self.family.train_dataset(run).skip(start)
        progress = callbacks_lib.ProgressLogger(num_steps, self.s.train_batch_size, self.s.log_every_steps)
        callbacks = [progress, keras.callbacks.TensorBoard(os.path.join(run.output_dir, "logs"), update_freq=100)]
        if self.family.evaluates_during_training():
            callbacks.append(callbacks_lib.EvaluateEverySteps(self.evaluate_and_keep_best, self.s.eval_every_steps))
        if self.chief:  # after the evaluation of the same step, so the state holds its best score
            callbacks.append(callbacks_lib.EverySteps(self.save_state, self.s.save_checkpoints_steps))
        logging.info("training %d steps of %d examples (seed %d)%s", num_steps, self.s.train_batch_size, run.seed,
                     f", resumed at step {start}" if start else "")
        run.model.fit(data, epochs=1, steps_per_epoch=num_steps - start, callbacks=callbacks, shuffle=False,
                      verbose=0)
        self.family.after_training(run, progress.last_interval_loss)
        if self.chief:
            resume.save(run, self.step(), self.s, finished=True, last_loss=progress.last_interval_loss)
        return progress.last_interval_loss

    def save_state(self, step: int):
        resume.save(self.run, step, self.s, finished=False)

    def restore_best(self):
        if self.run.best:
            self.family.restore_best(self.run)
            logging.info("restored the best checkpoint (step %d, %s = %.4f)", self.run.best["step"],
                         self.run.best.get("metric", "score"), self.run.best["value"])


def _scalars(results: Dict, prefix: str = ""):
    for name, value in results.items():
        if isinstance(value, dict):
            yield from _scalars(value, f"{prefix}{name}/")
        elif isinstance(value, float):
            yield f"{prefix}{name}", value


def run(family: TaskFamily) -> Dict:
    """The whole job; returns {"runs": [per-seed results], "seeds": summary of the main metric or None}."""
    s = family.s
    runtime.configure_devices(s.cpu_devices)
    strategy = strategies.make_strategy(s.strategy, s.tpu)
    # Bad flags or rows are refused before the output directory is touched (the lock creates it).
    check_inputs(family)
    # One run per output directory: a second one would mix its checkpoints and results with ours.
    with output_lock.OutputDirLock(s.output_dir, enabled=strategies.is_chief(strategy), log=logging.warning):
        return _run_holding_output_dir(family, strategy)


def prepare(family: TaskFamily, checked: bool = False) -> TaskFamily:
    """Every check (unless `checked`), then the family's tokenization into the feature cache."""
    s = family.s
    if not checked:
        check_inputs(family)
    artifacts.check_writable(s.output_dir)
    family.prepare(s.cache_dir or os.path.join(s.output_dir, "feature_cache"))
    return family


def _run_holding_output_dir(family: TaskFamily, strategy) -> Dict:
    s = family.s
    prepare(family, checked=True)
    num_steps, warmup = train_steps(s, family.num_train_examples()) if s.do_train else (1, 0)
    runs = []
    for index, sub in enumerate(seed_subdirectories(s)):
        seed = s.seed + index
        run = SeedRun(seed, os.path.join(s.output_dir, sub) if sub else s.output_dir)
        filesystem.makedirs(run.output_dir)
        runner = Runner(family, strategy, run)
        runner.build(num_steps, warmup)
        result = {"seed": seed, "output_dir": run.output_dir}
        if s.do_train:
            result["final_train_loss"] = runner.train(num_steps)
            runner.restore_best()
            result["best_checkpoint"] = run.best
            if run.stopped_early_at is not None:
                result["stopped_early_at"] = run.stopped_early_at
        result.update(family.finish(run))
        if s.export_dir:
            result["export_dir"] = os.path.join(s.export_dir, sub) if sub else s.export_dir
            family.export(run, result["export_dir"])
        runs.append(result)
        keras.backend.clear_session()
    summary = seeds_summary(family, runs) if s.do_eval else None
    if summary and len(runs) > 1:
        artifacts.write_json(os.path.join(s.output_dir, "seeds_summary.json"), summary)
        logging.info("%d seeds, %s %s: mean %.4f  median %.4f  max %.4f", len(runs), summary["split"],
                     summary["metric"], summary["mean"], summary["median"], summary["max"])
    return {"runs": runs, "seeds": summary}


def seeds_summary(family: TaskFamily, runs: List[Dict]) -> Dict:
    mains = [family.main_result(r["eval"]) for r in runs]
    values = [value for _, _, value in mains]
    finite = [v for v in values if not math.isnan(v)] or [math.nan]
    return {"split": mains[0][0], "metric": mains[0][1], "values": values, "seeds": [r["seed"] for r in runs],
            "mean": float(np.mean(finite)), "median": float(statistics.median(finite)), "max": float(max(finite))}
