"""Keras `.weights.h5` files as a checkpoint source: read into a twin of the model, then mapped."""

import numpy as np
import pytest

from albert_tf.checkpoints import CheckpointFormatError, CheckpointMismatchError, load_weights, read_checkpoint
from albert_tf.config import AlbertConfig
from albert_tf.modeling import AlbertClassifier, AlbertEncoder
from conftest import padded_batch


def _config(**overrides):
    fields = dict(vocab_size=64, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=24, max_position_embeddings=32)
    fields.update(overrides)
    return AlbertConfig(**fields)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = AlbertClassifier(AlbertEncoder(_config()), 3)
    path = tmp_path_factory.mktemp("weights") / "model.weights.h5"
    model.save_weights(str(path))
    return model, path


def test_weights_h5_loads_with_a_clean_report(saved):
    model, path = saved
    fresh = AlbertClassifier(AlbertEncoder(_config()), 3)
    report = load_weights(fresh, str(path), verbose=False)
    assert report.clean and not report.newly_initialized and report.layout.startswith("keras_weights/")
    inputs = {k: v for k, v in padded_batch().items() if k != "masked_lm_positions"}
    np.testing.assert_array_equal(np.asarray(fresh(inputs)), np.asarray(model(inputs)))


def test_weights_h5_of_another_config_is_refused_and_nothing_is_assigned(saved):
    _, path = saved
    other = AlbertClassifier(AlbertEncoder(_config(hidden_size=32, intermediate_size=48)), 3)
    before = [np.array(v) for v in other.weights]
    with pytest.raises(CheckpointMismatchError, match=r"model\.weights\.h5 does not fit a AlbertClassifier"):
        load_weights(other, str(path), verbose=False)
    for old, new in zip(before, other.weights):
        np.testing.assert_array_equal(old, np.array(new))


def test_weights_h5_without_a_model_is_refused_saying_how_to_load_it(saved):
    _, path = saved
    with pytest.raises(CheckpointFormatError, match=r"holds weights without their model.*load_weights\(model, path\)"):
        read_checkpoint(str(path))


def test_h5_name_on_another_kind_of_file_is_refused(tmp_path):
    fake = tmp_path / "model.weights.h5"
    fake.write_text("not hdf5\n")
    model = AlbertClassifier(AlbertEncoder(_config()), 3)
    with pytest.raises(CheckpointFormatError, match=r"is a text file, expected a Keras \.weights\.h5 file"):
        load_weights(model, str(fake), verbose=False)


def test_weights_h5_covering_only_part_of_the_model_is_refused(saved):
    """Keras fills what it finds and only warns about the rest; that partial load is refused."""
    _, path = saved
    two_groups = AlbertClassifier(AlbertEncoder(_config(num_hidden_groups=2)), 3)
    with pytest.raises(CheckpointMismatchError, match="does not fit"):
        load_weights(two_groups, str(path), verbose=False)
