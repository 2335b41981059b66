"""Acceptance on real text: English (SentencePiece) and Chinese (WordPiece + jieba whole-word masking).

Samples of ../shared/realdata/text are generated twice with one seed, once masked and once unmasked,
so every masked label can be checked against the original token.
"""

from pathlib import Path

import numpy as np
import pytest

import pretraining_testlib as lib
from albert_tf.data import generation

testlib = lib.testlib


def _sample(tmp_path, name, sources, max_bytes):
    """First `max_bytes` of each source, cut at a blank line, concatenated as documents."""
    parts = []
    for source in sources:
        text = Path(source).read_text(encoding="utf-8")[:max_bytes]
        parts.append(text[:text.rfind("\n\n") + 1] if "\n\n" in text else text)
    path = tmp_path / name
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return path


def _static_and_dynamic(tmp_path, text, spec, **overrides):
    settings = dict(max_seq_length=128, max_predictions_per_seq=20, dupe_factor=2, random_seed=12345)
    settings.update(overrides)
    metas, records = [], []
    for name, dynamic in (("static", False), ("dynamic", True)):
        meta = generation.generate(str(text), str(tmp_path / name),
                                   generation.GenerationSettings(dynamic_masking=dynamic, **settings), spec,
                                   log=lambda message: None)
        metas.append(meta)
        records.append(lib.read_records(sorted((tmp_path / name).glob("*.tfrecord"))))
    return metas, records


def _check_acceptance(metas, records):
    static_meta, _ = metas
    masked, plain = records
    assert static_meta.instances == len(masked) == len(plain) > 500
    real_tokens = predictions = 0
    labels = []
    for m, p in zip(masked, plain):
        k = int(m["masked_lm_weights"].sum())
        positions = m["masked_lm_positions"][:k]
        np.testing.assert_array_equal(m["masked_lm_ids"][:k], p["input_ids"][positions])
        units = lib.word_units(p)
        chosen = set(positions.tolist())
        for unit in units:  # whole words: all or nothing
            assert len(chosen.intersection(unit)) in (0, len(unit))
        real_tokens += int(m["input_mask"].sum())
        predictions += k
        labels.append(int(m["next_sentence_labels"][0]))
    assert 0.14 < predictions / real_tokens < 0.16
    stats = static_meta.statistics
    assert stats["predictions"] == predictions and stats["real_tokens"] == real_tokens
    drawn = stats["ngram_drawn_histogram"]
    np.testing.assert_allclose([drawn["1"], drawn["2"], drawn["3"]], [6 / 11, 3 / 11, 2 / 11], atol=0.03)
    assert abs(stats["mask_token_fraction"] - 0.8) < 0.02
    return np.mean(labels), stats


def test_english_sample(tmp_path):
    en = testlib.realdata_path("text/en")
    spm_model = testlib.realdata_path("assets/albert_en_spm/30k-clean.model")
    text = _sample(tmp_path, "en.txt", [en / "bert_sample_text.txt", en / "tinyshakespeare.txt"], 200_000)
    metas, records = _static_and_dynamic(tmp_path, text, generation.TokenizerSpec(spm_model_file=str(spm_model)))
    balance, stats = _check_acceptance(metas, records)
    assert 0.45 < balance < 0.6, stats  # one sentence (or speech line) per line: SOP is balanced


def test_chinese_sample_with_whole_word_masking(tmp_path):
    pytest.importorskip("jieba", reason="Chinese whole-word masking needs jieba (pip install 'albert-tf[zh]')")
    zh = testlib.realdata_path("text/zh/CLUECorpusSmall_bert_sampled.txt")
    vocab = testlib.realdata_path("assets/albert_zh/vocab.txt")
    text = _sample(tmp_path, "zh.txt", [zh], 150_000)
    spec = generation.TokenizerSpec(vocab_file=str(vocab))
    metas, records = _static_and_dynamic(tmp_path, text, spec, zh_whole_word_mask=True)
    balance, stats = _check_acceptance(metas, records)
    # Single-line documents take B from another document (label 1); the others are a fair coin.
    swapped = stats["label_one"] - stats["b_from_other_document"]
    in_document = stats["instances"] - stats["b_from_other_document"]
    assert 0.45 < swapped / in_document < 0.55, stats
    assert balance == pytest.approx(stats["label_one_fraction"], abs=1e-6)
    # jieba groups characters: many units span several tokens, unlike character-level masking.
    units = [u for record in records[1][:200] for u in lib.word_units(record)]
    assert np.mean([len(u) > 1 for u in units]) > 0.3
