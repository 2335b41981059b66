"""Atomic writes: a temporary name in the target's directory, then one rename.

Every file or directory the package publishes goes through `publish`, which gives it the usual
permissions first (0666 / 0777 less the umask: `mkstemp` and `mkdtemp` make 0600 / 0700, which
other users and serving accounts could not read) and then renames it into place.

Temporary names carry their owner, `.tmp-<name>~<pid>@<host>~<random>`, so a later run can tell
the leftovers of a killed process (`clean_stale_temporaries`) from the work of a live one.
"""

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading

TEMP_PREFIX = ".tmp-"
_OWNED = re.compile(r"^\.tmp-.*~(?P<pid>\d+)@(?P<host>[^~/]+)~[^~/]*$")
_umask_lock = threading.Lock()


def host_name() -> str:
    return socket.gethostname().replace("~", "-") or "localhost"


def process_alive(pid: int) -> bool:
    """Whether `pid` runs on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def current_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:  # reading the umask means setting it; no other thread of ours does
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _owner_tag() -> str:
    return f"~{os.getpid()}@{host_name()}~"


def temporary_file(directory: str, name: str, suffix: str = ""):
    """`(fd, path)` of a new private file next to where `name` will be published."""
    clean_stale_temporaries(directory)
    return tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}{_owner_tag()}", suffix=suffix, dir=directory)


def temporary_dir(directory: str, name: str) -> str:
    clean_stale_temporaries(directory)
    return tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}{_owner_tag()}", dir=directory)


def temporary_name(path) -> str:
    """An owned temporary name next to `path`, not created, for writers that open it themselves.

    For `tf.io.gfile` writers (a `gs://` model directory) and the TFRecord writers. On a local disk
    the leftovers of killed processes in that directory are cleaned first; an object store has no
    process to ask, so its names are only recognisable.
    """
    path = os.fspath(path)
    directory, name = os.path.split(path)
    if "://" not in path:
        clean_stale_temporaries(directory or ".")
    return os.path.join(directory, f"{TEMP_PREFIX}{name}{_owner_tag()}{secrets.token_hex(4)}")


def publish(temporary: str, final: str):
    """Usual permissions, then rename `temporary` to `final` (replacing a file, or an empty dir)."""
    mode = (0o777 if os.path.isdir(temporary) else 0o666) & ~current_umask()
    os.chmod(temporary, mode)
    os.replace(temporary, final)


def _renameat2_exchange(first: str, second: str) -> bool:
    """Linux `renameat2(RENAME_EXCHANGE)`: both names swap in one step; False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), second)


def publish_dir_replacing(temporary: str, final: str):
    """Publishes directory `temporary` as `final`, an existing directory there swapped out and removed.

    The swap is one atomic rename where the kernel has it, so `final` always names a complete
    directory; elsewhere the old one is first moved to an owned temporary name.
    """
    if not os.path.lexists(final):
        publish(temporary, final)
        return
    mode = 0o777 & ~current_umask()
    os.chmod(temporary, mode)
    if _renameat2_exchange(temporary, final):
        remove(temporary)  # now the old directory
        return
    directory, name = os.path.split(os.path.abspath(final))
    aside = temporary_dir(directory, f"{name}.old")
    os.rmdir(aside)
    os.replace(final, aside)
    os.replace(temporary, final)
    remove(aside)


def remove(path: str):
    """Drop a temporary file or directory; never raises (it runs while another error is raised)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.remove(path)


@contextlib.contextmanager
def replacing(path, mode: str = "w", encoding=None):
    """An open temporary file; on a clean exit it is fsynced and published as `path`.

    >>> with replacing("out/config.json", encoding="utf-8") as f:
    ...     f.write("{}")
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, temp = temporary_file(directory, name)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        publish(temp, path)
    except BaseException:
        remove(temp)
        raise


def write_text(path, text: str, encoding: str = "utf-8"):
    """`text` as the whole content of `path`, published complete (a report, a table, a json)."""
    with replacing(path, encoding=encoding) as f:
        f.write(text)


@contextlib.contextmanager
def replacing_path(path, suffix: str = ""):
    """A temporary file name for writers that want a path (`save_file(…, temp)`); published on a clean exit."""
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, temp = temporary_file(directory, name, suffix)
    os.close(fd)
    try:
        yield temp
        publish(temp, path)
    except BaseException:
        remove(temp)
        raise


def owner_of(name: str):
    """`(pid, host)` recorded in a temporary name made here, or None for any other name."""
    match = _OWNED.match(name)
    return (int(match["pid"]), match["host"]) if match else None


def clean_stale_temporaries(directory: str) -> list:
    """Removes the temporaries in `directory` whose owner process (on this host) is gone.

    Names of other programs, and those of live processes or of other hosts (a shared disk), are
    left alone. Returns the removed paths.
    """
    directory = os.path.abspath(directory)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    here = host_name()
    for name in names:
        owner = owner_of(name)
        if owner and owner[1] == here and owner[0] != os.getpid() and not process_alive(owner[0]):
            remove(os.path.join(directory, name))
            removed.append(os.path.join(directory, name))
    return removed

