"""The token-classification loss: cross-entropy over the positions that carry a tag.

Only the first piece of each word carries a tag; continuation pieces, [CLS]/[SEP] and padding
hold IGNORE_LABEL and count neither in the sum nor in the mean. This is the definition of
Hugging Face's `AlbertForTokenClassification(labels=...)` (`CrossEntropyLoss(ignore_index=-100)`,
mean over the counted positions), so per-step losses compare across the two.
"""

import keras
from keras import ops

# The value `albert_tf.ner.features.IGNORE` writes; Hugging Face's `ignore_index` default too.
IGNORE_LABEL = -100


def masked_token_cross_entropy(labels, logits):
    """Mean sparse cross-entropy of `logits` [B, T, C] over the positions where `labels` [B, T] is a tag.

    A batch without any tagged position gives 0 (not NaN), so an all-padding batch is harmless.
    """
    labels = ops.cast(labels, "int32")
    counted = ops.not_equal(labels, IGNORE_LABEL)
    safe_labels = ops.where(counted, labels, ops.zeros_like(labels))
    per_position = keras.losses.sparse_categorical_crossentropy(safe_labels, ops.cast(logits, "float32"),
                                                                from_logits=True)
    weights = ops.cast(counted, "float32")
    return ops.sum(per_position * weights) / ops.maximum(ops.sum(weights), 1.0)
