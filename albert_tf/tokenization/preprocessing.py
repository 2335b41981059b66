"""ALBERT's text normalization before SentencePiece (`preprocess_text` of the reference).

Order matters and is the reference's: collapse whitespace (`" ".join(text.strip().split())`),
then NFKD and drop every character with a non-zero combining class (unless `keep_accents`),
then `str.lower()` (when `do_lower_case`). The original google-research/albert code does *not*
rewrite ``` `` ``` / `''` to `"`; Hugging Face's `AlbertTokenizer` (after XLNet) does, right after
the whitespace collapse: `replace_quotes=True` selects that variant (see docs/tokenization.md).

`normalize_with_alignment` computes the same string plus, for every output character, the span
of original characters it came from, so token offsets can point into the text the user gave us.
"""

import functools
import unicodedata

from albert_tf.tokenization import offsets as offsets_lib
from albert_tf.tokenization import unicode_tables


@functools.lru_cache(maxsize=None)
def _drop_combining_table():
    return unicode_tables.LazyDeletionTable(lambda char: unicodedata.combining(char) != 0)


def _strip_accents(text):
    if text.isascii():  # ASCII is NFKD-stable and has no combining marks: skip the work.
        return text
    return unicodedata.normalize("NFKD", text).translate(_drop_combining_table())


def preprocess_text(text, *, do_lower_case=True, keep_accents=False, remove_space=True,
                    replace_quotes=False):
    """Returns `text` normalized exactly as ALBERT does before SentencePiece."""
    if remove_space:
        text = " ".join(text.split())  # split() also strips, as in the reference.
    if replace_quotes:
        text = text.replace("``", '"').replace("''", '"')
    if not keep_accents:
        text = _strip_accents(text)
    if do_lower_case:
        text = text.lower()
    return text


def _replace_quotes_aligned(text, spans):
    # "``" and "''" cannot overlap each other, so one left-to-right scan equals the two
    # successive str.replace calls; the '"' spans both original quote characters.
    chars, new_spans, i = [], [], 0
    while i < len(text):
        if text[i:i + 2] in ("``", "''"):
            chars.append('"')
            new_spans.append((spans[i][0], spans[i + 1][1]))
            i += 2
        else:
            chars.append(text[i])
            new_spans.append(spans[i])
            i += 1
    return "".join(chars), new_spans


def normalize_with_alignment(text, *, do_lower_case=True, keep_accents=False, remove_space=True,
                             replace_quotes=False):
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
    if replace_quotes:
        collapsed, spans = _replace_quotes_aligned(collapsed, spans)
    if not keep_accents:
        collapsed, spans = offsets_lib.transform_aligned(collapsed, spans, _strip_accents)
    if do_lower_case:
        collapsed, spans = offsets_lib.transform_aligned(collapsed, spans, str.lower)
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    return collapsed, starts, ends
