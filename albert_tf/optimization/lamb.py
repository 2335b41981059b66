"""LAMB, the optimizer ALBERT was pretrained with (google-research/albert `lamb_optimizer.py`)."""

import re

import keras
import tensorflow as tf

from albert_tf.optimization.adamw import DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, AdamWeightDecayBase, variable_name


@keras.saving.register_keras_serializable(package="albert_tf")
class Lamb(AdamWeightDecayBase):
    """Layer-wise adaptive moments, as the original ALBERT `LAMBOptimizer` computes them.

    Per step and variable:

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g²
        update = m / (sqrt(v) + epsilon)  [+ weight_decay_rate * w unless excluded]
        r = ||w|| / ||update||  (1 when either norm is 0, or when excluded from adaptation)
        w = w - learning_rate * r * update

    The norms are Euclidean norms over the whole variable. Unlike `keras.optimizers.Lamb`
    (and the LAMB paper) the moments are not bias corrected, the decay is inside the
    trust-ratio scaled update, and variables matching the exclusion patterns (by default
    LayerNorm gamma/beta and all biases) get neither decay nor adaptation, as in the
    original. Patterns are regular expressions searched in the variable's Keras path. See
    `AdamWeightDecayBase` for gradient clipping and sparse gradients.

    Args:
        learning_rate: float or `LearningRateSchedule` (see `WarmupPolynomialDecay`).
        weight_decay_rate: decoupled decay coefficient.
        beta_1: first-moment decay.
        beta_2: second-moment decay.
        epsilon: added to `sqrt(v)`.
        exclude_from_weight_decay: patterns of variables that are not decayed.
        exclude_from_layer_adaptation: patterns of variables updated without the trust
            ratio. None (the default) means the weight-decay patterns, as in the original;
            unlike the original, an explicit empty list is honoured (adapt everything).
        name: optimizer name.
        **kwargs: Keras optimizer arguments (`global_clipnorm`, `clipnorm`, ...); Keras'
            `weight_decay` is rejected.
    """

    def __init__(self, learning_rate, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, exclude_from_layer_adaptation=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay_rate=weight_decay_rate, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, exclude_from_weight_decay=exclude_from_weight_decay,
                         name=name, **kwargs)
        if exclude_from_layer_adaptation is None:
            self.layer_adaptation_exclusions = list(self.weight_decay_exclusions)
        elif isinstance(exclude_from_layer_adaptation, str):
            raise ValueError("exclude_from_layer_adaptation must be a list of patterns, not the single string "
                             f"{exclude_from_layer_adaptation!r}")
        else:
            self.layer_adaptation_exclusions = [str(p) for p in exclude_from_layer_adaptation]

    def uses_layer_adaptation(self, variable):
        """Whether this variable's update is scaled by the trust ratio (no pattern matches its name)."""
        name = variable_name(variable)
        return not any(re.search(pattern, name) for pattern in self.layer_adaptation_exclusions)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._adapts_layer = tuple(self.uses_layer_adaptation(v) for v in var_list)

    def _scale_update(self, update, variable, index):
        if not self._adapts_layer[index]:
            return update
        weight_norm = tf.norm(variable)
        update_norm = tf.norm(update)
        # Both `where`s select 1 for a zero norm: fresh zero-initialized weights would
        # otherwise never move, and a zero update would divide by zero.
        ratio = tf.where(weight_norm > 0, tf.where(update_norm > 0, weight_norm / update_norm, 1.0), 1.0)
        return ratio * update

    def get_config(self):
        config = super().get_config()
        config.update(exclude_from_layer_adaptation=list(self.layer_adaptation_exclusions))
        return config
