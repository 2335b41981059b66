"""`create_optimizer`: the optimizer and schedule of the original `optimization.create_optimizer`."""

import numbers

from albert_tf.optimization.adamw import DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, AdamWeightDecay
from albert_tf.optimization.lamb import Lamb
from albert_tf.optimization.schedules import WarmupPolynomialDecay

OPTIMIZERS = {"lamb": Lamb, "adamw": AdamWeightDecay}


def _check_step_count(flag, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{flag} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{flag} must be >= 0, got {value}")


def create_optimizer(name, learning_rate, num_train_steps, num_warmup_steps, weight_decay_rate=0.01,
                     poly_power=1.0, end_learning_rate=0.0, global_clipnorm=1.0, epsilon=1e-6, beta_1=0.9,
                     beta_2=0.999):
    """LAMB or AdamWeightDecay on a `WarmupPolynomialDecay` schedule, clipped by global norm.

    With the defaults this is what the original ALBERT pretraining and fine-tuning scripts
    build: warmup to `learning_rate` over `num_warmup_steps`, decay to 0 at
    `num_train_steps`, weight decay 0.01 except for LayerNorm and bias variables, and
    gradients clipped to a global norm of 1.0 before every update.

    Args:
        name: "lamb" or "adamw" (the original `--optimizer` flag).
        learning_rate: peak learning rate, > 0.
        num_train_steps: total optimizer steps, >= 1.
        num_warmup_steps: linear warmup steps, between 0 and `num_train_steps`.
        weight_decay_rate: decoupled decay coefficient, >= 0.
        poly_power: exponent of the decay (the original `--poly_power`).
        end_learning_rate: rate reached at `num_train_steps`, in [0, learning_rate].
        global_clipnorm: global-norm clip threshold; None disables clipping.
        epsilon: added to `sqrt(v)`.
        beta_1: first-moment decay.
        beta_2: second-moment decay.

    Returns:
        A `Lamb` or `AdamWeightDecay` whose `learning_rate` is the schedule.

    Raises:
        ValueError: naming the argument whose value is unusable.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(sorted(OPTIMIZERS))}; got {name!r}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not learning_rate > 0:
        raise ValueError(f"learning_rate must be a number > 0, got {learning_rate!r}")
    _check_step_count("num_train_steps", num_train_steps)
    _check_step_count("num_warmup_steps", num_warmup_steps)
    if num_train_steps == 0:
        raise ValueError("num_train_steps must be >= 1, got 0")
    if num_warmup_steps > num_train_steps:
        raise ValueError(f"num_warmup_steps ({num_warmup_steps}) must not exceed num_train_steps ({num_train_steps})")
    if not 0 <= end_learning_rate <= learning_rate:
        raise ValueError(f"end_learning_rate must be in [0, learning_rate={learning_rate}], got {end_learning_rate}")
    if not poly_power > 0:
        raise ValueError(f"poly_power must be > 0, got {poly_power}")
    if global_clipnorm is not None and not global_clipnorm > 0:
        raise ValueError(f"global_clipnorm must be > 0, or None for no clipping; got {global_clipnorm}")

    schedule = WarmupPolynomialDecay(float(learning_rate), num_train_steps=num_train_steps,
                                     num_warmup_steps=num_warmup_steps, end_learning_rate=float(end_learning_rate),
                                     power=float(poly_power))
    return OPTIMIZERS[key](learning_rate=schedule, weight_decay_rate=weight_decay_rate, beta_1=beta_1, beta_2=beta_2,
                           epsilon=epsilon, exclude_from_weight_decay=list(DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY),
                           global_clipnorm=None if global_clipnorm is None else float(global_clipnorm))
