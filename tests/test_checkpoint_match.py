"""A vocabulary given on the command line against the one recorded with a checkpoint."""

import os
import subprocess
import sys

import pytest

from albert_tf.tokenization import SentencePieceTokenizer, TokenizerMismatchError, WordPieceTokenizer
from albert_tf.tokenization import save_tokenizer_assets
from albert_tf.tokenization.checkpoint_match import check_matches_checkpoint, recorded_tokenizer

import tokenization_testlib as testlib


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    base = tmp_path_factory.mktemp("vocabularies")
    return {"english": SentencePieceTokenizer(str(testlib.build_spm_model(base))),
            "chinese": WordPieceTokenizer(str(testlib.build_vocab(base)))}


def test_the_record_or_the_only_vocabulary_file_is_what_a_checkpoint_was_trained_with(tokenizers, tmp_path):
    english, chinese = tokenizers["english"], tokenizers["chinese"]
    recorded = tmp_path / "recorded"
    save_tokenizer_assets(english, recorded)
    assert recorded_tokenizer(str(recorded)).sha256 == english.settings.vocab_sha256
    check_matches_checkpoint(english, str(recorded / "model.ckpt"), "--vocab_file=x", "--init_checkpoint")
    with pytest.raises(TokenizerMismatchError, match=r"--vocab_file=vocab.txt \(wordpiece vocab.txt, .*\) is not the "
                                                     r"tokenizer of --init_checkpoint=.*model.ckpt, which records "
                                                     r"sentencepiece .*tokenizer_config.json"):
        check_matches_checkpoint(chinese, str(recorded / "model.ckpt"), "--vocab_file=vocab.txt", "--init_checkpoint")
    # A released model's directory: no record, one vocabulary file, compared by its hash.
    released = tmp_path / "released"
    released.mkdir()
    (released / "vocab.txt").write_bytes(open(chinese.vocab_file, "rb").read())
    check_matches_checkpoint(chinese, str(released), "--vocab_file=vocab.txt", "--init_checkpoint")
    with pytest.raises(TokenizerMismatchError, match="records wordpiece vocab.txt"):
        check_matches_checkpoint(english, str(released), "--vocab_file=spm.model", "--init_checkpoint")
    # Nothing recorded: nothing to compare (the vocab size check still applies elsewhere).
    assert recorded_tokenizer(str(tmp_path / "empty")) is None


def test_export_refuses_a_vocabulary_the_checkpoint_was_not_trained_with(tokenizers, tmp_path):
    from albert_tf.checkpoints import save_tf1
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    english = tokenizers["english"]
    config = AlbertConfig(vocab_size=english.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=16, max_position_embeddings=32)
    checkpoint = tmp_path / "best_checkpoint"
    save_tf1(AlbertClassifier(AlbertEncoder(config), 2), str(checkpoint / "model.ckpt"))
    save_tokenizer_assets(english, checkpoint)
    other = tmp_path / "vocab.txt"  # another kind of vocabulary with exactly the model's ids
    other.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] +
                               [f"w{i}" for i in range(english.vocab_size - 5)]) + "\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-m", "albert_tf.cli.export", "--kind=classifier", "--task_name=SST-2",
                           f"--checkpoint={checkpoint}/model.ckpt", f"--vocab_file={other}", "--max_seq_length=16",
                           f"--export_dir={tmp_path / 'export'}"], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"albert-export: error: --vocab_file={other} (wordpiece vocab.txt" in done.stderr, done.stderr[-3000:]
    assert "is not the tokenizer of --checkpoint=" in done.stderr and not (tmp_path / "export").exists()
