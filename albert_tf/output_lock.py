"""One run per output directory: an exclusive lock file `<dir>/.albert-tf.lock`.

Two jobs writing one directory would mix their checkpoints and results, and one would report
the other's as its own. The lock file records the holder (pid, host, start time, command) so a
refused run can name it. On local disks the lock is `fcntl.flock`, which the kernel drops when
the holder dies, so a lock left by a killed run is simply taken over. Where flock is not
supported (some network file systems) the file itself is the lock, created exclusively; it
is stale when its pid is gone on this host. Remote paths (gs://) are not locked.
"""

import errno
import fcntl
import json
import os
import sys
import time

from albert_tf import atomic_files

LOCK_NAME = ".albert-tf.lock"


class OutputDirBusyError(PermissionError):
    """Another live run holds the output directory (the scripts report it as one line, like a denied write)."""


def _holder_record() -> dict:
    return {"pid": os.getpid(), "host": atomic_files.host_name(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": " ".join(sys.argv)[:500]}


def _read_holder(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return (f"pid {holder.get('pid')} on {holder.get('host')} (started {holder.get('started')}: "
            f"{holder.get('command', '?')})")


class OutputDirLock:
    """`with OutputDirLock(directory, flag="--output_dir"):` holds the directory for the run.

    `enabled=False` (the non-chief workers of a multi-worker run) makes it do nothing.
    """

    def __init__(self, directory: str, flag: str = "--output_dir", enabled: bool = True, log=None):
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, LOCK_NAME)
        self.flag = flag
        self.enabled = enabled and "://" not in self.directory
        self._fd = None
        self._log = log or (lambda message: None)

    def _busy(self, holder: dict) -> OutputDirBusyError:
        return OutputDirBusyError(
            f"{self.flag}={self.directory} is in use by {_describe(holder)} (lock file {self.path}); "
            "wait for that run to finish, stop it, or choose another directory")

    def acquire(self):
        if not self.enabled or self._fd is not None:
            return self
        os.makedirs(self.directory, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._busy(_read_holder(self.path)) from None
                if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    return self._acquire_exclusive_file()
                raise
            # A holder that was releasing may have removed the file between our open and flock:
            # then we locked an orphan inode and must start over on the current file.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read_holder(self.path)
        if previous:
            self._log(f"taking over the lock of {self.directory} left by {_describe(previous)}, which is gone")
        self._fd = fd
        self._write_record(fd)
        return self

    def _write_record(self, fd: int):
        data = (json.dumps(_holder_record(), sort_keys=True) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    def _acquire_exclusive_file(self):
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                holder = _read_holder(self.path)
                stale = (holder.get("host") == atomic_files.host_name()
                         and not atomic_files.process_alive(int(holder.get("pid", 0))))
                if not stale:
                    raise self._busy(holder) from None
                self._log(f"removing the stale lock of {self.directory} left by {_describe(holder)}")
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            self._fd = fd
            self._write_record(fd)
            return self
        raise self._busy(_read_holder(self.path))

    def release(self):
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.remove(self.path)  # while still holding it: nobody sees an unlocked file of ours
        except OSError:
            pass
        os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
