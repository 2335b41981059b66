"""Child processes die with their parent, even when the parent is killed with SIGKILL.

Without this, the export's reload check and the data tool's pool workers outlive a killed
parent and keep using CPU (a pool worker even keeps writing shards). `die_with_parent` runs in
the child: Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)` has the kernel kill it when the parent
exits; elsewhere a daemon thread polls the parent pid.

`die_with_parent` imports nothing from albert_tf, so its source is also pasted into scripts run
with `python -c` that must not import the package (`SOURCE`).
"""

import inspect


def die_with_parent(parent_pid: int, poll_seconds: float = 1.0):
    """Call in a child process: it is killed as soon as `parent_pid` is gone."""
    import ctypes  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel,reimported,redefined-outer-name
    import signal  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel

    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)  # pylint: disable=protected-access
    if armed:
        return

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)  # pylint: disable=protected-access

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


SOURCE = inspect.getsource(die_with_parent)
