"""ALBERT's text preprocessing folded into a SentencePiece model's own normalizer.

Tools that run a SentencePiece model on raw text (keras-hub's AlbertTokenizer, plain `spm`) skip the
preprocessing ALBERT applies first (accents stripped, lowercase, `` and '' as "), so accented or cased
text gets other ids. The model's normalizer is a character map applied before segmentation; composing
our preprocessing with the model's map, character by character, gives a model whose raw-text ids equal
ours. The composed map is compiled by SentencePiece itself (`SentencePieceNormalizer(rule_tsv=...)`).

Not expressible in a character map, hence not folded: the digit-comma re-split (a rewrite of pieces
after segmentation; `unfoldable` says when the vocabulary has such pieces) and Python's context-dependent
lowercasing of a word-final capital sigma.
"""

from __future__ import annotations

import os
import unicodedata
from typing import List

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from albert_tf import filesystem
from albert_tf.tokenization import preprocessing
from albert_tf.tokenization.sentencepiece import digit_comma_rewrites

NORMALIZER_NAME = "albert_preprocessing"


def _code_points(text: str) -> str:
    return " ".join(f"{ord(c):X}" for c in text)


def folded_model_proto(tokenizer) -> bytes:
    """`tokenizer`'s SentencePiece model with its preprocessing settings in the normalizer."""
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(tokenizer.model_proto)
    original = spm.SentencePieceNormalizer(model_proto=tokenizer.model_proto, add_dummy_prefix=False,
                                           escape_whitespaces=False, remove_extra_whitespaces=False)

    def composed(text):
        return original.normalize(preprocessing.preprocess_text(
            text, do_lower_case=tokenizer.do_lower_case, keep_accents=tokenizer.keep_accents,
            remove_space=False, replace_quotes=tokenizer.replace_quotes))

    rules = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        target = composed(char)
        if target != char:
            rules.append(f"{_code_points(char)}\t{_code_points(target)}")
    # The model's own sequence rules (compositions such as e + U+0301), composed the same way.
    for source in _multi_character_sources(original):
        rules.append(f"{_code_points(source)}\t{_code_points(composed(source))}")
    if tokenizer.replace_quotes:
        rules += [f"{_code_points(q)}\t{_code_points(chr(0x22))}" for q in ("``", "''")]
    with filesystem.scratch_dir("albert-tf-normalizer-") as scratch:  # the compiler reads a local rule file
        rule_file = os.path.join(scratch, "rules.tsv")
        filesystem.write_text(rule_file, "\n".join(rules) + "\n")
        compiled = spm.SentencePieceNormalizer(rule_tsv=rule_file)
    spec = sentencepiece_model_pb2.NormalizerSpec()
    spec.ParseFromString(compiled.serialized_normalizer_spec())
    model.normalizer_spec.name = NORMALIZER_NAME
    model.normalizer_spec.precompiled_charsmap = spec.precompiled_charsmap
    model.normalizer_spec.normalization_rule_tsv = ""
    return model.SerializeToString()


def _multi_character_sources(normalizer) -> List[str]:
    """The sources longer than one character in the model's compiled map."""
    try:
        table = normalizer.decompile()
    except (AttributeError, RuntimeError, TypeError):
        return []
    sources = table.keys() if isinstance(table, dict) else [row[0] for row in table]
    return sorted(s for s in sources if isinstance(s, str) and len(s) > 1
                  and not any(unicodedata.category(c) == "Cs" for c in s))


def unfoldable(tokenizer) -> List[str]:
    """The settings of `tokenizer` a folded model cannot reproduce on this vocabulary."""
    return ["split_digit_comma"] if tokenizer.split_digit_comma and digit_comma_rewrites(tokenizer.sp) else []
