"""Model outputs per window → one answer per question: n-best, max context, null scores.

Two output kinds are decoded:
  * span logits (`start_logits`, `end_logits` [N, S]): the v1 head and the CLS-null v2 head. The
    best `n_best_size` starts and ends of every window are paired; a window's null score is
    `start[CLS] + end[CLS]` and a question's is the minimum over its windows.
  * beam outputs of the XLNet-style v2 head (`start_top_*` [N, k], `end_top_*` [N, k*k],
    `cls_logits` [N]): the pairs come from the model's start/end beam, scored by log-probability; a
    question's null score is the minimum answerability logit over its windows.
A start must be a context token of a window where it has maximal context, the end in the same
window's context, `end >= start` and at most `max_answer_length` tokens. The answer text is the
slice of the ORIGINAL context between the first token's start and the last token's end offset.
v2 predicts "" when `null_score - best_span_score > threshold` (cls-null) or
`null_score > threshold` (XLNet-style); `null_odds` holds that left-hand side.
"""

import dataclasses
import math
from typing import Dict, List, Sequence

import numpy as np

from albert_tf.squad.features import FeatureSet

NO_CANDIDATE_NULL_ODDS = 1e6  # a question whose windows offer no valid span: certainly "no answer"


@dataclasses.dataclass(frozen=True)
class DecodeSettings:
    version: str = "1.1"
    n_best_size: int = 20
    max_answer_length: int = 30
    null_threshold: float = 0.0


@dataclasses.dataclass
class Decoded:
    predictions: Dict[str, str]
    nbest: Dict[str, List[Dict]]
    null_odds: Dict[str, float]  # v2 only (empty for v1)


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest values, largest first (stable for ties: lower index first)."""
    k = min(k, values.shape[-1])
    order = np.argsort(-values, kind="stable")
    return order[:k]


def _valid(features: FeatureSet, i: int, start: int, end: int, max_answer_length: int) -> bool:
    doc_from = features.doc_offset(i)
    doc_to = doc_from + int(features.doc_length[i])
    return (doc_from <= start < doc_to and doc_from <= end < doc_to and end >= start
            and end - start + 1 <= max_answer_length and bool(features.max_context[i, start]))


def span_candidates(features: FeatureSet, i: int, start_logits, end_logits, settings: DecodeSettings):
    """(score, start, end, start_logit, end_logit) of the valid pairs among the window's top starts/ends."""
    length = int(features.length[i])
    starts = _top(start_logits[:length], settings.n_best_size)
    ends = _top(end_logits[:length], settings.n_best_size)
    out = []
    for s in starts:
        for e in ends:
            if _valid(features, i, int(s), int(e), settings.max_answer_length):
                out.append((float(start_logits[s] + end_logits[e]), int(s), int(e),
                            float(start_logits[s]), float(end_logits[e])))
    return out


def beam_candidates(features: FeatureSet, i: int, outputs: Dict[str, np.ndarray], settings: DecodeSettings):
    start_lp, start_idx = outputs["start_top_log_probs"][i], outputs["start_top_index"][i]
    end_lp, end_idx = outputs["end_top_log_probs"][i], outputs["end_top_index"][i]
    k_start = len(start_idx)
    k_end = len(end_idx) // k_start
    out = []
    for a in range(k_start):
        for b in range(k_end):
            s, e = int(start_idx[a]), int(end_idx[a * k_end + b])
            if _valid(features, i, s, e, settings.max_answer_length):
                out.append((float(start_lp[a] + end_lp[a * k_end + b]), s, e,
                            float(start_lp[a]), float(end_lp[a * k_end + b])))
    return out


def answer_text(example, features: FeatureSet, i: int, start: int, end: int):
    """(text, char_start, char_end) of input positions [start, end] of window i, from the original context."""
    offsets = features.context_offsets(int(features.example_index[i]))
    first = int(features.doc_start[i]) + start - features.doc_offset(i)
    last = int(features.doc_start[i]) + end - features.doc_offset(i)
    char_start, char_end = int(offsets[first][0]), int(offsets[last][1])
    return example.context[char_start:char_end], char_start, char_end


def _softmax(scores: Sequence[float]) -> List[float]:
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [x / total for x in exps]


def windows_by_example(features: FeatureSet, num_examples: int) -> List[np.ndarray]:
    order = np.argsort(features.example_index, kind="stable")
    bounds = np.searchsorted(features.example_index[order], np.arange(num_examples + 1))
    return [order[bounds[e]:bounds[e + 1]] for e in range(num_examples)]


def decode(examples: Sequence, features: FeatureSet, outputs: Dict[str, np.ndarray],
           settings: DecodeSettings) -> Decoded:
    """predictions.json / nbest_predictions.json / null_odds.json contents for every example."""
    beam = "start_top_index" in outputs
    v2 = settings.version == "2.0"
    predictions, nbest_all, null_odds = {}, {}, {}
    for e, windows in enumerate(windows_by_example(features, len(examples))):
        example = examples[e]
        candidates, null_score = [], math.inf
        for i in windows:
            if beam:
                candidates += [(c, i) for c in beam_candidates(features, i, outputs, settings)]
                null_score = min(null_score, float(outputs["cls_logits"][i]))
            else:
                start_logits, end_logits = outputs["start_logits"][i], outputs["end_logits"][i]
                candidates += [(c, i) for c in span_candidates(features, i, start_logits, end_logits, settings)]
                null_score = min(null_score, float(start_logits[0] + end_logits[0]))
        candidates.sort(key=lambda item: -item[0][0])
        entries, seen = [], set()
        for (score, start, end, start_logit, end_logit), i in candidates:
            if len(entries) >= settings.n_best_size:
                break
            text, char_start, char_end = answer_text(example, features, i, start, end)
            if text in seen:
                continue
            seen.add(text)
            entries.append({"text": text, "score": score, "start_logit": start_logit, "end_logit": end_logit,
                            "char_start": char_start, "char_end": char_end})
        best_text = entries[0]["text"] if entries else ""
        if v2:
            if beam:
                odds = null_score
            else:
                odds = null_score - entries[0]["score"] if entries else NO_CANDIDATE_NULL_ODDS
                if "" not in seen:
                    # The null answer competes in the n-best list with its own score.
                    entries.append({"text": "", "score": null_score, "start_logit": None, "end_logit": None,
                                    "char_start": None, "char_end": None})
                    entries.sort(key=lambda entry: -entry["score"])
                    entries = entries[:settings.n_best_size]
            null_odds[example.qas_id] = float(odds)
            predictions[example.qas_id] = "" if odds > settings.null_threshold else best_text
        else:
            predictions[example.qas_id] = best_text
        for entry, probability in zip(entries, _softmax([entry["score"] for entry in entries])):
            entry["probability"] = probability
        nbest_all[example.qas_id] = entries
    return Decoded(predictions, nbest_all, null_odds)


def null_fraction(predictions: Dict[str, str]) -> float:
    return sum(1 for text in predictions.values() if not text) / max(len(predictions), 1)


def repredict_with_threshold(decoded: Decoded, threshold: float) -> Dict[str, str]:
    """v2 predictions for another null threshold (the best non-null text is the first non-empty n-best entry)."""
    out = {}
    for qid, odds in decoded.null_odds.items():
        best = next((entry["text"] for entry in decoded.nbest[qid] if entry["text"]), "")
        out[qid] = "" if odds > threshold else best
    return out


def gold_logits(features: FeatureSet, high: float = 10.0, low: float = -10.0) -> Dict[str, np.ndarray]:
    """Span logits that select every window's gold label (the decoder's round-trip oracle)."""
    rows = np.arange(len(features))
    start = np.full(features.input_ids.shape, low, np.float32)
    end = np.full(features.input_ids.shape, low, np.float32)
    start[rows, features.start_position] = high
    end[rows, features.end_position] = high
    return {"start_logits": start, "end_logits": end}


def gold_beam_outputs(features: FeatureSet, k: int = 5, answerable_logit: float = -10.0,
                      null_logit: float = 10.0) -> Dict[str, np.ndarray]:
    """XLNet-style beam outputs that put each window's gold span first (round-trip oracle for that head).

    An unanswerable question gets a high answerability ("null") logit in every window; an answerable
    one gets a low logit in every window, so its null score (the minimum) is low.
    """
    n = len(features)
    start_index = np.zeros((n, k), np.int32)
    end_index = np.zeros((n, k * k), np.int32)
    start_index[:, 0] = features.start_position
    end_index[:, 0] = features.end_position
    start_lp = np.full((n, k), -20.0, np.float32)
    end_lp = np.full((n, k * k), -20.0, np.float32)
    start_lp[:, 0] = end_lp[:, 0] = 0.0
    answerable = np.zeros(int(features.example_index.max()) + 1 if n else 0, bool)
    np.logical_or.at(answerable, features.example_index, features.is_impossible == 0)
    cls = np.where(answerable[features.example_index], answerable_logit, null_logit).astype(np.float32)
    return {"start_top_log_probs": start_lp, "start_top_index": start_index, "end_top_log_probs": end_lp,
            "end_top_index": end_index, "cls_logits": cls}
