"""The learning-rate schedule ALBERT pretrains and fine-tunes with: linear warmup, then polynomial decay."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="albert_tf")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0, then polynomial decay on the *global* step, as in the original code.

    With `init = initial_learning_rate`, `end = end_learning_rate`, `T = num_train_steps` and
    `W = num_warmup_steps`, the rate at (0-based) optimizer step `s` is:

    * `s < W`: `init * s / W`, so the very first update (s = 0) uses a rate of 0;
    * otherwise: `(init - end) * (1 - min(s, T) / T) ** power + end`, constant `end` from T on.

    The decay is evaluated on `s` itself, not on `s - W`: when warmup ends the rate jumps to
    the decayed value at step W (`init * (1 - W/T)` for power 1), not to `init`. This is how
    google-research/albert and BERT `optimization.py` combine `tf.train.polynomial_decay` on
    the global step with a warmup value selected while `global_step < num_warmup_steps`;
    it is kept so that learning-rate flags carry over with the same meaning. `W = 0`
    disables warmup. Keras passes `optimizer.iterations`, the number of updates already
    applied, which is the original's `global_step` at the time of the update.

    Args:
        initial_learning_rate: peak rate `init`.
        num_train_steps: `T`, where the decay reaches `end_learning_rate`.
        num_warmup_steps: `W`.
        end_learning_rate: `end`.
        power: exponent of the decay; 1.0 is linear.
        name: optional name for the ops.

    Example:
    >>> schedule = WarmupPolynomialDecay(1e-3, num_train_steps=100, num_warmup_steps=10)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 100, 150)]
    [0.0, 0.0005, 0.0009, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, num_train_steps, num_warmup_steps=0, end_learning_rate=0.0,
                 power=1.0, name=None):
        super().__init__()
        if num_train_steps < 1:
            raise ValueError(f"num_train_steps must be at least 1, got {num_train_steps}")
        if num_warmup_steps < 0:
            raise ValueError(f"num_warmup_steps must be >= 0, got {num_warmup_steps}")
        if not power > 0:
            raise ValueError(f"power must be > 0, got {power}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.name = name

    def __call__(self, step):
        with tf.name_scope(self.name or "WarmupPolynomialDecay"):
            # int32/int64 tensors, Keras variables and Python ints all arrive here. The step is
            # compared as an integer (as the original does) and used as float32 in the formulas.
            step = tf.cast(tf.convert_to_tensor(step), tf.int64)
            step_float = tf.cast(step, tf.float32)
            total = tf.constant(self.num_train_steps, tf.float32)
            done_fraction = tf.minimum(step_float, total) / total
            # XLA may divide by multiplying with the rounded reciprocal, leaving 1 - p at about
            # -5e-8 on the last step: a negative rate for power 1, NaN for fractional powers.
            remaining = tf.maximum(1.0 - done_fraction, 0.0)
            decayed = ((self.initial_learning_rate - self.end_learning_rate) * tf.pow(remaining, self.power)
                       + self.end_learning_rate)
            if not self.num_warmup_steps:
                return decayed
            warmup = self.initial_learning_rate * (step_float / tf.constant(self.num_warmup_steps, tf.float32))
            return tf.where(step < self.num_warmup_steps, warmup, decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "num_train_steps": self.num_train_steps,
                "num_warmup_steps": self.num_warmup_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "name": self.name}
