"""Keeps TensorFlow's own log lines out of the user's way; `--tf_log_level` brings them back.

TensorFlow 2.21 writes its start-up lines (oneDNN notice, CUDA and CPU-feature probing) from C++
before its logging is initialized, so `TF_CPP_MIN_LOG_LEVEL` does not silence them. The entry
scripts therefore call `quiet_tensorflow()` at the very top: it imports TensorFlow and probes the
devices with file descriptor 2 pointed at a temporary file, then passes on every captured line that
is not such a log line. Later C++ messages follow `TF_CPP_MIN_LOG_LEVEL` (2: errors only), and
TensorFlow's and Keras' Python warnings (e.g. SavedModel signature input renames) are dropped below
ERROR. The project's own progress and errors are never touched.

Levels: quiet (default), warning (TensorFlow warnings and errors), all (everything, as TensorFlow prints it).
"""

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings

from absl import flags

FLAG_NAME = "tf_log_level"
LEVELS = ("quiet", "warning", "all")
_CPP_LEVEL = {"quiet": "2", "warning": "1", "all": "0"}
# A C++ line logged before absl's setup (`I0000 00:00:1796002153.021005 19469 port.cc:153] ...`: no
# date, seconds since the epoch; Python absl lines carry a real date), absl's notice about those, and
# the continuation line of the CPU-feature notice.
_CPP_LINE = re.compile(r"^[IWEF]0000 00:00:\d+\.\d+ +\d+ [\w.]+:\d+\] ")
_NOISE = (re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
          re.compile(r"^To enable the following instructions: .* rebuild TensorFlow"))
# Python files whose warnings are TensorFlow's, not ours.
_FOREIGN = tuple(os.sep + name + os.sep for name in ("tensorflow", "keras", "tf_keras", "tensorflow_text"))


def define_flag():
    """The `--tf_log_level` flag (read from sys.argv by `quiet_tensorflow` before absl parses it)."""
    if FLAG_NAME not in flags.FLAGS:
        flags.DEFINE_enum(FLAG_NAME, "quiet", list(LEVELS), "TensorFlow's own log lines: quiet (start-up lines and "
                          "Python warnings hidden, C++ errors shown), warning, or all.")


def requested_level(argv) -> str:
    """The `--tf_log_level` value in `argv` (absl has not parsed the flags yet); 'quiet' when absent."""
    for i, arg in enumerate(argv):
        for prefix in ("--", "-"):
            name = prefix + FLAG_NAME
            if arg.startswith(name + "="):
                return _checked(arg[len(name) + 1:])
            if arg == name and i + 1 < len(argv):
                return _checked(argv[i + 1])
    return "quiet"


def _checked(level):
    # absl refuses a bad value with its own message later; here an unknown value just hides nothing.
    return level if level in LEVELS else "all"


def is_noise(line: str) -> bool:
    return bool(_CPP_LINE.match(line)) or any(pattern.match(line) for pattern in _NOISE)


class _ForeignBelowError(logging.Filter):
    """Drops TensorFlow/Keras records below ERROR that reach absl's logger (TF logs through absl too)."""

    def filter(self, record):
        return record.levelno >= logging.ERROR or not any(part in record.pathname for part in _FOREIGN)


@contextlib.contextmanager
def _stderr_filtered():
    """Captures file descriptor 2 and re-emits the lines that are not TensorFlow log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not is_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def native_noise_hidden():
    """A context in which TensorFlow's C++ log lines (e.g. the CUDA probing of a TPU initialization on a
    machine without one) are dropped from file descriptor 2, unless `--tf_log_level=all` asked for them."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == _CPP_LEVEL["all"]:
        return contextlib.nullcontext()
    return _stderr_filtered()


def quiet_tensorflow(argv=None) -> str:
    """Imports TensorFlow at the requested verbosity; call before anything imports it. Returns the level."""
    level = requested_level(sys.argv if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", _CPP_LEVEL[level])
    if level == "all" or "tensorflow" in sys.modules:
        return level
    with _stderr_filtered():
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        tf.config.list_physical_devices()  # the CUDA probing logs here, not at the first op
    if level == "quiet":
        hide_foreign_python_warnings()
    return level


def hide_foreign_python_warnings():
    """TensorFlow's and Keras' Python-side warnings: their loggers below ERROR, their UserWarnings."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").addFilter(_ForeignBelowError())
    # e.g. Keras' "Gradients do not exist for variables ['pooler/kernel', ...]" when a head skips the pooler.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(keras|tf_keras|tensorflow)\.")
