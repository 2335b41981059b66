"""`--strategy` -> a tf.distribute strategy (TPU, several GPUs, several hosts, one device, CPU).

The jobs make the strategy before they read or tokenize anything, so `--strategy=tpu` on a machine
without a reachable TPU is refused at once, in one paragraph that names the resolver target and
the fixes, instead of TensorFlow's `ConfigureDistributedTPU` kernel error after the data work.
"""

import socket
import urllib.parse

import tensorflow as tf

from albert_tf import tf_logs

STRATEGIES = ("tpu", "mirrored", "multi_worker_mirrored", "one_device", "cpu")
# How long a `grpc://host:port` TPU node gets to accept a connection (TensorFlow itself waits forever).
CONNECT_TIMEOUT_S = 10.0


class TPUNotFoundError(ValueError):
    """`--strategy=tpu` and no TPU answered at the resolver target."""


def no_tpu_message(tpu: str, cause) -> str:
    """The one paragraph a user sees: the resolver target, TensorFlow's reason (first line, no op attributes)
    and the three fixes."""
    target = f"--tpu={tpu}" if tpu else "local (no --tpu given)"
    reason = str(cause).strip().splitlines()[0].split(" used by ")[0] if str(cause).strip() \
        else type(cause).__name__
    return (f"--strategy=tpu: no TPU found at resolver target {target} ({reason}). Fixes: on a Cloud TPU VM "
            "(or a newer Colab TPU runtime) pass --tpu=local; for a TPU node give its name or address, e.g. "
            "--tpu=grpc://10.0.0.2:8470; in Colab choose Runtime → Change runtime type → TPU (or drop "
            "--strategy=tpu to run on this machine's CPU/GPU).")


def _check_reachable(master: str):
    """A `grpc://host:port` that accepts no TCP connection is refused here (TensorFlow would hang)."""
    address = urllib.parse.urlparse(master)
    if address.scheme != "grpc" or not address.hostname or not address.port:
        return
    try:
        socket.create_connection((address.hostname, address.port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ConnectionError(f"cannot connect to {address.hostname}:{address.port}: "
                              f"{error.strerror or error}") from None


def tpu_strategy(tpu: str = "") -> tf.distribute.TPUStrategy:
    """The TPUStrategy of `tpu` (a name, a grpc:// address, or ""/"local" on a TPU VM), or TPUNotFoundError."""
    try:
        with tf_logs.native_noise_hidden():  # CUDA probing lines of the TPU initialization
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "local")
            if tpu not in ("", "local"):
                _check_reachable(resolver.master())
                tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
    except (tf.errors.OpError, OSError, ValueError, RuntimeError) as error:
        # OpError: no TPU kernels here; OSError: the name does not resolve (GCE metadata), no connection;
        # ValueError / RuntimeError: the resolver found no TPU by that name.
        raise TPUNotFoundError(no_tpu_message(tpu, error)) from None
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name: str, tpu: str = "") -> tf.distribute.Strategy:
    """Create the strategy; for TPUs, `tpu` is a name, grpc:// address or "local" (TPU VM)."""
    if name == "tpu":
        return tpu_strategy(tpu)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        # Reads TF_CONFIG (cluster and task) like every multi-host TF job.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    raise ValueError(f"--strategy={name}: must be one of {', '.join(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process owns the outputs (checkpoints, summaries, results)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0
                                                         and "chief" not in resolver.cluster_spec().as_dict())
