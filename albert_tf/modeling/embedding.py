"""Factorized embeddings: a V×E word table much narrower than the H-wide transformer."""

import keras
from keras import ops

from albert_tf.modeling.initializers import truncated_normal


def _check_length_in_graph(length, limit):
    """Fail at run time when a length unknown while tracing exceeds `limit`.

    Only TensorFlow traces with an unknown length (JAX runs with concrete or symbolic shapes,
    PyTorch eagerly), and only TensorFlow can raise from inside a graph, so TensorFlow is
    imported here and nowhere else in the layers.
    """
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    tf.debugging.assert_less_equal(
        length, limit, message=f"sequence length exceeds max_position_embeddings ({limit})")


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEmbedding(keras.layers.Layer):
    """Word + position + token-type embeddings, normalized and mapped to the hidden width.

    Two released layouts compute this differently and their weights are not interchangeable:

    * "factorized" (google-research/albert, TF-Hub, Hugging Face):
      `dense_E→H(LayerNorm_E(word_E + position_E + type_E))`; the dense exists only when E ≠ H.
    * "project_first" (brightmart/albert_zh): `LayerNorm_H(word_E · W_proj[E,H] + position_H + type_H)`.

    The MLM head reuses the word table (and the projection, for "project_first") through
    `logits_from_hidden`, so the output vocabulary is always tied to the input one.

    Args:
        vocab_size: rows of the word table.
        embedding_size: E.
        hidden_size: H.
        max_position_embeddings: rows of the position table; longer inputs are an error.
        type_vocab_size: rows of the token-type table.
        initializer_range: stddev of the truncated-normal initializer.
        dropout_rate: dropout after the LayerNorm.
        embedding_layout: "factorized" or "project_first".
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, max_position_embeddings=512, type_vocab_size=2,
                 initializer_range=0.02, dropout_rate=0.0, embedding_layout="factorized", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.dropout_rate = dropout_rate
        self.embedding_layout = embedding_layout
        self.project_first = embedding_layout == "project_first"
        # Width of position/type embeddings and of the LayerNorm.
        self.sum_width = hidden_size if self.project_first else embedding_size

        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, name="LayerNorm")
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.embedding_hidden_mapping_in = None
        if not self.project_first and embedding_size != hidden_size:
            self.embedding_hidden_mapping_in = keras.layers.Dense(
                hidden_size, kernel_initializer=truncated_normal(initializer_range),
                name="embedding_hidden_mapping_in")

    def build(self, input_word_ids_shape=None, input_type_ids_shape=None):
        init = truncated_normal(self.initializer_range)
        self.word_embeddings = self.add_weight(
            name="word_embeddings", shape=(self.vocab_size, self.embedding_size), initializer=init)
        self.word_embeddings_2 = None
        if self.project_first:
            self.word_embeddings_2 = self.add_weight(
                name="word_embeddings_2", shape=(self.embedding_size, self.hidden_size), initializer=init)
        self.token_type_embeddings = self.add_weight(
            name="token_type_embeddings", shape=(self.type_vocab_size, self.sum_width), initializer=init)
        self.position_embeddings = self.add_weight(
            name="position_embeddings", shape=(self.max_position_embeddings, self.sum_width), initializer=init)
        self.layer_norm.build((None, None, self.sum_width))
        if self.embedding_hidden_mapping_in is not None:
            self.embedding_hidden_mapping_in.build((None, None, self.embedding_size))
        self.built = True

    def call(self, input_word_ids, input_type_ids, training=False):
        seq_length = input_word_ids.shape[1]
        # JAX traces a functional model with a symbolic length (not an int): nothing to check then.
        if isinstance(seq_length, int) and seq_length > self.max_position_embeddings:
            raise ValueError(
                f"sequence length {seq_length} exceeds max_position_embeddings "
                f"({self.max_position_embeddings}); truncate inputs to at most that many tokens")
        dynamic_length = ops.shape(input_word_ids)[1]
        if seq_length is None:
            # Without this the position slice would silently come back short and fail later
            # with a shape error that names nothing useful.
            _check_length_in_graph(dynamic_length, self.max_position_embeddings)

        words = ops.take(self.word_embeddings, input_word_ids, axis=0)
        if self.project_first:
            words = ops.matmul(words, ops.cast(self.word_embeddings_2, words.dtype))
        positions = ops.cast(self.position_embeddings[:dynamic_length], words.dtype)
        types = ops.cast(ops.take(self.token_type_embeddings, input_type_ids, axis=0), words.dtype)
        x = words + types + positions[None, :, :]
        x = self.layer_norm(x)
        x = self.dropout(x, training=training)
        if self.embedding_hidden_mapping_in is not None:
            x = self.embedding_hidden_mapping_in(x)
        return x

    @property
    def head_input_width(self):
        """Width the MLM transform must produce before `logits_from_hidden`."""
        return self.hidden_size if self.project_first else self.embedding_size

    def logits_from_hidden(self, x):
        """Vocabulary logits through the transposed (tied) input embeddings."""
        if self.project_first:
            x = ops.matmul(x, ops.transpose(ops.cast(self.word_embeddings_2, x.dtype)))
        return ops.matmul(x, ops.transpose(ops.cast(self.word_embeddings, x.dtype)))

    def compute_output_shape(self, input_word_ids_shape, input_type_ids_shape):
        return tuple(input_word_ids_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, embedding_size=self.embedding_size, hidden_size=self.hidden_size,
                      max_position_embeddings=self.max_position_embeddings, type_vocab_size=self.type_vocab_size,
                      initializer_range=self.initializer_range, dropout_rate=self.dropout_rate,
                      embedding_layout=self.embedding_layout)
        return config
