"""While a test runs jobs on `ram://`, Python's own file calls refuse any `ram://` path.

`ram://` is TensorFlow's in-memory file system: like `gs://` it is not the local disk, so every user path
must go through `albert_tf.filesystem`. A bypass would not always fail by itself (`os.path.exists` answers
False, `os.makedirs` makes a local `ram:/` directory that a later `open` then finds), so inside
`local_calls_refused()` these calls raise `StrayLocalCall`, the working directory is a scratch one, and a
`ram:` entry left there fails the test at the end.
"""

import builtins
import contextlib
import io
import os
import sys
import sysconfig

import pytest

# Python's file calls that take a path first (os.path.exists / isdir / isfile call os.stat).
GUARDED = [(builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "lstat"), (os, "makedirs"),
           (os, "mkdir"), (os, "rename"), (os, "replace"), (os, "remove"), (os, "unlink"), (os, "listdir"),
           (os, "scandir"), (os, "rmdir"), (os, "link")]


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STDLIB = sysconfig.get_paths()["stdlib"]


class StrayLocalCall(AssertionError):
    """A ram:// path given to a local file call."""


def _on_ram(path) -> bool:
    return isinstance(path, (str, bytes, os.PathLike)) and "ram:/" in os.fsdecode(path)


def _called_from_this_project() -> bool:
    """Whether the first caller outside Python's standard library (glob, os.path, shutil, ...) is the
    project's code or its tests; TensorFlow's own probes (it globs a checkpoint's files to log their
    size) are not ours to fix."""
    frame = sys._getframe(2)  # pylint: disable=protected-access
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen ")  # os, genericpath, ...
                                 or frame.f_code.co_filename.startswith(_STDLIB)
                                 and "site-packages" not in frame.f_code.co_filename):
        frame = frame.f_back
    filename = frame.f_code.co_filename if frame is not None else ""
    return filename.startswith(REPO) and "site-packages" not in filename


def _refusing(name, real):
    def call(*args, **kwargs):
        for path in args[:2]:  # the source and, for rename / replace / link, the destination
            if _on_ram(path) and _called_from_this_project():
                raise StrayLocalCall(f"{name}({os.fsdecode(path)!r}): a ram:// path outside albert_tf.filesystem")
        return real(*args, **kwargs)
    return call


@contextlib.contextmanager
def local_calls_refused(scratch_dir):
    """The guard, with `scratch_dir` as the working directory (a stray relative `ram:/...` lands there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(scratch_dir)
        for module, name in GUARDED:
            patch.setattr(module, name, _refusing(name, getattr(module, name)))
        yield
    assert not os.path.lexists(os.path.join(scratch_dir, "ram:")), \
        f"something wrote a ram:// path to the local disk ({scratch_dir}/ram:)"
