"""Shared helpers for the pretraining-data tests: a synthetic corpus and record decoding."""

import random
from pathlib import Path

import numpy as np

import tokenization_testlib as testlib


def write_corpus(path, num_documents=60, seed=0, max_lines=8):
    """Documents of 1..max_lines synthetic sentences separated by blank lines."""
    rng = random.Random(seed)
    lines = testlib.corpus_lines(n=num_documents * max_lines, seed=seed)
    out, cursor = [], 0
    for _ in range(num_documents):
        size = rng.randint(1, max_lines)
        out.extend(lines[cursor:cursor + size])
        out.append("")
        cursor += size
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")
    return Path(path)


def read_records(paths):
    """All records of TFRecord files as dicts of numpy arrays (parsed by TensorFlow itself)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    records = []
    for raw in tf.data.TFRecordDataset([str(p) for p in paths]):
        example = tf.train.Example.FromString(raw.numpy())
        records.append({name: np.array(feature.int64_list.value or feature.float_list.value)
                        for name, feature in example.features.feature.items()})
    return records


def special_positions(record):
    """[CLS], the [SEP] closing segment A, and the final [SEP] (found from the structure)."""
    length = int(record["input_mask"].sum())
    first_sep = int(np.flatnonzero(record["segment_ids"][:length] == 0)[-1])
    return {0, first_sep, length - 1}


def word_units(record):
    """Units (lists of positions) by the whole-word rule, from token_boundary."""
    special = special_positions(record)
    units = []
    for position in range(int(record["input_mask"].sum())):
        if position in special:
            continue
        if record["token_boundary"][position] == 1 or not units:
            units.append([position])
        else:
            units[-1].append(position)
    return units
