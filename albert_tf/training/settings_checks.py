"""Flag checks every script runs before any work: each error names the flag and the value given.

A value that cannot work (a batch of 0, a sequence longer than the model's positions, a checkpoint
that is not there) must stop the run before data is read or tokenized, not hundreds of steps in.
"""

from albert_tf import filesystem


class SettingsError(ValueError):
    """A flag value that cannot work; the message starts with `--flag=value`."""


def need(condition, flag: str, value, message: str):
    if not condition:
        raise SettingsError(f"--{flag}={value}: {message}")


def at_least(settings, minimum: int, *flags: str):
    """Each of `flags` (attributes of `settings`) must be an integer >= `minimum`."""
    for flag in flags:
        value = getattr(settings, flag)
        need(value >= minimum, flag, value, f"must be >= {minimum}")


def existing_file(flag: str, path):
    if path:
        need(filesystem.exists(path), flag, path, "no such file or directory")
        need(not filesystem.isdir(path), flag, path, "is a directory, expected a file")


def existing_directory(flag: str, path):
    if path:
        need(filesystem.exists(path), flag, path, "no such directory")
        need(filesystem.isdir(path), flag, path, "is a file, expected a directory")


def checkpoint(flag: str, path):
    """A checkpoint of a supported format at `path` (names and content only; no weights read)."""
    if not path:
        return
    from albert_tf.checkpoints import locate_checkpoint  # pylint: disable=import-outside-toplevel
    from albert_tf.checkpoints.tf1 import CheckpointFormatError  # pylint: disable=import-outside-toplevel
    try:
        locate_checkpoint(path)
    except (FileNotFoundError, CheckpointFormatError) as error:
        raise SettingsError(f"--{flag}={path}: {error}") from None


def sequence_length(flag: str, value: int, config, source: str = "the model"):
    """A packing length the model can take: room for [CLS] a [SEP] b [SEP], within its positions."""
    need(value >= 3, flag, value, "leaves no room for [CLS] a [SEP] b [SEP]")
    need(value <= config.max_position_embeddings, flag, value,
         f"exceeds the max_position_embeddings ({config.max_position_embeddings}) of {source}")
