"""Where an export may go: a new path, an empty directory, or an earlier export of this package.

An export replaces its destination as a whole, so the destination is checked before any work:
a directory that is not recognisably an earlier export (its `assets.extra/export.json`, or
`encoder/` and `preprocessor/` with theirs) may hold a checkpoint or a user's notes and is
refused, as is a file or a link; and a directory that holds the checkpoint being exported (or
the run's output directory) is never replaced, even when it is an earlier export.
"""

import os
from typing import Iterable, Optional

from albert_tf import filesystem

EXTRA_DIR = "assets.extra"
EXPORT_INFO = "export.json"
ENCODER_PARTS = ("encoder", "preprocessor")


class ExportDestinationError(ValueError):
    """The export destination holds something an export must not replace."""


def is_earlier_export(directory: str) -> bool:
    """Whether `directory` is an export written by this package (a classifier, SQuAD or encoder export)."""
    if filesystem.isfile(filesystem.join(directory, EXTRA_DIR, EXPORT_INFO)):
        return True
    return all(filesystem.isfile(filesystem.join(directory, part, EXTRA_DIR, EXPORT_INFO)) for part in ENCODER_PARTS)


def _inside(path: str, directory: str) -> bool:
    if filesystem.is_local(path) != filesystem.is_local(directory):
        return False
    if filesystem.is_local(path):
        path, directory = os.path.realpath(path), os.path.realpath(directory)
        separator = os.sep
    else:  # no links on gs://: the names say it
        path, directory, separator = path.rstrip("/"), directory.rstrip("/"), "/"
    return path == directory or path.startswith(directory.rstrip(separator) + separator)


def check_export_dir(export_dir: str, protected: Iterable[Optional[str]] = (), flag: str = "--export_dir"):
    """Refuses a destination the export must not replace; `protected` paths must stay untouched.

    `protected`: the checkpoint being exported, the run's output directory, ... (None entries skipped).
    """
    for path in protected:
        if path and _inside(path, export_dir):
            raise ExportDestinationError(
                f"{flag}={export_dir} holds {path}, which this run reads or writes; the export replaces "
                f"{flag} as a whole, so choose a directory outside it (e.g. {filesystem.join(export_dir, 'export')})")
    local = filesystem.is_local(export_dir)
    if (local and (os.path.islink(export_dir) or os.path.lexists(export_dir) and not os.path.isdir(export_dir))) or \
            (not local and filesystem.exists(export_dir) and not filesystem.isdir(export_dir)):
        raise ExportDestinationError(f"{flag}={export_dir} is a file (or a link), not an export directory; "
                                     "remove it or choose another path")
    if not filesystem.isdir(export_dir) or not filesystem.listdir(export_dir) or is_earlier_export(export_dir):
        return
    raise ExportDestinationError(
        f"{flag}={export_dir} is a non-empty directory that is not an earlier export (no "
        f"{EXTRA_DIR}/{EXPORT_INFO}); an export replaces its directory as a whole, so this one is left alone: "
        "choose a new or empty directory, or remove it yourself")
