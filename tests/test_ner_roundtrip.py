"""Gold NER round trip on real data: tags → windows → one-hot logits → merge_windows → entities.

Slices of CoNLL-2003 dev (English SentencePiece) and CLUENER dev (Chinese WordPiece) keep this
cheap; `tools/ner_roundtrip.py` runs the full files (5,942 / 5,942 and 3,072 / 3,072 recovered).
Skipped when the real data is absent.
"""

import runpy
import sys
from pathlib import Path

import pytest

import tokenization_testlib as testlib

from albert_tf.ner import features, reading  # noqa: E402
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer  # noqa: E402

TOOL = Path(__file__).resolve().parents[1] / "tools" / "ner_roundtrip.py"


@pytest.fixture(scope="module")
def conll():
    sentences = reading.read_conll(str(testlib.realdata_path("ner/conll2003/dev.txt")))
    tokenizer = SentencePieceTokenizer(str(testlib.realdata_path("assets/albert_en_spm/30k-clean.model")))
    return sentences, tokenizer


def test_conll_round_trip_at_128_and_with_many_windows(conll):
    sentences, tokenizer = conll
    sample = sentences[:600] + [s for s in sentences if len(s.words) > 80]
    result = features.gold_round_trip(sample, tokenizer, 128, 64)
    assert result["stats"]["split_sentences"] >= 1
    assert result["recovered"] == result["total"] > 900, result["misses"]
    narrow = features.gold_round_trip(sentences[:300], tokenizer, 16, 5)  # most sentences need windows
    assert narrow["stats"]["split_sentences"] > 100
    assert narrow["recovered"] == narrow["total"], narrow["misses"]


def test_english_words_tokenized_alone_give_the_pieces_of_the_whole_text(conll):
    sentences, tokenizer = conll
    labels = features.label_list(sentences)
    for sentence in sentences[:400]:
        by_word = features.make_windows([sentence], tokenizer, labels, 256, 128, pieces_from="words")
        whole = features.make_windows([sentence], tokenizer, labels, 256, 128, pieces_from="text")
        assert (by_word[0].input_ids, by_word[0].label_ids) == (whole[0].input_ids, whole[0].label_ids), \
            sentence.source


def test_cluener_round_trip_characters_beat_whole_text_pieces():
    sentences = reading.read_cluener(str(testlib.realdata_path("ner/cluener/dev.json")))[:600]
    tokenizer = WordPieceTokenizer(str(testlib.realdata_path("assets/albert_zh/vocab.txt")))
    by_word = features.gold_round_trip(sentences, tokenizer, 128, 64)
    assert by_word["recovered"] == by_word["total"] > 1300, by_word["misses"]
    whole = features.gold_round_trip(sentences, tokenizer, 128, 64, pieces_from="text")
    assert whole["total"] - whole["recovered"] == len(whole["misses"]) >= 3  # dev lines 31, 44, 372 are in the slice
    assert all("a boundary falls inside a piece" in miss for miss in whole["misses"])


def test_tool_reports_recovered_entities_and_metric_equality(conll, monkeypatch, capsys):
    path = testlib.realdata_path("ner/conll2003/dev.txt")
    spm = testlib.realdata_path("assets/albert_en_spm/30k-clean.model")
    monkeypatch.setattr(sys, "argv", [str(TOOL), "--file", str(path), "--spm", str(spm), "--sentences", "200"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TOOL), run_name="__main__")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert "[pieces from words] recovered" in out and "(100.000%)" in out
    assert "entity F1 (seqeval)" in out
