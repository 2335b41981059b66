"""Which tokens start a word, for whole-word masking and the `token_boundary` feature.

SentencePiece (the rule of the original ALBERT generator): a piece starts a word when it begins with
"▁" or "<", is a single ASCII punctuation mark (or "€"/"£"), or contains any character that is not
an ASCII letter or punctuation (digits, CJK and other scripts count as whole pieces).
WordPiece: a piece starts a word unless it begins with "##".
Chinese whole-word masking: jieba segments each line; a token continues a word when it does not
begin at a jieba word start (so the characters of a multi-character word are masked together).
"""

import logging
import string
from typing import List

import numpy as np

_PUNCTUATION = set(string.punctuation) | {"€", "£"}
_LETTERS_OR_PUNCTUATION = set(string.ascii_lowercase) | _PUNCTUATION


def sentencepiece_piece_starts_word(piece: str) -> bool:
    if piece.startswith("▁") or piece.startswith("<") or piece in _PUNCTUATION:
        return True
    return not all(ch.lower() in _LETTERS_OR_PUNCTUATION for ch in piece)


def wordpiece_piece_starts_word(piece: str) -> bool:
    return not piece.startswith("##")


def start_table(tokenizer) -> np.ndarray:
    """uint8 array over the vocabulary: 1 where the id starts a word."""
    if tokenizer.settings.type == "sentencepiece":
        rule = sentencepiece_piece_starts_word
        pieces = [tokenizer.sp.id_to_piece(i) for i in range(tokenizer.vocab_size)]
    else:
        rule = wordpiece_piece_starts_word
        pieces = tokenizer.convert_ids_to_tokens(range(tokenizer.vocab_size))
    return np.array([rule(p) for p in pieces], dtype=np.uint8)


class ChineseWordSegmenter:
    """jieba-based word starts for WordPiece tokens of one line."""

    def __init__(self):
        try:
            import jieba  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            raise ImportError("--zh_whole_word_mask needs jieba: pip install 'albert-tf[zh]'") from error
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba
        jieba.initialize()

    def word_start_chars(self, text: str) -> set:
        starts, position = set(), 0
        for word in self._jieba.lcut(text):
            starts.add(position)
            position += len(word)
        return starts

    def token_starts(self, tokenizer, text: str):
        """(ids, starts) for `text`; `starts[i]` is 1 when token i begins a jieba word."""
        encoding = tokenizer.encode_with_offsets(text)
        word_starts = self.word_start_chars(text)
        flags: List[int] = []
        for token, (begin, _) in zip(encoding.tokens, encoding.offsets):
            flags.append(int(wordpiece_piece_starts_word(token) and begin in word_starts))
        return list(encoding.ids), flags
