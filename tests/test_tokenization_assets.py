"""Tokenizer assets, settings records, mismatch errors, and UTF-8 file reading."""

import json
import re
from pathlib import Path

import pytest

import tokenization_testlib as testlib

from albert_tf.tokenization import (CONFIG_NAME, SentencePieceTokenizer,  # noqa: E402
                                    TokenizerMismatchError, WordPieceTokenizer,
                                    check_settings_match, iter_lines, load_tokenizer, read_lines,
                                    save_tokenizer_assets, tokenizer_from_assets)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("assets")
    return {"spm": testlib.build_spm_model(d), "vocab": testlib.build_vocab(d)}


@pytest.mark.parametrize("kind", ["spm", "vocab"])
def test_save_load_roundtrip(assets, tmp_path, kind):
    options = {"do_lower_case": False}
    tok = tokenizer_from_assets(assets[kind], **options)
    config = save_tokenizer_assets(tok, tmp_path / "model")
    record = json.loads(Path(config).read_text())
    assert record["do_lower_case"] is False
    assert record["vocab_sha256"] == tok.settings.vocab_sha256
    loaded = load_tokenizer(tmp_path / "model")
    assert type(loaded) is type(tok) and loaded.settings == tok.settings
    text = "Crème BRÛLÉE 1,000, 中国"
    assert loaded.encode(text) == tok.encode(text)
    assert tokenizer_from_assets(tmp_path / "model").settings == tok.settings


def test_settings_mismatch_names_the_setting(assets):
    uncased = SentencePieceTokenizer(assets["spm"])
    cased = SentencePieceTokenizer(assets["spm"], do_lower_case=False)
    with pytest.raises(TokenizerMismatchError, match="do_lower_case: True != False"):
        check_settings_match(uncased, cased, context="checkpoint vs export")
    check_settings_match(uncased, uncased.settings.to_dict())
    wp = WordPieceTokenizer(assets["vocab"])
    with pytest.raises(TokenizerMismatchError, match="type") as err:
        check_settings_match(uncased, wp)
    assert "vocab_sha256" in str(err.value)


def test_load_refuses_contradicting_override(assets, tmp_path):
    save_tokenizer_assets(SentencePieceTokenizer(assets["spm"]), tmp_path)
    with pytest.raises(TokenizerMismatchError, match="do_lower_case"):
        load_tokenizer(tmp_path, do_lower_case=False)
    assert load_tokenizer(tmp_path, do_lower_case=True).do_lower_case


def test_swapped_vocabulary_is_detected(assets, tmp_path):
    save_tokenizer_assets(WordPieceTokenizer(assets["vocab"]), tmp_path)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(vocab.read_text(encoding="utf-8") + "extra\n", encoding="utf-8")
    with pytest.raises(TokenizerMismatchError, match="vocab_sha256"):
        load_tokenizer(tmp_path)


def test_save_refuses_to_overwrite_different_tokenizer(assets, tmp_path):
    save_tokenizer_assets(SentencePieceTokenizer(assets["spm"]), tmp_path)
    with pytest.raises(TokenizerMismatchError, match="keep_accents"):
        save_tokenizer_assets(SentencePieceTokenizer(assets["spm"], keep_accents=True), tmp_path)


def test_directory_without_record(assets, tmp_path):
    (tmp_path / "spiece.model").write_bytes(Path(assets["spm"]).read_bytes())
    assert isinstance(load_tokenizer(tmp_path), SentencePieceTokenizer)
    (tmp_path / "vocab.txt").write_bytes(Path(assets["vocab"]).read_bytes())
    with pytest.raises(FileNotFoundError, match="exactly one"):
        load_tokenizer(tmp_path)


def test_unknown_setting_in_record(assets, tmp_path):
    save_tokenizer_assets(SentencePieceTokenizer(assets["spm"]), tmp_path)
    record = json.loads((tmp_path / CONFIG_NAME).read_text())
    record["lowercase"] = True
    (tmp_path / CONFIG_NAME).write_text(json.dumps(record))
    with pytest.raises(ValueError, match="lowercase"):
        load_tokenizer(tmp_path)


def test_invalid_utf8_reported_with_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xef\xbb\xbfok line\nfine\ncaf\xe9 latin1\nlast\n")  # BOM, then Latin-1
    with pytest.raises(ValueError, match=r"bad\.txt:3: invalid UTF-8"):
        read_lines(path)
    lines = read_lines(path, errors="replace")
    assert lines == ["ok line", "fine", "caf\ufffd latin1", "last"]  # BOM dropped
    with pytest.raises(ValueError, match="errors"):
        list(iter_lines(path, errors="ignore"))


def test_replaced_bytes_tokenize(assets, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"abc \xff\xfe def\n")
    (line,) = read_lines(path, errors="replace")
    for tok in (SentencePieceTokenizer(assets["spm"]), WordPieceTokenizer(assets["vocab"])):
        assert isinstance(tok.encode(line), list)


@pytest.mark.parametrize("name", ["../outside.model", "/tmp/outside.model", "sub/spm.model", "..", ""])
def test_recorded_vocab_file_must_stay_in_its_directory(assets, tmp_path, name):
    tok = SentencePieceTokenizer(assets["spm"])
    model = tmp_path / "model"
    config = Path(save_tokenizer_assets(tok, model))
    (tmp_path / "outside.model").write_bytes(Path(assets["spm"]).read_bytes())
    (model / "sub").mkdir()
    (model / "sub" / "spm.model").write_bytes(Path(assets["spm"]).read_bytes())
    record = json.loads(config.read_text())
    record["vocab_file"] = name
    config.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=rf"{CONFIG_NAME}: field 'vocab_file' must be a plain file name "
                                         rf"inside its directory, got {re.escape(repr(name))}"):
        load_tokenizer(model)
    # Saving into that directory reads the record too, and refuses the same way.
    with pytest.raises(ValueError, match="field 'vocab_file' must be a plain file name"):
        save_tokenizer_assets(tok, model)
