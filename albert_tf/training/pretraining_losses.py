"""MLM + SOP losses and counts, normalized over the *global* batch.

Each replica divides its sums by global denominators (all-reduced), so summing the replicas'
gradients gives exactly the gradient of the global-batch loss: the loss does not depend on how
the batch is split across devices or accumulation steps. Everything here is float32, whatever
the compute dtype of the model.
"""

import tensorflow as tf

from albert_tf.model_inputs import MASKED_LM_IDS, MASKED_LM_WEIGHTS, SENTENCE_ORDER_LABEL


def mlm_sums(labels, logits, weights):
    """(weighted cross-entropy sum, weight sum, weighted correct count) for masked positions."""
    logits = tf.cast(logits, tf.float32)
    weights = tf.cast(weights, tf.float32)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=labels.dtype), labels), tf.float32)
    return (tf.reduce_sum(cross_entropy * weights), tf.reduce_sum(weights), tf.reduce_sum(correct * weights))


def sop_sums(labels, logits):
    """(cross-entropy sum, example count, correct count) of the sentence-order head."""
    logits = tf.cast(logits, tf.float32)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=labels.dtype), labels), tf.float32)
    return tf.reduce_sum(cross_entropy), tf.cast(tf.size(labels), tf.float32), tf.reduce_sum(correct)


def pretraining_sums(batch, outputs):
    """All sums of one (micro)batch as a dict of float32 scalars."""
    mlm_loss, mlm_weight, mlm_correct = mlm_sums(batch[MASKED_LM_IDS], outputs["mlm_logits"],
                                                 batch[MASKED_LM_WEIGHTS])
    sop_loss, sop_count, sop_correct = sop_sums(batch[SENTENCE_ORDER_LABEL], outputs["sop_logits"])
    return {"mlm_loss": mlm_loss, "mlm_weight": mlm_weight, "mlm_correct": mlm_correct,
            "sop_loss": sop_loss, "sop_count": sop_count, "sop_correct": sop_correct}


def total_loss(sums, global_mlm_weight, global_sop_count):
    """Global-batch loss contribution: MLM mean over masked positions + SOP mean over examples."""
    return (sums["mlm_loss"] / tf.maximum(global_mlm_weight, 1e-5)
            + sums["sop_loss"] / tf.maximum(global_sop_count, 1.0))


def summarize(sums):
    """Host-side means from summed counters (python floats)."""
    mlm_weight = max(float(sums["mlm_weight"]), 1e-5)
    sop_count = max(float(sums["sop_count"]), 1.0)
    return {
        "mlm_loss": float(sums["mlm_loss"]) / mlm_weight,
        "mlm_accuracy": float(sums["mlm_correct"]) / mlm_weight,
        "sop_loss": float(sums["sop_loss"]) / sop_count,
        "sop_accuracy": float(sums["sop_correct"]) / sop_count,
        "loss": float(sums["mlm_loss"]) / mlm_weight + float(sums["sop_loss"]) / sop_count,
    }
