"""`--strategy=tpu` on a machine without a TPU: one paragraph naming the resolver target and the fixes,
raised before any data is read (this machine has no TPU, so every case here is the refusal)."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from albert_tf.training import strategies

REPO = Path(__file__).resolve().parents[1]
FIXES = ("--tpu=local", "grpc://10.0.0.2:8470", "Runtime → Change runtime type → TPU")


def _assert_no_tpu_paragraph(text: str, target: str):
    assert f"--strategy=tpu: no TPU found at resolver target {target}" in text, text
    for fix in FIXES:
        assert fix in text, text
    assert "Traceback" not in text, text


def test_local_tpu_refused_with_target_and_fixes():
    with pytest.raises(strategies.TPUNotFoundError) as raised:
        strategies.make_strategy("tpu", "")
    message = str(raised.value)
    _assert_no_tpu_paragraph(message, "local (no --tpu given)")
    assert "ConfigureDistributedTPU" in message  # TensorFlow's reason, without its op attributes
    assert "attrs" not in message and "\n" not in message


def test_unreachable_tpu_node_refused_without_waiting():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(strategies.TPUNotFoundError) as raised:
        strategies.make_strategy("tpu", f"grpc://127.0.0.1:{port}")
    _assert_no_tpu_paragraph(str(raised.value), f"--tpu=grpc://127.0.0.1:{port}")
    assert f"cannot connect to 127.0.0.1:{port}" in str(raised.value)


def test_every_training_script_refuses_tpu_before_reading_data(tmp_path):
    # The inputs are junk: had a script read them first, its error would be about them instead.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "data.tfrecord").write_bytes(b"not a record")
    (junk / "train.tsv").write_text("not\ta\ttask\n")
    (junk / "train.json").write_text("{not json")
    (junk / "spiece.model").write_bytes(b"not a model")
    common = ["--strategy=tpu", "--tpu=local"]
    commands = {
        "run_pretraining.py": ["--input_file=" + str(junk / "data.tfrecord"), "--preset=albert_base_v2",
                               "--model_dir=" + str(tmp_path / "out_pretraining")],
        "run_classifier.py": ["--task_name=SST-2", f"--data_dir={junk}", "--do_train", "--preset=albert_base_v2",
                              "--vocab_file=" + str(junk / "spiece.model"),
                              "--output_dir=" + str(tmp_path / "out_classifier")],
        "run_squad.py": ["--train_file=" + str(junk / "train.json"), "--do_train", "--preset=albert_base_v2",
                         "--vocab_file=" + str(junk / "spiece.model"),
                         "--output_dir=" + str(tmp_path / "out_squad")],
    }
    running = {script: subprocess.Popen([sys.executable, str(REPO / script), *common, *args], cwd=tmp_path,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for script, args in commands.items()}
    for script, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 1, (script, out, err)
        lines = [line for line in err.splitlines() if line.startswith(f"{script}: error: ")]
        assert len(lines) == 1, (script, err)
        _assert_no_tpu_paragraph(lines[0], "--tpu=local")
        assert "Traceback" not in err and "cuInit" not in err, (script, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk"]  # no output directory was created
