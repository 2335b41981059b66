"""Files written next to checkpoints (config, tokenizer, dataset meta, results), atomically.

Through the file-system layer (`albert_tf.filesystem`), so `--model_dir` may be a gs:// bucket
(required on Cloud TPU pods and TPU nodes).
"""

import contextlib
import json
import os

import tensorflow as tf

from albert_tf import atomic_files, filesystem


@contextlib.contextmanager
def publishing(path: str):
    """An owned temporary name next to `path` (local or gs://) for any writer to fill; renamed to
    `path` on a clean exit, removed otherwise, so readers never see a half-written file."""
    temp = atomic_files.temporary_name(path)
    try:
        yield temp
        filesystem.publish_file(temp, path)
    except BaseException:
        with contextlib.suppress(tf.errors.OpError, OSError):
            if tf.io.gfile.exists(temp):
                tf.io.gfile.remove(temp)
        raise


def atomic_write_text(path: str, text: str):
    filesystem.write_text(path, text)


def write_json(path: str, data):
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def check_writable(model_dir: str):
    """Fail before training when `model_dir` cannot be created or written."""
    try:
        tf.io.gfile.makedirs(model_dir)
        probe = os.path.join(model_dir, f".write-probe.{os.getpid()}")
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("ok")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as error:
        raise PermissionError(f"--model_dir={model_dir} is not writable: {error}") from None


def copy_if_absent(source: str, destination: str):
    if filesystem.exists(source) and not filesystem.exists(destination):
        filesystem.copy(source, destination)
