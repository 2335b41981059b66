"""A `tokenizer.json` (the Hugging Face `tokenizers` format) that gives this project's SentencePiece ids.

transformers' `AutoTokenizer` loads the fast `AlbertTokenizerFast`. Without a `tokenizer.json` it builds one
from `spiece.model` with its own converter, which does not give ALBERT's ids: it makes the model's
user-defined symbols (`-`, `.`, `(`...) split points, keeps a `▁` for trailing whitespace, lacks the
digit-comma re-split and rewrites ``` `` ```/`''` to `"`. The document written here is built from the model
proto and the tokenizer's settings, stage for stage what `SentencePieceTokenizer` does:

- normalizer: Python's whitespace collapse (`remove_space`; the exact `str.split` character set), the quote
  rewrite only when `replace_quotes`, NFKD then every character of non-zero combining class removed (unless
  `keep_accents`; an explicit class, since the library's StripAccents removes a different set), lowercasing
  (`do_lower_case`; a word-final capital sigma first becomes `ς`, as Python's `str.lower` makes it), then the
  SentencePiece normalizer itself: its compiled character map, its whitespace collapse and strip (ASCII
  space only, after the map), the dummy prefix and `▁` for spaces.
- pre_tokenizer: split before every `▁` (no piece of a whitespace-split model spans one), so offsets and
  word ids are per word.
- model: Unigram with the proto's pieces and scores. SentencePiece gives a user-defined symbol the score
  `len(utf-8 bytes) * max(FLT_MIN, max_score) - 0.1` in its lattice, i.e. -0.1 (so it is nearly always
  chosen, but as an ordinary piece, not a split point); that score is written. Control and unused pieces
  are never matched by SentencePiece: they get a score no path takes. So do the pieces ending in digit + ","
  when the re-split is on: the re-split replaces them by `encode(piece[:-1]) + [","]` (see
  `digit_comma_rewrites`), and the best path that avoids them is that same segmentation wherever the comma
  is followed by a character no piece joins to "digit," (for `30k-clean.model`: anything but a digit).
  docs/tokenization.md gives the measured agreement and what can still differ.
- post_processor: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` with type ids 0 / 1; decoder: `▁` to space.
- added_tokens: the five special pieces only.

The `tokenizers` library is not imported here: the document is plain JSON.
"""

from __future__ import annotations

import base64
import json
from typing import List

from sentencepiece import sentencepiece_model_pb2

from albert_tf import filesystem
from albert_tf.checkpoints.report import CheckpointFormatError
from albert_tf.tokenization import unicode_tables
from albert_tf.tokenization.sentencepiece import SPIECE_UNDERLINE, digit_comma_rewrites

TOKENIZER_JSON = "tokenizer.json"
_NORMAL, _USER_DEFINED = 1, 4  # SentencePiece piece types (control 3, unknown 2, unused 5 are never matched)
_UNIGRAM = 1
# SentencePiece scores a user-defined symbol `length_in_bytes * max_score - 0.1` in its lattice (unigram
# model.cc), where max_score starts from FLT_MIN, the smallest positive float: with log-probability scores
# (all negative) the symbol scores -0.1, above every other piece.
_USER_DEFINED_BONUS = 0.1
_FLT_MIN = 1.17549435e-38
# A piece scored this far below the rest is never on the best path: any alternative segmentation of its
# span (at most one piece per character) scores higher. `tokenizers` derives its unknown-character score
# from the lowest score (this one), SentencePiece from the normal pieces; that changes nothing when every
# character of every piece is a piece itself (true of ALBERT's models): an unknown character then has no
# alternative, and its score is the same on every path.
_NEVER_MARGIN = 1.0e4
# Python lowercases a capital sigma that ends a word to the final form (after a cased letter, and not
# followed by one, case-ignorable characters in between skipped); the `tokenizers` Lowercase does not.
_FINAL_SIGMA = (r"(?<=[\p{Lu}\p{Ll}\p{Lt}])\x{3a3}"
                r"(?![\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}'.:\x{b7}\x{2019}]*[\p{Lu}\p{Ll}\p{Lt}])")
_QUOTE_RULES = ("``", "''")


def _replace(pattern, content, regex=False):
    return {"type": "Replace", "pattern": {"Regex" if regex else "String": pattern}, "content": content}


def _model_proto(tokenizer):
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(tokenizer.model_proto)
    where = tokenizer.model_file or "the SentencePiece model"
    if model.trainer_spec.model_type != _UNIGRAM:
        raise CheckpointFormatError(f"{where}: field 'trainer_spec.model_type' is not UNIGRAM; only unigram "
                                    "SentencePiece models (every ALBERT model) have a tokenizer.json here")
    if model.trainer_spec.treat_whitespace_as_suffix:
        raise CheckpointFormatError(f"{where}: field 'trainer_spec.treat_whitespace_as_suffix' is set; "
                                    "a tokenizer.json for it is not written")
    return model


def _normalizers(tokenizer, spec) -> List[dict]:
    steps = []
    if tokenizer.remove_space:
        steps.append(_replace(unicode_tables.re2_class(unicode_tables.python_whitespace()) + "+", " ", True))
    if tokenizer.replace_quotes:
        steps += [_replace(quote, '"') for quote in _QUOTE_RULES]
    if not tokenizer.keep_accents:
        steps += [{"type": "NFKD"}, _replace(unicode_tables.re2_class(unicode_tables.combining_marks()), "", True)]
    if tokenizer.do_lower_case:
        steps += [_replace(_FINAL_SIGMA, "\u03c2", True), {"type": "Lowercase"}]
    if spec.precompiled_charsmap:
        steps.append({"type": "Precompiled",
                      "precompiled_charsmap": base64.b64encode(spec.precompiled_charsmap).decode("ascii")})
    if spec.remove_extra_whitespaces:
        steps += [_replace(" {2,}", " ", True), _replace(r"\A +| +\z", "", True)]
    if spec.add_dummy_prefix:
        steps.append({"type": "Prepend", "prepend": " "})  # not prepended to empty text, as in SentencePiece
    if spec.escape_whitespaces:
        steps.append(_replace(" ", SPIECE_UNDERLINE))
    return steps


def _vocabulary(tokenizer, model) -> List[list]:
    normal = [p.score for p in model.pieces if p.type == _NORMAL]
    max_score, min_score = max([_FLT_MIN] + normal), min(normal)
    longest = max(len(p.piece) for p in model.pieces)
    never = min_score * (longest + 1) - _NEVER_MARGIN
    avoided = set(digit_comma_rewrites(tokenizer.sp)) if tokenizer.split_digit_comma else set()
    vocab = []
    for piece in model.pieces:
        if piece.type not in (_NORMAL, _USER_DEFINED) or piece.piece in avoided:
            score = never
        elif piece.type == _USER_DEFINED:
            score = len(piece.piece.encode("utf-8")) * max_score - _USER_DEFINED_BONUS
        else:
            score = piece.score
        vocab.append([piece.piece, float(score)])
    return vocab


def _special_entry(piece, token_id):
    return {"id": token_id, "content": piece, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def _post_processor(tokenizer):
    cls, sep = tokenizer.convert_ids_to_tokens([tokenizer.cls_id, tokenizer.sep_id])

    def special(piece, type_id):
        return {"SpecialToken": {"id": piece, "type_id": type_id}}

    def sequence(name, type_id):
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {"type": "TemplateProcessing",
            "single": [special(cls, 0), sequence("A", 0), special(sep, 0)],
            "pair": [special(cls, 0), sequence("A", 0), special(sep, 0), sequence("B", 1), special(sep, 1)],
            "special_tokens": {piece: {"id": piece, "ids": [token_id], "tokens": [piece]}
                               for piece, token_id in ((cls, tokenizer.cls_id), (sep, tokenizer.sep_id))}}


def tokenizer_json(tokenizer) -> dict:
    """The `tokenizer.json` document of a `SentencePieceTokenizer`."""
    model = _model_proto(tokenizer)
    spec = model.normalizer_spec
    specials = sorted(set(tokenizer.special_ids().values()))
    split_words = model.trainer_spec.split_by_whitespace and spec.escape_whitespaces
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_special_entry(model.pieces[i].piece, i) for i in specials],
        "normalizer": {"type": "Sequence", "normalizers": _normalizers(tokenizer, spec)},
        "pre_tokenizer": ({"type": "Split", "pattern": {"String": SPIECE_UNDERLINE},
                           "behavior": "MergedWithNext", "invert": False} if split_words else None),
        "post_processor": _post_processor(tokenizer),
        "decoder": {"type": "Metaspace", "replacement": SPIECE_UNDERLINE, "prepend_scheme": "always",
                    "split": True},
        "model": {"type": "Unigram", "unk_id": tokenizer.unk_id, "vocab": _vocabulary(tokenizer, model),
                  "byte_fallback": False},
    }


def _normalizer_steps(normalizer) -> List[dict]:
    if not isinstance(normalizer, dict):
        return []
    if normalizer.get("type") == "Sequence":
        return [step for inner in normalizer.get("normalizers") or [] for step in _normalizer_steps(inner)]
    return [normalizer]


def replaces_quotes(document: dict) -> bool:
    """Whether a `tokenizer.json` document rewrites ``` `` ``` and `''` to `"` (transformers' own
    conversion does; the document `tokenizer_json` writes does only for `replace_quotes=True`)."""
    rewritten = {step["pattern"].get("String") for step in _normalizer_steps(document.get("normalizer"))
                 if step.get("type") == "Replace" and step.get("content") == '"'
                 and isinstance(step.get("pattern"), dict)}
    return set(_QUOTE_RULES) <= rewritten


def write_tokenizer_json(tokenizer, directory: str) -> str:
    """Write `tokenizer.json` for a `SentencePieceTokenizer` into `directory` (atomically)."""
    path = filesystem.join(directory, TOKENIZER_JSON)
    document = tokenizer_json(tokenizer)
    with filesystem.replacing(path) as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
    return path


def directory_replaces_quotes(directory: str) -> bool:
    """Whether the tokenizer AutoTokenizer loads from a transformers directory with `spiece.model` rewrites
    ``` `` ``` and `''` to `"`: what its `tokenizer.json` says, and True without one (transformers' Python
    AlbertTokenizer and its own fast conversion both do)."""
    path = filesystem.join(directory, TOKENIZER_JSON)
    if not filesystem.exists(path):
        return True
    try:
        document = json.loads(filesystem.read_text(path))
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointFormatError(f"{path}: not a tokenizer.json document (invalid JSON: {error})") from None
    if not isinstance(document, dict):
        raise CheckpointFormatError(f"{path}: not a tokenizer.json document (a JSON object is expected)")
    return replaces_quotes(document)
