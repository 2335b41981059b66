"""NER metrics: entity scores equal seqeval's (strict IOB2) to 1e-9, CLUENER span F1 equals entity F1.

Predictions are gold with the usual model errors injected (shifted boundaries, wrong types,
dropped and extra entities, stray I- tags); the expected figures are recomputed independently
(seqeval's own functions, and set arithmetic over `schemes.entities`).
"""

import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, Entities

import tokenization_testlib as testlib

from albert_tf.ner import metrics, reading, schemes  # noqa: E402

TYPES = ("PER", "LOC", "ORG")


def _random_gold(rng, sentences=150):
    out = []
    for _ in range(sentences):
        length = rng.randint(1, 25)
        spans, position = [], 0
        while position < length:
            position += rng.randint(0, 4)
            width = rng.randint(1, 4)
            if position + width <= length and rng.random() < 0.6:
                spans.append((rng.choice(TYPES), position, position + width))
            position += width
        out.append(schemes.tags_for(length, spans))
    return out


def perturb(gold_tags, seed=0, types=TYPES):
    """Gold with model-like errors: shifted boundaries, wrong types, dropped and extra entities."""
    rng = random.Random(seed)
    out = []
    for tags in gold_tags:
        spans = []
        for kind, start, end in schemes.entities(tags):
            roll = rng.random()
            if roll < 0.15:
                continue  # dropped
            if roll < 0.3:
                kind = rng.choice([t for t in types if t != kind] or [kind])  # wrong type
            elif roll < 0.45:
                start = min(end - 1, max(0, start + rng.choice((-1, 1))))  # shifted start
            elif roll < 0.6:
                end = min(len(tags), max(start + 1, end + rng.choice((-1, 1))))  # shifted end
            spans.append((kind, start, end))
        if tags and rng.random() < 0.3:  # an extra entity
            start = rng.randrange(len(tags))
            spans.append((rng.choice(types), start, min(len(tags), start + rng.randint(1, 3))))
        kept, taken = [], set()
        for span in spans:
            cells = set(range(span[1], span[2]))
            if not cells & taken:
                kept.append(span)
                taken |= cells
        predicted = schemes.tags_for(len(tags), kept)
        if predicted and rng.random() < 0.1:  # a stray I- tag that starts nothing in strict IOB2
            i = rng.randrange(len(predicted))
            if predicted[i] == "O" and (i == 0 or predicted[i - 1] == "O"):
                predicted[i] = f"I-{rng.choice(types)}"
        out.append(predicted)
    return out


def _assert_equals_seqeval(gold, predicted):
    scores = metrics.entity_scores(gold, predicted)
    kwargs = {"mode": "strict", "scheme": IOB2}
    assert abs(scores["precision"] - precision_score(gold, predicted, **kwargs)) < 1e-9
    assert abs(scores["recall"] - recall_score(gold, predicted, **kwargs)) < 1e-9
    assert abs(scores["f1"] - f1_score(gold, predicted, **kwargs)) < 1e-9
    report = classification_report(gold, predicted, output_dict=True, zero_division=0, **kwargs)
    for kind, row in scores["per_type"].items():
        assert abs(row["f1"] - report[kind]["f1-score"]) < 1e-9
        assert row["gold_entities"] == report[kind]["support"]
    # Counts from our own reading of IOB2 agree with seqeval's.
    ours_gold = {(i,) + e for i, tags in enumerate(gold) for e in schemes.entities(tags)}
    ours_pred = {(i,) + e for i, tags in enumerate(predicted) for e in schemes.entities(tags)}
    assert (scores["gold_entities"], scores["predicted_entities"], scores["correct"]) == (
        len(ours_gold), len(ours_pred), len(ours_gold & ours_pred))
    return scores


def test_entity_scores_equal_seqeval_on_perturbed_gold():
    rng = random.Random(1)
    gold = _random_gold(rng)
    predicted = perturb(gold, seed=2)
    assert predicted != gold
    scores = _assert_equals_seqeval(gold, predicted)
    assert 0.3 < scores["f1"] < 0.95 and set(scores["per_type"]) == set(TYPES)
    assert _assert_equals_seqeval(gold, gold)["f1"] == 1.0


def test_strict_entities_match_seqeval_on_arbitrary_tag_sequences():
    rng = random.Random(3)
    tags = ["O", "B-X", "I-X", "B-Y", "I-Y"]
    sequences = [[rng.choice(tags) for _ in range(rng.randint(0, 12))] for _ in range(300)]
    theirs = Entities(sequences, IOB2).entities
    for i, sequence in enumerate(sequences):
        assert [(e.tag, e.start, e.end) for e in theirs[i]] == schemes.entities(sequence)


def test_span_f1_equals_entity_f1_on_characters():
    rng = random.Random(4)
    gold = _random_gold(rng, sentences=80)
    predicted = perturb(gold, seed=5)
    sentences = [reading.NerSentence(guid=str(i), text="x" * len(t), words=["x"] * len(t),
                                     word_starts=list(range(len(t))), tags=t, source=str(i))
                 for i, t in enumerate(gold)]
    spans = metrics.span_scores([metrics.char_spans(s, s.tags) for s in sentences],
                                [metrics.char_spans(s, p) for s, p in zip(sentences, predicted)])
    entity = metrics.entity_scores(gold, predicted)
    for name in ("precision", "recall", "f1", "correct"):
        assert abs(spans[name] - entity[name]) < 1e-12
    for kind in TYPES:
        assert abs(spans["per_type"][kind]["f1"] - entity["per_type"][kind]["f1"]) < 1e-12


def test_no_entities_and_mismatched_lengths():
    scores = metrics.entity_scores([["O", "O"]], [["O", "O"]])
    assert (scores["f1"], scores["gold_entities"], scores["per_type"]) == (0.0, 0, {})
    assert metrics.entity_scores([["O"]], [["B-X"]])["precision"] == 0.0
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        metrics.entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 gold sentences but 2 predicted"):
        metrics.span_scores([[]], [[], []])


def test_realdata_cluener_span_f1_equals_entity_f1_and_seqeval():
    path = testlib.realdata_path("ner/cluener/dev.json")
    sentences = reading.read_cluener(str(path))[:400]
    kinds = sorted({schemes.parse_tag(t)[1] for s in sentences for t in s.tags if t != "O"})
    gold = [s.tags for s in sentences]
    predicted = perturb(gold, seed=6, types=kinds)
    entity = _assert_equals_seqeval(gold, predicted)
    spans = metrics.span_scores([metrics.char_spans(s, s.tags) for s in sentences],
                                [metrics.char_spans(s, p) for s, p in zip(sentences, predicted)])
    assert abs(spans["f1"] - entity["f1"]) < 1e-12 and len(entity["per_type"]) == 10
    for kind in kinds:
        assert abs(spans["per_type"][kind]["f1"] - entity["per_type"][kind]["f1"]) < 1e-12


def test_realdata_conll_entity_scores_equal_seqeval():
    path = testlib.realdata_path("ner/conll2003/dev.txt")
    gold = [s.tags for s in reading.read_conll(str(path))[:800]]
    _assert_equals_seqeval(gold, perturb(gold, seed=7, types=("PER", "LOC", "ORG", "MISC")))
