"""run_classifier.py's task family: GLUE / CLUE / LCQMC / RACE and user tasks on the runner.

What differs from other families: task files read through the task registry (every row checked,
`file:line` errors), the feature cache and its unknown-token check, the classifier or multiple-choice
model, the task's metrics, `best_checkpoint/` (a model directory), submission files, the classifier export.
"""

import os
from typing import Dict, List, Optional

from absl import logging

from albert_tf import export, filesystem, model_directory
from albert_tf.checkpoints import load_weights
from albert_tf.finetuning import datasets, evaluation, feature_cache, modeling, predictions, vocabulary_check
from albert_tf.finetuning.evaluation import Split
from albert_tf.finetuning.tasks import get_task, load_task_modules
from albert_tf.jobs import runner
from albert_tf.jobs.runner import need, run as run_family
from albert_tf.jobs.settings import ClassifierSettings
from albert_tf.training import settings_checks

# The earlier names of the settings and the helpers shared with the runner.
FinetuneSettings = ClassifierSettings
load_config, load_tokenizer, check_model_inputs = runner.load_config, runner.load_tokenizer, runner.check_model_inputs
BEST_DIR = "best_checkpoint"


class ClassifierFamily(runner.TaskFamily):
    kind = "classifier"

    def __init__(self, s: ClassifierSettings):
        super().__init__(s)
        load_task_modules(s.task_module)
        self.task = get_task(s.task_name)  # first: an unknown name lists the known tasks
        self.raw: Dict[str, tuple] = {}
        self.splits: Dict[str, Split] = {}

    def check_settings(self):
        s, task = self.s, self.task
        need(s.max_seq_length >= 3, "max_seq_length", f"{s.max_seq_length} leaves no room for [CLS] a [SEP] b [SEP]")
        settings_checks.at_least(s, 1, "eval_batch_size", "max_qa_length")
        settings_checks.existing_directory("data_dir", s.data_dir)
        settings_checks.need(0 <= s.classifier_dropout < 1, "classifier_dropout", s.classifier_dropout,
                             "must be in [0, 1)")
        need(not (s.export_dir and task.is_multiple_choice), "export_dir",
             f"{s.task_name} is multiple choice; raw-text export supports classification and regression tasks")
        need(0 <= s.max_unknown_rate <= 1, "max_unknown_rate", f"{s.max_unknown_rate} must be in [0, 1]")

    def read(self):
        """{split: (examples, labelled)} for every split the run needs; every row is checked here."""
        s, task = self.s, self.task
        wanted = {}
        if s.do_train:
            need(task.train_split is not None, "do_train", f"{task.name} has no training data (predict only)")
            wanted[task.train_split] = True
        if s.do_eval or (s.do_train and s.eval_every_steps):
            need(bool(task.eval_splits), "do_eval", f"{task.name} has no labelled evaluation data")
            wanted.update({split: True for split in task.eval_splits})
        if s.do_predict:
            for split in task.predict_splits.values():
                wanted.setdefault(split, False)
        for split, labelled in wanted.items():
            examples = task.read_split(s.data_dir, split, labelled)
            logging.info("%s %s: %d examples from %s", task.name, split, len(examples),
                         task.split_path(s.data_dir, split))
            self.raw[split] = (examples, labelled)

    def prepare(self, cache_dir: str):
        s, task = self.s, self.task
        for split, (examples, labelled) in self.raw.items():
            path = task.split_path(s.data_dir, split)
            meta = feature_cache.cached_features(cache_dir, task, split, path, examples, self.tokenizer,
                                                 s.max_seq_length, labelled, s.max_qa_length)
            vocabulary_check.check_unknown_rate(task, self.tokenizer, path, meta, s.max_unknown_rate)
            self.splits[split] = Split(split, examples, meta)

    def num_train_examples(self) -> int:
        return len(self.splits[self.task.train_split].examples)

    # --- model ---------------------------------------------------------------------------------
    def build_model(self, run: runner.SeedRun):
        run.model, run.weights_model = modeling.build_model(self.task, self.config, self.s.max_seq_length,
                                                            self.s.classifier_dropout, self.s.static)

    def load_initial_weights(self, run: runner.SeedRun):
        s = self.s
        saved = model_directory.model_directory_of(s.init_checkpoint)
        if saved:
            report, reason = model_directory.load_for_task(run.weights_model,
                                                           model_directory.read_model_directory(saved),
                                                           self.task_record())
            if reason:
                logging.info("--init_checkpoint=%s: encoder only, the head is newly initialized (%s)",
                             s.init_checkpoint, reason)
            logging.info("%s from --init_checkpoint=%s: %s", runner.purpose(s), s.init_checkpoint, report.summary())
        elif s.init_checkpoint:
            report = load_weights(run.weights_model, s.init_checkpoint, verbose=False)
            logging.info("%s from --init_checkpoint=%s: %s", runner.purpose(s), s.init_checkpoint, report.summary())
        elif s.do_train:
            logging.warning("no --init_checkpoint: fine-tuning from RANDOM weights (expect chance-level results)")
        else:
            logging.warning("no --init_checkpoint and no --do_train: %s RANDOM weights (the results mean "
                            "nothing; give a fine-tuned --init_checkpoint)", runner.purpose(s).lower())

    def compile_losses(self, run: runner.SeedRun) -> Dict:
        return {"loss": modeling.loss_for(self.task)}

    def train_dataset(self, run: runner.SeedRun):
        return datasets.train_dataset(self.splits[self.task.train_split].meta, self.s.train_batch_size,
                                      self.s.max_seq_length, run.seed, self.s.static)

    def after_training(self, run: runner.SeedRun, last_loss: Optional[float]):
        message = evaluation.stuck_loss_warning(self.task, last_loss, f"{self.task.name} (seed {run.seed})")
        if message:
            logging.warning("%s", message)

    # --- evaluation and best checkpoint ---------------------------------------------------------
    def evaluate_splits(self, run: runner.SeedRun, step: int, warn: bool = True) -> Dict:
        results = {}
        for split in self.task.eval_splits:
            results[split] = evaluation.evaluate_split(self.task, run.model, self.splits[split],
                                                       self.s.eval_batch_size, self.s.max_seq_length,
                                                       self.s.static, warn=warn, trained=self.s.do_train)
        results["global_step"] = step
        return results

    def evaluate(self, run: runner.SeedRun, step: int):
        results = self.evaluate_splits(run, step)
        split, metric, value = self.main_result(results)
        return results, {"split": split, "metric": metric, "value": value}

    def main_result(self, eval_results: Dict):
        split = self.task.eval_splits[0]
        return split, self.task.main_metric, eval_results[split][self.task.main_metric]

    def summary(self, results: Dict) -> str:
        parts = []
        for split in self.task.eval_splits:
            parts += [f"{split}/{name}={value:.4f}" for name, value in results[split].items()
                      if name in self.task.metric_names or name == "loss"]
        return "  ".join(parts)

    def task_record(self) -> Dict:
        """The task.json of this run's model directory."""
        task = self.task
        kind = (model_directory.REGRESSION if task.is_regression else
                model_directory.MULTIPLE_CHOICE if task.is_multiple_choice else model_directory.CLASSIFICATION)
        record = {"kind": kind, "task_name": task.name, "labels": [] if task.is_regression else list(task.labels),
                  "max_seq_length": self.s.max_seq_length}
        if task.is_multiple_choice:  # the choices are the labels: A, B, C, D for RACE
            record["labels"] = record["labels"] or [chr(ord("A") + i) for i in range(task.num_choices)]
            record["num_choices"] = task.num_choices
        return record

    def save_best(self, run: runner.SeedRun, step: int, record: Dict) -> Dict:
        # One model directory, written whole and swapped in: after a full disk or a kill the best
        # checkpoint is the previous complete one, never weights without their vocabulary.
        best_dir = os.path.join(run.output_dir, BEST_DIR)
        prefix = model_directory.save_model_directory(best_dir, run.weights_model, self.tokenizer,
                                                      self.task_record(), global_step=step)
        return {"path": prefix}

    def restore_best(self, run: runner.SeedRun):
        load_weights(run.weights_model, run.best["path"], verbose=False)

    # --- after training ---------------------------------------------------------------------
    def finish(self, run: runner.SeedRun) -> Dict:
        s, result = self.s, {}
        if s.do_eval:
            step = int(run.model.optimizer.iterations.numpy())
            result["eval"] = self.keep_final_results(run, self.evaluate_splits(run, step, warn=not s.do_train))
        if s.do_predict:
            result["predictions"] = self.predict(run)
        return result

    def predict(self, run: runner.SeedRun) -> List[str]:
        directory = os.path.join(run.output_dir, "predictions")
        filesystem.makedirs(directory)
        written = []
        for submission, split_name in self.task.predict_splits.items():
            split = self.splits[split_name]
            outputs = evaluation.predict_outputs(run.model, split, self.s.predict_batch_size,
                                                 self.s.max_seq_length, self.s.static)
            path = predictions.submission_path(directory, submission, self.task.submission_format)
            predictions.write_predictions(path, self.task.submission_format, [e.guid for e in split.examples],
                                          self.task.prediction_strings(outputs))
            logging.info("wrote %d predictions to %s", len(split.examples), path)
            written.append(path)
        return written

    def export(self, run: runner.SeedRun, export_dir: str):
        """Raw-text SavedModel of the (best) classifier, checked by a fresh-process reload on dev rows."""
        task = self.task
        # Check rows: dev rows when they were read, else whatever split this run read (no --do_eval).
        loaded = [split for split in (*task.eval_splits, task.train_split, *task.predict_splits.values())
                  if split in self.splits]
        examples = [e for split in loaded for e in self.splits[split].examples][:32]
        pair = any(e.text_b is not None for e in examples)
        rows = [(e.text_a, e.text_b) if pair else (e.text_a,) for e in examples]
        info = export.export_classifier(run.weights_model, self.tokenizer, export_dir, max_seq_length=self.s.max_seq_length,
                                 labels=() if task.is_regression else task.labels,
                                 text_fields=("text_a", "text_b") if pair else ("text_a",),
                                 task_name=task.name, check_texts=rows)
        logging.info("exported the model to %s (reload check: max |diff| %.2e on %d dev rows + samples)",
                     export_dir, info["max_abs_difference"], len(rows))


def run(s: ClassifierSettings) -> Dict:
    """The whole job; returns {"runs": [per-seed results], "seeds": summary}."""
    return run_family(ClassifierFamily(s))


def prepare(s: ClassifierSettings) -> ClassifierFamily:
    """Every check and the tokenization, without training (no output lock)."""
    return runner.prepare(ClassifierFamily(s))
