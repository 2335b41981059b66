"""Optimizers and the learning-rate schedule of ALBERT pretraining and fine-tuning."""

from albert_tf.optimization.adamw import DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, AdamWeightDecay, AdamWeightDecayBase
from albert_tf.optimization.factory import create_optimizer
from albert_tf.optimization.lamb import Lamb
from albert_tf.optimization.schedules import WarmupPolynomialDecay

__all__ = ["AdamWeightDecay", "AdamWeightDecayBase", "DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY", "Lamb",
           "WarmupPolynomialDecay", "create_optimizer"]
