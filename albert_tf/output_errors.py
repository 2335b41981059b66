"""Write failures as one line that names the output and the cause: `cannot write <path>: <cause>`.

A full disk, a read-only mount or a missing permission surface as an OSError deep in a writer
(often on a temporary name the user never chose, or none: "No space left on device") or as a
TensorFlow error from SavedModel or checkpoint code. `writing(path)` wraps the write phase of a
command and turns those into `OutputError` naming the output the user asked for; the console
commands print it and exit non-zero without a traceback.
"""

import contextlib
import errno as errno_lib
import os
import sys
import tempfile

from albert_tf import filesystem

# Errors that say the destination cannot take the data (as opposed to bad data or a bug).
# (Not ENOENT: inside a write phase that is more often a missing input than a bad output.)
WRITE_ERRNOS = frozenset({errno_lib.ENOSPC, errno_lib.EROFS, errno_lib.EACCES, errno_lib.EPERM,
                          errno_lib.EDQUOT, errno_lib.EFBIG, errno_lib.ENOTDIR, errno_lib.EISDIR, errno_lib.EIO})
_TF_WRITE_PHRASES = ("No space left on device", "Read-only file system", "Permission denied",
                     "Disk quota exceeded", "File too large", "Not a directory")


class OutputError(OSError):
    """An output that could not be written; `str()` is `cannot write <path>: <cause>`."""

    def __init__(self, path, cause):
        super().__init__(cause)
        self.path, self.cause = str(path), str(cause)

    def __str__(self):
        return f"cannot write {self.path}: {self.cause}"

    def __reduce__(self):  # crosses process pools intact
        return type(self), (self.path, self.cause)


def _tf_cause(error):
    """The first line of a TensorFlow I/O error that is about the destination, else None."""
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(error, tf.errors.OpError):
        return None
    message = (error.message or str(error)).strip()
    if isinstance(error, tf.errors.PermissionDeniedError) or any(p in message for p in _TF_WRITE_PHRASES):
        return message.splitlines()[0] if message else type(error).__name__
    return None


def _concerns(filename, path) -> bool:
    """Whether an error on `filename` is about writing `path`: the path itself, something inside it,
    a parent being created, or a temporary name next to it."""
    target, other = os.path.abspath(str(path)), os.path.abspath(os.fsdecode(filename))
    return (other == target or other.startswith(target + os.sep) or target.startswith(other + os.sep)
            or os.path.dirname(other) == os.path.dirname(target))


def cause_of(error: BaseException, path=None):
    """Why writing `path` failed, in the operating system's words, or None when `error` is not a
    write failure there (another file named in the error, bad data, a bug)."""
    if isinstance(error, OutputError):
        return error.cause
    if isinstance(error, OSError) and error.errno in WRITE_ERRNOS:
        if path is not None and error.filename and not _concerns(error.filename, path):
            return None
        return error.strerror or str(error)
    if (isinstance(error, FileExistsError) and path is not None and error.filename
            and filesystem.isfile(os.fsdecode(error.filename)) and _concerns(error.filename, path)):
        # os.makedirs over a file where a directory of the path should be.
        return os.strerror(errno_lib.ENOTDIR)
    return _tf_cause(error)


@contextlib.contextmanager
def writing(path):
    """Turn a write failure inside the block into `OutputError(path, cause)`; others pass through.

    An `OutputError` raised inside (naming a more precise path) is kept as it is.
    """
    try:
        yield
    except OutputError:
        raise
    except Exception as error:  # pylint: disable=broad-except
        cause = cause_of(error, path)
        if cause is None:
            raise
        raise OutputError(path, cause) from error


def check_writable(path, is_directory: bool = False):
    """Fail now, naming `path`, when it could not be written later: its nearest existing ancestor must
    be a directory that takes new files (probed with a nameless temporary file). Creates nothing.

    `is_directory`: `path` is a directory that is written next to and renamed into place (an export).
    On another file system (gs://) the probe is a small file written and removed through the layer.
    """
    if not filesystem.is_local(str(path)):
        _check_remote_writable(str(path), is_directory)
        return
    target = os.path.abspath(str(path))
    ancestor = os.path.dirname(target)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    with writing(path):
        if os.path.isdir(target) != is_directory and os.path.exists(target):
            code = errno_lib.ENOTDIR if is_directory else errno_lib.EISDIR
            raise OSError(code, os.strerror(code), target)
        if not os.path.isdir(ancestor):
            raise OSError(errno_lib.ENOTDIR, os.strerror(errno_lib.ENOTDIR), ancestor)
        with tempfile.TemporaryFile(dir=ancestor, prefix=".write-probe-"):
            pass


def _check_remote_writable(path: str, is_directory: bool):
    # Object stores have no directories to create: the probe goes where the output's files will.
    parent = filesystem.dirname(path)
    ancestor = parent if "://" in parent and parent.split("://", 1)[1] else path
    with writing(path):
        if filesystem.exists(path) and filesystem.isdir(path) != is_directory:
            code = errno_lib.ENOTDIR if is_directory else errno_lib.EISDIR
            raise OSError(code, os.strerror(code), path)
        probe = filesystem.join(ancestor, f".write-probe-{os.getpid()}")
        filesystem.write_bytes(probe, b"")
        filesystem.remove(probe)
