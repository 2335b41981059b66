"""SQuAD heads and `SquadModel`, which puts one on an `AlbertEncoder`.

* `SquadSpanHead`: dense H → 2 (start, end logits). The v1 head; with v2 data it is the "CLS-null"
  head: an unanswerable question is labelled start = end = [CLS], and the null score is
  `start[CLS] + end[CLS]`.
* `SquadAnswerabilityHead`: the reference v2 head (XLNet-style, REFERENCE §6). Start logits; end
  logits conditioned on the start (the gold start in training, a `start_n_top` × `end_n_top` beam
  at inference); an answerability logit from concat(start-probability-weighted hidden, [CLS]
  hidden). Loss = 0.5·(start CE + end CE) + 0.5·sigmoid CE(is_impossible).
Heads compute in float32 (logits and losses stay fp32 under mixed precision). Positions where an
answer cannot be (`p_mask`: question, [SEP], padding) get a large negative logit.
"""

import keras
from keras import ops

from albert_tf.model_inputs import INPUT_NAMES, P_MASK, START_POSITIONS
from albert_tf.modeling.initializers import truncated_normal

HEADS = ("span", "xlnet", "cls_null")
NEG = -1e30


def _masked(logits, p_mask):
    p_mask = ops.cast(p_mask, "float32")
    return logits * (1.0 - p_mask) + NEG * p_mask


@keras.saving.register_keras_serializable(package="albert_tf")
class SquadSpanHead(keras.layers.Layer):
    """Start and end logits [B, S] from one dense layer (TF1 name `cls/squad/output_weights`)."""

    def __init__(self, initializer_range=0.02, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(2, kernel_initializer=truncated_normal(initializer_range), dtype="float32",
                                        name="output")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, sequence_output, p_mask):
        logits = self.dense(ops.cast(sequence_output, "float32"))
        return {"start_logits": _masked(logits[..., 0], p_mask), "end_logits": _masked(logits[..., 1], p_mask)}

    def get_config(self):
        return {**super().get_config(), "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="albert_tf")
class SquadAnswerabilityHead(keras.layers.Layer):
    """XLNet-style v2 head: start, start-conditioned end, answerability.

    Call with `start_positions` (training: teacher-forced end logits) → {start_logits, end_logits [B, S],
    cls_logits [B]}; without → {start_top_log_probs, start_top_index [B, k1], end_top_log_probs,
    end_top_index [B, k1*k2], cls_logits [B]}.
    """

    def __init__(self, hidden_size, start_n_top=5, end_n_top=5, dropout_rate=0.1, initializer_range=0.02,
                 **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.hidden_size, self.start_n_top, self.end_n_top = hidden_size, start_n_top, end_n_top
        self.dropout_rate, self.initializer_range = dropout_rate, initializer_range
        init = lambda: truncated_normal(initializer_range)  # noqa: E731
        self.start_dense = keras.layers.Dense(1, kernel_initializer=init(), dtype="float32", name="start_logits")
        self.end_dense_0 = keras.layers.Dense(hidden_size, activation="tanh", kernel_initializer=init(),
                                              dtype="float32", name="end_logits_dense_0")
        self.end_layer_norm = keras.layers.LayerNormalization(epsilon=1e-12, dtype="float32",
                                                              name="end_logits_LayerNorm")
        self.end_dense_1 = keras.layers.Dense(1, kernel_initializer=init(), dtype="float32", name="end_logits_dense_1")
        self.answer_dense_0 = keras.layers.Dense(hidden_size, activation="tanh", kernel_initializer=init(),
                                                 dtype="float32", name="answer_class_dense_0")
        self.answer_dropout = keras.layers.Dropout(dropout_rate)
        self.answer_dense_1 = keras.layers.Dense(1, use_bias=False, kernel_initializer=init(), dtype="float32",
                                                 name="answer_class_dense_1")

    def build(self, input_shape):
        hidden = input_shape[-1]
        self.start_dense.build((None, None, hidden))
        self.end_dense_0.build((None, None, 2 * hidden))
        self.end_layer_norm.build((None, None, self.hidden_size))
        self.end_dense_1.build((None, None, self.hidden_size))
        self.answer_dense_0.build((None, 2 * hidden))
        self.answer_dense_1.build((None, self.hidden_size))
        self.built = True

    def _end_logits(self, hidden, start_features):
        x = self.end_dense_1(self.end_layer_norm(self.end_dense_0(ops.concatenate([hidden, start_features], -1))))
        return ops.squeeze(x, -1)

    def call(self, sequence_output, p_mask, start_positions=None, training=False):
        hidden = ops.cast(sequence_output, "float32")
        length = ops.shape(hidden)[1]
        start_logits = _masked(ops.squeeze(self.start_dense(hidden), -1), p_mask)
        # Answerability reads the expected start representation and the [CLS] representation.
        start_probs = ops.softmax(start_logits, axis=-1)
        start_summary = ops.einsum("blh,bl->bh", hidden, start_probs)
        answer = self.answer_dense_0(ops.concatenate([start_summary, hidden[:, 0]], -1))
        cls_logits = ops.squeeze(self.answer_dense_1(self.answer_dropout(answer, training=training)), -1)
        if start_positions is not None:
            start_onehot = ops.one_hot(ops.cast(start_positions, "int32"), length, dtype="float32")
            start_features = ops.einsum("blh,bl->bh", hidden, start_onehot)
            start_features = ops.broadcast_to(start_features[:, None, :], ops.shape(hidden))
            end_logits = _masked(self._end_logits(hidden, start_features), p_mask)
            return {"start_logits": start_logits, "end_logits": end_logits, "cls_logits": cls_logits}
        start_log_probs = ops.log_softmax(start_logits, axis=-1)
        start_top_log_probs, start_top_index = ops.top_k(start_log_probs, k=self.start_n_top)
        start_features = ops.take_along_axis(hidden[:, None, :, :], start_top_index[:, :, None, None], axis=2)
        # [B, k1, L, H] pairs of (every position, one candidate start).
        tiled_hidden = ops.broadcast_to(hidden[:, None], (ops.shape(hidden)[0], self.start_n_top, length,
                                                          ops.shape(hidden)[2]))
        end_logits = self._end_logits(tiled_hidden, ops.broadcast_to(start_features, ops.shape(tiled_hidden)))
        end_logits = _masked(end_logits, ops.cast(p_mask, "float32")[:, None, :])
        end_log_probs = ops.log_softmax(end_logits, axis=-1)
        end_top_log_probs, end_top_index = ops.top_k(end_log_probs, k=self.end_n_top)
        batch = ops.shape(hidden)[0]
        return {"start_top_log_probs": start_top_log_probs, "start_top_index": start_top_index,
                "end_top_log_probs": ops.reshape(end_top_log_probs, (batch, -1)),
                "end_top_index": ops.reshape(end_top_index, (batch, -1)), "cls_logits": cls_logits}

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "start_n_top": self.start_n_top,
                "end_n_top": self.end_n_top, "dropout_rate": self.dropout_rate,
                "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="albert_tf")
class SquadModel(keras.Model):
    """`AlbertEncoder` + a SQuAD head. Inputs: input_word_ids, input_mask, input_type_ids, p_mask
    (+ start_positions for training the XLNet-style head). `.encoder` is what pretrained
    checkpoints of any layout load into.

    Every variable exists once the constructor returns (the head is built from the hidden size),
    so a `.keras` file reloads into it without a call.

    Args:
        encoder: an `AlbertEncoder`.
        head: "span", "xlnet" (XLNet-style v2 answerability head) or "cls_null" (the span head
            trained with unanswerable questions pointing at [CLS]).
        start_n_top, end_n_top: the XLNet-style head's beam at inference.
    """

    def __init__(self, encoder, head: str = "span", start_n_top: int = 5, end_n_top: int = 5, **kwargs):
        if head not in HEADS:
            raise ValueError(f"--squad_head={head}: must be one of {', '.join(HEADS)}")
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        kwargs.setdefault("name", "albert_squad")
        super().__init__(**kwargs)
        config = encoder.albert_config
        self.encoder, self.head_type = encoder, head
        self.start_n_top, self.end_n_top = start_n_top, end_n_top
        if head == "xlnet":
            self.head = SquadAnswerabilityHead(config.hidden_size, start_n_top, end_n_top,
                                               dropout_rate=0.1, initializer_range=config.initializer_range,
                                               name="squad_answerability_head")
        else:
            self.head = SquadSpanHead(config.initializer_range, name="squad_span_head")
        # Under the model's name, as a first call would build it: variable paths `albert_squad/<head>/...`.
        with keras.name_scope(self.name, caller=self):
            self.head.build((None, None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        encoded = self.encoder({name: inputs[name] for name in INPUT_NAMES}, training=training)
        sequence = encoded["sequence_output"]
        if self.head_type == "xlnet":
            return self.head(sequence, inputs[P_MASK], inputs.get(START_POSITIONS), training=training)
        return self.head(sequence, inputs[P_MASK])

    def loss_and_weights(self):
        """Keras `loss` and `loss_weights` dicts for `compile` (total = REFERENCE §6's loss)."""
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        losses = {"start_logits": ce, "end_logits": ce}
        weights = {"start_logits": 0.5, "end_logits": 0.5}
        if self.head_type == "xlnet":
            losses["cls_logits"] = keras.losses.BinaryCrossentropy(from_logits=True)
            weights["cls_logits"] = 0.5
        return losses, weights

    def get_config(self):
        return {"encoder": keras.saving.serialize_keras_object(self.encoder), "head": self.head_type,
                "start_n_top": self.start_n_top, "end_n_top": self.end_n_top, "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
