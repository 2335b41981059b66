"""The evaluation helpers of tools/direct_use_acceptance.py on toy inputs (no model, no training)."""

import itertools
import random
import re

import numpy as np
import pytest

import direct_use_acceptance as acceptance


class ToyTokenizer:
    """Known words are one id each; "football" splits in two; anything else (punctuation too) is unknown."""
    unk_id = 1

    def __init__(self, words):
        self.ids = {w: i + 10 for i, w in enumerate(words)}

    def encode(self, text):
        ids = []
        for word in re.findall(r"\w+|[^\w\s]", text.lower()):
            pieces = ["foot", "ball"] if word == "football" else [word]
            ids += [self.ids.get(piece, self.unk_id) for piece in pieces]
        return ids


TOKENIZER = ToyTokenizer(["the", "cat", "sat", "on", "mat", "foot", "ball", "我", "们", "好"])


def test_unigram_top_k_counts_single_piece_words_only():
    lines = ["football football football zzz zzz zzz, the cat", "The cat sat. the"]
    # "football" is two pieces, "zzz" unknown, "sat." not letters only: none of them count.
    assert acceptance.unigram_top_k(lines, TOKENIZER, "en", k=2) == [TOKENIZER.ids["the"], TOKENIZER.ids["cat"]]


def test_unigram_top_k_over_all_tokens_counts_every_piece():
    lines = ["football football football, the cat", "the"]
    assert acceptance.unigram_top_k(lines, TOKENIZER, "en", k=2, words_only=False) == [
        TOKENIZER.ids["foot"], TOKENIZER.ids["ball"]]


def test_top_word_ids_skip_punctuation_and_word_pieces():
    tokens = {3: ",", 4: "\u2581the", 5: "s", 6: "\u2581cat", 7: "\u2581x1", 8: "\u2581sat", 9: "。", 10: "好"}
    predictions = [type("P", (), {"token_id": i}) for i in (3, 4, 5, 7, 6, 8)]
    assert acceptance.top_word_ids(predictions, tokens, "en", k=2) == [4, 6]
    assert acceptance.top_word_ids([type("P", (), {"token_id": i}) for i in (9, 10)], tokens, "zh") == [10]


def test_masked_lines_replace_one_single_piece_word_with_its_gold_id():
    lines = ["the cat sat on the mat", "football zzz xyz qqq", "too short", "The cat sat, football!"]
    out = acceptance.masked_lines(lines, TOKENIZER, "en", rng=random.Random(0), max_words=40, limit=10)
    assert len(out) == 2  # line 2 has no single-piece word, line 3 is too short
    for (text, gold), line in zip(out, [lines[0], lines[3]]):
        assert text.count("[MASK]") == 1
        restored = line.split()
        masked = text.split()
        i = masked.index("[MASK]")
        assert TOKENIZER.encode(restored[i]) == [gold]
        assert masked[:i] + masked[i + 1:] == restored[:i] + restored[i + 1:]


def test_masked_lines_chinese_masks_a_character_never_punctuation():
    out = acceptance.masked_lines(["我们好，好。"] * 20, TOKENIZER, "zh", rng=random.Random(1), max_words=100,
                                  limit=20)
    assert len(out) == 20
    for text, gold in out:
        assert text.count("[MASK]") == 1 and "，" in text and "。" in text
        assert gold in {TOKENIZER.ids[c] for c in "我们好"}


def test_document_pairs_cut_documents_in_the_middle():
    text = "a\nb\nc\nd\n\nonly one line\n\nx\ny\nz\n"
    assert acceptance.document_pairs(text, "en", limit=10) == [("a b", "c d"), ("x", "y z")]
    assert acceptance.document_pairs("甲\n乙\n", "zh", limit=10) == [("甲", "乙")]


def test_bag_of_words_cosine():
    assert acceptance.bag_of_words_cosine("A cat.", "a CAT", "en") == pytest.approx(1.0)
    assert acceptance.bag_of_words_cosine("a cat", "the dog", "en") == 0.0
    assert acceptance.bag_of_words_cosine("a a b", "a b", "en") == pytest.approx(3 / np.sqrt(10))
    assert acceptance.bag_of_words_cosine("我们好", "我好", "zh") == pytest.approx(2 / np.sqrt(6))
    assert acceptance.bag_of_words_cosine("", "a", "en") == 0.0


def test_roc_auc_is_the_fraction_of_correctly_ordered_pairs():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    labels = rng.integers(0, 2, 60)
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert acceptance.roc_auc(scores, labels) == pytest.approx(expected)
    assert acceptance.roc_auc([0.1, 0.2, 0.9], [0, 0, 1]) == 1.0


def test_best_threshold_accuracy_matches_trying_every_threshold():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 6, 50).astype(float)
    labels = rng.integers(0, 2, 50)
    accuracy, threshold = acceptance.best_threshold_accuracy(scores, labels)
    tried = [np.mean((scores >= t) == labels) for t in list(np.unique(scores)) + [np.inf]]
    assert accuracy == pytest.approx(max(tried))
    assert np.mean((scores >= threshold) == labels) == pytest.approx(accuracy)


def test_spearman_through_the_project_metric():
    assert acceptance.spearman([0.1, 0.5, 0.3], [1.0, 5.0, 2.0]) == pytest.approx(1.0)
    assert acceptance.spearman([3, 2, 1], [1, 2, 3]) == pytest.approx(-1.0)


def test_readers_name_the_file_and_line(tmp_path):
    bad = tmp_path / "lcqmc.txt"
    bad.write_text("a\tb\t1\nc\td\tyes\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lcqmc.txt:2: expected"):
        acceptance.read_lcqmc(bad)
    sts = tmp_path / "dev.tsv"
    sts.write_text("index\tsentence1\tsentence2\tscore\n0\ta\tb\t4.5\n1\tonly\t3.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dev.tsv:3: 3 columns, the header has 4"):
        acceptance.read_sts_b(sts)
