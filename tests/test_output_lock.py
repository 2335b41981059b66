"""One run per output directory: a second holder is refused with the holder named, a lock left by a
dead process is taken over, the lock is released at exit."""

import errno
import fcntl
import json
import os
import subprocess
import sys
import time

import pytest

from albert_tf import atomic_files, output_lock

HOLD = """
import sys, time
from albert_tf import output_lock
with output_lock.OutputDirLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_run_is_refused_naming_the_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(output_lock.OutputDirBusyError,
                           match=rf"--output_dir={tmp_path} is in use by pid {holder.pid} on "
                                 rf"{atomic_files.host_name()} .*wait for that run to finish"):
            output_lock.OutputDirLock(str(tmp_path)).acquire()
    finally:
        holder.kill()
        holder.wait()
    # Killed with SIGKILL: the kernel dropped its flock, the next run takes over.
    with output_lock.OutputDirLock(str(tmp_path)) as lock:
        record = json.loads((tmp_path / output_lock.LOCK_NAME).read_text())
        assert record["pid"] == os.getpid() and lock.enabled
    assert not (tmp_path / output_lock.LOCK_NAME).exists()


def test_a_stale_lock_file_is_taken_over_and_a_live_one_is_not(tmp_path, monkeypatch):
    # Without flock (some network file systems) the file itself is the lock.
    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(fcntl, "flock", no_flock)
    lock_file = tmp_path / output_lock.LOCK_NAME
    lock_file.write_text(json.dumps({"pid": _dead_pid(), "host": atomic_files.host_name(), "started": "x"}))
    messages = []
    with output_lock.OutputDirLock(str(tmp_path), log=messages.append):
        assert json.loads(lock_file.read_text())["pid"] == os.getpid()
        assert "stale lock" in messages[0]
        with pytest.raises(output_lock.OutputDirBusyError, match=f"pid {os.getpid()}"):
            output_lock.OutputDirLock(str(tmp_path)).acquire()
    lock_file.write_text(json.dumps({"pid": os.getppid(), "host": atomic_files.host_name(), "started": "x"}))
    with pytest.raises(output_lock.OutputDirBusyError, match=f"pid {os.getppid()}"):
        output_lock.OutputDirLock(str(tmp_path)).acquire()


def test_disabled_for_non_chief_workers(tmp_path):
    with output_lock.OutputDirLock(str(tmp_path)):
        with output_lock.OutputDirLock(str(tmp_path), enabled=False):
            pass


def test_a_remote_directory_gets_a_run_record_and_a_warning_instead_of_a_lock():
    """ram:// (like gs://) cannot be locked: the record names the run, a second run warns and goes on."""
    from albert_tf import filesystem  # pylint: disable=import-outside-toplevel

    directory = f"ram://lock-{os.getpid()}-{time.time_ns()}/run"
    warnings = []
    with output_lock.OutputDirLock(directory, log=warnings.append) as first:
        assert json.loads(filesystem.read_text(first.path))["pid"] == os.getpid()
        with output_lock.OutputDirLock(directory, log=warnings.append):
            pass
        assert len(warnings) == 1 and f"pid {os.getpid()}" in warnings[0] and "cannot be locked" in warnings[0]
    assert not filesystem.exists(filesystem.join(directory, output_lock.LOCK_NAME))
    with output_lock.OutputDirLock(directory, log=warnings.append):
        assert len(warnings) == 1  # released at the end: the next run starts clean
