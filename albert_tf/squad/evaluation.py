"""The official SQuAD v1.1 and v2.0 evaluation definitions, re-implemented.

Same normalization (lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse
whitespace), exact match, bag-of-tokens F1, maximum over the gold answers; v2.0 adds the
empty-string "no answer", the HasAns/NoAns splits and the best-threshold search over the
no-answer probabilities. Numbers are identical to `evaluate-v1.1.py` / `evaluate-v2.0.py` run on
the same files.
"""

import collections
import re
import string
from typing import Callable, Dict, List, Mapping, Optional, Sequence

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str) -> List[str]:
    return normalize_answer(text).split() if text else []


def exact_match(prediction: str, gold: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_v1(prediction: str, gold: str) -> float:
    """v1.1 token F1: no special case for empty strings (two empties score 0)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1_v2(prediction: str, gold: str) -> float:
    """v2.0 token F1: an empty side scores 1 only when both are empty (the no-answer case)."""
    pred, ref = answer_tokens(prediction), answer_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def gold_answers_from_dataset(articles: Sequence[Mapping]) -> Dict[str, List[str]]:
    """{question id: [gold answer texts]} in file order, from a SQuAD json's `data` list."""
    gold = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                gold[str(qa["id"])] = [a["text"] for a in qa["answers"]]
    return gold


def gold_answers_from_examples(examples) -> Dict[str, List[str]]:
    return {e.qas_id: e.answer_texts for e in examples}


def average_over_questions(gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str],
                           exact_match_fn: Callable[[str, str], float], f1_fn: Callable[[str, str], float]) -> Dict:
    """{"exact_match", "f1"} in percent: the best gold answer per question, averaged over every question of
    `gold`; a question without a prediction scores 0 (counted as missing). SQuAD and CMRC2018 share this rule."""
    em = f1 = 0.0
    missing = 0
    for qid, answers in gold.items():
        if qid not in predictions:
            missing += 1
            continue
        prediction = predictions[qid]
        em += max(exact_match_fn(prediction, a) for a in answers)
        f1 += max(f1_fn(prediction, a) for a in answers)
    total = len(gold)
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total, "total": total, "missing": missing}


def evaluate_v1(gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> Dict:
    """{"exact_match", "f1"} in percent; a question without a prediction scores 0 (counted)."""
    return average_over_questions(gold, predictions, exact_match, f1_v1)


def _v2_raw_scores(gold, predictions):
    exact, f1 = {}, {}
    for qid, answers in gold.items():
        answers = [a for a in answers if normalize_answer(a)] or [""]
        prediction = predictions[qid]
        exact[qid] = max(exact_match(prediction, a) for a in answers)
        f1[qid] = max(f1_v2(prediction, a) for a in answers)
    return exact, f1


def _apply_no_answer_threshold(scores, na_probs, has_answer, threshold):
    return {qid: float(not has_answer[qid]) if na_probs[qid] > threshold else score
            for qid, score in scores.items()}


def _totals(exact, f1, qids=None):
    qids = list(exact) if qids is None else qids
    total = len(qids)
    return {"exact": 100.0 * sum(exact[q] for q in qids) / total, "f1": 100.0 * sum(f1[q] for q in qids) / total,
            "total": total}


def best_threshold(predictions, scores, na_probs, has_answer):
    """(best score in percent, threshold): sweep questions by rising no-answer probability.

    Below the threshold a question keeps its answer; the score starts with every question
    answered "" (so all no-answer questions right) and each step adds the answered score of a
    has-answer question, or loses the point of a no-answer question that got a non-empty text.
    """
    score = best = sum(1 for qid in has_answer if not has_answer[qid])
    threshold = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            score += scores[qid]
        elif predictions[qid]:
            score -= 1
        if score > best:
            best, threshold = score, na_probs[qid]
    return 100.0 * best / len(scores), threshold


def evaluate_v2(gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str],
                na_probs: Optional[Mapping[str, float]] = None, na_prob_thresh: float = 1.0) -> Dict:
    """The official v2.0 dict: exact, f1, total, HasAns_*, NoAns_*, and best_* when `na_probs` is given.

    As in the official script, a question whose `na_probs` exceeds `na_prob_thresh` (1.0 by default)
    counts as answered "" in exact/f1; pass `float("inf")` to score the prediction texts as written.
    """
    missing = [qid for qid in gold if qid not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} question(s) have no prediction (e.g. {missing[:3]}); the official v2.0 "
                         "script cannot score such a file")
    has_answer = {qid: bool(answers) for qid, answers in gold.items()}
    exact_raw, f1_raw = _v2_raw_scores(gold, predictions)
    probs = dict(na_probs) if na_probs is not None else {qid: 0.0 for qid in predictions}
    exact = _apply_no_answer_threshold(exact_raw, probs, has_answer, na_prob_thresh)
    f1 = _apply_no_answer_threshold(f1_raw, probs, has_answer, na_prob_thresh)
    out = _totals(exact, f1)
    for name, keep in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid, has in has_answer.items() if has == keep]
        if qids:
            out.update({f"{name}_{key}": value for key, value in _totals(exact, f1, qids).items()})
    if na_probs is not None:
        out["best_exact"], out["best_exact_thresh"] = best_threshold(predictions, exact_raw, probs, has_answer)
        out["best_f1"], out["best_f1_thresh"] = best_threshold(predictions, f1_raw, probs, has_answer)
    return out
