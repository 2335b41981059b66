"""ALBERT tokenization: one object per vocabulary type owns the whole text pipeline.

Python tokenizers (`SentencePieceTokenizer` for English `.model` files, `WordPieceTokenizer` for
Chinese `vocab.txt`) and their in-graph Keras twins (`layers`) give identical ids; assets and a
settings record (`assets`) travel with checkpoints so nothing can silently disagree.
The in-graph layers are imported lazily so that the Python tokenizers do not pull TensorFlow in.
"""

from albert_tf.tokenization.assets import (CONFIG_NAME, TokenizerMismatchError,
                                           check_settings_match, load_tokenizer,
                                           save_tokenizer_assets, tokenizer_from_assets)
from albert_tf.tokenization.base import TokenizerSettings
from albert_tf.tokenization.io import iter_lines, read_lines
from albert_tf.tokenization.offsets import Encoding, char_span_to_token_span
from albert_tf.tokenization.packing import PackedInputs, pack, truncate_longest_first
from albert_tf.tokenization.preprocessing import normalize_with_alignment, preprocess_text
from albert_tf.tokenization.sentencepiece import SentencePieceTokenizer
from albert_tf.tokenization.wordpiece import BasicTokenizer, WordPieceTokenizer

_LAYER_NAMES = ("SentencePieceTokenizerLayer", "WordPieceTokenizerLayer", "PackInputs", "pack_segments",
                "layer_for", "packer_for")


def __getattr__(name):
    if name in _LAYER_NAMES:
        from albert_tf.tokenization import layers  # pylint: disable=import-outside-toplevel
        return getattr(layers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BasicTokenizer", "CONFIG_NAME", "Encoding", "PackedInputs", "SentencePieceTokenizer",
    "TokenizerMismatchError", "TokenizerSettings", "WordPieceTokenizer", "char_span_to_token_span",
    "check_settings_match", "iter_lines", "load_tokenizer", "normalize_with_alignment", "pack",
    "preprocess_text", "read_lines", "save_tokenizer_assets", "tokenizer_from_assets",
    "truncate_longest_first", *_LAYER_NAMES,
]
