"""A tokenizer given on the command line against the one a checkpoint was trained with.

Embeddings are indexed by piece id, so another vocabulary of a size that fits (the Chinese
vocab.txt with an English checkpoint) trains without an error and learns nothing useful. A
checkpoint directory records its tokenizer in `tokenizer_config.json` (kind and vocabulary
sha256), or at least holds its vocabulary file (released models); a given tokenizer must be the
same kind with the same vocabulary.
"""

import collections
from typing import Optional

from albert_tf import filesystem
from albert_tf.tokenization import base
from albert_tf.tokenization.assets import CONFIG_NAME, TokenizerMismatchError, read_tokenizer_config

Recorded = collections.namedtuple("Recorded", "source kind vocab_file sha256")


def recorded_tokenizer(directory: str) -> Optional[Recorded]:
    """The tokenizer recorded in `directory`: its settings record, else its only vocabulary file."""
    config_path = filesystem.join(directory, CONFIG_NAME)
    if filesystem.exists(config_path):
        record = read_tokenizer_config(config_path)
        return Recorded(config_path, record.type, record.vocab_file, record.vocab_sha256)
    if not filesystem.isdir(directory):
        return None
    found = sorted(f for f in filesystem.listdir(directory) if f.endswith(".model") or f == "vocab.txt")
    if len(found) != 1:
        return None
    path = filesystem.join(directory, found[0])
    kind = "sentencepiece" if found[0].endswith(".model") else "wordpiece"
    return Recorded(path, kind, found[0], base.file_sha256(path))


def check_matches_checkpoint(tokenizer, checkpoint: Optional[str], given: str, checkpoint_flag: str):
    """Refuse `tokenizer` (named `given`, e.g. "--vocab_file=x") unless it is the one recorded with
    `checkpoint`; a checkpoint that records none is not checked here (the vocab size still is)."""
    if not checkpoint:
        return
    directory = checkpoint if filesystem.isdir(checkpoint) else filesystem.dirname(checkpoint) or "."
    recorded = recorded_tokenizer(directory)
    if recorded is None:
        return
    settings = tokenizer.settings
    if (settings.type, settings.vocab_sha256) != (recorded.kind, recorded.sha256):
        raise TokenizerMismatchError(
            f"{given} ({settings.type} {settings.vocab_file}, {settings.vocab_size} ids, sha256 "
            f"{settings.vocab_sha256[:12]}) is not the tokenizer of {checkpoint_flag}={checkpoint}, which "
            f"records {recorded.kind} {recorded.vocab_file} (sha256 {recorded.sha256[:12]}) in {recorded.source}: "
            "give the vocabulary the checkpoint was trained with, or leave the vocabulary flag out to use it")
