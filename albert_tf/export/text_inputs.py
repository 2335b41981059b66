"""Raw UTF-8 strings -> the encoder's int32 inputs, inside the exported graph.

The tokenizer layer is the in-graph twin of the Python tokenizer the model was trained with
(same settings, same ids), so serving cannot drift from training. Three serving concerns live here:
- bytes that are not valid UTF-8 are replaced by U+FFFD before tokenization (TensorFlow's text ops
  would otherwise fail the whole batch); valid text passes through unchanged;
- text longer than the model's length is truncated longest-first, exactly as on the host;
- batches are cut to their longest row, so short sentences do not pay for `max_seq_length`.
"""

import tensorflow as tf

from albert_tf.model_inputs import INPUT_MASK, P_MASK, RECORD_TO_MODEL
from albert_tf.tokenization.layers import pack_segments

REPLACEMENT_CHARACTER = 0xFFFD


def sanitize_utf8(strings):
    """Invalid UTF-8 sequences -> U+FFFD; everything else (controls included) unchanged."""
    return tf.strings.unicode_transcode(strings, input_encoding="UTF-8", output_encoding="UTF-8",
                                        errors="replace", replacement_char=REPLACEMENT_CHARACTER,
                                        replace_control_characters=False)


def as_model_inputs(packed):
    """`pack_segments` names (the records') -> the encoder's (TF Hub) input names."""
    return {RECORD_TO_MODEL.get(name, name): value for name, value in packed.items()}


def trim_to_longest(inputs):
    """Drops the padding columns no row of the batch uses (an empty batch keeps two columns)."""
    lengths = tf.reduce_sum(inputs[INPUT_MASK], axis=1)
    width = tf.reduce_max(tf.concat([lengths, [2]], axis=0))
    return {name: value[:, :width] for name, value in inputs.items()}


def encode_texts(tokenizer_layer, special_ids, texts, max_seq_length, trim=True):
    """One or two `[batch]` string tensors -> model inputs `[batch, <= max_seq_length]`.

    Args:
        tokenizer_layer: `SentencePieceTokenizerLayer` or `WordPieceTokenizerLayer`.
        special_ids: dict with `cls`, `sep`, `pad` ids.
        texts: list of one or two string tensors of equal batch size.
        max_seq_length: the packing length (the model's training length).
        trim: cut the batch to its longest row (only for models with a dynamic sequence length).
    """
    segments = [tokenizer_layer(sanitize_utf8(text)) for text in texts]
    packed = pack_segments(segments, max_seq_length, special_ids["cls"], special_ids["sep"], special_ids["pad"])
    inputs = as_model_inputs(packed)
    return trim_to_longest(inputs) if trim else inputs


def encode_question_context(tokenizer_layer, special_ids, questions, contexts, max_seq_length, max_query_length,
                            with_offsets=False):
    """SQuAD packing of one window per pair: `[CLS] question [SEP] context [SEP]`.

    The question keeps at most `max_query_length` tokens and the context fills the rest, as the
    first window of `squad.features.convert_examples`. Also returns `p_mask` (1 where an answer
    cannot start or end; [CLS] stays 0 as the "no answer" position).

    With `with_offsets`, returns `(inputs, spans)`: `spans` holds the UTF-8-repaired `context`
    strings and, for every context token kept in the window, its byte `begins` / `ends` in them
    (ragged `[batch, (tokens)]`), so an answer can be cut out of the text the user sent.
    """
    question = tokenizer_layer(sanitize_utf8(questions))[:, :max_query_length]
    contexts = sanitize_utf8(contexts)
    if with_offsets:
        context, begins, ends = tokenizer_layer.tokenize_with_offsets(contexts)
    else:
        context = tokenizer_layer(contexts)
    room = max_seq_length - 3 - question.row_lengths()
    positions = tf.ragged.range(context.row_lengths())
    kept = positions < tf.expand_dims(room, 1)
    context = tf.ragged.boolean_mask(context, kept)
    packed = pack_segments([question, context], max_seq_length, special_ids["cls"], special_ids["sep"],
                           special_ids["pad"])
    inputs = trim_to_longest(as_model_inputs(packed))
    width = tf.shape(inputs[INPUT_MASK])[1]
    index = tf.range(width)[tf.newaxis, :]
    doc_start = tf.cast(question.row_lengths(), tf.int32)[:, tf.newaxis] + 2
    doc_end = doc_start + tf.cast(context.row_lengths(), tf.int32)[:, tf.newaxis]
    in_doc = (index >= doc_start) & (index < doc_end)
    inputs[P_MASK] = tf.cast(~in_doc & (index != 0), tf.int32)
    if not with_offsets:
        return inputs
    return inputs, {"contexts": contexts, "doc_start": doc_start[:, 0],
                    "begins": tf.ragged.boolean_mask(begins, kept), "ends": tf.ragged.boolean_mask(ends, kept)}


def original_answers(spans, start, end):
    """The context bytes from token `start`'s first byte to token `end`'s last (positions in the packed
    window, as `SquadServer` returns them), whitespace-trimmed; "" for a row without context tokens."""
    first = tf.cast(start, tf.int32) - spans["doc_start"]
    last = tf.cast(end, tf.int32) - spans["doc_start"]
    count = tf.cast(spans["begins"].row_lengths(), tf.int32)
    valid = (first >= 0) & (last >= first) & (last < count)

    def at(offsets, i):  # one padding column, so that rows (and batches) without context tokens gather too
        dense = offsets.to_tensor(default_value=0)
        dense = tf.concat([dense, tf.zeros_like(dense[:, :1])], axis=1)
        return tf.gather(dense, tf.clip_by_value(i, 0, tf.shape(dense)[1] - 1), batch_dims=1)

    begin, limit = at(spans["begins"], first), at(spans["ends"], last)
    length = tf.where(valid, tf.maximum(limit - begin, 0), tf.zeros_like(begin))
    text = tf.strings.substr(spans["contexts"], tf.where(valid, begin, tf.zeros_like(begin)), length, unit="BYTE")
    return tf.strings.strip(text)
