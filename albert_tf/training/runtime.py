"""Process-wide runtime settings every training script shares: logical CPU devices, determinism,
seeds and the mixed-precision policy."""

import keras
import tensorflow as tf

MIXED_PRECISION_POLICIES = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16", "off": "float32"}


def configure_devices(cpu_devices: int = 0):
    """Split the CPU into logical devices (to try mirrored strategies on one machine).

    Must run before TensorFlow initializes its devices; a second call after that is ignored.
    """
    if not cpu_devices:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    except RuntimeError:
        pass  # devices already initialized (e.g. inside a test process): keep the existing split


def configure_runtime(seed: int, mixed_precision: str = "off", deterministic_ops: bool = False):
    """Seed Python/numpy/TF, optionally ask for deterministic kernels, set the Keras dtype policy."""
    if mixed_precision not in MIXED_PRECISION_POLICIES:
        raise ValueError(f"--mixed_precision={mixed_precision}: must be one of {', '.join(MIXED_PRECISION_POLICIES)}")
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy(MIXED_PRECISION_POLICIES[mixed_precision])
