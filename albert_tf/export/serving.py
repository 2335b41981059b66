"""The objects a SavedModel is written from: a model, its in-graph tokenizer, and the signatures.

Every exported model has two signatures over the same computation:
- `serving_default`: raw UTF-8 strings -> outputs (tokenized in the graph, see `text_inputs`);
- `serving_ids`: `input_word_ids`, `input_mask`, `input_type_ids` int32 `[batch, seq]` -> outputs.

`IdsOnlyServer` saves a server's id function alone (no tokenizer object, no text op), so that
SavedModel holds core TensorFlow ops only and runs on a stock TF Serving binary.
Outputs are float32 whatever the training dtype policy was.
"""

import keras
import tensorflow as tf

from albert_tf.export import text_inputs
from albert_tf.model_inputs import INPUT_MASK, INPUT_NAMES, INPUT_WORD_IDS, P_MASK

# Released by TensorFlow as the base of every object `tf.saved_model.save` restores attribute by attribute;
# unlike `tf.Module`, it lets `variables` / `trainable_variables` be plain saved attributes, which
# is what TF Hub's `KerasLayer` reads.
AutoTrackable = tf.__internal__.tracking.AutoTrackable

ID_NAMES = INPUT_NAMES  # the serving_ids signature's inputs


def track_plain_variables(server):
    """Tracks the `tf.Variable` inside every Keras variable reachable from `server`, before it is saved.

    A Keras variable wraps a `tf.Variable`; saved only through the Keras objects, each variable is
    written twice, once as the graph reads it and once as the checkpoint restores it, and session-based
    loaders (TF Serving, `saved_model_cli run`) then read an uninitialized copy. Tracking the plain
    variables too (as Keras' own `ExportArchive` does) gives the graph and the checkpoint one variable.
    """
    plain = {}
    for trackable in tf.train.TrackableView(server).descendants():
        if isinstance(trackable, keras.Variable):
            plain.setdefault(id(trackable.value), trackable.value)
    server.plain_variables = list(plain.values())
    return server


def ids_signature():
    return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ID_NAMES}


def strings_spec(name):
    return tf.TensorSpec([None], tf.string, name=name)


def _float32(outputs):
    return {name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
            for name, value in outputs.items()}


class _TextServer(AutoTrackable):
    """Shared parts: the Keras model, the tokenizer layer, packing settings."""

    def __init__(self, model, tokenizer_layer, special_ids, max_seq_length):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer_layer
        # Python values: captured as constants when the signatures are traced.
        self._special_ids = dict(special_ids)
        self._max_seq_length = int(max_seq_length)

    def _encode(self, texts):
        return text_inputs.encode_texts(self.tokenizer, self._special_ids, texts, self._max_seq_length)


# The length-chunk policy of `in_length_chunks` (bench/bench_serving.py batches its peer the same way).
MAX_CHUNKS = 8
MIN_CHUNK_ROWS = 4


def in_length_chunks(model_fn, inputs, output_width, max_chunks=MAX_CHUNKS, min_rows=MIN_CHUNK_ROWS):
    """`model_fn` over a batch sorted by length and cut into chunks, each trimmed to its own longest row.

    A batch padded to its longest row computes about twice the real tokens of short-text data (SST-2:
    1.9x at batch 32); up to 8 chunks of at least `min_rows` rows bring that to about 1.1x. Rows come
    back in their original order. `model_fn` must return per-row outputs of a fixed width (logits).
    """
    lengths = tf.reduce_sum(inputs[INPUT_MASK], axis=1)
    order = tf.argsort(lengths, stable=True)
    rows = tf.shape(lengths)[0]
    chunks = tf.clip_by_value(rows // min_rows, 1, max_chunks)
    bounds = tf.minimum(tf.range(max_chunks + 1) * rows // chunks, rows)
    pieces = []
    for i in range(max_chunks):
        index = order[bounds[i]:bounds[i + 1]]
        part = text_inputs.trim_to_longest({name: tf.gather(value, index) for name, value in inputs.items()})
        # Small batches leave chunks empty: skip their model call (it would cost a few ms of op dispatch).
        pieces.append(tf.cond(bounds[i + 1] > bounds[i], lambda part=part: model_fn(part),
                              lambda: tf.zeros([0, output_width], tf.float32)))
    merged = tf.concat(pieces, axis=0)
    return tf.gather(merged, tf.math.invert_permutation(order))


class ClassifierServer(_TextServer):
    """Raw text -> `logits`, `probabilities`, `label_id`, `label` (regression: `logits`, `score`).

    Args:
        classifier: an `AlbertClassifier` with a dynamic sequence length.
        tokenizer_layer, special_ids, max_seq_length: the training tokenizer and packing length.
        labels: label strings in id order (empty for regression).
        text_fields: `("text_a",)` for single-sentence tasks, `("text_a", "text_b")` for pairs.
    """

    def __init__(self, classifier, tokenizer_layer, special_ids, max_seq_length, labels, text_fields):
        super().__init__(classifier, tokenizer_layer, special_ids, max_seq_length)
        self._labels = [str(label) for label in labels]
        self._text_fields = tuple(text_fields)
        self.serve_text = tf.function(self._serve_text,
                                      input_signature=[strings_spec(n) for n in self._text_fields])
        self.serve_ids = tf.function(self._serve_ids, input_signature=[ids_signature()])
        # Not a signature: the same outputs without length chunks, for on-device converters (TFLite).
        self.plain_ids = tf.function(self._plain_ids, input_signature=[ids_signature()])

    def _logits(self, inputs):
        return tf.cast(self.model(inputs, training=False), tf.float32)

    def _outputs(self, inputs, chunked=True):
        logits = (in_length_chunks(self._logits, inputs, self.model.num_classes) if chunked
                  else self._logits(inputs))
        if not self._labels:
            return {"logits": logits, "score": logits[:, 0]}
        label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1), "label_id": label_id,
                "label": tf.gather(tf.constant(self._labels), label_id)}

    def _serve_text(self, *texts):
        # Calls the traced id function: the model graph is built (and saved) once, not twice.
        return self.serve_ids(self._encode(list(texts)))

    def _serve_ids(self, inputs):
        return self._outputs(inputs)

    def _plain_ids(self, inputs):
        return self._outputs(inputs, chunked=False)

    def signatures(self):
        return {"serving_default": self.serve_text.get_concrete_function(),
                "serving_ids": self.serve_ids.get_concrete_function()}

    def ids_only(self):
        return IdsOnlyServer(self.serve_ids)


class IdsOnlyServer(AutoTrackable):
    """The id function of a raw-text server saved without the server: core TensorFlow ops only.

    Only the traced id function and the variables it reads are tracked; the tokenizer layer, whose
    resources are created by tensorflow_text ops, is not reachable from this object, so none of its
    ops enter the SavedModel. The function is the one the raw-text export saves (already traced),
    so both exports compute the same graph.

    The plain `tf.Variable`s are tracked, not the Keras model: a Keras variable wraps one, and saving
    through the Keras objects writes each variable twice, once as read by the graph and once as
    restored by the checkpoint op, so session-based loaders (TF Serving, `saved_model_cli run`) find
    the graph's copy uninitialized. Keras' own `ExportArchive` tracks the same way.

    Args:
        serve_ids: a `tf.function` with an input signature of int32 id tensors and no text op.
    """

    def __init__(self, serve_ids):
        super().__init__()
        self.serve_ids = serve_ids
        self.variables = list(serve_ids.get_concrete_function().variables)

    def signatures(self):
        # `serving_ids` too: a client written for the raw-text export's id signature works unchanged.
        function = self.serve_ids.get_concrete_function()
        return {"serving_default": function, "serving_ids": function}


class SquadServer(_TextServer):
    """(question, context) -> span logits and the best answer of the first window.

    Outputs: `start_logits`, `end_logits` `[batch, seq]` (span and CLS-null heads), `answer_start`,
    `answer_end` (token indexes into `input_word_ids`, also returned), `answer`, and for v2 models
    `null_odds` with `answer` = "" when it exceeds the model's stored threshold. `serving_default`
    answers with the original substring of the context ("Lima", accents and spacing as sent), cut at
    the tokens' in-graph byte offsets; `serving_ids`, which never sees the text, with the span's
    pieces detokenized (normalized text, e.g. lowercased for uncased models).
    The XLNet-style head returns its beam instead of full end logits (`start_top_index`, ...).
    """

    def __init__(self, squad_model, tokenizer_layer, detokenize, special_ids, max_seq_length, *,
                 max_query_length, max_answer_length=30, version="1.1", null_threshold=None):
        super().__init__(squad_model, tokenizer_layer, special_ids, max_seq_length)
        self._detokenize = detokenize
        self._max_query_length = int(max_query_length)
        self._max_answer_length = int(max_answer_length)
        self._version = version
        self._null_threshold = 0.0 if null_threshold is None else float(null_threshold)
        self.serve_text = tf.function(self._serve_text,
                                      input_signature=[strings_spec("question"), strings_spec("context")])
        ids_spec = {**ids_signature(), P_MASK: tf.TensorSpec([None, None], tf.int32, name=P_MASK)}
        # Everything but the detokenized answer (a tensorflow_text op): what the ids-only export serves.
        self.serve_spans = tf.function(self._spans, input_signature=[ids_spec])
        self.serve_ids = tf.function(self._serve_ids, input_signature=[ids_spec])

    def _best_span(self, outputs, p_mask):
        allowed = tf.equal(p_mask, 0) & (tf.range(tf.shape(p_mask)[1]) > 0)[tf.newaxis, :]
        if "start_logits" in outputs and "end_logits" in outputs and outputs["end_logits"].shape.rank == 2:
            start, end = outputs["start_logits"], outputs["end_logits"]
            scores = start[:, :, tf.newaxis] + end[:, tf.newaxis, :]
            # end >= start and at most max_answer_length tokens.
            # (The op refuses a band wider than the matrix: batches trimmed to short rows are narrower.)
            band = tf.linalg.band_part(tf.ones_like(scores[0], tf.bool), 0,
                                       tf.minimum(self._max_answer_length - 1, tf.shape(scores)[2]))
            valid = band[tf.newaxis] & allowed[:, :, tf.newaxis] & allowed[:, tf.newaxis, :]
            scores = tf.where(valid, scores, tf.fill(tf.shape(scores), -1e30))
            width = tf.shape(scores)[2]
            flat = tf.argmax(tf.reshape(scores, [tf.shape(scores)[0], -1]), axis=-1, output_type=tf.int32)
            best = tf.reduce_max(tf.reshape(scores, [tf.shape(scores)[0], -1]), axis=-1)
            null_odds = start[:, 0] + end[:, 0] - best
            return flat // width, flat % width, best > -1e29, null_odds
        # XLNet-style beam: start k1 x end k2 candidates scored by log-probability.
        k1 = tf.shape(outputs["start_top_index"])[1]
        starts = tf.repeat(outputs["start_top_index"], tf.shape(outputs["end_top_index"])[1] // k1, axis=1)
        ends = outputs["end_top_index"]
        scores = tf.repeat(outputs["start_top_log_probs"], tf.shape(ends)[1] // k1, axis=1) + \
            outputs["end_top_log_probs"]
        ok = (ends >= starts) & (ends - starts < self._max_answer_length) & \
            tf.gather(allowed, starts, batch_dims=1) & tf.gather(allowed, ends, batch_dims=1)
        scores = tf.where(ok, scores, tf.fill(tf.shape(scores), -1e30))
        pick = tf.argmax(scores, axis=-1, output_type=tf.int32)
        best = tf.reduce_max(scores, axis=-1)
        return (tf.gather(starts, pick, batch_dims=1), tf.gather(ends, pick, batch_dims=1), best > -1e29,
                outputs["cls_logits"])

    def _spans(self, inputs):
        raw = _float32(self.model(inputs, training=False))
        start, end, found, null_odds = self._best_span(raw, inputs[P_MASK])
        answerable = found
        if self._version == "2.0":
            answerable &= null_odds <= self._null_threshold
        outputs = dict(raw)
        outputs.update({"answer_start": start, "answer_end": end, "null_odds": null_odds,
                        "answerable": answerable, INPUT_WORD_IDS: inputs[INPUT_WORD_IDS]})
        return outputs

    def _outputs(self, inputs):
        outputs = dict(self.serve_spans(inputs))  # the traced span function: one model graph for all
        positions = tf.range(tf.shape(inputs[INPUT_WORD_IDS])[1])[tf.newaxis, :]
        in_span = ((positions >= outputs["answer_start"][:, tf.newaxis]) &
                   (positions <= outputs["answer_end"][:, tf.newaxis]))
        span_ids = tf.ragged.boolean_mask(inputs[INPUT_WORD_IDS], in_span)
        text = tf.strings.strip(self._detokenize(span_ids))
        outputs["answer"] = tf.where(outputs["answerable"], text, tf.fill(tf.shape(text), ""))
        return outputs

    def _serve_text(self, question, context):
        inputs, spans = text_inputs.encode_question_context(self.tokenizer, self._special_ids, question, context,
                                                            self._max_seq_length, self._max_query_length,
                                                            with_offsets=True)
        outputs = dict(self.serve_ids(inputs))
        original = text_inputs.original_answers(spans, outputs["answer_start"], outputs["answer_end"])
        # The id function answers "" for "no valid span" and for a v2 null answer: those stay "".
        # (A span of pieces that detokenize to "" is whitespace, whose original text is "" too.)
        outputs["answer"] = tf.where(tf.equal(outputs["answer"], ""), outputs["answer"], original)
        return outputs

    def _serve_ids(self, inputs):
        return self._outputs(inputs)

    def signatures(self):
        return {"serving_default": self.serve_text.get_concrete_function(),
                "serving_ids": self.serve_ids.get_concrete_function()}

    def ids_only(self):
        return IdsOnlyServer(self.serve_spans)
