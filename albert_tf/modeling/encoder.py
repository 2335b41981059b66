"""AlbertEncoder: embeddings, cross-layer shared transformer, pooler."""

import keras
from keras import ops

from albert_tf.config import AlbertConfig
from albert_tf.model_inputs import INPUT_MASK, INPUT_NAMES, INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.modeling.embedding import AlbertEmbedding
from albert_tf.modeling.initializers import truncated_normal
from albert_tf.modeling.transformer import AlbertTransformerBlock, attention_bias_from_mask


def encoder_inputs(sequence_length=None):
    """int32 Keras inputs named as TF Hub text encoders name them."""
    return {name: keras.Input(shape=(sequence_length,), dtype="int32", name=name) for name in INPUT_NAMES}


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEncoder(keras.Model):
    """The ALBERT backbone.

    Cross-layer parameter sharing is explicit: `self.groups[g][k]` is the one weight set of
    `inner_group_k` in group g, and layer l runs the K blocks of group `int(l * G / L)`.
    With the default G = K = 1 a single block is applied L times.

    Inputs (dict, int32 [batch, seq]): `input_word_ids`, `input_mask` (1 = real token),
    `input_type_ids`. Outputs (dict): `sequence_output` [B, S, H], `pooled_output` [B, H]
    (dense+tanh on the first token), `encoder_outputs` (list of the L layer outputs).

    Args:
        config: an `AlbertConfig` or its dict.
        sequence_length: optional static sequence length (TPU-friendly); None for dynamic.

    Example:
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.modeling.encoder import AlbertEncoder
    >>> config = AlbertConfig(vocab_size=100, embedding_size=8, hidden_size=16, num_hidden_layers=2,
    ...                       num_attention_heads=2, intermediate_size=32)
    >>> encoder = AlbertEncoder(config)
    >>> import numpy as np
    >>> ids = np.array([[2, 5, 3]], "int32")
    >>> out = encoder({"input_word_ids": ids, "input_mask": np.ones_like(ids), "input_type_ids": np.zeros_like(ids)})
    >>> tuple(out["sequence_output"].shape)
    (1, 3, 16)
    """

    def __init__(self, config, sequence_length=None, **kwargs):
        if isinstance(config, dict):
            config = AlbertConfig.from_dict(config)
        config.validate()
        if sequence_length is not None and sequence_length > config.max_position_embeddings:
            raise ValueError(f"sequence_length {sequence_length} exceeds config field 'max_position_embeddings' "
                             f"({config.max_position_embeddings})")
        kwargs.setdefault("name", "albert_encoder")

        # === Layers ===
        embeddings = AlbertEmbedding(
            vocab_size=config.vocab_size, embedding_size=config.embedding_size, hidden_size=config.hidden_size,
            max_position_embeddings=config.max_position_embeddings, type_vocab_size=config.type_vocab_size,
            initializer_range=config.initializer_range, dropout_rate=config.hidden_dropout_prob,
            embedding_layout=config.embedding_layout, name="embeddings")
        groups = [
            [AlbertTransformerBlock(
                hidden_size=config.hidden_size, num_attention_heads=config.num_attention_heads,
                intermediate_size=config.intermediate_size, hidden_act=config.hidden_act,
                hidden_dropout_prob=config.hidden_dropout_prob,
                attention_probs_dropout_prob=config.attention_probs_dropout_prob,
                initializer_range=config.initializer_range, ln_type=config.ln_type,
                name=f"group_{g}_inner_group_{k}")
             for k in range(config.inner_group_num)]
            for g in range(config.num_hidden_groups)]
        pooler = keras.layers.Dense(config.hidden_size, activation="tanh",
                                    kernel_initializer=truncated_normal(config.initializer_range), name="pooler")

        # === Functional Model ===
        inputs = encoder_inputs(sequence_length)
        x = embeddings(inputs[INPUT_WORD_IDS], inputs[INPUT_TYPE_IDS])
        attention_bias = attention_bias_from_mask(inputs[INPUT_MASK])
        layer_outputs = []
        for layer_index in range(config.num_hidden_layers):
            for block in groups[config.group_of_layer(layer_index)]:
                x = block(x, attention_bias)
            layer_outputs.append(x)
        for group in groups:
            for block in group:
                if not block.built:
                    # With G > L some groups are never applied; released checkpoints still hold
                    # their weights, so they exist here too and round-trip.
                    block.build((None, None, config.hidden_size))
        pooled = pooler(x[:, 0, :])
        outputs = {"sequence_output": x, "pooled_output": pooled, "encoder_outputs": layer_outputs}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.albert_config = config
        self.sequence_length = sequence_length
        self.embeddings = embeddings
        self.groups = groups
        self.pooler = pooler

    def dummy_inputs(self, batch_size=1, sequence_length=4):
        """Zeros of the right dtypes: enough to build the model before loading weights."""
        shape = (batch_size, self.sequence_length or sequence_length)
        return {name: ops.ones(shape, dtype="int32") for name in INPUT_NAMES}

    def get_config(self):
        return {"config": self.albert_config.to_dict(), "sequence_length": self.sequence_length,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
