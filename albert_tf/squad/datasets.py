"""tf.data over a `FeatureSet`: model inputs (+ labels for training), batches trimmed to their longest row.

Windows are stored padded to `max_seq_length`; unless `static_shapes` (TPU), each batch is cut to
its longest real row rounded up to a multiple of `TRIM_MULTIPLE`, which saves most of the compute
on short SQuAD paragraphs and keeps the number of distinct shapes small.
"""

from typing import Dict

import numpy as np
import tensorflow as tf

from albert_tf.finetuning.datasets import shuffled_epochs
from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS, P_MASK, START_POSITIONS
from albert_tf.squad.features import FeatureSet

TRIM_MULTIPLE = 32


def model_inputs(features: FeatureSet) -> Dict[str, np.ndarray]:
    return {INPUT_WORD_IDS: features.input_ids, INPUT_MASK: features.input_mask(),
            INPUT_TYPE_IDS: features.segment_ids(), P_MASK: features.p_mask()}


def _trim(max_seq_length: int):
    def trim(x, *rest):
        longest = tf.reduce_max(tf.reduce_sum(x[INPUT_MASK], axis=1))
        width = tf.minimum((longest + TRIM_MULTIPLE - 1) // TRIM_MULTIPLE * TRIM_MULTIPLE, max_seq_length)
        x = {name: (value[:, :width] if value.shape.rank == 2 else value) for name, value in x.items()}
        return (x, *rest) if rest else x
    return trim


def train_dataset(features: FeatureSet, batch_size: int, seed: int, head: str, static_shapes: bool = False):
    """Endless shuffled (inputs, labels) batches; the XLNet-style head also gets the gold start as input.

    Each pass over the windows in its own seeded order, the same from every iterator (`shuffled_epochs`).
    """
    x = model_inputs(features)
    y = {"start_logits": features.start_position, "end_logits": features.end_position}
    if head == "xlnet":
        x[START_POSITIONS] = features.start_position
        y["cls_logits"] = features.is_impossible.astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    dataset = shuffled_epochs(dataset, len(features), seed)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if not static_shapes:
        dataset = dataset.map(_trim(features.max_seq_length))
    return dataset.prefetch(tf.data.AUTOTUNE)


def predict_dataset(features: FeatureSet, batch_size: int, static_shapes: bool = False):
    """(dataset, number of real rows): every window once, in order; the last batch is filled with copies
    of the first window (dropped from the outputs) so that every batch has the same size."""
    x = model_inputs(features)
    count = len(features)
    missing = -count % batch_size
    if missing:
        x = {name: np.concatenate([value, np.repeat(value[:1], missing, axis=0)]) for name, value in x.items()}
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch_size, drop_remainder=True)
    if not static_shapes:
        dataset = dataset.map(_trim(features.max_seq_length))
    return dataset.prefetch(tf.data.AUTOTUNE), count


def predict_outputs(model, features: FeatureSet, batch_size: int, static_shapes: bool = False) -> Dict[str, np.ndarray]:
    """Model outputs for every window, as numpy arrays padded back to `max_seq_length` where per-token."""
    dataset, count = predict_dataset(features, batch_size, static_shapes)
    # One traced function for all batch widths (few of them: multiples of TRIM_MULTIPLE).
    step = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    chunks = {}
    for batch in dataset:
        out = step(batch)
        for name, value in out.items():
            value = np.asarray(value)
            if name in ("start_logits", "end_logits") and value.shape[1] < features.max_seq_length:
                pad = features.max_seq_length - value.shape[1]
                value = np.pad(value, ((0, 0), (0, pad)), constant_values=-1e30)
            chunks.setdefault(name, []).append(value)
    return {name: np.concatenate(values)[:count] for name, values in chunks.items()}
