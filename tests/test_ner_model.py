"""AlbertTokenClassifier against Hugging Face AlbertForTokenClassification.

Golden values come from tools/make_ner_parity_fixture.py (the oracle: transformers, eager attention,
fp32, dropout off): logits on a padded batch and the losses of 20 plain SGD steps. The default run
needs no torch; the reverse direction (our Hugging Face files read by transformers) is marked oracle.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.checkpoints import load_config_for, load_weights
from albert_tf.checkpoints.loader import read_checkpoint, save_hf, save_tf1
from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier
from albert_tf.modeling.token_losses import IGNORE_LABEL, masked_token_cross_entropy
from conftest import FIXTURES

CASE = FIXTURES / "ner" / "hf_token_classifier"
INPUTS = ("input_word_ids", "input_mask", "input_type_ids")
TOLERANCE = 1e-4
POOLER = ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"]


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(CASE / "golden.npz"))


def _loaded_model(source=CASE):
    config = load_config_for(str(CASE))
    model = AlbertTokenClassifier(AlbertEncoder(config), num_labels=7, dropout_rate=0.0)
    model({name: np.zeros((1, 4), np.int32) for name in INPUTS})
    report = load_weights(model, str(source), verbose=False)
    return model, report


def test_hf_token_classifier_loads_into_ours_with_the_oracle_logits(golden):
    model, report = _loaded_model()
    assert report.clean and not report.unused, report.summary()
    assert "cls/token_classification/output_weights" in report.matched
    # AlbertForTokenClassification has no pooler; the tagger does not use one.
    assert report.newly_initialized == POOLER
    logits = model({name: golden[name] for name in INPUTS})
    assert logits.dtype == "float32" and tuple(logits.shape) == golden["logits"].shape
    np.testing.assert_allclose(logits, golden["logits"], atol=TOLERANCE, rtol=0)


def test_twenty_sgd_steps_follow_the_oracle_losses(golden):
    model, _ = _loaded_model()
    optimizer = keras.optimizers.SGD(learning_rate=float(golden["sgd_learning_rate"]))
    inputs = {name: tf.constant(golden[name]) for name in INPUTS}
    labels = tf.constant(golden["labels"])
    losses = []
    for _ in range(len(golden["sgd_losses"])):
        with tf.GradientTape() as tape:
            loss = masked_token_cross_entropy(labels, model(inputs, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        losses.append(float(loss))
    np.testing.assert_allclose(losses, golden["sgd_losses"], rtol=1e-3)
    assert losses[-1] < losses[0]  # the steps did train: a frozen model would also match step 0 only


def test_loss_ignores_untagged_positions_and_averages_over_tagged_ones():
    logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]], np.float32))
    labels = np.array([[IGNORE_LABEL, 0, 1]], np.int32)
    expected = -(np.log(0.9) + np.log(0.8)) / 2
    np.testing.assert_allclose(float(masked_token_cross_entropy(labels, logits)), expected, rtol=1e-6)
    nothing = np.full((1, 3), IGNORE_LABEL, np.int32)
    assert float(masked_token_cross_entropy(nothing, logits)) == 0.0


def test_tf1_and_keras_round_trips_keep_the_head(tmp_path, golden):
    model, _ = _loaded_model()
    inputs = {name: golden[name] for name in INPUTS}
    save_tf1(model, str(tmp_path / "tf1" / "model.ckpt"))
    weights = read_checkpoint(str(tmp_path / "tf1" / "model.ckpt")).weights
    # The original classifier convention: output_weights [num_labels, H].
    assert weights["cls/token_classification/output_weights"].shape == (7, 32)
    again, report = _loaded_model(tmp_path / "tf1" / "model.ckpt")
    assert report.clean and not report.newly_initialized and not report.unused, report.summary()
    np.testing.assert_allclose(again(inputs), golden["logits"], atol=TOLERANCE, rtol=0)
    model.save(str(tmp_path / "model.keras"))
    reloaded = keras.saving.load_model(str(tmp_path / "model.keras"))
    assert isinstance(reloaded, AlbertTokenClassifier) and reloaded.num_labels == 7
    np.testing.assert_allclose(reloaded(inputs), golden["logits"], atol=TOLERANCE, rtol=0)


def test_pretrained_checkpoint_reports_the_tagging_head_as_new(tmp_path, golden):
    """A sequence classifier's HF files (same `classifier.weight` name) do not become a tagging head."""
    model, _ = _loaded_model()
    save_hf(model, str(tmp_path / "hf"))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    config["architectures"] = ["AlbertForSequenceClassification"]
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    other = AlbertTokenClassifier(AlbertEncoder(load_config_for(str(CASE))), num_labels=7)
    other({name: golden[name][:1] for name in INPUTS})
    report = load_weights(other, str(tmp_path / "hf"), verbose=False)
    assert sorted(report.newly_initialized) == ["cls/token_classification/output_bias",
                                                "cls/token_classification/output_weights"]
    assert report.unused == ["output_bias", "output_weights"]


def test_tag_count_mismatch_names_the_field(golden):
    config = load_config_for(str(CASE))
    model = AlbertTokenClassifier(AlbertEncoder(config), num_labels=5)
    model({name: golden[name][:1] for name in INPUTS})
    with pytest.raises(Exception, match="num_labels"):
        load_weights(model, str(CASE), verbose=False)


@pytest.mark.oracle
def test_our_hf_files_load_in_transformers_with_the_same_logits(tmp_path, golden):
    torch = pytest.importorskip("torch", reason="the oracle extra (torch) is not installed; run `make parity`")
    transformers = pytest.importorskip("transformers", reason="the oracle extra (transformers) is not installed")
    model, _ = _loaded_model()
    save_hf(model, str(tmp_path / "hf"))
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == [
        "AlbertForTokenClassification"]
    theirs = transformers.AlbertForTokenClassification.from_pretrained(str(tmp_path / "hf"),
                                                                        attn_implementation="eager").eval()
    assert theirs.num_labels == 7
    with torch.no_grad():
        logits = theirs(input_ids=torch.from_numpy(golden["input_word_ids"]).long(),
                        attention_mask=torch.from_numpy(golden["input_mask"]).long(),
                        token_type_ids=torch.from_numpy(golden["input_type_ids"]).long()).logits.numpy()
    np.testing.assert_allclose(logits, golden["logits"], atol=TOLERANCE, rtol=0)
