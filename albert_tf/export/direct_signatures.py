"""Raw-text signatures of an encoder export for direct use: `fill_mask`, `embed`, `sentence_order`.

The same computations as `albert_tf.inference` (one pooling function, the same mask handling), in the
graph so that a TensorFlow-only client gets them from the SavedModel:
- `fill_mask(text)`: `[MASK]` in the text is the mask id; per mask (left to right, padded to the most
  masks in the batch): `top_ids` / `top_scores` (softmax over the whole vocabulary) / `top_tokens`
  `[B, P, K]`, `mask_positions` `[B, P]` (-1 past a row's masks) and `num_masks` `[B]`;
- `embed(text)`: `pooled`, `cls`, `mean`, `max` `[B, H]` (last layer; see `inference.pool`);
- `sentence_order(text_a, text_b)`: `in_order` `[B]`, the SOP head's probability of the given order
  (only when the checkpoint has the SOP head).
"""

import tensorflow as tf

from albert_tf.export import serving, text_inputs
from albert_tf.inference import pool
from albert_tf.model_inputs import INPUT_MASK, INPUT_WORD_IDS


class DirectUseServer(serving.AutoTrackable):
    """The direct-use signatures over a float32 `AlbertPretrainer`.

    Args:
        pretrainer: the serving copy of the pretrainer.
        mask_tokenizer_layer: the in-graph tokenizer with `mask_token_in_text` on.
        special_ids: dict with `cls`, `sep`, `pad`, `mask` ids.
        vocabulary: the token strings, id order (for `top_tokens`).
        max_seq_length: packing length.
        with_mlm, with_sop: which heads hold trained weights (their signatures exist only then).
        top_k: candidates per mask in `fill_mask`.
    """

    def __init__(self, pretrainer, mask_tokenizer_layer, special_ids, vocabulary, max_seq_length, *,
                 with_mlm=True, with_sop=True, top_k=5):
        super().__init__()
        self.pretrainer = pretrainer
        self.mask_tokenizer = mask_tokenizer_layer
        self._special_ids = dict(special_ids)
        self._max_seq_length = int(max_seq_length)
        self._vocabulary = tf.constant(list(vocabulary))
        self.top_k = min(int(top_k), len(vocabulary))
        self.with_mlm, self.with_sop = bool(with_mlm), bool(with_sop)
        text = serving.strings_spec("text")
        self.embed = tf.function(self._embed, input_signature=[text])
        if self.with_mlm:
            self.fill_mask = tf.function(self._fill_mask, input_signature=[text])
        if self.with_sop:
            self.sentence_order = tf.function(self._sentence_order, input_signature=[
                serving.strings_spec("text_a"), serving.strings_spec("text_b")])

    def _encode(self, texts):
        return text_inputs.encode_texts(self.mask_tokenizer, self._special_ids, texts, self._max_seq_length)

    def _embed(self, text):
        inputs = self._encode([text])
        outputs = self.pretrainer.encoder(inputs, training=False)
        return {name: pool(outputs, inputs[INPUT_MASK], name) for name in ("pooled", "cls", "mean", "max")}

    def _fill_mask(self, text):
        inputs = self._encode([text])
        is_mask = tf.logical_and(tf.equal(inputs[INPUT_WORD_IDS], self._special_ids["mask"]),
                                 inputs[INPUT_MASK] > 0)
        width = tf.shape(is_mask)[1]
        columns = tf.broadcast_to(tf.range(width), tf.shape(is_mask))
        positions = tf.ragged.boolean_mask(columns, is_mask)  # [B, (masks)], left to right
        gather_at = positions.to_tensor(default_value=0)
        sequence = self.pretrainer.encoder(inputs, training=False)["sequence_output"]
        logits = tf.cast(self.pretrainer.mlm_head(sequence, gather_at), tf.float32)
        top = tf.math.top_k(tf.nn.softmax(logits, axis=-1), k=self.top_k)
        return {"top_ids": top.indices, "top_scores": top.values,
                "top_tokens": tf.gather(self._vocabulary, top.indices),
                "mask_positions": positions.to_tensor(default_value=-1),
                "num_masks": tf.cast(positions.row_lengths(), tf.int32)}

    def _sentence_order(self, text_a, text_b):
        inputs = self._encode([text_a, text_b])
        pooled = self.pretrainer.encoder(inputs, training=False)["pooled_output"]
        probabilities = tf.nn.softmax(tf.cast(self.pretrainer.sop_head(pooled, training=False), tf.float32), axis=-1)
        return {"in_order": probabilities[:, 0]}  # SOP label 0: the original order

    def signatures(self):
        out = {"embed": self.embed.get_concrete_function()}
        if self.with_mlm:
            out["fill_mask"] = self.fill_mask.get_concrete_function()
        if self.with_sop:
            out["sentence_order"] = self.sentence_order.get_concrete_function()
        return out

    def signature_inputs(self):
        """What export.json records: each signature's text inputs."""
        return {name: (["text_a", "text_b"] if name == "sentence_order" else ["text"]) for name in self.signatures()}
