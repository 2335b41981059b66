"""What both Python tokenizers share: special ids, settings, packing for the model."""

import dataclasses
import hashlib
from typing import List, Optional, Sequence

from albert_tf import filesystem
from albert_tf.tokenization import packing


def file_sha256(path):
    digest = hashlib.sha256()
    with filesystem.open_file(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_plain_name(name) -> bool:
    """A file name that stays inside the directory it is joined to: no separators, not `.`/`..`."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and name == name.strip())


@dataclasses.dataclass(frozen=True)
class TokenizerSettings:
    """Everything that changes ids for a given text; recorded next to checkpoints and exports.

    Args:
        type: "sentencepiece" or "wordpiece".
        vocab_file: base name of the `.model` / `vocab.txt` asset.
        vocab_sha256: hash of that file, so a swapped vocabulary cannot go unnoticed.
        vocab_size: number of ids.
        do_lower_case: lowercase before tokenizing.
        keep_accents: SentencePiece only: skip NFKD + combining-mark removal.
        remove_space: SentencePiece only: collapse whitespace first.
        split_digit_comma: SentencePiece only: re-split pieces ending in digit + ",".
        replace_quotes: SentencePiece only: Hugging Face's ``` `` ```/`''` -> `"` rewrite.
        max_chars_per_word: WordPiece only: longer words become `[UNK]`.
        special_ids: ids of pad/unk/cls/sep/mask.
    """

    type: str
    vocab_file: str
    vocab_sha256: str
    vocab_size: int
    do_lower_case: bool
    keep_accents: bool = False
    remove_space: bool = True
    split_digit_comma: bool = True
    replace_quotes: bool = False
    max_chars_per_word: int = 200
    special_ids: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        # The name is joined to a model directory on reading and writing: "../x" would escape it.
        if not is_plain_name(self.vocab_file):
            raise ValueError(f"field 'vocab_file' must be a plain file name inside its directory, "
                             f"got {self.vocab_file!r}")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown tokenizer setting(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


MASK_TOKEN = "[MASK]"


class TokenizerBase:
    """Mixin: subclasses set `pad_id`, `unk_id`, `cls_id`, `sep_id`, `mask_id`, `_encode_text`, `_tokenize_text`.

    `mask_token_in_text` (off by default) makes the literal `[MASK]` in raw text the mask id, as a
    fill-mask query needs. It is opt-in because the original ALBERT pipeline, which built the
    pretraining and fine-tuning data of the released models, reads `[MASK]` as plain text; turning
    it on changes nothing for text without `[MASK]`. The text between masks is tokenized piece by
    piece (each piece as if it stood alone), which is how Hugging Face splits on special tokens.
    """

    mask_token_in_text = False

    def special_ids(self):
        return {"pad": self.pad_id, "unk": self.unk_id, "cls": self.cls_id,
                "sep": self.sep_id, "mask": self.mask_id}

    def _split_masks(self, text, encode_part, mask):
        if not (self.mask_token_in_text and MASK_TOKEN in text):
            return encode_part(text)
        parts = text.split(MASK_TOKEN)
        out = encode_part(parts[0])
        for part in parts[1:]:
            out.append(mask)
            out.extend(encode_part(part))
        return out

    def encode(self, text: str) -> List[int]:
        """Ids of `text` without [CLS]/[SEP]."""
        return self._split_masks(text, self._encode_text, self.mask_id)

    def tokenize(self, text: str) -> List[str]:
        """Tokens of `text` (the pieces `encode` gives ids of)."""
        return self._split_masks(text, self._tokenize_text, MASK_TOKEN)

    def pack(self, text_a: str, text_b: Optional[str] = None, *, max_seq_length: int):
        """Encodes one example into `PackedInputs` (lists), pair truncation longest-first."""
        ids_b = None if text_b is None else self.encode(text_b)
        return packing.pack(self.encode(text_a), ids_b, max_seq_length=max_seq_length,
                            cls_id=self.cls_id, sep_id=self.sep_id, pad_id=self.pad_id)

    def pack_batch(self, texts_a: Sequence[str], texts_b: Optional[Sequence[str]] = None, *,
                   max_seq_length: int):
        """Encodes a batch into int32 arrays `[batch, max_seq_length]`."""
        ids_a = self.encode_batch(texts_a)
        ids_b = [None] * len(ids_a) if texts_b is None else self.encode_batch(texts_b)
        if len(ids_b) != len(ids_a):
            raise ValueError(f"texts_a has {len(ids_a)} items but texts_b has {len(ids_b)}")
        return packing.stack([
            packing.pack(a, b, max_seq_length=max_seq_length, cls_id=self.cls_id,
                         sep_id=self.sep_id, pad_id=self.pad_id) for a, b in zip(ids_a, ids_b)])
