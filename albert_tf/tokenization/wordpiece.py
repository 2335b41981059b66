"""`WordPieceTokenizer`: the BERT-Chinese `vocab.txt` pipeline used by all Chinese ALBERT models.

BERT basic tokenizer semantics: delete NUL/U+FFFD/control characters, map whitespace to spaces,
put every CJK ideograph in its own word, lowercase + NFD + drop Mn (when `do_lower_case`), split
punctuation; then greedy longest-match-first WordPiece with `##` continuations, a word longer than
`max_chars_per_word` characters (or with an unmatchable rest) becoming `[UNK]`.

The fast path does the basic tokenizer with `str.translate` and one compiled regex instead of
BERT's per-character Python loops; the result is the same, as the character classes are BERT's.
"""

import collections
import functools
import hashlib
import os
import re
import unicodedata
from typing import Iterable, List, Sequence

from albert_tf import filesystem
from albert_tf.tokenization import base
from albert_tf.tokenization import offsets as offsets_lib
from albert_tf.tokenization import unicode_tables

SPECIAL_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}


def _py_class(code_points):
    # Python's `re` accepts the same \x{...}-free syntax via \U escapes.
    parts = []
    for lo, hi in unicode_tables._ranges(code_points):  # pylint: disable=protected-access
        parts.append(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
    return "[" + "".join(parts) + "]"


@functools.lru_cache(maxsize=None)
def _tables():
    clean = unicode_tables.translate_table(delete=unicode_tables.bert_removed(),
                                           to_space=unicode_tables.bert_whitespace())
    strip_mn = unicode_tables.translate_table(delete=unicode_tables.nonspacing_marks())
    split_cls = _py_class(unicode_tables.bert_punctuation() + unicode_tables.cjk_characters())
    word_re = re.compile(f"{split_cls}|[^ {split_cls[1:-1]}]+")
    return clean, strip_mn, word_re


def load_vocab(vocab_file) -> List[str]:
    """Tokens of a BERT `vocab.txt`, one per line (line number = id)."""
    data = filesystem.read_bytes(vocab_file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{vocab_file}:{line}: invalid UTF-8 in vocabulary") from e
    tokens = [t.strip() for t in text.split("\n")]
    while tokens and not tokens[-1]:
        tokens.pop()
    return tokens


class BasicTokenizer:
    """BERT's basic tokenizer (clean text, CJK split, lowercase + strip accents, punctuation split).

    Args:
        do_lower_case: lowercase and strip accents (NFD, drop Mn), as BERT does.
    """

    def __init__(self, do_lower_case=True):
        self.do_lower_case = bool(do_lower_case)
        self._clean, self._strip_mn, self._word_re = _tables()

    def normalize(self, text: str) -> str:
        text = text.translate(self._clean)
        if self.do_lower_case:
            text = text.lower()
            if not text.isascii():
                text = unicodedata.normalize("NFD", text).translate(self._strip_mn)
        return text

    def tokenize(self, text: str) -> List[str]:
        return self._word_re.findall(self.normalize(text))

    def tokenize_with_offsets(self, text: str):
        """Words and their `(start, end)` spans in `text`."""
        spans = [(i, i + 1) for i in range(len(text))]
        norm, spans = offsets_lib.transform_aligned(text, spans, lambda t: t.translate(self._clean))
        if self.do_lower_case:
            norm, spans = offsets_lib.transform_aligned(norm, spans, str.lower)
            norm, spans = offsets_lib.transform_aligned(
                norm, spans, lambda t: unicodedata.normalize("NFD", t).translate(self._strip_mn))
        words = []
        for m in self._word_re.finditer(norm):
            words.append((m.group(), (spans[m.start()][0], spans[m.end() - 1][1])))
        return words


class WordPieceTokenizer(base.TokenizerBase):
    """BERT WordPiece tokenizer for Chinese ALBERT `vocab.txt` models.

    Args:
        vocab_file: path to `vocab.txt` (one token per line, id = line number).
        vocab: the token list, instead of `vocab_file`.
        do_lower_case: lowercase + strip accents (True for all Chinese ALBERT models).
        max_chars_per_word: words longer than this become `[UNK]` (BERT: 200).
        mask_token_in_text: the literal `[MASK]` in text is the mask id (see `TokenizerBase`).

    Example:
        >>> tok = WordPieceTokenizer("vocab.txt")
        >>> tok.tokenize("ALBERT模型")
        ['al', '##bert', '模', '型']
    """

    _CACHE_SIZE = 1 << 16

    def __init__(self, vocab_file=None, *, vocab=None, do_lower_case=True, max_chars_per_word=200,
                 mask_token_in_text=False):
        if (vocab_file is None) == (vocab is None):
            raise ValueError("pass exactly one of vocab_file or vocab")
        self.vocab_file = None if vocab_file is None else os.fspath(vocab_file)
        self.vocab = list(vocab) if vocab is not None else load_vocab(vocab_file)
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        missing = [t for t in SPECIAL_TOKENS.values() if t not in self.token_to_id]
        if missing:
            raise ValueError(f"{self.vocab_file or 'vocab'} lacks special tokens {missing}")
        ids = {name: self.token_to_id[t] for name, t in SPECIAL_TOKENS.items()}
        self.pad_id, self.unk_id = ids["pad"], ids["unk"]
        self.cls_id, self.sep_id, self.mask_id = ids["cls"], ids["sep"], ids["mask"]
        self.do_lower_case = bool(do_lower_case)
        self.max_chars_per_word = int(max_chars_per_word)
        self.mask_token_in_text = bool(mask_token_in_text)
        self.basic = BasicTokenizer(do_lower_case=do_lower_case)
        self._word_cache = collections.OrderedDict()

    # === Settings ===
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def settings(self) -> base.TokenizerSettings:
        digest = hashlib.sha256(("\n".join(self.vocab) + "\n").encode("utf-8")).hexdigest()
        if self.vocab_file:
            digest = base.file_sha256(self.vocab_file)
        return base.TokenizerSettings(
            type="wordpiece",
            vocab_file=os.path.basename(self.vocab_file) if self.vocab_file else "vocab.txt",
            vocab_sha256=digest, vocab_size=self.vocab_size, do_lower_case=self.do_lower_case,
            keep_accents=not self.do_lower_case, remove_space=True, split_digit_comma=False,
            max_chars_per_word=self.max_chars_per_word, special_ids=self.special_ids())

    # === Text -> ids ===
    def normalize(self, text: str) -> str:
        return self.basic.normalize(text)

    def _word_pieces(self, word):
        """Greedy longest-match-first; returns (ids, pieces)."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        if len(word) > self.max_chars_per_word:
            result = ([self.unk_id], [SPECIAL_TOKENS["unk"]])
        else:
            ids, pieces, start = [], [], 0
            while start < len(word):
                end = len(word)
                while end > start:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    i = self.token_to_id.get(piece)
                    if i is not None:
                        break
                    end -= 1
                if end == start:  # nothing matched: the whole word is unknown
                    ids, pieces = [self.unk_id], [SPECIAL_TOKENS["unk"]]
                    break
                ids.append(i)
                pieces.append(piece)
                start = end
            result = (ids, pieces)
        if len(self._word_cache) >= self._CACHE_SIZE:
            self._word_cache.popitem(last=False)
        self._word_cache[word] = result
        return result

    def _encode_text(self, text: str) -> List[int]:
        out = []
        for word in self.basic.tokenize(text):
            out.extend(self._word_pieces(word)[0])
        return out

    def encode_batch(self, texts: Iterable[str]) -> List[List[int]]:
        return [self.encode(t) for t in texts]

    def _tokenize_text(self, text: str) -> List[str]:
        out = []
        for word in self.basic.tokenize(text):
            out.extend(self._word_pieces(word)[1])
        return out

    def encode_with_offsets(self, text: str) -> offsets_lib.Encoding:
        """Ids, pieces and `(start, end)` spans in the original `text`.

        Pieces of one word split the word's span by piece length when the word kept its length
        through normalization; otherwise each piece gets the whole word's span.
        """
        ids, tokens, spans = [], [], []
        for word, (start, end) in self.basic.tokenize_with_offsets(text):
            word_ids, pieces = self._word_pieces(word)
            exact = end - start == len(word)
            pos = start
            for i, piece in zip(word_ids, pieces):
                width = len(piece) - 2 if piece.startswith("##") else len(piece)
                if exact and i != self.unk_id:
                    spans.append((pos, pos + width))
                    pos += width
                else:
                    spans.append((start, end))
                ids.append(i)
                tokens.append(piece)
        return offsets_lib.Encoding(ids=ids, tokens=tokens, offsets=spans)

    # === ids <-> tokens <-> text ===
    def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
        return [self.vocab[int(i)] for i in ids]

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
        return [self.token_to_id.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Joins pieces: `##` glues to the previous piece, CJK characters need no spaces."""
        specials = {self.pad_id, self.cls_id, self.sep_id, self.mask_id}
        out = ""
        for i in ids:
            if skip_special_tokens and int(i) in specials:
                continue
            tok = self.vocab[int(i)]
            if tok.startswith("##"):
                out += tok[2:]
            elif out and not (_is_cjk(tok[:1]) or _is_cjk(out[-1:])):
                out += " " + tok
            else:
                out += tok
        return out


def _is_cjk(char):
    return bool(char) and any(lo <= ord(char) <= hi for lo, hi in unicode_tables.CJK_RANGES)
