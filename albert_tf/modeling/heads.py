"""Pretraining heads: masked-LM (tied to the word embeddings) and sentence-order prediction."""

import keras
from keras import ops

from albert_tf.modeling.activations import get_activation
from albert_tf.modeling.initializers import truncated_normal


def gather_positions(sequence_output, positions):
    """[B, S, H] rows at `positions` [B, P] → [B, P, H].

    Whole rows of the flattened [B·S, H] output are taken, so the gather (and, in the
    backward pass, its scatter) moves B·P rows rather than B·P·H separately indexed scalars,
    as `take_along_axis` with broadcast indices does. The values are the same.
    """
    shape = ops.shape(sequence_output)
    batch, length, width = shape[0], shape[1], shape[2]
    positions = ops.cast(positions, "int32")
    flat_positions = positions + ops.expand_dims(ops.arange(batch, dtype="int32") * length, 1)
    rows = ops.take(ops.reshape(sequence_output, (-1, width)), ops.reshape(flat_positions, (-1,)), axis=0)
    return ops.reshape(rows, (batch, ops.shape(positions)[1], width))


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertMaskedLMHead(keras.layers.Layer):
    """Masked-LM logits, computed only at the masked positions.

    gather(sequence_output, positions) → dense with `hidden_act` → LayerNorm → tied
    embedding transpose → + output bias. Gathering first keeps the V-wide matmul at
    [B, P, V] rather than [B, S, V], which is most of the pretraining FLOPs saved.

    The embedding layer is passed in (not serialized): the model that owns both re-ties
    them when it is rebuilt from its config.

    Args:
        embedding: the encoder's `AlbertEmbedding`.
        hidden_act: activation name of the transform.
        initializer_range: stddev of the truncated-normal initializer.
    """

    def __init__(self, embedding, hidden_act="gelu", initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.activation = get_activation(hidden_act)
        self.transform = keras.layers.Dense(embedding.head_input_width,
                                            kernel_initializer=truncated_normal(initializer_range), name="dense")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, name="LayerNorm")

    def build(self, sequence_output_shape, masked_lm_positions_shape=None):
        self.transform.build(sequence_output_shape)
        self.layer_norm.build((None, None, self.embedding.head_input_width))
        self.output_bias = self.add_weight(name="output_bias", shape=(self.embedding.vocab_size,),
                                           initializer="zeros")
        self.built = True

    def call(self, sequence_output, masked_lm_positions):
        x = gather_positions(sequence_output, masked_lm_positions)
        x = self.layer_norm(self.activation(self.transform(x)))
        logits = self.embedding.logits_from_hidden(x)
        # Logits and the loss stay float32 under mixed precision.
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, sequence_output_shape, masked_lm_positions_shape):
        return tuple(masked_lm_positions_shape) + (self.embedding.vocab_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_act=self.hidden_act, initializer_range=self.initializer_range)
        return config


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassificationHead(keras.layers.Layer):
    """Dropout → dense on the pooled output; float32 logits.

    Used for sentence-order prediction (2 classes, no dropout) and fine-tuning classifiers.

    Args:
        num_classes: outputs.
        dropout_rate: dropout before the dense layer.
        initializer_range: stddev of the truncated-normal initializer.
    """

    def __init__(self, num_classes, dropout_rate=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.dense = keras.layers.Dense(num_classes, kernel_initializer=truncated_normal(initializer_range),
                                        dtype="float32", name="output")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, pooled_output, training=False):
        return self.dense(self.dropout(pooled_output, training=training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, dropout_rate=self.dropout_rate,
                      initializer_range=self.initializer_range)
        return config
