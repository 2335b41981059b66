"""Character classes shared by the Python tokenizers and their in-graph twins.

The Python pipeline is defined by Python's `str`/`unicodedata` semantics (that is what the
reference implementations ran). RE2, used by `tf.strings.regex_replace`, has different ideas of
`\\s`, `\\d` and `\\p{...}`, so every class used in-graph is enumerated here from `unicodedata`
and written out as an explicit RE2 character class. Both sides therefore use the very same set.
"""

import functools
import unicodedata

# BERT's `_is_chinese_char` blocks (CJK Unified Ideographs and extensions, compatibility ideographs).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


# Planes 4-13 are unassigned and planes 15-16 are private use (no marks, spaces, punctuation or
# CJK there), so scanning planes 0-3 and 14 gives the same tables ~3x faster at start-up.
_SCANNED_RANGES = (range(0, 0x40000), range(0xE0000, 0xF0000))


def _code_points(predicate):
    return tuple(
        cp for block in _SCANNED_RANGES for cp in block
        if not 0xD800 <= cp <= 0xDFFF and predicate(chr(cp)))


@functools.lru_cache(maxsize=None)
def python_whitespace():
    """Code points `str.split()` splits on (what ALBERT's whitespace collapse uses)."""
    return _code_points(str.isspace)


@functools.lru_cache(maxsize=None)
def combining_marks():
    """Code points with a non-zero canonical combining class (dropped after NFKD)."""
    return _code_points(lambda c: unicodedata.combining(c) != 0)


@functools.lru_cache(maxsize=None)
def nonspacing_marks():
    """Category Mn (what BERT's `_run_strip_accents` drops after NFD)."""
    return _code_points(lambda c: unicodedata.category(c) == "Mn")


def _is_bert_control(char):
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


@functools.lru_cache(maxsize=None)
def bert_removed():
    """Code points BERT's `_clean_text` deletes: NUL, U+FFFD and Cc/Cf controls except tab/newlines."""
    return _code_points(lambda c: c in "\x00\ufffd" or _is_bert_control(c))


@functools.lru_cache(maxsize=None)
def bert_whitespace():
    """Code points that end up separating words in BERT's basic tokenizer.

    `_clean_text` maps space, tab, CR, LF and category Zs to a space; `str.split()` then also
    splits on the remaining Python whitespace (U+2028, U+2029), controls having been deleted.
    """
    removed = set(bert_removed())

    def is_ws(c):
        if ord(c) in removed:
            return False
        return c in " \t\n\r" or unicodedata.category(c) == "Zs" or c.isspace()

    return _code_points(is_ws)


def _is_bert_punctuation(char):
    cp = ord(char)
    # BERT treats every non-alphanumeric ASCII character as punctuation ("$", "^", "`" are not Unicode P*).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


@functools.lru_cache(maxsize=None)
def bert_punctuation():
    return _code_points(_is_bert_punctuation)


@functools.lru_cache(maxsize=None)
def cjk_characters():
    return tuple(cp for lo, hi in CJK_RANGES for cp in range(lo, hi + 1))


def _ranges(code_points):
    ranges = []
    for cp in sorted(set(code_points)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def re2_class(code_points, negate=False):
    """An RE2 character class matching exactly `code_points`, e.g. `[\\x{300}-\\x{36f}]`."""
    parts = []
    for lo, hi in _ranges(code_points):
        parts.append("\\x{%x}" % lo if lo == hi else "\\x{%x}-\\x{%x}" % (lo, hi))
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


class LazyDeletionTable(dict):
    """A `str.translate` table deleting the characters `predicate` accepts, filled on first sight.

    Scanning all of Unicode up front costs ~0.5 s per process; text uses a few hundred distinct
    characters, so deciding per character when it first appears is far cheaper (`str.translate`
    looks characters up with `[]`, so `__missing__` runs once per new character).
    """

    def __init__(self, predicate):
        super().__init__()
        self._predicate = predicate

    def __missing__(self, code_point):
        value = None if self._predicate(chr(code_point)) else code_point
        self[code_point] = value
        return value


def translate_table(delete=(), to_space=()):
    """A `str.translate` table: C-speed deletion / mapping for the Python fast paths."""
    table = {cp: None for cp in delete}
    table.update({cp: " " for cp in to_space})
    return table
