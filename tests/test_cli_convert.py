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


def test_classifier_model_directory_to_hugging_face_and_back_keeps_labels_and_tokenizer(tmp_path):
    import json

    from albert_tf import model_directory
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertClassifier
    from albert_tf.tokenization import SentencePieceTokenizer
    tokenizer = SentencePieceTokenizer(str(FIXTURES / "direct_use" / "en" / "tiny.model"))
    config = AlbertConfig(vocab_size=tokenizer.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=24, max_position_embeddings=32)
    labels = ["neutral", "positive", "negative"]
    model_directory.save_model_directory(str(tmp_path / "best"), AlbertClassifier(AlbertEncoder(config), 3), tokenizer,
                                         {"kind": "classification", "task_name": "Sentiment", "labels": labels,
                                          "max_seq_length": 24})
    model_directory.save_model_directory(str(tmp_path / "stsb"), AlbertClassifier(AlbertEncoder(config), 1), tokenizer,
                                         {"kind": "regression", "task_name": "STS-B", "max_seq_length": 24})
    for name in ("best", "stsb"):
        done = _convert("--input", str(tmp_path / name), "--output_format", "hf", "--output", str(tmp_path / f"{name}_hf"))
        assert done.returncode == 0, done.stderr
    hf = json.loads((tmp_path / "best_hf" / "config.json").read_text())
    assert hf["architectures"] == ["AlbertForSequenceClassification"]
    assert hf["id2label"] == {"0": "neutral", "1": "positive", "2": "negative"} and hf["label2id"]["negative"] == 2
    assert json.loads((tmp_path / "stsb_hf" / "config.json").read_text())["problem_type"] == "regression"
    settings = json.loads((tmp_path / "best_hf" / "tokenizer_config.json").read_text())
    assert settings["tokenizer_class"] == "AlbertTokenizer" and settings["do_lower_case"] is True
    assert settings["model_max_length"] == 24 and settings["keep_accents"] is False
    assert (tmp_path / "best_hf" / "spiece.model").read_bytes() == tokenizer.model_proto
    assert json.loads((tmp_path / "best_hf" / "special_tokens_map.json").read_text())["mask_token"] == "[MASK]"

    # Back into a model directory: the labels, the length and the tokenizer come with it.
    done = _convert("--input", str(tmp_path / "best_hf"), "--output_format", "model_dir", "--output",
                    str(tmp_path / "back"))
    assert done.returncode == 0, done.stderr
    back = model_directory.read_model_directory(str(tmp_path / "back"))
    assert back.kind == "classification" and back.labels == labels and back.max_seq_length == 24
    assert (tmp_path / "back" / "tiny.model").exists() or (tmp_path / "back" / "spiece.model").exists()
    model = AlbertClassifier(AlbertEncoder(back.config), 3)
    assert not model_directory.load_model_weights(model, back).newly_initialized
