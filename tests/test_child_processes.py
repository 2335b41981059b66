"""Children die with their parent, even when the parent is killed with SIGKILL: the export's
reload check and the data tool's pool workers."""

import os
import signal
import subprocess
import sys
import time

from albert_tf.export import self_check

# The parent starts the child, prints its pid, and waits; the test kills the parent with -9.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen(sys.argv[1:])
print(child.pid, flush=True)
time.sleep(120)
"""
CHILD = """
import os, sys, time
from albert_tf.child_processes import die_with_parent
die_with_parent(os.getppid())
time.sleep(120)
"""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _kill_parent_and_wait_for_child(child_argv, settle=1.0):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, *child_argv], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(settle)
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    return alive


def test_a_child_dies_with_its_killed_parent():
    assert not _kill_parent_and_wait_for_child([sys.executable, "-c", CHILD])


def test_the_export_reload_check_dies_with_its_killed_parent(tmp_path):
    # The reload script's own start (everything before it reads its requests and imports TensorFlow),
    # then a long wait; started as the export starts it, with the parent pid as the fourth argument.
    script = self_check._RELOAD_SCRIPT.split("requests = json.load")[0] + "import time\ntime.sleep(120)\n"  # pylint: disable=protected-access
    argv = [sys.executable, "-c", "import os, sys; os.execv(sys.executable, [sys.executable, '-c', *sys.argv[1:5], "
            "str(os.getppid())])", script, "export_dir", "requests.json", "outputs.npz"]
    assert not _kill_parent_and_wait_for_child(argv, settle=0.5)
