"""In-graph twins of the Python tokenizers: Keras 3 preprocessing layers over tensorflow-text.

They run anywhere TF string ops run: in `tf.data.Dataset.map` (host side: keep them out of the
compiled TPU step) and inside an exported SavedModel. Importing this module imports
`tensorflow_text`, which registers the custom ops (`SentencepieceOp`, ...) a SavedModel
needs at load time: import `albert_tf.tokenization` (or `tensorflow_text`) before
`tf.saved_model.load`.

Each layer is built from the same settings as its Python tokenizer (`layer_for(tokenizer)`),
uses the same character classes and the same digit-comma rewrite table, and is tested to give
the same ids.
"""

import base64
import functools

import keras
import numpy as np
import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.model_inputs import INPUT_MASK, RECORD_INPUT_IDS, RECORD_SEGMENT_IDS
from albert_tf.tokenization import base, graph_offsets, graph_text
from albert_tf.tokenization import sentencepiece as sp_lib
from albert_tf.tokenization import wordpiece as wp_lib

_PACKAGE = "albert_tf"


class _StringLayer(keras.layers.Layer):
    """Base: string/ragged in, ragged out; no weights, no autocasting of string inputs."""

    def __init__(self, mask_token_in_text=False, mask_id=None, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self.mask_token_in_text = bool(mask_token_in_text)
        self.mask_id = None if mask_id is None else int(mask_id)
        if self.mask_token_in_text and self.mask_id is None:
            raise ValueError("mask_token_in_text needs mask_id")
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True
        graph_text.prepare()

    def compute_output_spec(self, inputs):  # symbolic Keras inputs: ragged int ids
        return keras.KerasTensor(shape=tuple(inputs.shape) + (None,), dtype="int32", ragged=True)

    def _tokenize_1d(self, strings):
        raise NotImplementedError

    def _tokenize_with_masks(self, strings):
        """As `TokenizerBase.encode`: the text between literal `[MASK]`s is tokenized piece by piece
        and the mask id goes between the pieces."""
        parts = tf.strings.split(strings, sep=base.MASK_TOKEN)  # [batch, (parts)]; "" -> [""]
        part_ids = tf.cast(self._tokenize_1d(parts.flat_values), tf.int32)  # [parts, (tokens)]
        # Every part but the last of its row is followed by one mask id.
        rows = parts.value_rowids()
        index_in_row = tf.range(tf.size(rows, out_type=rows.dtype)) - tf.gather(parts.row_starts(), rows)
        followed = tf.cast(index_in_row < tf.gather(parts.row_lengths(), rows) - 1, rows.dtype)
        follow = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(followed)], tf.constant(self.mask_id, tf.int32)), followed)
        return parts.with_flat_values(tf.concat([part_ids, follow], axis=1)).merge_dims(1, 2)

    def _tokenize_rows(self, strings):
        if self.mask_token_in_text:
            return self._tokenize_with_masks(strings)
        return self._tokenize_1d(strings)

    def call(self, inputs):
        """Strings `[batch]` -> ragged ids `[batch, (tokens)]`; a scalar string -> ids `[tokens]`;
        `[batch, n]` (e.g. sentence pairs) -> `[batch, n, (tokens)]`."""
        inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        if inputs.shape.rank == 0:
            return self._tokenize_rows(tf.reshape(inputs, [1])).values
        if inputs.shape.rank == 1:
            return self._tokenize_rows(inputs)
        if inputs.shape.rank != 2:
            raise ValueError(f"expected a scalar, 1-D or 2-D string tensor, got shape {inputs.shape}")
        tokens = self._tokenize_rows(tf.reshape(inputs, [-1]))
        return tf.RaggedTensor.from_uniform_row_length(
            tokens, tf.cast(tf.shape(inputs)[1], tokens.row_splits.dtype))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SentencePieceTokenizerLayer(_StringLayer):
    """In-graph `SentencePieceTokenizer`: ALBERT preprocessing + SentencePiece + digit-comma rule.

    Args:
        model_proto: serialized SentencePiece model (bytes, or base64 text as in `get_config`).
        do_lower_case, keep_accents, remove_space, split_digit_comma, replace_quotes: as
            `SentencePieceTokenizer`.
        mask_token_in_text, mask_id: the literal `[MASK]` in text becomes `mask_id` (off by default).

    Example:
        >>> layer = layer_for(SentencePieceTokenizer("30k-clean.model"))
        >>> ds = tf.data.Dataset.from_tensor_slices(["Hello, my dog is cute"]).map(layer)
    """

    def __init__(self, model_proto, do_lower_case=True, keep_accents=False, remove_space=True,
                 split_digit_comma=True, replace_quotes=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model_proto, str):
            model_proto = base64.b64decode(model_proto)
        self.model_proto = bytes(model_proto)
        self.do_lower_case = bool(do_lower_case)
        self.keep_accents = bool(keep_accents)
        self.remove_space = bool(remove_space)
        self.split_digit_comma = bool(split_digit_comma)
        self.replace_quotes = bool(replace_quotes)
        self._sp = tf_text.SentencepieceTokenizer(model=self.model_proto, out_type=tf.int32)
        self._rewrite, self._rewrite_widths = self._rewrite_table() if split_digit_comma else (None, None)

    def _rewrite_table(self):
        """Ragged `[vocab, (ids)]`: row i is the digit-comma re-split of id i, else `[i]`; and the
        matching surface byte widths of the sub-pieces (`[0]` for rows not rewritten) for offsets."""
        sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        rows = [[i] for i in range(sp.get_piece_size())]
        widths = [[0] for _ in rows]
        for piece, pieces in sp_lib.digit_comma_rewrites(sp).items():
            rows[sp.piece_to_id(piece)] = [sp.piece_to_id(p) for p in pieces]
            widths[sp.piece_to_id(piece)] = [len(p.lstrip(sp_lib.SPIECE_UNDERLINE).encode("utf-8")) for p in pieces]
        lengths = tf.constant(np.array([len(r) for r in rows], dtype=np.int64))
        values = np.array([i for r in rows for i in r], dtype=np.int32)
        width_values = np.array([w for r in widths for w in r], dtype=np.int32)
        return (tf.RaggedTensor.from_row_lengths(tf.constant(values), lengths),
                tf.RaggedTensor.from_row_lengths(tf.constant(width_values), lengths))

    def _tokenize_1d(self, strings):
        text = graph_text.albert_preprocess(
            strings, do_lower_case=self.do_lower_case, keep_accents=self.keep_accents,
            remove_space=self.remove_space, replace_quotes=self.replace_quotes)
        ids = self._sp.tokenize(text)
        if self._rewrite is not None:
            # Every id becomes its (usually one-element) row of the rewrite table.
            ids = ids.with_flat_values(tf.gather(self._rewrite, ids.flat_values)).merge_dims(1, 2)
        return ids

    def tokenize_with_offsets(self, strings):
        """1-D strings -> `(ids, begins, ends)`, ragged `[batch, (tokens)]`; the offsets are bytes of
        `strings` itself (not of the normalized text), so `strings[begin:end]` is the token's original text."""
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        text = graph_text.albert_preprocess(
            strings, do_lower_case=self.do_lower_case, keep_accents=self.keep_accents,
            remove_space=self.remove_space, replace_quotes=self.replace_quotes)
        ids, begins, ends = self._sp.tokenize_with_offsets(text)
        if self._rewrite is not None:
            ids, begins, ends = graph_offsets.expand_rewrites(ids, begins, ends, self._rewrite,
                                                              self._rewrite_widths)
        lengths = functools.partial(
            graph_offsets.albert_char_lengths, do_lower_case=self.do_lower_case, keep_accents=self.keep_accents,
            remove_space=self.remove_space, replace_quotes=self.replace_quotes)
        begins, ends = graph_offsets.to_original(strings, lengths, begins, ends)
        return tf.cast(ids, tf.int32), begins, ends

    def get_config(self):
        config = super().get_config()
        config.update({
            "mask_token_in_text": self.mask_token_in_text, "mask_id": self.mask_id,
            "model_proto": base64.b64encode(self.model_proto).decode("ascii"),
            "do_lower_case": self.do_lower_case, "keep_accents": self.keep_accents,
            "remove_space": self.remove_space, "split_digit_comma": self.split_digit_comma,
            "replace_quotes": self.replace_quotes})
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WordPieceTokenizerLayer(_StringLayer):
    """In-graph `WordPieceTokenizer`: BERT basic tokenizer + `FastWordpieceTokenizer`.

    tensorflow-text's own `BertTokenizer` case-folds (ß -> ss, ² -> 2), turns controls into spaces
    instead of deleting them and limits words in bytes; the basic tokenizer is therefore rebuilt
    from BERT's exact character classes (`graph_text.bert_basic_words`) and only the greedy
    WordPiece step is delegated, with the character limit applied before it.

    Args:
        vocab: list of tokens (id = position), as in `vocab.txt`.
        do_lower_case: lowercase + strip accents.
        max_chars_per_word: longer words become `[UNK]`.
        mask_token_in_text, mask_id: the literal `[MASK]` in text becomes `mask_id` (off by default).
    """

    def __init__(self, vocab, do_lower_case=True, max_chars_per_word=200, **kwargs):
        super().__init__(**kwargs)
        self.vocab = list(vocab)
        self.do_lower_case = bool(do_lower_case)
        self.max_chars_per_word = int(max_chars_per_word)
        self._unk = wp_lib.SPECIAL_TOKENS["unk"]
        self._wordpiece_unk_id = self.vocab.index(self._unk) if self._unk in self.vocab else -1
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=self.vocab, suffix_indicator="##",
            # A word of max_chars characters has at most 4 bytes per character.
            max_bytes_per_word=4 * self.max_chars_per_word + 4, token_out_type=tf.int32,
            unknown_token=self._unk, no_pretokenization=True,
            support_detokenization=True)  # a served SQuAD model's `serving_ids` detokenizes its answer

    def _tokenize_1d(self, strings):
        words = graph_text.bert_basic_words(strings, do_lower_case=self.do_lower_case)
        flat = words.flat_values
        too_long = tf.strings.length(flat, unit="UTF8_CHAR") > self.max_chars_per_word
        # "[UNK]" cannot come out of the basic tokenizer ("[" is punctuation), so it is a safe
        # stand-in that the word-piece step maps to the [UNK] id.
        flat = tf.where(too_long, tf.constant(self._unk), flat)
        pieces = self._wordpiece.tokenize(flat)
        return words.with_flat_values(pieces).merge_dims(1, 2)

    def tokenize_with_offsets(self, strings):
        """1-D strings -> `(ids, begins, ends)`, ragged `[batch, (tokens)]`; the offsets are bytes of
        `strings` itself (not of the normalized text), so `strings[begin:end]` is the token's original text."""
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        words, word_begins, word_ends = graph_text.bert_basic_words_with_offsets(
            strings, do_lower_case=self.do_lower_case)
        flat = words.flat_values
        too_long = tf.strings.length(flat, unit="UTF8_CHAR") > self.max_chars_per_word
        pieces, begins, ends = self._wordpiece.tokenize_with_offsets(tf.where(too_long, tf.constant(self._unk), flat))
        # Offsets within each word -> offsets in the normalized text; an over-long word's [UNK] spans it all.
        piece_words = pieces.value_rowids()
        word_begin = tf.gather(tf.cast(word_begins.flat_values, tf.int64), piece_words)
        word_length = tf.gather(tf.cast(word_ends.flat_values - word_begins.flat_values, tf.int64), piece_words)
        long_word = tf.gather(too_long, piece_words)
        begins = word_begin + tf.where(long_word, tf.zeros_like(word_length), tf.cast(begins.flat_values, tf.int64))
        ends = word_begin + tf.where(long_word, word_length, tf.cast(ends.flat_values, tf.int64))
        merge = lambda values: words.with_flat_values(pieces.with_flat_values(values)).merge_dims(1, 2)  # noqa: E731
        lengths = functools.partial(graph_offsets.bert_char_lengths, do_lower_case=self.do_lower_case)
        begins, ends = graph_offsets.to_original(strings, lengths, merge(begins), merge(ends))
        # As the host tokenizer: the pieces of a word that changed length through normalization
        # (accents stripped, ...) each get the whole word's span.
        word_starts, word_limits = graph_offsets.to_original(strings, lengths, word_begins, word_ends)
        original = tf.strings.substr(tf.gather(strings, words.value_rowids()), word_starts.flat_values,
                                     word_limits.flat_values - word_starts.flat_values)
        same = tf.equal(tf.strings.length(original, unit="UTF8_CHAR"), tf.strings.length(flat, unit="UTF8_CHAR"))
        whole = ~tf.gather(same, piece_words) | tf.equal(pieces.flat_values, self._wordpiece_unk_id)
        begins = begins.with_flat_values(tf.where(whole, tf.gather(word_starts.flat_values, piece_words),
                                                  begins.flat_values))
        ends = ends.with_flat_values(tf.where(whole, tf.gather(word_limits.flat_values, piece_words),
                                              ends.flat_values))
        return tf.cast(merge(pieces.flat_values), tf.int32), begins, ends

    def get_config(self):
        config = super().get_config()
        config.update({"mask_token_in_text": self.mask_token_in_text, "mask_id": self.mask_id,
                       "vocab": self.vocab, "do_lower_case": self.do_lower_case,
                       "max_chars_per_word": self.max_chars_per_word})
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PackInputs(keras.layers.Layer):
    """In-graph `packing.pack`: trim (longest first), `[CLS] A [SEP] B [SEP]`, pad right.

    Args:
        max_seq_length: output length.
        cls_id, sep_id, pad_id: special ids (from the tokenizer's `special_ids()`).

    Call args:
        segments: one or two ragged id tensors `[batch, (tokens)]` (or 1-D for a single example).

    Returns:
        dict of int32 `input_ids`, `input_mask`, `segment_ids`, each `[batch, max_seq_length]`.
    """

    def __init__(self, max_seq_length, cls_id, sep_id, pad_id, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.max_seq_length = int(max_seq_length)
        self.cls_id, self.sep_id, self.pad_id = int(cls_id), int(sep_id), int(pad_id)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    def call(self, segments):
        if not isinstance(segments, (list, tuple)):
            segments = [segments]
        if len(segments) not in (1, 2):
            raise ValueError(f"PackInputs takes 1 or 2 segments, got {len(segments)}")
        unbatched = not isinstance(segments[0], tf.RaggedTensor) and segments[0].shape.rank == 1
        if unbatched:
            segments = [tf.RaggedTensor.from_tensor(tf.expand_dims(s, 0)) for s in segments]
        out = pack_segments(segments, self.max_seq_length, self.cls_id, self.sep_id, self.pad_id)
        if unbatched:
            out = {k: v[0] for k, v in out.items()}
        return out

    def get_config(self):
        config = super().get_config()
        config.update({"max_seq_length": self.max_seq_length, "cls_id": self.cls_id,
                       "sep_id": self.sep_id, "pad_id": self.pad_id})
        return config


def pack_segments(segments, max_seq_length, cls_id, sep_id, pad_id):
    """Ragged `[batch, (tokens)]` segments -> `[CLS] A [SEP] (B [SEP])` padded to `max_seq_length`.

    `max_seq_length` may be a scalar tensor (TF Hub preprocessors take it as an argument).
    Truncation is longest-first, as `packing.pack` does on the host.
    """
    segments = [tf.cast(s, tf.int32) for s in segments]
    budget = max_seq_length - len(segments) - 1
    # For two segments RoundRobinTrimmer keeps the same lengths as longest-first truncation.
    trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
    ids, types = tf_text.combine_segments(trimmed, cls_id, sep_id)
    input_ids, mask = tf_text.pad_model_inputs(ids, max_seq_length, pad_value=pad_id)
    segment_ids, _ = tf_text.pad_model_inputs(types, max_seq_length, pad_value=0)
    return {RECORD_INPUT_IDS: tf.cast(input_ids, tf.int32), INPUT_MASK: tf.cast(mask, tf.int32),
            RECORD_SEGMENT_IDS: tf.cast(segment_ids, tf.int32)}


def layer_for(tokenizer, **kwargs):
    """The in-graph tokenizer layer with exactly `tokenizer`'s settings (and its `mask_token_in_text`)."""
    masks = {"mask_token_in_text": tokenizer.mask_token_in_text, "mask_id": tokenizer.mask_id}
    if isinstance(tokenizer, sp_lib.SentencePieceTokenizer):
        return SentencePieceTokenizerLayer(
            tokenizer.model_proto, do_lower_case=tokenizer.do_lower_case,
            keep_accents=tokenizer.keep_accents, remove_space=tokenizer.remove_space,
            split_digit_comma=tokenizer.split_digit_comma,
            replace_quotes=tokenizer.replace_quotes, **masks, **kwargs)
    if isinstance(tokenizer, wp_lib.WordPieceTokenizer):
        return WordPieceTokenizerLayer(tokenizer.vocab, do_lower_case=tokenizer.do_lower_case,
                                       max_chars_per_word=tokenizer.max_chars_per_word, **masks, **kwargs)
    raise TypeError(f"no in-graph layer for {type(tokenizer).__name__}")


def packer_for(tokenizer, max_seq_length, **kwargs):
    """`PackInputs` with `tokenizer`'s special ids."""
    return PackInputs(max_seq_length, cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id,
                      pad_id=tokenizer.pad_id, **kwargs)
