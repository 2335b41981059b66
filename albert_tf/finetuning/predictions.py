"""Submission files: GLUE `<TASK>.tsv` (index, prediction), CLUE json lines, multiple-choice tsv."""

import json
import os
from typing import List

from albert_tf.finetuning.tasks import CHOICE_TSV, CLUE_JSON
from albert_tf.training.artifacts import atomic_write_text


def submission_path(directory: str, submission: str, fmt: str) -> str:
    if fmt == CLUE_JSON:
        return os.path.join(directory, f"{submission}_predict.json")
    return os.path.join(directory, f"{submission}.tsv")


def write_predictions(path: str, fmt: str, guids: List[str], predictions: List[str]):
    """One line per example, in file order; refuses a count mismatch rather than writing a short file."""
    if len(guids) != len(predictions):
        raise ValueError(f"{path}: {len(predictions)} predictions for {len(guids)} examples")
    if fmt == CLUE_JSON:
        lines = [json.dumps({"id": int(g) if g.isdigit() else g, "label": p}, ensure_ascii=False)
                 for g, p in zip(guids, predictions)]
    else:
        header = "id\tanswer" if fmt == CHOICE_TSV else "index\tprediction"
        lines = [header] + [f"{g}\t{p}" for g, p in zip(guids, predictions)]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
