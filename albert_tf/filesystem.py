"""One file-system layer over `tf.io.gfile`: local paths, `gs://`, `ram://` and every other TensorFlow scheme.

Every read or write of a user's path (inputs, `--model_dir`, `--output_dir`, tokenizer assets, results)
goes through here, so a run can live on Google Cloud Storage end to end and a stray `open()` shows up
as a failing `ram://` test. What differs between file systems is decided in one place:

- Publishing a file: on a local disk, `atomic_files` (owned temporary name in the same directory,
  fsync, usual permissions, one `rename`). Elsewhere the content is written to an owned temporary
  name beside the target, then renamed over it with `tf.io.gfile.rename` (on `gs://` a server-side
  copy plus delete: the final object appears whole once the copy completes, so readers never see
  half a file); a scheme without file rename gets the same by a copy, then the temporary removed.
- Publishing a directory: locally one atomic swap (`atomic_files.publish_dir_replacing`). `gs://` and
  `ram://` have no directory rename: the tree is copied file by file onto the final name, then the
  temporary tree removed. Readers may see the directory fill up during the copy; writers therefore
  copy the file that marks a directory complete (a checkpoint's `.index`, a SavedModel's
  `saved_model.pb`) last, see `copy_tree(..., last=...)`.
- Libraries that only take a local file (sentencepiece, tokenizers, safetensors, torch) get one from
  `local_copy(path)`; a local path is passed through untouched. Those that only write one
  (safetensors, Keras) write `local_output(path)`, published as `path` when they are done.
- A directory assembled by local-only writers (checkpoint savers, SavedModels and their reload
  check) is built in `staging_dir(final)`: beside `final` locally, on local scratch elsewhere.
- ram:// says a name exists when it is only a prefix of a stored name; `exists` / `isdir` correct
  that (GCS does not do it), so the ram:// tests see what GCS would answer.
- Local scratch space (a directory the data tool's workers fill before it is copied out, a rule file for a
  library) comes from `scratch_dir()` and is removed after use.

Local paths are served by `os` / `shutil` and never import TensorFlow (the data tool's worker
processes and the flag checks run without it); every other scheme goes through `tf.io.gfile`.
"""

import contextlib
import glob as glob_lib
import os
import posixpath
import shutil
import tempfile
from typing import Iterable, List, Optional

from albert_tf import atomic_files


def _gfile():
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return tf.io.gfile


def is_local(path) -> bool:
    """Whether `path` is on the local disk (no `scheme://`, or `file://`)."""
    path = os.fspath(path)
    return "://" not in path or path.startswith("file://")


def _local(path) -> str:
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


def join(path, *parts) -> str:
    """`os.path.join` locally, `/` joins on every other scheme."""
    path = os.fspath(path)
    return os.path.join(path, *parts) if is_local(path) else posixpath.join(path, *parts)


def dirname(path) -> str:
    path = os.fspath(path)
    return os.path.dirname(path) if is_local(path) else posixpath.dirname(path.rstrip("/"))


def basename(path) -> str:
    path = os.fspath(path)
    return os.path.basename(path) if is_local(path) else posixpath.basename(path.rstrip("/"))


def absolute(path) -> str:
    """`os.path.abspath` locally; a `scheme://` path is absolute already."""
    path = os.fspath(path)
    return os.path.abspath(_local(path)) if is_local(path) else path


def _listed(path) -> bool:
    """Whether `path`'s directory lists it. ram:// answers `exists` / `isdir` True for any prefix of a
    stored name (`model.ckpt` when only `model.ckpt.index` is there); GCS does not, and the ram://
    tests stand for GCS, so on ram:// a name counts only when its directory lists it."""
    parent, name = posixpath.split(path.rstrip("/"))
    if not path.startswith("ram://") or "://" not in parent:
        return True
    return _gfile().isdir(parent) and name in {entry.rstrip("/") for entry in _gfile().listdir(parent)}


def exists(path) -> bool:
    path = os.fspath(path)
    return os.path.exists(_local(path)) if is_local(path) else _gfile().exists(path) and _listed(path)


def isdir(path) -> bool:
    path = os.fspath(path)
    return os.path.isdir(_local(path)) if is_local(path) else _gfile().isdir(path) and _listed(path)


def isfile(path) -> bool:
    return exists(path) and not isdir(path)


def makedirs(path):
    path = os.fspath(path)
    if is_local(path):
        os.makedirs(_local(path), exist_ok=True)
    else:
        _gfile().makedirs(path)


def listdir(path) -> List[str]:
    """Names in directory `path` (no trailing `/` on sub-directories, whatever the scheme)."""
    path = os.fspath(path)
    names = os.listdir(_local(path)) if is_local(path) else _gfile().listdir(path)
    return sorted(name.rstrip("/") for name in names)


def glob(pattern) -> List[str]:
    pattern = os.fspath(pattern)
    if is_local(pattern):
        return sorted(glob_lib.glob(_local(pattern)))
    return sorted(_gfile().glob(pattern))


def size(path) -> int:
    path = os.fspath(path)
    return os.path.getsize(_local(path)) if is_local(path) else _gfile().stat(path).length


def remove(path):
    """Removes a file or a whole directory; a missing path is not an error."""
    path = os.fspath(path)
    if not exists(path):
        return
    if is_local(path):
        atomic_files.remove(_local(path))
    elif isdir(path):
        _gfile().rmtree(path)
    else:
        _gfile().remove(path)


def open_file(path, mode: str = "r"):
    """A file object: the built-in `open` locally (UTF-8 text), `tf.io.gfile.GFile` elsewhere."""
    path = os.fspath(path)
    if is_local(path):
        return open(_local(path), mode, encoding=None if "b" in mode else "utf-8")  # noqa: SIM115
    return _gfile().GFile(path, mode)


def read_bytes(path) -> bytes:
    with open_file(path, "rb") as f:
        return f.read()


def read_text(path) -> str:
    """The whole file as text; bytes that are not UTF-8 raise UnicodeDecodeError naming the position."""
    return read_bytes(path).decode("utf-8")


def write_bytes(path, data: bytes):
    """`data` as the whole content of `path`, published complete (see the module docstring)."""
    path = os.fspath(path)
    if is_local(path):
        with atomic_files.replacing(_local(path), "wb") as f:
            f.write(data)
        return
    temporary = atomic_files.temporary_name(path)
    try:
        with open_file(temporary, "wb") as f:
            f.write(data)
        publish_file(temporary, path)
    except BaseException:
        with contextlib.suppress(Exception):
            remove(temporary)
        raise


def write_text(path, text: str):
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def replacing(path, mode: str = "w"):
    """An open temporary file (text is UTF-8) for writing in pieces; on a clean exit it is published as
    `path`, on an error removed."""
    path = os.fspath(path)
    if is_local(path):
        with atomic_files.replacing(_local(path), mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
        return
    temporary = atomic_files.temporary_name(path)
    try:
        with open_file(temporary, mode) as f:
            yield f
        publish_file(temporary, path)
    except BaseException:
        with contextlib.suppress(Exception):
            remove(temporary)
        raise


def copy(source, destination, overwrite: bool = True):
    """Copies one file, published complete at `destination` (temporary name, then rename or copy)."""
    source, destination = os.fspath(source), os.fspath(destination)
    if not overwrite and exists(destination):
        raise FileExistsError(f"{destination} exists")
    temporary = atomic_files.temporary_name(destination)
    try:
        if is_local(source) and is_local(temporary):
            shutil.copyfile(_local(source), _local(temporary))
        else:
            _gfile().copy(source, temporary, overwrite=True)
        publish_file(temporary, destination)
    except BaseException:
        with contextlib.suppress(Exception):
            remove(temporary)
        raise


def publish_file(temporary, final):
    """A finished temporary file becomes `final`: `atomic_files.publish` locally, `tf.io.gfile.rename`
    elsewhere, and where a scheme has no rename, a copy onto `final` then the temporary removed."""
    temporary, final = os.fspath(temporary), os.fspath(final)
    if is_local(final) and is_local(temporary):
        atomic_files.publish(_local(temporary), _local(final))
        return
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    try:
        _gfile().rename(temporary, final, overwrite=True)
    except tf.errors.UnimplementedError:
        if _gfile().exists(final):  # ram:// appends when copying onto an existing file
            _gfile().remove(final)
        _gfile().copy(temporary, final, overwrite=True)
        _gfile().remove(temporary)


def copy_tree(source, destination, last: Iterable[str] = ()):
    """Copies every file under `source` to the same relative name under `destination` (created), each
    published complete; file names in `last` (relative paths) are copied after all the others."""
    source, destination = os.fspath(source), os.fspath(destination)
    last = list(last)
    files = _relative_files(source)
    files.sort(key=lambda name: (name in last, last.index(name) if name in last else 0, name))
    makedirs(destination)
    for name in files:
        target = join(destination, *name.split("/"))
        makedirs(dirname(target))
        copy(join(source, *name.split("/")), target)


def publish_dir(temporary, final, last: Iterable[str] = ()):
    """A finished temporary directory becomes `final`, replacing an existing one.

    Locally: one atomic swap. Elsewhere there is no directory rename: the files are copied onto `final`
    (`last` ones at the end, see `copy_tree`), files of an older `final` that the new one lacks are
    removed, then the temporary tree.
    """
    temporary, final = os.fspath(temporary), os.fspath(final)
    if is_local(final) and is_local(temporary):
        atomic_files.publish_dir_replacing(_local(temporary), _local(final))
        return
    copy_tree(temporary, final, last=last)
    new = set(_relative_files(temporary))
    for name in _relative_files(final):
        if name not in new:
            remove(join(final, *name.split("/")))
    remove(temporary)


def files_under(root) -> List[str]:
    """Every file below directory `root`, as sorted `/`-separated paths relative to it."""
    return sorted(_relative_files(root))


def _relative_files(root) -> List[str]:
    root = os.fspath(root)
    found = []
    walk = os.walk(_local(root)) if is_local(root) else _gfile().walk(root)
    for directory, _, names in walk:
        relative = os.path.relpath(directory, root) if is_local(root) else directory[len(root):].strip("/")
        found += [name if relative in ("", ".") else f"{relative}/{name}" for name in names]
    return found


def staging_dir(final) -> str:
    """A new, owned temporary directory to assemble `final` in, then `publish_dir` it.

    Locally it sits beside `final` (one atomic swap). Elsewhere it is local scratch: the writers that
    take only local paths (checkpoint savers, keras-hub) and the export's reload check, a child
    process that cannot see this process's ram://, read it there; `publish_dir` copies it over.
    """
    final = absolute(final)
    if is_local(final):
        parent = dirname(final)
        makedirs(parent)
        return atomic_files.temporary_dir(parent, basename(final))
    return atomic_files.temporary_dir(tempfile.gettempdir(), "albert-tf-staging")


def temporary_dir(directory, name: str) -> str:
    """A new, owned temporary directory beside where `name` will be published in `directory`."""
    directory = os.fspath(directory)
    if is_local(directory):
        return atomic_files.temporary_dir(_local(directory), name)
    path = atomic_files.temporary_name(join(directory, name))
    makedirs(path)
    return path


@contextlib.contextmanager
def local_output(path, suffix: str = ""):
    """A local file name for a library that only writes local files (safetensors, Keras); on a clean
    exit what it holds is published as `path` (see `replacing`), on an error it is removed.

    `suffix`: an extension the library insists on (`.keras`), kept on the temporary name.
    """
    path = os.fspath(path)
    if is_local(path):
        with atomic_files.replacing_path(_local(path), suffix=suffix) as temporary:
            yield temporary
        return
    with scratch_dir("albert-tf-local-output-") as scratch:
        local = os.path.join(scratch, "output" + suffix)
        yield local
        copy(local, path)


@contextlib.contextmanager
def local_copy(path, suffix: Optional[str] = None):
    """A local file name holding `path`'s content, for libraries that only open local files.

    A local `path` is yielded as it is; any other is copied into a private temporary directory (same
    base name, so extension checks still work) that is removed afterwards.
    """
    path = os.fspath(path)
    if is_local(path):
        yield _local(path)
        return
    scratch = tempfile.mkdtemp(prefix="albert-tf-local-copy-")
    try:
        local = os.path.join(scratch, basename(path) + (suffix or ""))
        if isdir(path):
            copy_tree(path, local)
        else:
            _gfile().copy(path, local, overwrite=True)
        yield local
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def scratch_dir(prefix: str = "albert-tf-"):
    """A new private local directory (in the system's temporary space) for work that must happen on the
    local disk before its result goes anywhere; removed with everything in it afterwards."""
    scratch = tempfile.mkdtemp(prefix=prefix)
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
