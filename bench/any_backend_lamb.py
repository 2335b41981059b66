"""ALBERT's LAMB update in `keras.ops` only, for the accelerator benchmark on JAX or PyTorch.

`albert_tf.optimization.Lamb` is TensorFlow-only (sparse `tf.IndexedSlices` gradients, clipping
after the cross-replica sum of a `tf.distribute` strategy). On one device with dense gradients,
which is all the benchmark needs, the update is this one; tests/test_any_backend_lamb.py checks
it against `albert_tf.optimization.Lamb` step by step on the TensorFlow backend.

Per step and variable (no bias correction, decay inside the trust-ratio scaled update, LayerNorm
and biases neither decayed nor adapted, as in the original):

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;  u = m / (sqrt(v) + eps) [+ wd w]
    r = ||w|| / ||u|| (1 for a zero norm or an excluded variable);  w -= lr r u

`global_clipnorm` is Keras' own, the formula of `tf.clip_by_global_norm` on one device.
"""

import re

import keras
from keras import ops

EXCLUDED = ("LayerNorm", "layer_norm", "bias")


class AnyBackendLamb(keras.optimizers.Optimizer):
    def __init__(self, learning_rate, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=EXCLUDED, name="any_backend_lamb", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.weight_decay_rate = float(weight_decay_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.exclusions = list(exclude_from_weight_decay)

    def _excluded(self, variable):
        return any(re.search(pattern, variable.path) for pattern in self.exclusions)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m = [self.add_variable_from_reference(v, name="lamb_m") for v in var_list]
        self._v = [self.add_variable_from_reference(v, name="lamb_v") for v in var_list]
        self._plain = tuple(self._excluded(v) for v in var_list)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        m, v = self._m[index], self._v[index]
        next_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        next_v = self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient)
        update = next_m / (ops.sqrt(next_v) + self.epsilon)
        if not self._plain[index]:
            if self.weight_decay_rate:
                update = update + self.weight_decay_rate * variable
            weight_norm = ops.sqrt(ops.sum(ops.square(variable)))
            update_norm = ops.sqrt(ops.sum(ops.square(update)))
            safe_update_norm = ops.where(update_norm > 0, update_norm, 1.0)
            ratio = ops.where(weight_norm > 0, ops.where(update_norm > 0, weight_norm / safe_update_norm, 1.0), 1.0)
            update = ratio * update
        self.assign(m, next_m)
        self.assign(v, next_v)
        self.assign_sub(variable, ops.cast(learning_rate, dtype) * update)
