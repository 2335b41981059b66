import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPUs, so MirroredStrategy can be exercised on a CPU-only machine. This must
# happen before TensorFlow initializes its devices.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REALDATA = Path(os.environ.get("ALBERT_TF_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))


@pytest.fixture
def tiny_config():
    from albert_tf.config import AlbertConfig

    return AlbertConfig(vocab_size=64, embedding_size=8, hidden_size=16, num_hidden_layers=3,
                        num_attention_heads=2, intermediate_size=24, max_position_embeddings=32)


def padded_batch(vocab_size=64, batch=3, seq=10, seed=0, predictions=3):
    """int32 inputs with ragged real lengths and both segment ids."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(batch, seq)).astype(np.int32)
    mask = np.ones((batch, seq), np.int32)
    types = np.zeros((batch, seq), np.int32)
    for b in range(batch):
        n = seq - 3 * b
        mask[b, n:] = 0
        ids[b, n:] = 0
        types[b, n // 2:n] = 1
    positions = np.stack([rng.choice(max(seq - 3 * b, predictions), predictions, replace=False)
                          for b in range(batch)]).astype(np.int32)
    return dict(input_word_ids=ids, input_mask=mask, input_type_ids=types, masked_lm_positions=positions)


# Tokenizers built once per session from the synthetic corpus of `tokenization_testlib` (a helper
# module next to this file, importable from every test without path edits).
@pytest.fixture(scope="session")
def spm_model_file(tmp_path_factory):
    """A tiny SentencePiece model (str path) trained on the synthetic corpus."""
    import tokenization_testlib  # pylint: disable=import-outside-toplevel

    return str(tokenization_testlib.build_spm_model(tmp_path_factory.mktemp("shared_spm")))


@pytest.fixture(scope="session")
def wordpiece_vocab_file(tmp_path_factory):
    """A tiny WordPiece vocab.txt (str path) built from the same corpus."""
    import tokenization_testlib  # pylint: disable=import-outside-toplevel

    return str(tokenization_testlib.build_vocab(tmp_path_factory.mktemp("shared_vocab")))


@pytest.fixture(scope="session")
def spm_tokenizer(spm_model_file):
    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel

    return SentencePieceTokenizer(spm_model_file)
