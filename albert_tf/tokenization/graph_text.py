"""String normalization in TensorFlow ops that reproduces the Python pipelines exactly.

Three TF/Python differences are handled here, each checked by the tests:
- RE2 classes (`\\s`, `\\p{Mn}`) differ from Python's: we use explicit classes from `unicode_tables`.
- `tf.strings.lower` (ICU) lags Python's Unicode version for a few dozen letters: those letters
  are rewritten to Python's lowercase first (table measured once per process, see `_lower_fixups`).
- `tf.strings.lower` stops at a NUL byte: strings holding NUL are lowered piecewise around it.
NFKD/NFD via `tensorflow_text.normalize_utf8` agree with Python on every code point.
"""

import functools

import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.tokenization import unicode_tables


@functools.lru_cache(maxsize=None)
def _lower_fixups():
    """`{char: python_lower}` for characters where `tf.strings.lower` disagrees with `str.lower`."""
    # Every cased letter lives below U+20000 (planes 0 and 1); NUL and "\n" are handled apart.
    chars = [chr(cp) for cp in range(1, 0x20000) if not 0xD800 <= cp <= 0xDFFF and cp != 0x0A]
    # One big "\n"-joined string keeps this to a single op; "\n" is uncased and never produced.
    with tf.init_scope():  # measured eagerly even when first needed while tracing a graph
        lowered = tf.strings.lower("\n".join(chars), encoding="utf-8").numpy().decode("utf-8")
        out = lowered.split("\n")
        if len(out) != len(chars):  # unexpected; fall back to a per-character comparison
            out = [s.decode("utf-8") for s in
                   tf.strings.lower(tf.constant(chars), encoding="utf-8").numpy()]
    return {c: c.lower() for c, low in zip(chars, out) if c.lower() != low}


@functools.lru_cache(maxsize=None)
def prepare():
    """Builds the tables now (layers call this at construction, outside any graph)."""
    _lower_fixups()
    regex_classes()


@functools.lru_cache(maxsize=None)
def regex_classes():
    """RE2 classes used by the in-graph pipelines (built once per process)."""
    return {
        "python_ws": unicode_tables.re2_class(unicode_tables.python_whitespace()),
        "combining": unicode_tables.re2_class(unicode_tables.combining_marks()),
        "mn": unicode_tables.re2_class(unicode_tables.nonspacing_marks()),
        "bert_removed": unicode_tables.re2_class(unicode_tables.bert_removed()),
        "bert_ws": unicode_tables.re2_class(unicode_tables.bert_whitespace()),
        "bert_split": unicode_tables.re2_class(
            unicode_tables.bert_punctuation() + unicode_tables.cjk_characters()),
    }


def _lower_no_nul(x):
    fixups = _lower_fixups()
    if fixups:
        pattern = "(?s).*" + unicode_tables.re2_class([ord(c) for c in fixups]) + ".*"

        def fix(s):
            for char, low in fixups.items():
                s = tf.strings.regex_replace(s, unicode_tables.re2_class([ord(char)]), low)
            return s

        x = tf.cond(tf.reduce_any(tf.strings.regex_full_match(x, pattern)),
                    lambda: fix(x), lambda: tf.identity(x))
    return tf.strings.lower(x, encoding="utf-8")


def python_lower(x):
    """`str.lower()` for a 1-D string tensor."""
    has_nul = tf.reduce_any(tf.strings.regex_full_match(x, "(?s).*\\x00.*"))

    def escaped():
        # TF string ops read NUL as end of string, so hide it behind an escape that lowering keeps:
        # "\x01" -> "\x01\x02", "\x00" -> "\x01\x03" (controls are uncased and, like NUL, are
        # no cased context for final sigma), lower, then undo ("\x01" only ever starts a pair).
        s = tf.strings.regex_replace(x, "\\x01", "\x01\x02")
        s = tf.strings.regex_replace(s, "\\x00", "\x01\x03")
        s = _lower_no_nul(s)
        s = tf.strings.regex_replace(s, "\\x01\\x03", "\x00")
        return tf.strings.regex_replace(s, "\\x01\\x02", "\x01")

    return tf.cond(has_nul, escaped, lambda: _lower_no_nul(x))


def albert_preprocess(x, *, do_lower_case=True, keep_accents=False, remove_space=True,
                      replace_quotes=False):
    """In-graph `preprocessing.preprocess_text` for a 1-D string tensor."""
    classes = regex_classes()
    if remove_space:
        x = tf.strings.regex_replace(x, classes["python_ws"] + "+", " ")
        x = tf.strings.regex_replace(x, "^ | $", "")
    if replace_quotes:
        x = tf.strings.regex_replace(x, "``", '"')
        x = tf.strings.regex_replace(x, "''", '"')
    if not keep_accents:
        x = tf_text.normalize_utf8(x, "NFKD")
        x = tf.strings.regex_replace(x, classes["combining"], "")
    if do_lower_case:
        x = python_lower(x)
    return x


def bert_basic_words(x, *, do_lower_case=True):
    """In-graph `wordpiece.BasicTokenizer.tokenize`: 1-D strings -> ragged words `[batch, (words)]`."""
    return bert_basic_words_with_offsets(x, do_lower_case=do_lower_case)[0]


def bert_basic_words_with_offsets(x, *, do_lower_case=True):
    """(words, begins, ends): the words and their byte offsets in the NORMALIZED text (see `graph_offsets`)."""
    classes = regex_classes()
    x = tf.strings.regex_replace(x, classes["bert_removed"], "")
    x = tf.strings.regex_replace(x, classes["bert_ws"], " ")
    if do_lower_case:
        x = python_lower(x)
        x = tf_text.normalize_utf8(x, "NFD")
        x = tf.strings.regex_replace(x, classes["mn"], "")
    split = classes["bert_split"]
    return tf_text.regex_split_with_offsets(x, " +|" + split, split)
