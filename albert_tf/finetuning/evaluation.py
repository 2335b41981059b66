"""Predicting a split, scoring it, and the sanity checks users need (collapsed predictions)."""

import dataclasses
import math
from typing import Dict, List

import numpy as np
from absl import logging

from albert_tf.finetuning import datasets

COLLAPSE_FRACTION = 0.95


@dataclasses.dataclass
class Split:
    """A tokenized split: its examples (labels, ids for submissions) and the cached records' meta."""

    name: str
    examples: List
    meta: Dict

    def label_ids(self, task) -> np.ndarray:
        return np.asarray([task.label_id(e.label) for e in self.examples],
                          dtype=np.float32 if task.is_regression else np.int64)


def predict_outputs(model, split: Split, batch_size: int, max_seq_length: int, static_shapes: bool) -> np.ndarray:
    """Model outputs for every example of the split, in order (padding rows removed)."""
    # A model compiled with XLA compiles once per input shape: its batches come in the training bucket widths.
    dataset = datasets.eval_dataset(split.meta, batch_size, max_seq_length, static_shapes,
                                    bucket_widths=bool(getattr(model, "jit_compile", False)))
    outputs = np.asarray(model.predict(dataset, steps=datasets.num_eval_batches(split.meta, batch_size), verbose=0))
    count = len(split.examples)
    if outputs.shape[0] < count:
        raise RuntimeError(f"{split.name}: {outputs.shape[0]} outputs for {count} examples")
    # Weight-0 rows only ever pad the last batch, so the real rows are the first `count`.
    return outputs[:count].astype(np.float64)


def mean_loss(task, outputs: np.ndarray, label_ids: np.ndarray) -> float:
    if task.is_regression:
        return float(np.mean((outputs.reshape(len(outputs), -1)[:, 0] - label_ids) ** 2))
    shifted = outputs - outputs.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(label_ids)), label_ids.astype(np.int64)]))


def collapse_warning(task, outputs: np.ndarray, where: str, trained: bool = True):
    """A message when ≥ 95% of the predictions are one class (or a regression output is constant).

    The advice depends on whether this run trained the weights: training settings cannot explain
    the predictions of weights that were only loaded.
    """
    if task.is_regression:
        scores = outputs.reshape(len(outputs), -1)[:, 0]
        if len(scores) > 1 and float(np.std(scores)) < 1e-6:
            return f"{where}: every prediction is {scores[0]:.4f}: the regression output collapsed" + (
                "" if trained else _UNTRAINED_ADVICE)
        return None
    histogram = task.class_histogram(outputs)
    label, count = max(histogram.items(), key=lambda item: item[1])
    if len(outputs) >= 20 and count >= COLLAPSE_FRACTION * len(outputs):
        share = f"{where}: {count}/{len(outputs)} predictions ({100 * count / len(outputs):.1f}%) are {label!r}"
        if not trained:
            return share + _UNTRAINED_ADVICE
        return (share + ": the classifier may have collapsed to one class; try a lower --learning_rate, more warmup, "
                "another --seed (or --num_seeds), and check that --init_checkpoint loaded")
    return None


_UNTRAINED_ADVICE = (" with weights this run did not train: check that --init_checkpoint is a classifier fine-tuned "
                     "on this task (its load report names the heads that were newly initialized)")


def stuck_loss_warning(task, loss: float, where: str):
    """A message when the training loss sits at ln(num_classes): the model learned nothing."""
    if task.is_regression or task.num_classes < 2 or loss is None or math.isnan(loss):
        return None
    chance = math.log(task.num_classes)
    if abs(loss - chance) <= 0.01 * chance:
        return (f"{where}: training loss {loss:.4f} is ln({task.num_classes}) = {chance:.4f}: the model predicts "
                "the uniform distribution; check the learning rate, warmup and the checkpoint load report")
    return None


def evaluate_split(task, model, split: Split, batch_size: int, max_seq_length: int, static_shapes: bool,
                   warn: bool = True, trained: bool = True) -> Dict:
    outputs = predict_outputs(model, split, batch_size, max_seq_length, static_shapes)
    label_ids = split.label_ids(task)
    results = task.compute_metrics(outputs, label_ids)
    results["loss"] = mean_loss(task, outputs, label_ids)
    results["num_examples"] = len(split.examples)
    if not task.is_regression:
        results["prediction_histogram"] = task.class_histogram(outputs)
    groups = sorted({e.group for e in split.examples if e.group})
    for group in groups:
        keep = np.asarray([e.group == group for e in split.examples])
        for name, value in task.compute_metrics(outputs[keep], label_ids[keep]).items():
            results[f"{group}/{name}"] = value
    message = collapse_warning(task, outputs, f"{task.name} {split.name}", trained)
    if message:
        results["warning"] = message
        if warn:
            logging.warning("%s", message)
    return results
