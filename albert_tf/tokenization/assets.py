"""Tokenizer assets next to a checkpoint, and the settings record that keeps them honest.

A model directory holds the vocabulary file (`*.model` or `vocab.txt`) and `tokenizer_config.json`
with the `TokenizerSettings` (type, lowercasing, accents, digit-comma rule, vocab sha256, special
ids). Training, fine-tuning and export all load the tokenizer from there, and
`check_settings_match` refuses to continue when two records disagree, naming the setting.
"""

import json
import os

from albert_tf import filesystem
from albert_tf.tokenization import base
from albert_tf.tokenization import sentencepiece as sp_lib
from albert_tf.tokenization import wordpiece as wp_lib

CONFIG_NAME = "tokenizer_config.json"

# Tokenizer records written by other libraries: {the field that marks one: reader(directory) -> tokenizer}.
# Their names are known to the checkpoint package, which registers its readers when imported
# (this package imports nothing above it).
FOREIGN_RECORD_READERS = {}


class TokenizerMismatchError(ValueError):
    """Two tokenizer settings records disagree (e.g. a cased export of an uncased model)."""


def _as_settings(obj):
    if isinstance(obj, base.TokenizerSettings):
        return obj
    if isinstance(obj, dict):
        return base.TokenizerSettings.from_dict(obj)
    return obj.settings  # a tokenizer


def check_settings_match(expected, actual, *, context="tokenizer",
                         ignore=("vocab_file",)):
    """Raises `TokenizerMismatchError` naming every differing setting.

    Args:
        expected, actual: `TokenizerSettings`, their dicts, or tokenizers.
        context: words for the error message, e.g. "checkpoint vs export".
        ignore: fields that may differ (by default the vocab file's name; its hash is compared).
    """
    a, b = _as_settings(expected).to_dict(), _as_settings(actual).to_dict()
    diffs = [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b))
             if k not in ignore and a.get(k) != b.get(k)]
    if diffs:
        raise TokenizerMismatchError(f"{context} settings disagree: " + "; ".join(diffs))


def tokenizer_from_assets(path, **settings):
    """A tokenizer from a `.model` file, a `vocab.txt`, or a directory holding one.

    Args:
        path: vocabulary file or model directory (see `load_tokenizer`).
        **settings: constructor options (`do_lower_case`, `keep_accents`, ...).
    """
    path = os.fspath(path)
    if filesystem.isdir(path):
        return load_tokenizer(path, **settings)
    if path.endswith(".model"):
        return sp_lib.SentencePieceTokenizer(path, **settings)
    if path.endswith(".txt"):
        return wp_lib.WordPieceTokenizer(path, **_wordpiece_settings(path, settings))
    raise ValueError(f"{path}: expected a SentencePiece .model or a WordPiece vocab .txt")


def _wordpiece_settings(path, settings):
    """WordPiece keeps accents exactly when it does not lowercase; a contradicting keep_accents is refused."""
    settings = dict(settings)
    keep_accents = settings.pop("keep_accents", None)
    if keep_accents is not None and keep_accents != (not settings.get("do_lower_case", True)):
        raise ValueError(f"{path}: keep_accents={keep_accents} does not apply to a WordPiece vocabulary, which "
                         "strips accents exactly when it lowercases (use do_lower_case)")
    return settings


def tokenizer_for_model(vocab_file, checkpoint, *, checkpoint_flag="--init_checkpoint", do_lower_case=None,
                        keep_accents=None):
    """The tokenizer of `vocab_file` (file or directory), else the one recorded next to `checkpoint`.

    `do_lower_case` / `keep_accents` are the settings the user gave explicitly (None: not given): a
    recorded `tokenizer_config.json` supplies the rest, and a given setting that contradicts it is an
    error naming both values.
    """
    given = {k: v for k, v in (("do_lower_case", do_lower_case), ("keep_accents", keep_accents)) if v is not None}
    if vocab_file:
        return tokenizer_from_assets(vocab_file, **given)
    if checkpoint:
        directory = checkpoint if filesystem.isdir(checkpoint) else filesystem.dirname(checkpoint)
        try:
            return load_tokenizer(directory or ".", **given)
        except FileNotFoundError as error:
            raise ValueError(f"--vocab_file: not given and no tokenizer next to {checkpoint_flag} ({error})") from None
    raise ValueError("--vocab_file: give the SentencePiece .model (English) or vocab.txt (Chinese) of the model")


def _constructor_kwargs(settings):
    if settings.type == "sentencepiece":
        return {"do_lower_case": settings.do_lower_case, "keep_accents": settings.keep_accents,
                "remove_space": settings.remove_space,
                "split_digit_comma": settings.split_digit_comma,
                "replace_quotes": settings.replace_quotes}
    if settings.type == "wordpiece":
        return {"do_lower_case": settings.do_lower_case,
                "max_chars_per_word": settings.max_chars_per_word}
    raise ValueError(f"unknown tokenizer type {settings.type!r}")


def read_tokenizer_config(config_path) -> base.TokenizerSettings:
    """The settings a `tokenizer_config.json` records; errors name the file (and the field)."""
    config_path = os.fspath(config_path)
    try:
        record = json.loads(filesystem.read_text(config_path))
    except ValueError as e:
        raise ValueError(f"{config_path}: {e}") from e
    for field, reader in FOREIGN_RECORD_READERS.items():
        if isinstance(record, dict) and field in record:
            # e.g. transformers' record, as albert-convert writes it into a Hugging Face directory.
            return reader(filesystem.dirname(config_path) or ".").settings
    try:
        return base.TokenizerSettings.from_dict(record)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{config_path}: {e}") from e


def load_tokenizer(model_dir, **overrides):
    """Loads the tokenizer stored in `model_dir`.

    With `tokenizer_config.json` present, its settings are used and the vocabulary hash is
    verified; explicit `overrides` that contradict the record raise `TokenizerMismatchError`.
    Without it, a single `*.model` (SentencePiece, uncased) or `vocab.txt` (WordPiece, uncased)
    is used with `overrides`.
    """
    model_dir = os.fspath(model_dir)
    config_path = filesystem.join(model_dir, CONFIG_NAME)
    if not filesystem.exists(config_path):
        models = sorted(f for f in filesystem.listdir(model_dir) if f.endswith(".model"))
        vocabs = sorted(f for f in filesystem.listdir(model_dir) if f == "vocab.txt")
        found = models + vocabs
        if len(found) != 1:
            raise FileNotFoundError(
                f"{model_dir}: no {CONFIG_NAME} and {len(found)} vocabulary files "
                f"({found}); expected exactly one *.model or vocab.txt")
        return tokenizer_from_assets(filesystem.join(model_dir, found[0]), **overrides)
    recorded = read_tokenizer_config(config_path)
    vocab_path = filesystem.join(model_dir, recorded.vocab_file)
    if not filesystem.exists(vocab_path):
        raise FileNotFoundError(f"{config_path} names {recorded.vocab_file}, missing in {model_dir}")
    kwargs = _constructor_kwargs(recorded)
    conflicts = {k: v for k, v in overrides.items() if k in kwargs and kwargs[k] != v}
    if conflicts:
        raise TokenizerMismatchError(
            f"{config_path} records " + ", ".join(f"{k}={kwargs[k]!r}" for k in conflicts) +
            " but --" + ", --".join(f"{k}={v!r}" for k, v in conflicts.items()) + " was given; leave the flag "
            "out to use the recorded setting")
    kwargs.update(overrides)
    tokenizer = tokenizer_from_assets(vocab_path, **kwargs)
    check_settings_match(recorded, tokenizer, context=f"{config_path} vs {vocab_path}")
    return tokenizer


def save_tokenizer_assets(tokenizer, model_dir):
    """Copies the vocabulary into `model_dir` and writes `tokenizer_config.json`.

    Refuses to overwrite a different tokenizer already recorded there. Files are written to a
    temporary name and renamed, so an interrupted save leaves no half-written record.
    Returns the path of the settings file.
    """
    model_dir = os.fspath(model_dir)
    filesystem.makedirs(model_dir)
    settings = tokenizer.settings
    config_path = filesystem.join(model_dir, CONFIG_NAME)
    if filesystem.exists(config_path):
        check_settings_match(read_tokenizer_config(config_path), settings,
                             context=f"existing {config_path} vs new tokenizer")
    vocab_dst = filesystem.join(model_dir, settings.vocab_file)
    if settings.type == "sentencepiece":
        filesystem.write_bytes(vocab_dst, tokenizer.model_proto)
    elif tokenizer.vocab_file:
        filesystem.copy(tokenizer.vocab_file, vocab_dst)
    else:
        filesystem.write_text(vocab_dst, "\n".join(tokenizer.vocab) + "\n")
    filesystem.write_text(config_path, json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n")
    return config_path
