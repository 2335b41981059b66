"""`SentencePieceTokenizer`: ALBERT's English pipeline (any ALBERT-format `.model`)."""

import hashlib
import os
from typing import Iterable, List, Sequence

import sentencepiece as spm

from albert_tf import filesystem
from albert_tf.tokenization import base
from albert_tf.tokenization import offsets as offsets_lib
from albert_tf.tokenization import preprocessing

SPIECE_UNDERLINE = "\u2581"

_SPECIAL_PIECES = {"pad": "<pad>", "unk": "<unk>", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}


def _is_digit_comma_piece(piece):
    return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


def digit_comma_rewrites(sp):
    """The reference's digit-comma re-split, precomputed as a rewrite table `piece -> pieces`.

    The reference (ALBERT `encode_pieces`, HF `AlbertTokenizer._tokenize`) re-encodes every piece
    that ends in digit + "," as `encode(piece[:-1] without "▁") + [","]`, and when the original
    piece had no leading "▁" it strips the "▁" that SentencePiece's dummy prefix put on the first
    sub-piece (dropping it entirely when it was a lone "▁"). The result depends only on the piece,
    so it is a fixed table over the vocabulary: the Python tokenizer and the in-graph layer apply
    the same table, and no per-token re-encoding happens at run time. A stripped sub-piece that is
    not in the vocabulary maps to `<unk>`, exactly like the reference's `PieceToId`.
    """
    table = {}
    pieces = sp.id_to_piece(list(range(sp.get_piece_size())))  # one call: start-up time matters
    for i, piece in enumerate(pieces):
        if not _is_digit_comma_piece(piece) or sp.is_control(i) or sp.is_unknown(i):
            continue
        sub = sp.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
        if piece[0] != SPIECE_UNDERLINE and sub and sub[0][0] == SPIECE_UNDERLINE:
            sub = sub[1:] if len(sub[0]) == 1 else [sub[0][1:]] + sub[1:]
        table[piece] = tuple(sub) + (piece[-1],)
    return table


class SentencePieceTokenizer(base.TokenizerBase):
    """ALBERT SentencePiece tokenizer owning the whole text pipeline.

    Text goes through ALBERT preprocessing (whitespace collapse; NFKD + combining marks dropped
    unless `keep_accents`; lowercase when `do_lower_case`), then the model (which applies its own
    `nmt_nfkc` normalizer), then the digit-comma re-split.

    Args:
        model_file: path to an ALBERT-format SentencePiece `.model`.
        model_proto: serialized model bytes, instead of `model_file`.
        do_lower_case: lowercase the text (all released English ALBERT models are uncased).
        keep_accents: skip NFKD and accent removal.
        remove_space: collapse runs of whitespace and strip the ends.
        split_digit_comma: apply the reference's `▁1,000,` -> `▁1,000` + `,` rule.
        replace_quotes: rewrite ``` `` ``` and `''` to `"` as Hugging Face's `AlbertTokenizer`
            does (the original ALBERT code, used to pretrain the released models, does not).
        mask_token_in_text: the literal `[MASK]` in text is the mask id (see `TokenizerBase`);
            a usage mode, not a model setting, so it is not recorded in `settings`.

    Example:
        >>> tok = SentencePieceTokenizer("30k-clean.model")
        >>> tok.encode("Hello, my dog is cute")
        [10975, 15, 51, 1952, 25, 10901]
        >>> tok.pack("Hello", "world", max_seq_length=8).input_ids
        [2, 10975, 3, 126, 3, 0, 0, 0]
    """

    def __init__(self, model_file=None, *, model_proto=None, do_lower_case=True,
                 keep_accents=False, remove_space=True, split_digit_comma=True,
                 replace_quotes=False, mask_token_in_text=False):
        if (model_file is None) == (model_proto is None):
            raise ValueError("pass exactly one of model_file or model_proto")
        if model_file is not None:
            model_proto = filesystem.read_bytes(model_file)
        self.model_file = None if model_file is None else os.fspath(model_file)
        self.model_proto = bytes(model_proto)
        self.do_lower_case = bool(do_lower_case)
        self.keep_accents = bool(keep_accents)
        self.remove_space = bool(remove_space)
        self.split_digit_comma = bool(split_digit_comma)
        self.replace_quotes = bool(replace_quotes)
        self.mask_token_in_text = bool(mask_token_in_text)
        self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        ids = {name: self._special_id(piece) for name, piece in _SPECIAL_PIECES.items()}
        self.pad_id, self.unk_id = ids["pad"], ids["unk"]
        self.cls_id, self.sep_id, self.mask_id = ids["cls"], ids["sep"], ids["mask"]
        self._piece_rewrites = digit_comma_rewrites(self.sp) if split_digit_comma else {}
        self._id_rewrites = {
            self.sp.piece_to_id(piece): [self.sp.piece_to_id(p) for p in pieces]
            for piece, pieces in self._piece_rewrites.items()}

    def _special_id(self, piece):
        i = self.sp.piece_to_id(piece)
        if self.sp.id_to_piece(i) != piece:
            where = self.model_file or "the SentencePiece model"
            raise ValueError(f"{where} has no {piece!r} piece; an ALBERT model needs "
                             f"{sorted(_SPECIAL_PIECES.values())}")
        return i

    # === Settings ===
    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def settings(self) -> base.TokenizerSettings:
        return base.TokenizerSettings(
            type="sentencepiece",
            vocab_file=os.path.basename(self.model_file) if self.model_file else "spiece.model",
            vocab_sha256=hashlib.sha256(self.model_proto).hexdigest(),
            vocab_size=self.vocab_size, do_lower_case=self.do_lower_case,
            keep_accents=self.keep_accents, remove_space=self.remove_space,
            split_digit_comma=self.split_digit_comma, replace_quotes=self.replace_quotes,
            special_ids=self.special_ids())

    # === Text -> ids ===
    def normalize(self, text: str) -> str:
        return preprocessing.preprocess_text(
            text, do_lower_case=self.do_lower_case, keep_accents=self.keep_accents,
            remove_space=self.remove_space, replace_quotes=self.replace_quotes)

    def _rewrite_ids(self, ids):
        if not self._id_rewrites or self._id_rewrites.keys().isdisjoint(ids):
            return ids
        out = []
        for i in ids:
            out.extend(self._id_rewrites.get(i, (i,)))
        return out

    def _encode_text(self, text: str) -> List[int]:
        return self._rewrite_ids(self.sp.encode(self.normalize(text)))

    def encode_batch(self, texts: Iterable[str]) -> List[List[int]]:
        """Ids for many texts; SentencePiece encodes the batch in C++ threads."""
        if self.mask_token_in_text:
            return [self.encode(t) for t in texts]
        normalized = [self.normalize(t) for t in texts]
        return [self._rewrite_ids(ids) for ids in self.sp.encode(normalized)]

    def _tokenize_text(self, text: str) -> List[str]:
        """Pieces of `text` (unknown characters keep their surface form, as in the reference)."""
        out = []
        for piece in self.sp.encode(self.normalize(text), out_type=str):
            out.extend(self._piece_rewrites.get(piece, (piece,)))
        return out

    def encode_with_offsets(self, text: str) -> offsets_lib.Encoding:
        """Ids, pieces and `(start, end)` spans in the original `text` (whitespace trimmed)."""
        normalized, starts, ends = preprocessing.normalize_with_alignment(
            text, do_lower_case=self.do_lower_case, keep_accents=self.keep_accents,
            remove_space=self.remove_space, replace_quotes=self.replace_quotes)
        b2c = offsets_lib.byte_to_char_index(normalized)
        ids, tokens, spans = [], [], []
        for p in self.sp.encode(normalized, out_type="proto").pieces:
            begin = p.begin if b2c is None else b2c[p.begin]
            end = p.end if b2c is None else b2c[p.end]
            rewrite = self._piece_rewrites.get(p.piece) if p.id != self.unk_id else None
            if rewrite is None:
                ids.append(p.id)
                tokens.append(p.piece)
                spans.append(offsets_lib.span_in_original(normalized, starts, ends, begin, end))
                continue
            # Sub-pieces of a digit-comma piece: digits and commas are one char each, so walk the
            # surface left to right; the final "," is the piece's last character.
            while begin < end and normalized[begin].isspace():
                begin += 1
            pos = begin
            for k, sub in enumerate(rewrite):
                width = len(sub.lstrip(SPIECE_UNDERLINE))
                if k == len(rewrite) - 1:
                    lo, hi = end - 1, end
                else:
                    lo, hi = min(pos, end - 1), min(pos + width, end - 1)
                pos += width
                ids.append(self.sp.piece_to_id(sub))
                tokens.append(sub)
                spans.append(offsets_lib.span_in_original(normalized, starts, ends, lo, hi))
        return offsets_lib.Encoding(ids=ids, tokens=tokens, offsets=spans)

    # === ids <-> pieces <-> text ===
    def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
        return [self.sp.piece_to_id(t) for t in tokens]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of `ids` (normalized text: lowercased, accents stripped, "▁" -> space)."""
        specials = {self.pad_id, self.cls_id, self.sep_id, self.mask_id}
        pieces = [self.sp.id_to_piece(int(i)) for i in ids
                  if not (skip_special_tokens and int(i) in specials)]
        return "".join(pieces).replace(SPIECE_UNDERLINE, " ").strip()
