"""albert-convert end to end, as a user runs it."""

import subprocess
import sys

import numpy as np

from albert_tf.checkpoints import load_config_for, load_weights
from albert_tf.modeling import AlbertEncoder
from conftest import FIXTURES

OFFICIAL = FIXTURES / "parity" / "tf1_official"


def _convert(*args):
    return subprocess.run([sys.executable, "-m", "albert_tf.cli.convert", *args], capture_output=True, text=True)


def test_tf1_to_hf_to_keras_preserves_outputs(tmp_path):
    first = _convert("--input", str(OFFICIAL / "model.ckpt-125000.index"), "--output_format", "hf",
                     "--output", str(tmp_path / "hf"))
    assert first.returncode == 0, first.stderr
    assert "32 matched, 0 missing" in first.stdout
    second = _convert("--input", str(tmp_path / "hf"), "--output_format", "keras",
                      "--output", str(tmp_path / "model.keras"))
    assert second.returncode == 0, second.stderr

    golden = np.load(OFFICIAL / "golden.npz")
    batch = {k: golden[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    encoder = AlbertEncoder(load_config_for(str(OFFICIAL)))
    load_weights(encoder, str(tmp_path / "model.keras"))
    np.testing.assert_allclose(encoder(batch)["sequence_output"], golden["sequence_output"], atol=1e-4)


def test_bad_input_is_one_clear_line(tmp_path):
    result = _convert("--input", str(tmp_path / "absent"), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "albert-convert: error: checkpoint not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_config_is_refused_before_writing(tmp_path):
    config = tmp_path / "albert_config.json"
    config.write_text((OFFICIAL / "albert_config.json").read_text().replace('"vocab_size": 97', '"vocab_size": 98'))
    result = _convert("--input", str(OFFICIAL / "model.ckpt-125000"), "--config", str(config),
                      "--output", str(tmp_path / "out" / "model.ckpt"))
    assert result.returncode == 1 and "'vocab_size'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_flags_are_checked_before_the_checkpoint_is_read(tmp_path):
    # The input does not exist: a flag error coming first shows nothing was read.
    wrong = _convert("--input", str(tmp_path / "absent"), "--output_format", "keras", "--output", str(tmp_path / "m"))
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert f"albert-convert: error: --output={tmp_path / 'm'}: a keras output must end in .keras" in wrong.stderr
    negative = _convert("--input", str(tmp_path / "absent"), "--global_step=-1", "--output", str(tmp_path / "m"))
    assert "albert-convert: error: --global_step=-1: must be >= 0" in negative.stderr
