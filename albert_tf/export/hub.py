"""TF Hub "Common SavedModel APIs for Text": an encoder and its separate preprocessor.

Encoder (`encoder(inputs, training=...)`): dict of int32 `input_word_ids`, `input_mask`,
`input_type_ids` -> `pooled_output` `[B, H]`, `sequence_output` `[B, S, H]`, `encoder_outputs`
(one `[B, S, H]` per layer) and `default` (= pooled). `encoder.mlm(inputs)` also takes
`masked_lm_positions` and adds `mlm_logits` `[B, P, V]`. `variables`, `trainable_variables` and
`regularization_losses` are saved, so `hub.KerasLayer(encoder, trainable=True)` fine-tunes it.
The encoder also carries the raw-text `serving_default` and `serving_ids` signatures.

Preprocessor: `preprocessor(strings)` -> packed inputs at the default length;
`preprocessor.tokenize(strings)` -> ragged ids `[B, (tokens)]`;
`preprocessor.bert_pack_inputs([ids_a, (ids_b)], seq_length)` -> packed inputs.
"""

import tensorflow as tf

from albert_tf.export import serving, text_inputs
from albert_tf.model_inputs import INPUT_MASK, INPUT_NAMES, MASKED_LM_POSITIONS
from albert_tf.tokenization.layers import pack_segments

RAGGED_IDS = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)


def _encoder_outputs(encoded):
    pooled = tf.cast(encoded["pooled_output"], tf.float32)
    return {"pooled_output": pooled, "default": pooled,
            "sequence_output": tf.cast(encoded["sequence_output"], tf.float32),
            "encoder_outputs": [tf.cast(x, tf.float32) for x in encoded["encoder_outputs"]]}


class MaskedLMEndpoint(serving.AutoTrackable):
    """`encoder.mlm`: the encoder outputs plus `mlm_logits` at `masked_lm_positions`."""

    def __init__(self, pretrainer):
        super().__init__()
        self.pretrainer = pretrainer
        spec = {**serving.ids_signature(),
                MASKED_LM_POSITIONS: tf.TensorSpec([None, None], tf.int32, name=MASKED_LM_POSITIONS)}
        self.__call__.get_concrete_function(spec, training=False)
        self.__call__.get_concrete_function(spec, training=True)

    @tf.function
    def __call__(self, inputs, training=False):
        encoded = self.pretrainer.encoder({n: inputs[n] for n in INPUT_NAMES}, training=training)
        outputs = _encoder_outputs(encoded)
        outputs["mlm_logits"] = tf.cast(
            self.pretrainer.mlm_head(encoded["sequence_output"], inputs[MASKED_LM_POSITIONS]), tf.float32)
        return outputs


class HubEncoder(serving.AutoTrackable):
    """The encoder SavedModel object (see the module docstring).

    Args:
        encoder: an `AlbertEncoder` with a dynamic sequence length.
        tokenizer_layer, special_ids, max_seq_length: for the raw-text serving signature.
        pretrainer: the `AlbertPretrainer` around `encoder`, for the `mlm` endpoint (or None).
    """

    def __init__(self, encoder, tokenizer_layer, special_ids, max_seq_length, pretrainer=None):
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer_layer
        self._special_ids = dict(special_ids)
        self._max_seq_length = int(max_seq_length)
        self.variables = list(encoder.variables)
        self.trainable_variables = list(encoder.trainable_variables)
        self.regularization_losses = []
        if pretrainer is not None:
            self.mlm = MaskedLMEndpoint(pretrainer)
        for training in (False, True):
            self.__call__.get_concrete_function(serving.ids_signature(), training=training)
        self.serve_text = tf.function(self._serve_text, input_signature=[serving.strings_spec("text_a")])
        self.serve_pair = tf.function(self._serve_pair, input_signature=[serving.strings_spec("text_a"),
                                                                          serving.strings_spec("text_b")])
        self.serve_ids = tf.function(self._serve_ids, input_signature=[serving.ids_signature()])

    @tf.function
    def __call__(self, inputs, training=False):
        return _encoder_outputs(self.encoder({n: inputs[n] for n in INPUT_NAMES}, training=training))

    def _text_outputs(self, texts):
        inputs = text_inputs.encode_texts(self.tokenizer, self._special_ids, texts, self._max_seq_length)
        outputs = dict(self.serve_ids(inputs))  # the traced id function: one model graph for all signatures
        outputs[INPUT_MASK] = inputs[INPUT_MASK]
        return outputs

    def _serve_text(self, text_a):
        return self._text_outputs([text_a])

    def _serve_pair(self, text_a, text_b):
        return self._text_outputs([text_a, text_b])

    def _serve_ids(self, inputs):
        outputs = _encoder_outputs(self.encoder(inputs, training=False))
        # Signatures return flat dicts: per-layer outputs are not part of them.
        return {"pooled_output": outputs["pooled_output"], "sequence_output": outputs["sequence_output"]}

    def signatures(self):
        return {"serving_default": self.serve_text.get_concrete_function(),
                "serving_pair": self.serve_pair.get_concrete_function(),
                "serving_ids": self.serve_ids.get_concrete_function()}

    def ids_only(self):
        return serving.IdsOnlyServer(self.serve_ids)


class HubPreprocessor(serving.AutoTrackable):
    """The preprocessor SavedModel object (see the module docstring).

    Args:
        tokenizer_layer, special_ids: the model's in-graph tokenizer and special ids.
        default_seq_length: what `preprocessor(strings)` packs to (128 as TF Hub's models).
    """

    def __init__(self, tokenizer_layer, special_ids, default_seq_length=128):
        super().__init__()
        self.tokenizer = tokenizer_layer
        self._special_ids = dict(special_ids)
        self._default_seq_length = int(default_seq_length)
        self.__call__.get_concrete_function(tf.TensorSpec([None], tf.string))
        self.tokenize.get_concrete_function(tf.TensorSpec([None], tf.string))
        seq = tf.TensorSpec([], tf.int32, name="seq_length")
        for count in (1, 2):
            self.bert_pack_inputs.get_concrete_function([RAGGED_IDS] * count, seq)

    @tf.function
    def tokenize(self, strings):
        return self.tokenizer(text_inputs.sanitize_utf8(strings))

    @tf.function
    def bert_pack_inputs(self, segments, seq_length=128):
        ids = self._special_ids
        return text_inputs.as_model_inputs(pack_segments(list(segments), seq_length, ids["cls"], ids["sep"],
                                                         ids["pad"]))

    @tf.function
    def __call__(self, strings):
        ids = self._special_ids
        segments = [self.tokenizer(text_inputs.sanitize_utf8(strings))]
        return text_inputs.as_model_inputs(pack_segments(segments, self._default_seq_length, ids["cls"],
                                                         ids["sep"], ids["pad"]))
