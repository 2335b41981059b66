"""Official SQuAD metric definitions on hand-made predictions (expected values worked out by hand)."""

import random

import pytest

from albert_tf.squad import evaluation as ev


def test_normalization_rules():
    assert ev.normalize_answer("The  Thames.") == "thames"
    assert ev.normalize_answer("An apple, a pear") == "apple pear"
    assert ev.normalize_answer("theatre") == "theatre"          # articles only as whole words
    assert ev.normalize_answer("8.9 million") == "89 million"   # ASCII punctuation removed, not replaced
    assert ev.normalize_answer("“Thames”") == "“thames”"        # the official script keeps non-ASCII punctuation
    assert ev.normalize_answer("a-b") == "ab"


def test_v1_partial_overlaps_articles_multiple_gold_empty_and_missing():
    gold = {"q1": ["The river Thames", "Thames"], "q2": ["8.9 million"], "q3": ["a small Roman town"],
            "q4": ["Paris"], "q5": ["x"]}
    predictions = {"q1": "thames.",               # EM 1 via the second gold answer
                   "q2": "8.9 million people",    # P 2/3, R 1 -> F1 0.8
                   "q3": "the Roman town",        # P 1, R 2/3 -> F1 0.8
                   "q4": ""}                      # empty: 0; q5 missing: 0
    result = ev.evaluate_v1(gold, predictions)
    assert result["exact_match"] == pytest.approx(100 * 1 / 5)
    assert result["f1"] == pytest.approx(100 * (1 + 0.8 + 0.8) / 5)
    assert result["missing"] == 1 and result["total"] == 5


def test_v1_and_v2_differ_on_empty_strings():
    assert ev.f1_v1("", "") == 0.0
    assert ev.f1_v2("", "") == 1.0
    assert ev.f1_v2("the", "") == 1.0  # "the" normalizes to nothing: both empty
    assert ev.f1_v2("x", "") == 0.0


V2_GOLD = {"a1": ["Thames"], "a2": [], "a3": ["2019", "by 2019"], "a4": []}
V2_PRED = {"a1": "the Thames", "a2": "", "a3": "in 2019", "a4": "London"}
V2_NA = {"a1": 0.1, "a2": 0.9, "a3": 0.4, "a4": 0.8}


def test_v2_splits():
    result = ev.evaluate_v2(V2_GOLD, V2_PRED)
    # a1 exact; a2 right no-answer; a3 best gold "2019": P 1/2 R 1 -> 2/3; a4 answered a no-answer question: 0.
    assert result["exact"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(100 * (1 + 1 + 2 / 3) / 4)
    assert result["HasAns_exact"] == pytest.approx(50.0) and result["HasAns_total"] == 2
    assert result["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert result["NoAns_exact"] == pytest.approx(50.0) and result["NoAns_f1"] == pytest.approx(50.0)
    assert "best_f1" not in result


def test_v2_best_thresholds_by_hand():
    result = ev.evaluate_v2(V2_GOLD, V2_PRED, V2_NA)
    # Sweep by na prob: start 2 (no-answer questions right); a1 +1 -> 3 @0.1; a3 +2/3 (f1) / +0 (exact) @0.4;
    # a4 -1 (non-empty on a no-answer question); a2 +0.
    assert result["best_f1"] == pytest.approx(100 * (3 + 2 / 3) / 4)
    assert result["best_f1_thresh"] == 0.4
    assert result["best_exact"] == pytest.approx(75.0)
    assert result["best_exact_thresh"] == 0.1
    # na probs above the official default na_prob_thresh (1.0) count as "no answer" in exact/f1.
    result = ev.evaluate_v2(V2_GOLD, V2_PRED, {**V2_NA, "a4": 1.5})
    assert result["exact"] == pytest.approx(75.0)


def test_v2_missing_prediction_is_an_error():
    with pytest.raises(ValueError, match="no prediction"):
        ev.evaluate_v2(V2_GOLD, {"a1": "x"})


def _brute_force_best(gold, predictions, na_probs, score):
    """Try every threshold (each na prob, and below all of them) and apply it literally."""
    best = None
    for threshold in [min(na_probs.values()) - 1] + sorted(na_probs.values()):
        total = 0.0
        for qid, answers in gold.items():
            text = "" if na_probs[qid] > threshold else predictions[qid]
            refs = [a for a in answers if ev.normalize_answer(a)] or [""]
            total += max(score(text, a) for a in refs)
        best = total if best is None else max(best, total)
    return 100 * best / len(gold)


def test_v2_best_scores_match_a_brute_force_search():
    rng = random.Random(3)
    words = "the river thames london paris 2019 a town".split()
    # Neither gold answers nor non-empty predictions normalize to "" here: the official sweep takes a
    # non-empty prediction as an answer even when it is only "the" (a quirk a brute force would not share).
    gold_words = [w for w in words if w not in ("a", "the")]
    for _ in range(30):
        gold, predictions, na_probs = {}, {}, {}
        for i in range(12):
            qid = f"q{i}"
            gold[qid] = [] if rng.random() < 0.4 else [" ".join(rng.sample(gold_words, rng.randint(1, 3)))]
            predictions[qid] = "" if rng.random() < 0.2 else (rng.choice(["", "the ", "a "])
                                                              + " ".join(rng.sample(gold_words, rng.randint(1, 3))))
            na_probs[qid] = rng.random()  # distinct: with ties the official sweep scores prefixes, not thresholds
        result = ev.evaluate_v2(gold, predictions, na_probs)
        assert result["best_f1"] == pytest.approx(_brute_force_best(gold, predictions, na_probs, ev.f1_v2))
        exact = lambda p, g: float(ev.normalize_answer(p) == ev.normalize_answer(g))  # noqa: E731
        assert result["best_exact"] == pytest.approx(_brute_force_best(gold, predictions, na_probs, exact))


def test_gold_from_dataset_keeps_file_order_and_all_answers():
    data = [{"paragraphs": [{"qas": [{"id": "b", "answers": [{"text": "x"}, {"text": "y"}]},
                                     {"id": "a", "answers": []}]}]}]
    assert ev.gold_answers_from_dataset(data) == {"b": ["x", "y"], "a": []}
