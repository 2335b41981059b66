"""run_classifier.py's job: check everything, tokenize once, fine-tune, evaluate, predict, export.

Order matters for the user: flags, the task files (every row), the model config, the tokenizer and
`--max_seq_length` are checked before anything is tokenized or built, and errors name the flag or
the `file:line` at fault.
"""

import dataclasses
import math
import os
import statistics
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf import atomic_files, output_errors, output_lock
from albert_tf.export import destination
from albert_tf.finetuning import callbacks as callbacks_lib
from albert_tf.finetuning import datasets, evaluation, feature_cache, modeling, predictions, vocabulary_check
from albert_tf.finetuning import metrics as metrics_lib
from albert_tf.finetuning.evaluation import Split
from albert_tf.finetuning.tasks import get_task, load_task_modules
from albert_tf.tokenization import settings_flags
from albert_tf.tokenization import checkpoint_match
from albert_tf.training import artifacts, runtime, settings_checks, strategies

BEST_DIR = "best_checkpoint"
BEST_PREFIX = "model.ckpt"


@dataclasses.dataclass
class FinetuneSettings:
    task_name: str
    data_dir: str
    output_dir: str
    init_checkpoint: Optional[str] = None
    albert_config_file: Optional[str] = None
    preset: Optional[str] = None
    vocab_file: Optional[str] = None
    # None: the setting recorded with the tokenizer (else the tokenizer's default); see settings_flags.
    do_lower_case: Optional[bool] = None
    keep_accents: Optional[bool] = None
    max_seq_length: int = 128
    max_qa_length: int = 128
    train_batch_size: int = 32
    eval_batch_size: int = 64
    predict_batch_size: int = 64
    learning_rate: float = 2e-5
    num_train_epochs: float = 3.0
    train_steps: int = 0
    warmup_proportion: float = 0.1
    warmup_steps: int = -1
    weight_decay: float = 0.01
    classifier_dropout: float = 0.1
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    eval_every_steps: int = 0
    log_every_steps: int = 50
    seed: int = 12345
    num_seeds: int = 1
    strategy: str = "one_device"
    tpu: str = ""
    mixed_precision: str = "off"
    jit_compile: bool = False
    steps_per_execution: int = 1
    cpu_devices: int = 0
    deterministic_ops: bool = False
    static_shapes: bool = False
    cache_dir: Optional[str] = None
    export_dir: Optional[str] = None
    task_module: Optional[List[str]] = None
    max_unknown_rate: float = 0.1

    @classmethod
    def from_flags(cls, flag_values, overrides: Optional[Dict] = None):
        values = {f.name: flag_values[f.name].value for f in dataclasses.fields(cls) if f.name in flag_values}
        values.update(settings_flags.explicit_settings(flag_values))
        values.update(overrides or {})
        return cls(**values)


def _need(condition, flag, message):
    if not condition:
        raise ValueError(f"--{flag}: {message}")


def check_settings(s: FinetuneSettings):
    _need(s.do_train or s.do_eval or s.do_predict, "do_train", "give at least one of --do_train, --do_eval, "
          "--do_predict")
    _need(s.max_seq_length >= 3, "max_seq_length", f"{s.max_seq_length} leaves no room for [CLS] a [SEP] b [SEP]")
    settings_checks.at_least(s, 1, "train_batch_size", "eval_batch_size", "predict_batch_size", "num_seeds",
                             "steps_per_execution", "max_qa_length", "log_every_steps")
    settings_checks.at_least(s, 0, "cpu_devices")
    settings_checks.need(s.warmup_steps >= -1, "warmup_steps", s.warmup_steps, "must be >= 0 (-1: use "
                         "--warmup_proportion)")
    # Every input path before anything is read: a missing checkpoint is not found after tokenizing.
    get_task(s.task_name)  # an unknown task first: its message lists the known ones
    settings_checks.existing_directory("data_dir", s.data_dir)
    settings_checks.existing_file("albert_config_file", s.albert_config_file)
    settings_checks.need(not s.vocab_file or os.path.exists(s.vocab_file), "vocab_file", s.vocab_file,
                         "no such file or directory")
    settings_checks.checkpoint("init_checkpoint", s.init_checkpoint)
    need = settings_checks.need
    need(s.learning_rate > 0, "learning_rate", s.learning_rate, "must be > 0")
    need(0 <= s.warmup_proportion <= 1, "warmup_proportion", s.warmup_proportion, "must be in [0, 1]")
    need(s.train_steps >= 0, "train_steps", s.train_steps, "must be >= 0 (0: use --num_train_epochs)")
    need(s.train_steps > 0 or s.num_train_epochs > 0, "num_train_epochs", s.num_train_epochs,
         "must be > 0 (or set --train_steps)")
    need(0 <= s.classifier_dropout < 1, "classifier_dropout", s.classifier_dropout, "must be in [0, 1)")
    need(s.weight_decay >= 0, "weight_decay", s.weight_decay, "must be >= 0")
    need(s.eval_every_steps >= 0, "eval_every_steps", s.eval_every_steps, "must be >= 0")
    _need(not (s.export_dir and get_task(s.task_name).is_multiple_choice), "export_dir",
          f"{s.task_name} is multiple choice; raw-text export supports classification and regression tasks")
    _need(0 <= s.max_unknown_rate <= 1, "max_unknown_rate", f"{s.max_unknown_rate} must be in [0, 1]")
    _need(not (s.init_checkpoint is None and s.preset is None and s.albert_config_file is None), "init_checkpoint",
          "give the model: --init_checkpoint (TF1, TF-Hub, brightmart, Hugging Face or .keras), or "
          "--preset/--albert_config_file to start from random weights")
    if s.export_dir:  # the export replaces its directory: refuse a wrong one before training, not after
        seeds = [None] if s.num_seeds == 1 else [f"seed_{seed}" for seed in range(s.seed, s.seed + s.num_seeds)]
        for sub in seeds:
            destination.check_export_dir(os.path.join(s.export_dir, sub) if sub else s.export_dir,
                                         protected=(s.output_dir, sub and os.path.join(s.output_dir, sub),
                                                    s.init_checkpoint))


def load_config(s: FinetuneSettings):
    from albert_tf.checkpoints import load_config_for  # pylint: disable=import-outside-toplevel
    from albert_tf.config import preset  # pylint: disable=import-outside-toplevel
    if s.preset:
        return preset(s.preset)
    if s.albert_config_file:
        return load_config_for(s.albert_config_file, s.albert_config_file)
    return load_config_for(s.init_checkpoint)


def load_tokenizer(s):
    """The run's tokenizer (also run_squad.py's): recorded settings win unless a flag was given explicitly."""
    from albert_tf.tokenization.assets import tokenizer_for_model  # pylint: disable=import-outside-toplevel
    return tokenizer_for_model(s.vocab_file, s.init_checkpoint, do_lower_case=s.do_lower_case,
                               keep_accents=getattr(s, "keep_accents", None))


def check_model_inputs(s: FinetuneSettings, config, tokenizer):
    _need(s.max_seq_length <= config.max_position_embeddings, "max_seq_length",
          f"{s.max_seq_length} exceeds the model's max_position_embeddings ({config.max_position_embeddings})")
    _need(tokenizer.vocab_size <= config.vocab_size, "vocab_file",
          f"the tokenizer has {tokenizer.vocab_size} ids but the model's vocab_size is {config.vocab_size}")
    if s.init_checkpoint:
        # Pretrained embeddings are indexed by this vocabulary's ids: a smaller one is another vocabulary.
        _need(tokenizer.vocab_size == config.vocab_size, "vocab_file",
              f"the tokenizer has {tokenizer.vocab_size} ids but the model of --init_checkpoint={s.init_checkpoint} "
              f"has vocab_size {config.vocab_size}: the vocabulary does not belong to this checkpoint")
    if s.vocab_file:
        checkpoint_match.check_matches_checkpoint(tokenizer, s.init_checkpoint, f"--vocab_file={s.vocab_file}",
                                                  "--init_checkpoint")


def read_splits(task, s: FinetuneSettings) -> Dict[str, tuple]:
    """{split: (examples, labelled)} for every split the run needs; every row is checked here."""
    wanted = {}
    if s.do_train:
        _need(task.train_split is not None, "do_train", f"{task.name} has no training data (predict only)")
        wanted[task.train_split] = True
    if s.do_eval or (s.do_train and s.eval_every_steps):
        _need(bool(task.eval_splits), "do_eval", f"{task.name} has no labelled evaluation data")
        wanted.update({split: True for split in task.eval_splits})
    if s.do_predict:
        for split in task.predict_splits.values():
            wanted.setdefault(split, False)
    out = {}
    for split, labelled in wanted.items():
        examples = task.read_split(s.data_dir, split, labelled)
        logging.info("%s %s: %d examples from %s", task.name, split, len(examples),
                     task.split_path(s.data_dir, split))
        out[split] = (examples, labelled)
    return out


def train_steps(s: FinetuneSettings, num_train_examples: int):
    steps = s.train_steps or int(math.ceil(num_train_examples * s.num_train_epochs / s.train_batch_size))
    warmup = s.warmup_steps if s.warmup_steps >= 0 else int(steps * s.warmup_proportion)
    _need(warmup <= steps, "warmup_steps", f"{warmup} exceeds the {steps} training steps")
    return steps, warmup


class FinetuneRun:
    """One seed: build, (load), train with evaluation every N steps, final eval, predictions, export."""

    def __init__(self, s: FinetuneSettings, task, config, tokenizer, splits: Dict[str, Split], strategy,
                 output_dir: str, seed: int):
        self.s, self.task, self.config, self.tokenizer = s, task, config, tokenizer
        self.splits, self.strategy, self.output_dir, self.seed = splits, strategy, output_dir, seed
        self.best = None
        self.static_shapes = s.static_shapes or s.strategy == "tpu"

    # --- build -----------------------------------------------------------------------------

    def build(self, num_steps: int, warmup: int):
        from albert_tf.checkpoints import load_weights  # pylint: disable=import-outside-toplevel
        from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
        runtime.configure_runtime(self.seed, self.s.mixed_precision, self.s.deterministic_ops)
        with self.strategy.scope():
            self.model, self.classifier = modeling.build_model(self.task, self.config, self.s.max_seq_length,
                                                               self.s.classifier_dropout, self.static_shapes)
            if self.s.init_checkpoint:
                report = load_weights(self.classifier, self.s.init_checkpoint, verbose=False)
                logging.info("%s from --init_checkpoint=%s: %s", _purpose(self.s), self.s.init_checkpoint,
                             report.summary())
            elif self.s.do_train:
                logging.warning("no --init_checkpoint: fine-tuning from RANDOM weights (expect chance-level results)")
            else:
                logging.warning("no --init_checkpoint and no --do_train: %s RANDOM weights (the results mean "
                                "nothing; give a fine-tuned --init_checkpoint)", _purpose(self.s).lower())
            optimizer = create_optimizer("adamw", self.s.learning_rate, max(num_steps, 1), warmup,
                                         weight_decay_rate=self.s.weight_decay)
            if self.s.mixed_precision == "fp16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.model.compile(optimizer=optimizer, loss=modeling.loss_for(self.task),
                               jit_compile=self.s.jit_compile, steps_per_execution=self.s.steps_per_execution)

    # --- evaluation and best checkpoint ------------------------------------------------------

    def evaluate(self, step: int, warn: bool = True) -> Dict:
        results = {}
        for split in self.task.eval_splits:
            results[split] = evaluation.evaluate_split(self.task, self.model, self.splits[split],
                                                       self.s.eval_batch_size, self.s.max_seq_length,
                                                       self.static_shapes, warn=warn, trained=self.s.do_train)
        results["global_step"] = step
        return results

    def evaluate_and_keep_best(self, step: int):
        results = self.evaluate(step)
        main_split = self.task.eval_splits[0]
        value = results[main_split][self.task.main_metric]
        logging.info("eval at step %d: %s", step, _summary(results, self.task))
        tf.io.gfile.makedirs(os.path.join(self.output_dir, "eval_results"))
        artifacts.write_json(os.path.join(self.output_dir, "eval_results", f"step_{step:07d}.json"), results)
        if metrics_lib.better(value, self.best and self.best["value"]):
            from albert_tf.checkpoints import save_tf1  # pylint: disable=import-outside-toplevel
            from albert_tf.tokenization import save_tokenizer_assets  # pylint: disable=import-outside-toplevel
            best_dir = os.path.join(self.output_dir, BEST_DIR)
            # Written whole in a temporary directory, then swapped in: after a full disk or a kill
            # the best checkpoint is the previous complete one, never weights without their vocabulary.
            with output_errors.writing(best_dir):
                temporary = atomic_files.temporary_dir(self.output_dir, BEST_DIR)
                try:
                    save_tf1(self.classifier, os.path.join(temporary, BEST_PREFIX), global_step=step)
                    save_tokenizer_assets(self.tokenizer, temporary)
                    atomic_files.publish_dir_replacing(temporary, best_dir)
                except BaseException:
                    atomic_files.remove(temporary)
                    raise
            self.best = {"step": step, "split": main_split, "metric": self.task.main_metric, "value": value,
                         "path": os.path.join(best_dir, BEST_PREFIX)}
            artifacts.write_json(os.path.join(self.output_dir, "best_checkpoint.json"), self.best)
        with tf.summary.create_file_writer(os.path.join(self.output_dir, "logs", "eval")).as_default(step=step):
            for split in self.task.eval_splits:
                for name, metric in results[split].items():
                    if isinstance(metric, float):
                        tf.summary.scalar(f"{split}/{name}", metric)

    # --- train / predict / export ----------------------------------------------------------

    def train(self, num_steps: int) -> Optional[float]:
        data = datasets.train_dataset(self.splits[self.task.train_split].meta, self.s.train_batch_size,
                                      self.s.max_seq_length, self.seed, self.static_shapes)
        progress = callbacks_lib.ProgressLogger(num_steps, self.s.train_batch_size, self.s.log_every_steps)
        callbacks = [progress, keras.callbacks.TensorBoard(os.path.join(self.output_dir, "logs"), update_freq=100)]
        if self.s.do_eval or self.s.eval_every_steps:
            callbacks.append(callbacks_lib.EvaluateEverySteps(self.evaluate_and_keep_best, self.s.eval_every_steps))
        logging.info("training %d steps of %d examples (seed %d)", num_steps, self.s.train_batch_size, self.seed)
        self.model.fit(data, epochs=1, steps_per_epoch=num_steps, callbacks=callbacks, shuffle=False, verbose=0)
        message = evaluation.stuck_loss_warning(self.task, progress.last_interval_loss,
                                                f"{self.task.name} (seed {self.seed})")
        if message:
            logging.warning("%s", message)
        return progress.last_interval_loss

    def restore_best(self):
        from albert_tf.checkpoints import load_weights  # pylint: disable=import-outside-toplevel
        if self.best:
            load_weights(self.classifier, self.best["path"], verbose=False)
            logging.info("restored the best checkpoint (step %d, %s %s = %.4f)", self.best["step"],
                         self.best["split"], self.best["metric"], self.best["value"])

    def predict(self) -> List[str]:
        directory = os.path.join(self.output_dir, "predictions")
        tf.io.gfile.makedirs(directory)
        written = []
        for submission, split_name in self.task.predict_splits.items():
            split = self.splits[split_name]
            outputs = evaluation.predict_outputs(self.model, split, self.s.predict_batch_size,
                                                 self.s.max_seq_length, self.static_shapes)
            path = predictions.submission_path(directory, submission, self.task.submission_format)
            predictions.write_predictions(path, self.task.submission_format, [e.guid for e in split.examples],
                                          self.task.prediction_strings(outputs))
            logging.info("wrote %d predictions to %s", len(split.examples), path)
            written.append(path)
        return written

    def export(self, export_dir: str):
        """Raw-text SavedModel of the (best) classifier, checked by a fresh-process reload on dev rows."""
        from albert_tf.export import export_classifier  # pylint: disable=import-outside-toplevel
        # Check rows: dev rows when they were read, else whatever split this run read (no --do_eval).
        loaded = [split for split in (*self.task.eval_splits, self.task.train_split,
                                      *self.task.predict_splits.values()) if split in self.splits]
        examples = [e for split in loaded for e in self.splits[split].examples][:32]
        pair = any(e.text_b is not None for e in examples)
        rows = [(e.text_a, e.text_b) if pair else (e.text_a,) for e in examples]
        info = export_classifier(self.classifier, self.tokenizer, export_dir, max_seq_length=self.s.max_seq_length,
                                 labels=() if self.task.is_regression else self.task.labels,
                                 text_fields=("text_a", "text_b") if pair else ("text_a",),
                                 task_name=self.task.name, check_texts=rows)
        logging.info("exported the model to %s (reload check: max |diff| %.2e on %d dev rows + samples)",
                     export_dir, info["max_abs_difference"], len(rows))


def _purpose(s: FinetuneSettings) -> str:
    """What the loaded weights are used for, in the words of the log."""
    if s.do_train:
        return "fine-tuning"
    return " and ".join(word for flag, word in ((s.do_eval, "evaluating"), (s.do_predict, "predicting"),
                                                (s.export_dir, "exporting")) if flag).capitalize()


def _summary(results: Dict, task) -> str:
    parts = []
    for split in task.eval_splits:
        parts += [f"{split}/{name}={value:.4f}" for name, value in results[split].items()
                  if name in task.metric_names or name == "loss"]
    return "  ".join(parts)


def check_inputs(s: FinetuneSettings):
    """Every check that writes nothing, every row of every needed file: (task, config, tokenizer, raw splits)."""
    load_task_modules(s.task_module)
    task = get_task(s.task_name)  # first: an unknown name lists the known tasks
    check_settings(s)
    config = load_config(s)
    tokenizer = load_tokenizer(s)
    check_model_inputs(s, config, tokenizer)
    return task, config, tokenizer, read_splits(task, s)


def prepare(s: FinetuneSettings, inputs=None):
    """Every check and the tokenization, before any model exists: (task, config, tokenizer, splits)."""
    task, config, tokenizer, raw = inputs or check_inputs(s)
    artifacts.check_writable(s.output_dir)
    cache_dir = s.cache_dir or os.path.join(s.output_dir, "feature_cache")
    splits = {}
    for split, (examples, labelled) in raw.items():
        path = task.split_path(s.data_dir, split)
        meta = feature_cache.cached_features(cache_dir, task, split, path, examples, tokenizer, s.max_seq_length,
                                             labelled, s.max_qa_length)
        vocabulary_check.check_unknown_rate(task, tokenizer, path, meta, s.max_unknown_rate)
        splits[split] = Split(split, examples, meta)
    return task, config, tokenizer, splits


def run(s: FinetuneSettings) -> Dict:
    """The whole job; returns {"runs": [per-seed results], "seeds": summary}."""
    runtime.configure_devices(s.cpu_devices)
    strategy = strategies.make_strategy(s.strategy, s.tpu)
    # Bad flags or rows are refused before the output directory is touched (the lock creates it).
    inputs = check_inputs(s)
    # One run per output directory: a second one would mix its checkpoints and results with ours.
    with output_lock.OutputDirLock(s.output_dir, enabled=strategies.is_chief(strategy), log=logging.warning):
        return _run_holding_output_dir(s, strategy, inputs)


def _run_holding_output_dir(s: FinetuneSettings, strategy, inputs) -> Dict:
    task, config, tokenizer, splits = prepare(s, inputs)
    num_steps, warmup = train_steps(s, len(splits[task.train_split].examples)) if s.do_train else (1, 0)
    seeds = [s.seed + i for i in range(s.num_seeds)]
    runs = []
    for seed in seeds:
        output_dir = s.output_dir if len(seeds) == 1 else os.path.join(s.output_dir, f"seed_{seed}")
        tf.io.gfile.makedirs(output_dir)
        job = FinetuneRun(s, task, config, tokenizer, splits, strategy, output_dir, seed)
        job.build(num_steps, warmup)
        result = {"seed": seed, "output_dir": output_dir}
        if s.do_train:
            result["final_train_loss"] = job.train(num_steps)
            job.restore_best()
            result["best_checkpoint"] = job.best
        if s.do_eval:
            results = job.evaluate(int(job.model.optimizer.iterations.numpy()), warn=not s.do_train)
            results["best_checkpoint"] = job.best
            artifacts.write_json(os.path.join(output_dir, "eval_results.json"), results)
            logging.info("final eval (%s): %s", "best checkpoint" if job.best else "current weights",
                         _summary(results, task))
            result["eval"] = results
        if s.do_predict:
            result["predictions"] = job.predict()
        if s.export_dir:
            job.export(s.export_dir if len(seeds) == 1 else os.path.join(s.export_dir, f"seed_{seed}"))
        runs.append(result)
        keras.backend.clear_session()
    summary = seeds_summary(task, runs) if s.do_eval else None
    if summary and len(seeds) > 1:
        artifacts.write_json(os.path.join(s.output_dir, "seeds_summary.json"), summary)
        logging.info("%d seeds, %s %s: mean %.4f  median %.4f  max %.4f", len(seeds), summary["split"],
                     summary["metric"], summary["mean"], summary["median"], summary["max"])
    return {"runs": runs, "seeds": summary}


def seeds_summary(task, runs: List[Dict]) -> Dict:
    split = task.eval_splits[0]
    values = [r["eval"][split][task.main_metric] for r in runs]
    finite = [v for v in values if not math.isnan(v)] or [math.nan]
    return {"split": split, "metric": task.main_metric, "values": values, "seeds": [r["seed"] for r in runs],
            "mean": float(np.mean(finite)), "median": float(statistics.median(finite)), "max": float(max(finite))}
