"""One run per output directory: an exclusive lock file `<dir>/.albert-tf.lock`.

Two jobs writing one directory would mix their checkpoints and results, and one would report
the other's as its own. The lock file records the holder (pid, host, start time, command) so a
refused run can name it. On local disks the lock is `fcntl.flock`, which the kernel drops when
the holder dies, so a lock left by a killed run is simply taken over. Where flock is not
supported (some network file systems) the file itself is the lock, created exclusively; it
is stale when its pid is gone on this host.

On other file systems (gs://, ram://) a directory cannot be locked: `tf.io.gfile` has no exclusive
create, and nothing drops an object when its writer dies, so a lock there would either race or
outlive every preempted run (whose rerun on a new VM must resume). There the lock file is only a
record of the run in progress: written at the start, removed at the end; a run that finds one
logs a warning naming that holder (another run still writing, or one that was killed) and goes on.
One run at a time per `gs://` directory is the user's rule.
"""

import errno
import fcntl
import json
import os
import sys
import time

from albert_tf import atomic_files, filesystem

LOCK_NAME = ".albert-tf.lock"


class OutputDirBusyError(PermissionError):
    """Another live run holds the output directory (the scripts report it as one line, like a denied write)."""


def _holder_record() -> dict:
    return {"pid": os.getpid(), "host": atomic_files.host_name(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": " ".join(sys.argv)[:500]}


def _read_holder(path: str) -> dict:
    try:
        return json.loads(filesystem.read_text(path))
    except Exception:  # pylint: disable=broad-except  # OSError, ValueError, TensorFlow's file errors
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
        self.path = filesystem.join(self.directory, LOCK_NAME)
        self.flag = flag
        self.enabled = enabled
        self.local = filesystem.is_local(self.directory)
        self._fd = None
        self._recorded = False
        self._log = log or (lambda message: None)

    def _busy(self, holder: dict) -> OutputDirBusyError:
        return OutputDirBusyError(
            f"{self.flag}={self.directory} is in use by {_describe(holder)} (lock file {self.path}); "
            "wait for that run to finish, stop it, or choose another directory")

    def acquire(self):
        if not self.enabled or self._fd is not None or self._recorded:
            return self
        if not self.local:
            return self._record_remote()
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

    def _record_remote(self):
        """No lock on gs:// (see the module docstring): the holder's record, and a warning about an earlier one."""
        filesystem.makedirs(self.directory)
        if filesystem.exists(self.path):
            self._log(f"{self.flag}={self.directory} has the run record of {_describe(_read_holder(self.path))} "
                      f"({self.path}); this file system cannot be locked: if that run is still writing here, "
                      "stop one of the two")
        filesystem.write_text(self.path, json.dumps(_holder_record(), sort_keys=True) + "\n")
        self._recorded = True
        return self

    def release(self):
        if self._recorded:
            self._recorded = False
            filesystem.remove(self.path)
            return
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
