"""AdamWeightDecay: the Adam variant BERT and ALBERT fine-tune (and may pretrain) with.

It differs from `keras.optimizers.AdamW` in ways that change the numbers, which is why
it is reimplemented rather than configured:

* no bias correction of the moments: `update = m / (sqrt(v) + epsilon)`;
* the decay is part of the update, `update += weight_decay_rate * w`, and is therefore
  scaled by the learning rate (and, in LAMB, by the trust ratio);
* variables are excluded from decay by regular expressions searched in their names.

The shared machinery (moments, exclusions, clipping after the cross-replica sum, sparse
gradients) lives in `AdamWeightDecayBase`, which `Lamb` also extends.
"""

import re

import keras
import tensorflow as tf
from keras import ops

# The patterns the original `create_optimizer` passes: LayerNorm gamma/beta and every bias.
DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def variable_name(variable):
    """The name exclusion patterns are matched against.

    Keras 3 variables are matched on their `path` (e.g. "embeddings/LayerNorm/gamma"),
    which carries the layer names that the original TF1 variable names carried. A plain
    `tf.Variable` falls back to its name without the ":0" suffix, as the original did.
    """
    path = getattr(variable, "path", None)
    if path:
        return path
    return re.sub(r":\d+$", "", variable.name)


def _validate_hyperparameters(weight_decay_rate, beta_1, beta_2, epsilon):
    if not weight_decay_rate >= 0:
        raise ValueError(f"weight_decay_rate must be >= 0, got {weight_decay_rate}")
    for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
        if not 0 <= beta < 1:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")


def _patterns(patterns, argument):
    if isinstance(patterns, str):
        raise ValueError(f"{argument} must be a list of patterns, not the single string {patterns!r}")
    return [str(p) for p in patterns]


class AdamWeightDecayBase(keras.optimizers.Optimizer):
    """Adam moments without bias correction, decoupled decay, per-variable exclusions.

    Subclasses provide `_scale_update(update, variable, index)`; the result, times the
    learning rate, is subtracted from the variable.

    Gradient clipping. `global_clipnorm` clips the gradients of all variables together by
    their global norm, with the formula of `tf.clip_by_global_norm`, which is what the
    original does before every update. Keras' own implementation of that argument clips
    each replica's share of the gradient before the cross-replica sum, so under a
    `tf.distribute` strategy it would not match a single-device run; here the clipping is
    applied to the summed gradient instead. `clipnorm` and `clipvalue` keep Keras' meaning.

    Sparse gradients. `tf.IndexedSlices` (from embedding lookups) are converted to dense
    tensors before the update. The moments decay on every row at every step, as in the
    original, where the arithmetic on the slices densified them implicitly; a row-sparse
    update would be a different optimizer. The cost is one dense table-sized temporary.
    """

    def __init__(self, learning_rate, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, name=None, **kwargs):
        if kwargs.get("weight_decay") is not None:
            # Keras' `weight_decay` would decay a second time, outside the update and the trust ratio.
            raise ValueError(f"{type(self).__name__} decays weights through weight_decay_rate; "
                             f"do not also pass Keras' weight_decay (got {kwargs['weight_decay']})")
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        _validate_hyperparameters(weight_decay_rate, beta_1, beta_2, epsilon)
        self.weight_decay_rate = float(weight_decay_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        # Not `self.exclude_from_weight_decay`: that name is a method of the Keras base class.
        self.weight_decay_exclusions = _patterns(exclude_from_weight_decay or (), "exclude_from_weight_decay")

    def uses_weight_decay(self, variable):
        """Whether `weight_decay_rate * w` is added to this variable's update.

        False when the rate is 0 or any exclusion pattern is found (`re.search`) in the
        variable's name; see `variable_name`.
        """
        if not self.weight_decay_rate:
            return False
        name = variable_name(variable)
        return not any(re.search(pattern, name) for pattern in self.weight_decay_exclusions)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Not supported: the Keras method configures Keras' `weight_decay`, which is unused here."""
        raise NotImplementedError(f"pass exclude_from_weight_decay=[...] to the {type(self).__name__} "
                                  "constructor instead; this method would configure a decay the optimizer does not use")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._first_moments = [self.add_variable_from_reference(v, name="adam_m") for v in var_list]
        self._second_moments = [self.add_variable_from_reference(v, name="adam_v") for v in var_list]
        # Decided once, from the Keras variables: inside `update_step` a distribution strategy
        # hands over per-device components whose names carry replica suffixes.
        self._decays_weights = tuple(self.uses_weight_decay(v) for v in var_list)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        gradient = ops.cast(gradient, dtype)
        m = self._first_moments[index]
        v = self._second_moments[index]

        # `1 - beta` is computed in Python double precision before the cast, as the original
        # does; in float32, 1 - 0.999 differs from 0.001 in the fifth significant digit.
        next_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        next_v = self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient)
        update = next_m / (ops.sqrt(next_v) + self.epsilon)
        if self._decays_weights[index]:
            update = update + self.weight_decay_rate * variable
        update = self._scale_update(update, variable, index)

        self.assign(m, next_m)
        self.assign(v, next_v)
        self.assign_sub(variable, ops.cast(learning_rate, dtype) * update)

    def _scale_update(self, update, variable, index):
        raise NotImplementedError

    def _clip_gradients(self, grads):
        if self.global_clipnorm:
            return grads  # clipped after the cross-replica sum, in `_backend_update_step`
        return super()._clip_gradients(grads)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not self.global_clipnorm:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        # The TensorFlow optimizer's own sequence (sum over replicas, then per-variable updates
        # in a merge call) with the global-norm clipping placed between the two.
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        summed = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        clipped, _ = tf.clip_by_global_norm([g for g, _ in summed], self.global_clipnorm)
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step, self._distribution_strategy,
            list(zip(clipped, [v for _, v in summed])), learning_rate)

    def get_config(self):
        config = super().get_config()
        config.update(weight_decay_rate=self.weight_decay_rate, beta_1=self.beta_1, beta_2=self.beta_2,
                      epsilon=self.epsilon, exclude_from_weight_decay=list(self.weight_decay_exclusions))
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class AdamWeightDecay(AdamWeightDecayBase):
    """The original `AdamWeightDecayOptimizer`: per step and variable,

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g²
        update = m / (sqrt(v) + epsilon)  [+ weight_decay_rate * w unless excluded]
        w = w - learning_rate * update

    with no bias correction. The original's defaults for ALBERT are the ones here;
    `exclude_from_weight_decay` patterns are regular expressions searched in the
    variable's Keras path. See `AdamWeightDecayBase` for clipping and sparse gradients.

    Args:
        learning_rate: float or `LearningRateSchedule` (see `WarmupPolynomialDecay`).
        weight_decay_rate: decoupled decay coefficient.
        beta_1: first-moment decay.
        beta_2: second-moment decay.
        epsilon: added to `sqrt(v)`.
        exclude_from_weight_decay: patterns of variables that are not decayed.
        name: optimizer name.
        **kwargs: Keras optimizer arguments (`global_clipnorm`, `clipnorm`, ...); Keras'
            `weight_decay` is rejected.
    """

    def _scale_update(self, update, variable, index):
        return update
