"""NER scores: entity-level precision/recall/F1 as seqeval computes them, and CLUENER's span F1.

`entity_scores` hands the tag sequences to `seqeval` (strict mode, IOB2: an entity is `B-X I-X*`,
exact boundaries and type), so the figures are seqeval's by construction. `span_scores` is the
CLUENER definition: per sentence, the set of (type, start, end) spans predicted against the gold
set. On IOB2 tags over the same words the two agree exactly (`tests/test_ner_metrics.py`).
"""

from typing import Dict, Iterable, List, Sequence, Tuple

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, Entities

from albert_tf.ner import schemes

Span = Tuple[str, int, int]


def _prf(correct: int, predicted: int, gold: int) -> Dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _check_lengths(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]):
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")


def entity_scores(gold: List[List[str]], predicted: List[List[str]]) -> Dict:
    """Micro and per-type precision/recall/F1 by seqeval (mode="strict", scheme=IOB2).

    Returns `{"precision", "recall", "f1", "gold_entities", "predicted_entities", "correct",
    "per_type": {type: {"precision", "recall", "f1", "gold_entities", "predicted_entities", "correct"}}}`.
    """
    _check_lengths(gold, predicted)
    gold = [list(g) for g in gold]
    predicted = [list(p) for p in predicted]
    gold_entities = {e.to_tuple() for e in _flat(Entities(gold, IOB2).entities)}
    predicted_entities = {e.to_tuple() for e in _flat(Entities(predicted, IOB2).entities)}
    result = _counts(gold_entities, predicted_entities)
    if gold_entities or predicted_entities:
        report = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True,
                                       zero_division=0)
        micro = report["micro avg"]
        result.update(precision=float(micro["precision"]), recall=float(micro["recall"]),
                      f1=float(micro["f1-score"]))
        for kind, scores in result["per_type"].items():
            row = report.get(kind)
            if row is not None:
                scores.update(precision=float(row["precision"]), recall=float(row["recall"]),
                              f1=float(row["f1-score"]))
    return result


def _flat(nested):
    return [item for row in nested for item in row]


def _counts(gold: set, predicted: set) -> Dict:
    """Counts and P/R/F1 of two sets of (sentence, type, start, end), overall and per type."""
    correct = gold & predicted
    result = {"gold_entities": len(gold), "predicted_entities": len(predicted), "correct": len(correct),
              **_prf(len(correct), len(predicted), len(gold)), "per_type": {}}
    for kind in sorted({e[1] for e in gold | predicted}):
        g = sum(e[1] == kind for e in gold)
        p = sum(e[1] == kind for e in predicted)
        c = sum(e[1] == kind for e in correct)
        result["per_type"][kind] = {"gold_entities": g, "predicted_entities": p, "correct": c, **_prf(c, p, g)}
    return result


def span_scores(gold_spans: Sequence[Iterable[Span]], predicted_spans: Sequence[Iterable[Span]]) -> Dict:
    """CLUENER span precision/recall/F1, overall (micro) and per type.

    Args:
        gold_spans, predicted_spans: per sentence, the (type, start, end) spans (any consistent
            convention for the ends).
    Returns the same layout as `entity_scores`.
    """
    if len(gold_spans) != len(predicted_spans):
        raise ValueError(f"{len(gold_spans)} gold sentences but {len(predicted_spans)} predicted")
    gold = {(i, kind, start, end) for i, spans in enumerate(gold_spans) for kind, start, end in spans}
    predicted = {(i, kind, start, end) for i, spans in enumerate(predicted_spans) for kind, start, end in spans}
    return _counts(gold, predicted)


def char_spans(sentence, tags: Sequence[str]) -> List[Span]:
    """(type, first character, last character) of the entities of IOB2 `tags`, CLUENER's inclusive ends."""
    spans = []
    for kind, first, end in schemes.entities(tags):
        start = sentence.word_starts[first]
        last_start, last_end = sentence.word_span(end - 1)
        spans.append((kind, start, max(last_end, last_start + 1) - 1))
    return spans
