"""The decoder's oracle check: logits that select each window's gold span must give back the answers.

Used by `tools/squad_roundtrip.py` (full dev set) and the tests (a sample): whatever EM/F1 is lost
here is lost by tokenization boundaries, windowing or `max_answer_length`, never by the model.
"""

import dataclasses
import random
from typing import Dict, List, Sequence

from albert_tf.squad import decoding, evaluation


def make_unanswerable(examples: Sequence, fraction: float, seed: int = 0) -> List:
    """A v2-format variant: `fraction` of the questions lose their answers and become unanswerable."""
    rng = random.Random(seed)
    return [dataclasses.replace(e, answers=(), is_impossible=True) if rng.random() < fraction else e
            for e in examples]


def round_trip(examples: Sequence, features, version: str, head: str = "span", max_answer_length: int = 30) -> Dict:
    """Official metrics of the gold-logit predictions; v2 adds how many nulls are right."""
    outputs = decoding.gold_logits(features) if head == "span" else decoding.gold_beam_outputs(features)
    settings = decoding.DecodeSettings(version=version, max_answer_length=max_answer_length)
    decoded = decoding.decode(examples, features, outputs, settings)
    gold = evaluation.gold_answers_from_examples(examples)
    if version == "1.1":
        return evaluation.evaluate_v1(gold, decoded.predictions)
    result = evaluation.evaluate_v2(gold, decoded.predictions, decoded.null_odds, na_prob_thresh=float("inf"))
    result["nulls_right"] = sum((decoded.predictions[e.qas_id] == "") == e.is_impossible for e in examples)
    result["questions"] = len(examples)
    return result


def first_token_predictions(examples: Sequence, features) -> Dict[str, str]:
    """The trivial baseline: every question answered with the first token of its context."""
    out = {}
    for e, example in enumerate(examples):
        offsets = features.context_offsets(e)
        out[example.qas_id] = example.context[offsets[0][0]:offsets[0][1]] if len(offsets) else ""
    return out
