"""tf.data pipelines over the cached records: (inputs, target, weight) triples for Keras.

Training batches are grouped into length buckets and padded to the bucket's length (few distinct
shapes, little padding) unless `static_shapes`, which pads every row to `max_seq_length` (TPU).
Evaluation keeps the file order and pads the last batch up to the full batch size with weight-0
rows, so every example is predicted exactly once and batch shapes stay static. Its batches are cut to
their longest row, or, for a model compiled with XLA (which compiles once per distinct shape), padded
up to the training bucket lengths, so evaluation compiles at most once per bucket too.
"""

from typing import Dict, List, Optional

import tensorflow as tf

from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS

# Multiples of 8 (tensor-core and vector friendly), dense where sentence tasks live: on SST-2
# (mean 14 tokens) these pad to 1.27x the real tokens, against 2.4x with (32, 64, 128). Each length
# is one more shape to trace (and, with XLA, to compile) once.
BUCKET_LENGTHS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def bucket_lengths(max_seq_length: int) -> List[int]:
    return sorted({length for length in BUCKET_LENGTHS if length < max_seq_length} | {max_seq_length})


def _parser(meta: Dict, max_seq_length: int):
    if meta["multiple_choice"]:
        width = meta["num_choices"] * max_seq_length
        ids = tf.io.FixedLenFeature([width], tf.int64)
    else:
        ids = tf.io.RaggedFeature(tf.int64)
    spec = {INPUT_WORD_IDS: ids, INPUT_TYPE_IDS: ids,
            "label": tf.io.FixedLenFeature([], tf.float32 if meta["regression"] else tf.int64),
            "weight": tf.io.FixedLenFeature([], tf.float32)}

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        word_ids = tf.cast(parsed[INPUT_WORD_IDS], tf.int32)
        inputs = {INPUT_WORD_IDS: word_ids,
                  # Padding ids are never real tokens: the mask is 1 wherever a token was stored.
                  INPUT_MASK: tf.cast(tf.not_equal(word_ids, 0), tf.int32) if meta["multiple_choice"]
                  else tf.ones_like(word_ids),
                  INPUT_TYPE_IDS: tf.cast(parsed[INPUT_TYPE_IDS], tf.int32)}
        label = parsed["label"] if meta["regression"] else tf.cast(parsed["label"], tf.int32)
        return inputs, label, parsed["weight"]
    return parse


def _padded_shapes(meta: Dict, length: Optional[int]):
    if meta["multiple_choice"]:
        length = meta["num_choices"] * (length or 0) or None
    shape = tf.TensorShape([length])
    return ({INPUT_WORD_IDS: shape, INPUT_MASK: shape, INPUT_TYPE_IDS: shape}, tf.TensorShape([]),
            tf.TensorShape([]))


DISTINCT_PASSES = 64


def shuffled_epochs(dataset: tf.data.Dataset, buffer_size: int, seed: int,
                    distinct_passes: int = DISTINCT_PASSES) -> tf.data.Dataset:
    """`dataset` repeated without end, each pass shuffled with a seed made of `seed` and the pass number.

    Every iterator yields the same stream (the order depends on no random-generator state, and Keras
    opens an iterator to peek before training), so a resumed run finds its place by skipping the batches
    it trained on. Each pass is shuffled on its own: shuffling the repeated stream instead would show
    some examples twice before others once. The pass seeds are Python integers, built for the first
    `distinct_passes` passes (the orders then recur): TensorFlow cannot combine a seed tensor with a
    global seed of 0 (`--seed=0`).
    """
    passes = [dataset.shuffle(buffer_size, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False)
              for epoch in range(distinct_passes)]
    while len(passes) > 1:  # concatenated pairwise: the nesting stays log2(passes) deep
        passes = [passes[i].concatenate(passes[i + 1]) if i + 1 < len(passes) else passes[i]
                  for i in range(0, len(passes), 2)]
    return passes[0].repeat()


def train_dataset(meta: Dict, batch_size: int, max_seq_length: int, seed: int, static_shapes: bool = False,
                  shuffle_buffer: int = 20000) -> tf.data.Dataset:
    """Endless shuffled batches of `batch_size` (the global batch; Keras splits it across replicas),
    the same from every iterator (`shuffled_epochs`)."""
    dataset = shuffled_epochs(tf.data.TFRecordDataset(meta["records"]), min(shuffle_buffer, meta["count"]), seed)
    dataset = dataset.map(_parser(meta, max_seq_length), num_parallel_calls=tf.data.AUTOTUNE)
    if static_shapes or meta["multiple_choice"]:
        dataset = dataset.padded_batch(batch_size, _padded_shapes(meta, max_seq_length), drop_remainder=True)
    else:
        lengths = bucket_lengths(max_seq_length)
        dataset = dataset.bucket_by_sequence_length(
            lambda inputs, label, weight: tf.shape(inputs[INPUT_WORD_IDS])[0],
            bucket_boundaries=[length + 1 for length in lengths],
            bucket_batch_sizes=[batch_size] * (len(lengths) + 1), padded_shapes=_padded_shapes(meta, None),
            pad_to_bucket_boundary=True, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _pad_batch(batch_size: int):
    def pad(inputs, label, weight):
        missing = batch_size - tf.shape(label)[0]

        def rows(tensor):
            paddings = [[0, missing]] + [[0, 0]] * (len(tensor.shape) - 1)
            return tf.pad(tensor, paddings)
        return {k: rows(v) for k, v in inputs.items()}, rows(label), rows(weight)
    return pad


def _pad_to_bucket(max_seq_length: int):
    """Pads a batch's sequence dimension up to the smallest bucket length that holds its longest row."""
    lengths = tf.constant(bucket_lengths(max_seq_length))

    def pad(inputs, label, weight):
        width = tf.shape(inputs[INPUT_WORD_IDS])[1]
        missing = tf.reduce_min(tf.boolean_mask(lengths, lengths >= width)) - width
        return {k: tf.pad(v, [[0, 0], [0, missing]]) for k, v in inputs.items()}, label, weight
    return pad


def eval_dataset(meta: Dict, batch_size: int, max_seq_length: int, static_shapes: bool = False,
                 bucket_widths: bool = False) -> tf.data.Dataset:
    """Every example once, in file order; the last batch is topped up with weight-0 rows.

    Each batch is cut to its longest row; `bucket_widths` pads it further, up to a training bucket length
    (for XLA, which compiles a program per distinct width: at most one per bucket instead of one per
    longest-row length)."""
    dataset = tf.data.TFRecordDataset(meta["records"]).map(_parser(meta, max_seq_length),
                                                           num_parallel_calls=tf.data.AUTOTUNE)
    length = max_seq_length if static_shapes or meta["multiple_choice"] else None
    dataset = dataset.padded_batch(batch_size, _padded_shapes(meta, length))
    dataset = dataset.map(_pad_batch(batch_size))
    if bucket_widths and length is None:
        dataset = dataset.map(_pad_to_bucket(max_seq_length))
    if length is not None:
        # Static batch dimension too (TPU): every batch is full after padding.
        shapes = _padded_shapes(meta, length)
        dataset = dataset.map(lambda x, y, w: (
            {k: tf.ensure_shape(v, [batch_size] + shapes[0][k].as_list()) for k, v in x.items()},
            tf.ensure_shape(y, [batch_size]), tf.ensure_shape(w, [batch_size])))
    return dataset.prefetch(tf.data.AUTOTUNE)


def num_eval_batches(meta: Dict, batch_size: int) -> int:
    return -(-meta["count"] // batch_size)
