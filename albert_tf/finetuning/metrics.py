"""Task metrics from model outputs, computed with scikit-learn and scipy on the real rows only.

Eval batches are padded with weight-0 rows so that no example is dropped; those rows are removed
here, before anything is counted.
"""

import math
import warnings
from typing import Dict, Sequence

import numpy as np

ACCURACY, F1, MCC, PEARSON, SPEARMAN = "accuracy", "f1", "mcc", "pearson", "spearman"


def real_rows(outputs, labels, weights):
    """Drops the weight-0 padding rows."""
    outputs, labels = np.asarray(outputs), np.asarray(labels)
    if weights is None:
        return outputs, labels
    keep = np.asarray(weights) > 0
    return outputs[keep], labels[keep]


def predicted_classes(logits) -> np.ndarray:
    return np.argmax(np.asarray(logits), axis=-1)


def regression_scores(outputs) -> np.ndarray:
    outputs = np.asarray(outputs, dtype=np.float64)
    return outputs.reshape(outputs.shape[0], -1)[:, 0]


def classification_metrics(predictions, labels, names: Sequence[str]) -> Dict[str, float]:
    """accuracy / f1 (binary, class 1 positive) / mcc, as scikit-learn computes them."""
    from sklearn import metrics as sk  # pylint: disable=import-outside-toplevel
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    out = {}
    for name in names:
        if name == ACCURACY:
            out[name] = float(sk.accuracy_score(labels, predictions))
        elif name == F1:
            out[name] = float(sk.f1_score(labels, predictions, pos_label=1, average="binary", zero_division=0))
        elif name == MCC:
            out[name] = float(sk.matthews_corrcoef(labels, predictions))
        else:
            raise ValueError(f"unknown classification metric {name!r}")
    return out


def regression_metrics(scores, labels) -> Dict[str, float]:
    """Pearson and Spearman correlation (scipy); NaN when either side is constant."""
    from scipy import stats  # pylint: disable=import-outside-toplevel
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
    with warnings.catch_warnings():
        # A constant prediction (collapsed model) is reported as NaN and flagged by the job.
        warnings.simplefilter("ignore")
        pearson = float(stats.pearsonr(scores, labels)[0]) if len(scores) > 1 else math.nan
        spearman = float(stats.spearmanr(scores, labels)[0]) if len(scores) > 1 else math.nan
    return {PEARSON: pearson, SPEARMAN: spearman,
            "mse": float(np.mean((scores - labels) ** 2)) if len(scores) else math.nan}


def better(candidate: float, best) -> bool:
    """Whether `candidate` beats `best` (None or NaN never wins and is always beaten)."""
    if candidate is None or math.isnan(candidate):
        return False
    return best is None or math.isnan(best) or candidate > best
