"""Character offsets into the ORIGINAL text, through normalizations that change lengths.

Every token gets a half-open `(start, end)` span of the text passed to `encode_with_offsets`,
never of the normalized text: SQuAD needs to slice answers out of the raw context.
"""

import dataclasses
from typing import List, Optional, Tuple

Span = Tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Encoding:
    """Ids, pieces and original-text spans of one text (no [CLS]/[SEP], no padding).

    Args:
        ids: token ids.
        tokens: the matching vocabulary pieces.
        offsets: `(start, end)` character span of each token in the original text; a token
            made only of inserted whitespace (a lone SentencePiece "▁") gets an empty span.
    """

    ids: List[int]
    tokens: List[str]
    offsets: List[Span]


def transform_aligned(text, spans, fn):
    """Applies `fn` to `text` and carries each character's span to the characters it became.

    `fn` must work character by character up to context effects that keep lengths (Python's
    final-sigma lowering). When per-character lengths disagree with the whole-string result we
    fall back to a proportional alignment (never seen on the real corpora; kept to never crash).
    """
    out = fn(text)
    if out == text:
        return out, list(spans)
    pieces = [fn(c) for c in text]
    if sum(len(p) for p in pieces) != len(out):
        n = max(len(text), 1)
        return out, [spans[min(j * n // max(len(out), 1), len(spans) - 1)] for j in range(len(out))]
    new_spans = []
    attach = False  # whether the last output character may absorb a deleted one
    for char, piece, span in zip(text, pieces, spans):
        if piece:
            new_spans.extend([span] * len(piece))
            attach = not char.isspace()
        elif attach and new_spans[-1][1] <= span[0]:
            # A deleted character (combining mark) belongs to the character before it.
            new_spans[-1] = (new_spans[-1][0], span[1])
    return out, new_spans


def byte_to_char_index(text):
    """List mapping every UTF-8 byte offset of `text` (and the end) to its character index."""
    if text.isascii():
        return None  # identity; callers test for None to skip the table.
    table = []
    for i, c in enumerate(text):
        table.extend([i] * len(c.encode("utf-8")))
    table.append(len(text))
    return table


def span_in_original(normalized, starts, ends, begin, end):
    """Maps a normalized-text char range to an original-text span, trimming whitespace."""
    while begin < end and normalized[begin].isspace():
        begin += 1
    while end > begin and normalized[end - 1].isspace():
        end -= 1
    if begin >= end:
        pos = starts[begin] if begin < len(starts) else (ends[-1] if ends else 0)
        return (pos, pos)
    return (starts[begin], ends[end - 1])


def char_span_to_token_span(offsets, char_start, char_end) -> Optional[Span]:
    """Inclusive `(first, last)` indices of the tokens overlapping `[char_start, char_end)`.

    Returns None when no token overlaps (an answer made only of whitespace, or past the end).
    """
    first = last = None
    for i, (s, e) in enumerate(offsets):
        if e <= s:
            continue
        if s < char_end and e > char_start:
            if first is None:
                first = i
            last = i
    if first is None:
        return None
    return (first, last)
