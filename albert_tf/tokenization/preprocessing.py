"""ALBERT's text normalization before SentencePiece (`preprocess_text` of the reference).

Order matters and is the reference's: collapse whitespace (`" ".join(text.strip().split())`),
then NFKD and drop every character with a non-zero combining class (unless `keep_accents`),
then `str.lower()` (when `do_lower_case`). The reference does *not* rewrite ``` `` ``` / `''`
quotes (Hugging Face's slow tokenizer does; see docs/tokenization.md).

`normalize_with_alignment` computes the same string plus, for every output character, the span
of original characters it came from, so token offsets can point into the text the user gave us.
"""

import functools
import unicodedata

from albert_tf.tokenization import offsets as offsets_lib
from albert_tf.tokenization import unicode_tables


@functools.lru_cache(maxsize=None)
def _drop_combining_table():
    return unicode_tables.translate_table(delete=unicode_tables.combining_marks())


def _strip_accents(text):
    if text.isascii():  # ASCII is NFKD-stable and has no combining marks: skip the work.
        return text
    return unicodedata.normalize("NFKD", text).translate(_drop_combining_table())


def preprocess_text(text, *, do_lower_case=True, keep_accents=False, remove_space=True):
    """Returns `text` normalized exactly as ALBERT does before SentencePiece."""
    if remove_space:
        text = " ".join(text.split())  # split() also strips, as in the reference.
    if not keep_accents:
        text = _strip_accents(text)
    if do_lower_case:
        text = text.lower()
    return text


def normalize_with_alignment(text, *, do_lower_case=True, keep_accents=False, remove_space=True):
    """Like `preprocess_text`, also returning `(starts, ends)`: original span of each output char.

    Whitespace runs collapse to one space whose span is the whole run; a character that expands
    (NFKD "ﬁ" -> "fi", "½" -> "1⁄2") gives every piece the original character's span; a deleted
    combining mark is attached to the preceding output character so "e\\u0301" stays one unit.
    """
    chars, spans = [], []
    if remove_space:
        pending = None
        for i, c in enumerate(text):
            if c.isspace():
                if pending is None:
                    pending = [i, i + 1]
                else:
                    pending[1] = i + 1
                continue
            if pending is not None and chars:
                chars.append(" ")
                spans.append(tuple(pending))
            pending = None
            chars.append(c)
            spans.append((i, i + 1))
    else:
        chars = list(text)
        spans = [(i, i + 1) for i in range(len(text))]
    collapsed = "".join(chars)
    if not keep_accents:
        collapsed, spans = offsets_lib.transform_aligned(collapsed, spans, _strip_accents)
    if do_lower_case:
        collapsed, spans = offsets_lib.transform_aligned(collapsed, spans, str.lower)
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    return collapsed, starts, ends
