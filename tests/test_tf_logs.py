"""TensorFlow's own log lines stay out of the scripts' output by default; --tf_log_level=all brings them back."""

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

from albert_tf import tf_logs

REPO = Path(__file__).resolve().parents[1]


def test_level_is_read_from_the_command_line_before_absl():
    assert tf_logs.requested_level(["prog", "--task_name=x"]) == "quiet"
    assert tf_logs.requested_level(["prog", "--tf_log_level=all"]) == "all"
    assert tf_logs.requested_level(["prog", "--tf_log_level", "warning"]) == "warning"


def test_only_tensorflow_start_up_lines_are_noise():
    assert tf_logs.is_noise("I0000 00:00:1796002153.021005   19469 port.cc:153] oneDNN custom operations are on.")
    assert tf_logs.is_noise("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    # The project's own absl lines (real date) and plain messages are never noise.
    assert not tf_logs.is_noise("I1130 01:29:01.123456 140234 run_classifier.py:102] step 10/40  loss 0.6931")
    assert not tf_logs.is_noise("run_classifier.py: error: --data_dir=x: no such directory")


def test_tensorflow_python_warnings_below_error_are_dropped():
    keep = tf_logs._ForeignBelowError()  # pylint: disable=protected-access
    tf_file = os.path.join("site-packages", "tensorflow", "python", "saved_model", "signature_serialization.py")

    def record(path, level):
        return logging.LogRecord("absl", level, path, 1, "input renamed", None, None)
    assert not keep.filter(record(os.sep + tf_file, logging.WARNING))
    assert keep.filter(record(os.sep + tf_file, logging.ERROR))
    assert keep.filter(record(str(REPO / "albert_tf" / "finetuning" / "job.py"), logging.WARNING))


def _stderr(tmp_path, *flags):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # A run that imports TensorFlow and then fails on its data: the error must still be shown.
    done = subprocess.run([sys.executable, str(REPO / "run_classifier.py"), "--task_name=SST-2", "--do_eval",
                           f"--data_dir={tmp_path / 'missing'}", f"--output_dir={tmp_path / 'out'}",
                           "--preset=albert_base_v2", *flags], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 1 and "run_classifier.py: error:" in done.stderr and "missing" in done.stderr
    return done.stderr.splitlines()


def test_scripts_hide_tensorflow_start_up_lines_unless_asked(tmp_path):
    assert [line for line in _stderr(tmp_path) if tf_logs.is_noise(line)] == []
    assert [line for line in _stderr(tmp_path, "--tf_log_level=all") if tf_logs.is_noise(line)] != []


def test_keras_user_warnings_are_hidden_in_quiet_mode():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tf_logs.hide_foreign_python_warnings()
        warnings.warn_explicit("Gradients do not exist", UserWarning, "base_optimizer.py", 862,
                               module="keras.src.optimizers.base_optimizer")
        warnings.warn_explicit("ours", UserWarning, "job.py", 1, module="albert_tf.finetuning.job")
    assert [str(w.message) for w in caught] == ["ours"]
