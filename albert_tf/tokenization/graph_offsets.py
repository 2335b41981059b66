"""In-graph byte offsets into the ORIGINAL strings, through normalizations that change lengths.

The in-graph twin of `offsets.py` (which serves the host pipeline): tensorflow-text tokenizers
report offsets into the text they were given, but that text was normalized first (whitespace
collapsed, NFKD, accents dropped, lowercased), so those offsets do not index the user's string.
Every normalization step here works character by character, so each original character's share of
the normalized text can be measured on its own: its normalized byte length. Cumulating those lengths
maps a normalized byte offset back to the original character it came from, and that character's
byte offset in the original string is the answer. A served SQuAD answer is then a byte slice of the
raw context ("Lima", not "lima"), always on character boundaries, so always valid UTF-8.

Conventions follow `offsets.py`: a token starts at its first original character that is neither
whitespace nor deleted by normalization; it ends after its last character plus the deleted
characters that follow it (a dropped combining accent belongs to the letter before it).
"""

import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.tokenization import graph_text

_BIG = 2 ** 30


def _flat_row_context(chars):
    """(flat values, flat index, row start of each value, row limit of each value) of a ragged tensor."""
    flat = chars.flat_values
    index = tf.range(tf.shape(flat, out_type=tf.int64)[0])
    rows = chars.value_rowids()
    return flat, index, tf.gather(chars.row_starts(), rows), tf.gather(chars.row_limits(), rows)


def albert_char_lengths(chars, *, do_lower_case, keep_accents, remove_space, replace_quotes):
    """Ragged characters -> bytes each one contributes to `graph_text.albert_preprocess` of its string.

    Whitespace (with `remove_space`) collapses: a run gives one space when it lies between two other
    characters, nothing at either end of the string. With `replace_quotes`, "``" and "''" pairs
    (taken left to right) become one '"': the first character gives 1 byte, the second 0.
    """
    flat, index, row_start, row_limit = _flat_row_context(chars)
    classes = graph_text.regex_classes()
    normalized = graph_text.albert_preprocess(flat, do_lower_case=do_lower_case, keep_accents=keep_accents,
                                              remove_space=False, replace_quotes=False)
    lengths = tf.strings.length(normalized)
    if remove_space:
        is_ws = tf.strings.regex_full_match(flat, classes["python_ws"])
        previous_ws = tf.concat([[True], is_ws[:-1]], axis=0) | tf.equal(index, row_start)
        other = tf.cast(~is_ws, tf.int64)
        # Non-space characters after position i in the same row.
        after = tf.concat([tf.cumsum(other, reverse=True), [0]], axis=0)
        others_after = tf.gather(after, index + 1) - tf.gather(after, row_limit)
        collapsed = tf.where(~previous_ws & (others_after > 0), 1, 0)
        lengths = tf.where(is_ws, collapsed, lengths)
    if replace_quotes:
        lengths = _quote_pair_lengths(flat, index, row_start, lengths)
    return chars.with_flat_values(tf.cast(lengths, tf.int32))


def _quote_pair_lengths(flat, index, row_start, lengths):
    same_as_previous = tf.concat([[False], tf.equal(flat[1:], flat[:-1])], axis=0) & (index > row_start)
    boundaries = tf.where(~same_as_previous)[:, 0]
    run = tf.cumsum(tf.cast(~same_as_previous, tf.int64)) - 1
    position = index - tf.gather(boundaries, run)
    run_end = tf.gather(tf.concat([boundaries[1:], tf.shape(flat, out_type=tf.int64)], axis=0), run)
    quote = tf.equal(flat, "`") | tf.equal(flat, "'")
    first = quote & tf.equal(position % 2, 0) & (index + 1 < run_end)
    second = quote & tf.equal(position % 2, 1)
    return tf.where(first, tf.ones_like(lengths), tf.where(second, tf.zeros_like(lengths), lengths))


def bert_char_lengths(chars, *, do_lower_case):
    """Ragged characters -> bytes each one contributes to the text `graph_text.bert_basic_words` splits."""
    flat = chars.flat_values
    classes = graph_text.regex_classes()
    text = flat
    if do_lower_case:
        text = graph_text.python_lower(text)
        text = tf.strings.regex_replace(tf_text.normalize_utf8(text, "NFD"), classes["mn"], "")
    lengths = tf.strings.length(text)
    lengths = tf.where(tf.strings.regex_full_match(flat, classes["bert_ws"]), tf.ones_like(lengths), lengths)
    lengths = tf.where(tf.strings.regex_full_match(flat, classes["bert_removed"]), tf.zeros_like(lengths), lengths)
    return chars.with_flat_values(tf.cast(lengths, tf.int32))


def to_original(strings, char_lengths_fn, begins, ends):
    """Normalized byte offsets `[batch, (tokens)]` -> byte offsets into `strings` (int64, ragged).

    Args:
        strings: `[batch]` valid UTF-8 strings, as given to the tokenizer.
        char_lengths_fn: ragged characters -> normalized byte length of each (`albert_char_lengths`, ...).
        begins, ends: ragged token offsets (exclusive ends) into the normalized strings.
    """
    chars, char_starts = tf.strings.unicode_split_with_offsets(strings, "UTF-8")
    lengths = char_lengths_fn(chars)
    is_ws = tf.strings.regex_full_match(chars.flat_values, graph_text.regex_classes()["python_ws"])
    num_chars = chars.row_lengths()
    cum_end = tf.cumsum(lengths, axis=1).to_tensor(default_value=_BIG)
    cum_start = (tf.cumsum(lengths, axis=1) - lengths).to_tensor(default_value=_BIG)
    width = tf.shape(cum_end)[1]
    position = tf.broadcast_to(tf.range(width)[tf.newaxis, :], tf.shape(cum_end))
    used = (lengths > 0).to_tensor(default_value=False)
    space = chars.with_flat_values(is_ws).to_tensor(default_value=False)
    # Characters a token may start on, and characters an end falls before (a kept or space character).
    start_stops = tf.sort(tf.where(used & ~space, position, _BIG), axis=1)
    end_stops = tf.sort(tf.where(used | space, position, _BIG), axis=1)
    string_bytes = tf.cast(tf.strings.length(strings), tf.int64)[:, tf.newaxis]
    # Byte offset of every character, then one column for "past the last character".
    char_bytes = tf.where(position < tf.cast(num_chars, tf.int32)[:, tf.newaxis],
                          char_starts.to_tensor(default_value=0), string_bytes)
    char_bytes = tf.concat([char_bytes, string_bytes], axis=1)

    def next_stop(stops, first):  # smallest stop >= first, per row (_BIG when none)
        slot = tf.searchsorted(stops, first, side="left")
        padded = tf.concat([stops, tf.fill([tf.shape(stops)[0], 1], _BIG)], axis=1)
        return tf.gather(padded, slot, batch_dims=1)

    def byte_offset(char_index):
        return tf.gather(char_bytes, tf.minimum(char_index, width), batch_dims=1)

    token_begins = tf.cast(begins.to_tensor(), tf.int32)
    token_ends = tf.cast(ends.to_tensor(), tf.int32)
    first_char = tf.searchsorted(cum_end, token_begins, side="right")   # the character holding the byte
    after_last = tf.searchsorted(cum_start, token_ends, side="left")    # characters starting before the end
    new_begins = byte_offset(next_stop(start_stops, first_char))
    new_ends = byte_offset(next_stop(end_stops, after_last))
    new_ends = tf.maximum(new_ends, new_begins)
    row_lengths = begins.row_lengths()
    return (tf.RaggedTensor.from_tensor(new_begins, lengths=row_lengths),
            tf.RaggedTensor.from_tensor(new_ends, lengths=row_lengths))


def expand_rewrites(ids, begins, ends, rewrite_ids, rewrite_widths):
    """Applies a piece -> sub-pieces rewrite table to ids and their normalized offsets.

    Sub-piece k of a rewritten piece ends `sum(widths[k+1:])` bytes before the piece's end and starts
    `widths[k]` bytes before its own end; the first one starts where the piece does. Rows that are not
    rewritten have the single width 0 and keep their piece's offsets.
    """
    flat_ids = ids.flat_values
    sub_ids = tf.gather(rewrite_ids, flat_ids)
    widths = tf.gather(rewrite_widths, flat_ids)
    rows = tf.cast(widths.value_rowids(), tf.int64)
    piece_begin = tf.gather(tf.cast(begins.flat_values, tf.int64), rows)
    piece_end = tf.gather(tf.cast(ends.flat_values, tf.int64), rows)
    w = tf.cast(widths.flat_values, tf.int64)
    inclusive = tf.cumsum(w)
    row_total = tf.gather(tf.concat([[0], inclusive], axis=0), tf.cast(widths.row_limits(), tf.int64))
    after = tf.gather(row_total, rows) - inclusive
    sub_end = piece_end - after
    is_first = tf.equal(tf.range(tf.shape(w, out_type=tf.int64)[0]), tf.gather(widths.row_starts(), rows))
    sub_begin = tf.where(is_first, piece_begin, tf.maximum(sub_end - w, piece_begin))
    merge = lambda values: ids.with_flat_values(sub_ids.with_flat_values(values)).merge_dims(1, 2)  # noqa: E731
    return merge(sub_ids.flat_values), merge(sub_begin), merge(sub_end)
