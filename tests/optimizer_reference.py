"""The original TF1 update rules in plain NumPy (float64), independent of the Keras code.

Transcribed from the behaviour of google-research/albert `optimization.py`
(`AdamWeightDecayOptimizer`, `create_optimizer`) and `lamb_optimizer.py` (`LAMBOptimizer`):
Adam moments without bias correction, decay added to the update, a trust ratio of 1 for
zero norms, exclusions by `re.search` in the variable name, and `tf.clip_by_global_norm`.
"""

import re

import numpy as np


def warmup_polynomial_lr(step, init, total, warmup, end=0.0, power=1.0):
    """Learning rate used for the update at 0-based `step`."""
    if warmup and step < warmup:
        return init * step / warmup
    return (init - end) * (1.0 - min(step, total) / total) ** power + end


def clip_by_global_norm(grads, clip_norm):
    norm = np.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    return [g * clip_norm / max(norm, clip_norm) for g in grads]


def _matches(name, patterns):
    return any(re.search(p, name) for p in patterns)


class ReferenceOptimizer:
    """One optimizer over named float64 arrays; `lamb=False` is AdamWeightDecayOptimizer."""

    def __init__(self, lamb, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=("LayerNorm", "layer_norm", "bias"), exclude_from_layer_adaptation=None):
        self.lamb = lamb
        self.weight_decay_rate = weight_decay_rate
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.no_decay = list(exclude_from_weight_decay)
        self.no_adaptation = list(exclude_from_weight_decay if exclude_from_layer_adaptation is None
                                  else exclude_from_layer_adaptation)
        self.m, self.v = {}, {}

    def step(self, params, grads, lr):
        """Updates `params` (name -> array) in place with dense `grads` (name -> array)."""
        for name, grad in grads.items():
            w = params[name]
            m = self.beta_1 * self.m.get(name, 0.0) + (1.0 - self.beta_1) * grad
            v = self.beta_2 * self.v.get(name, 0.0) + (1.0 - self.beta_2) * grad ** 2
            update = m / (np.sqrt(v) + self.epsilon)
            if self.weight_decay_rate and not _matches(name, self.no_decay):
                update = update + self.weight_decay_rate * w
            ratio = 1.0
            if self.lamb and not _matches(name, self.no_adaptation):
                w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(update)
                ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            params[name] = w - ratio * lr * update
            self.m[name], self.v[name] = m, v
