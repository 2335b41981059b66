"""Windows, max context, gold-span round trips (fixtures; a sample of the real dev set when present)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, REALDATA
from albert_tf.squad import decoding, features, reading
from albert_tf.squad.roundtrip import make_unanswerable, round_trip
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer

import tokenization_testlib as testlib

SQUAD = FIXTURES / "squad"


def test_windows_cover_every_token_with_the_stride():
    assert features.doc_windows(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
    assert features.doc_windows(3, 4, 2) == [(0, 3)]
    assert features.doc_windows(9, 4, 8) == [(0, 4), (4, 4), (8, 1)]  # a stride past the window never skips


def test_max_context_matches_the_reference_rule():
    windows = features.doc_windows(10, 4, 2)
    owner = features.max_context_owner(10, windows)
    for position in range(10):
        best, best_score = None, None  # the reference loop: strict '>' keeps the earlier window on ties
        for w, (start, length) in enumerate(windows):
            if start <= position < start + length:
                score = min(position - start, start + length - 1 - position) + 0.01 * length
                if best_score is None or score > best_score:
                    best, best_score = w, score
        assert owner[position] == best


def test_labels_point_at_the_answer_text(spm_tokenizer):
    examples, _ = reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "1.1", training=True)
    feats = features.convert_examples(examples, spm_tokenizer, max_seq_length=40, doc_stride=8, max_query_length=12)
    assert feats.stats["features"] > len(examples)  # short windows: several per question
    for i in range(len(feats)):
        example = examples[feats.example_index[i]]
        if feats.is_impossible[i]:
            assert feats.start_position[i] == feats.end_position[i] == 0
            continue
        text, _, _ = decoding.answer_text(example, feats, i, feats.start_position[i], feats.end_position[i])
        assert text == example.answers[0].text
    segments, p_mask = feats.segment_ids(), feats.p_mask()
    row = 0
    doc_from = feats.doc_offset(row)
    assert segments[row, :doc_from].sum() == 0 and segments[row, doc_from:feats.length[row]].all()
    assert p_mask[row, 0] == 0 and p_mask[row, 1:doc_from].all() and not p_mask[row, doc_from].any()


@pytest.mark.parametrize("head", ["span", "beam"])
def test_round_trip_on_fixtures(spm_tokenizer, head):
    examples, _ = reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "1.1", training=False)
    # Windows of 45 context tokens every 16: the tiny vocabulary gives ~110 tokens per context, so every
    # question has several windows (with 25-token windows a long answer can straddle every max-context cut).
    feats = features.convert_examples(examples, spm_tokenizer, 64, 16, 16)
    assert len(feats) > 2 * len(examples)
    assert round_trip(examples, feats, "1.1", head)["exact_match"] == 100.0
    examples, _ = reading.read_squad(str(SQUAD / "tiny-v2.0.json"), "2.0", training=False)
    feats = features.convert_examples(examples, spm_tokenizer, 64, 16, 16)
    result = round_trip(examples, feats, "2.0", head)
    assert result["nulls_right"] == len(examples) and result["exact"] == 100.0


def test_round_trip_loses_answers_longer_than_max_answer_length(spm_tokenizer):
    examples, _ = reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "1.1", training=False)
    feats = features.convert_examples(examples, spm_tokenizer, 64, 16, 16)
    longest = max(len(spm_tokenizer.encode(e.answer_texts[0])) for e in examples)
    assert round_trip(examples, feats, "1.1", "span", max_answer_length=longest)["exact_match"] == 100.0
    assert round_trip(examples, feats, "1.1", "span", max_answer_length=1)["exact_match"] < 100.0


def test_roundtrip_tool_reads_squad2_files(spm_tokenizer, monkeypatch, capsys):
    import runpy
    tool = str(Path(__file__).resolve().parents[1] / "tools" / "squad_roundtrip.py")
    argv = [tool, "--version", "2.0", "--squad", str(SQUAD / "tiny-v2.0.json"), "--spm", spm_tokenizer.model_file,
            "--max_seq_length", "64", "--doc_stride", "16", "--max_query_length", "16", "--max_answer_length", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(tool, run_name="__main__")
    out = capsys.readouterr().out
    assert "6 questions (3 unanswerable)" in out and "nulls_right=6" in out
    assert "questions have a gold answer longer than --max_answer_length=2 tokens" in out


def test_round_trip_chinese_wordpiece(tmp_path):
    tokenizer = WordPieceTokenizer(testlib.build_vocab(tmp_path))
    examples, _ = reading.read_squad(str(SQUAD / "cmrc-style-zh.json"), "1.1", training=False)
    feats = features.convert_examples(examples, tokenizer, 24, 6, 10)
    assert len(feats) > len(examples)
    assert round_trip(examples, feats, "1.1", "span")["exact_match"] == 100.0


def test_question_truncation_is_counted(spm_tokenizer):
    examples, _ = reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "1.1", training=False)
    feats = features.convert_examples(examples, spm_tokenizer, 64, 16, max_query_length=3)
    assert feats.stats["truncated_questions"] == len(examples)
    assert (feats.query_length == 3).all()


def test_length_settings_are_checked():
    with pytest.raises(ValueError, match="max_seq_length=67 must exceed --max_query_length"):
        features.check_lengths(67, 128, 64)
    with pytest.raises(ValueError, match="doc_stride"):
        features.check_lengths(384, 0, 64)


def _realdata_sample(articles):
    path = REALDATA / "squad" / "dev-v1.1.json"
    spm_model = REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"
    if not path.exists() or not spm_model.exists():
        pytest.skip(f"real SQuAD dev / SentencePiece model not found under {REALDATA}")
    data = reading.load_json(str(path))
    keep = {qa["id"] for article in data["data"][:articles] for p in article["paragraphs"] for qa in p["qas"]}
    examples, _ = reading.read_squad(str(path), "1.1", training=False)
    return [e for e in examples if e.qas_id in keep], SentencePieceTokenizer(str(spm_model))


def test_real_dev_sample_round_trip():
    examples, tokenizer = _realdata_sample(articles=5)
    feats = features.convert_examples(examples, tokenizer, 384, 128, 64)
    v1 = round_trip(examples, feats, "1.1", "span")
    # Losses come only from answers that start or end inside a token ("gold" in "golden").
    assert v1["exact_match"] >= 99.0 and v1["f1"] >= 98.9
    v2_examples = make_unanswerable(examples, 0.3)
    feats = features.convert_examples(v2_examples, tokenizer, 384, 128, 64)
    for head in ("span", "beam"):
        v2 = round_trip(v2_examples, feats, "2.0", head)
        assert v2["NoAns_exact"] == 100.0 and v2["HasAns_exact"] >= 98.5  # full dev: 99.62 (tools/squad_roundtrip.py)
    # Windowing really happens on real data (long paragraphs need several windows).
    short = features.convert_examples(examples[:200], tokenizer, 128, 64, 32)
    assert len(short) > 200 and np.all(short.max_context.sum(axis=1) > 0)
