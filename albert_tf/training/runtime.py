"""Process-wide runtime settings every training script shares: logical CPU devices, determinism,
seeds and the mixed-precision policy (`auto`: from the machine, `training.cpu_features`)."""

from typing import Optional

import keras
import tensorflow as tf
from absl import logging

from albert_tf.malloc_settings import apply_malloc_settings
from albert_tf.training import cpu_features

MIXED_PRECISION_POLICIES = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16", "off": "float32"}


def configure_devices(cpu_devices: int = 0):
    """Split the CPU into logical devices (to try mirrored strategies on one machine).

    Must run before TensorFlow initializes its devices; a second call after that is ignored. Also applies the
    glibc malloc settings (`albert_tf.malloc_settings`) for jobs started from Python rather than from a command.
    """
    apply_malloc_settings()
    if not cpu_devices:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    except RuntimeError:
        pass  # devices already initialized (e.g. inside a test process): keep the existing split


def this_machine() -> cpu_features.Machine:
    """The CPU flags and the accelerators TensorFlow sees (TPUs once a TPU system is initialized)."""
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return cpu_features.Machine(cpu_features.cpu_flags(), len(tf.config.list_logical_devices("TPU")),
                                tuple(capabilities))


def resolve_precision(mixed_precision: str, strategy: Optional[str] = None,
                      machine: Optional[cpu_features.Machine] = None) -> str:
    """`bf16` | `fp16` | `off`: `auto` decided for this machine (logged with its reason), others as given."""
    if mixed_precision not in cpu_features.PRECISION_CHOICES:
        raise ValueError(f"--mixed_precision={mixed_precision}: must be one of {', '.join(cpu_features.PRECISION_CHOICES)}")
    if mixed_precision != "auto":
        return mixed_precision
    chosen, reason = cpu_features.auto_precision(machine or this_machine(), strategy)
    logging.info("--mixed_precision=auto: %s", reason)
    return chosen


def configure_runtime(seed: int, mixed_precision: str = "off", deterministic_ops: bool = False,
                      strategy: Optional[str] = None, jit_compile: bool = False) -> str:
    """Seed Python/numpy/TF, optionally ask for deterministic kernels, set the Keras dtype policy.

    Returns the precision in force (`bf16`, `fp16` or `off`; `auto` resolved for this machine).
    """
    precision = resolve_precision(mixed_precision, strategy)
    if precision == "bf16" and jit_compile and strategy != "tpu":
        machine = this_machine()
        if not machine.tpus and not machine.gpu_capabilities:
            # Measured (bench/precision_speed.py): XLA's CPU backend runs a bf16 step no faster than float32,
            # while the oneDNN kernels of the plain graph use the bf16 matrix instructions.
            logging.warning("--jit_compile with bf16 on a CPU: XLA's CPU code does not use the bf16 matrix "
                            "instructions (no faster than float32); leave --jit_compile off to run TensorFlow's "
                            "oneDNN bf16 kernels")
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy(MIXED_PRECISION_POLICIES[precision])
    return precision
