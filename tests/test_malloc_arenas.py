"""glibc malloc arenas: the commands cap them, the user's MALLOC_ARENA_MAX wins, other C libraries are untouched.

Each case runs a fresh interpreter that starts 8 threads allocating at the same moment and counts the arenas
glibc's `malloc_stats()` reports; without a cap glibc gives such threads arenas of their own."""

import os
import platform
import subprocess
import sys

import pytest

from albert_tf import malloc_arenas

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="malloc arenas are a glibc feature; this C library is left alone")

PROBE = r"""
import ctypes, sys, threading
SETUP
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    blocks = [libc.malloc(1 << 16) for _ in range(200)]
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()
"""


def arenas_after(setup: str, environment_max=None) -> int:
    env = {k: v for k, v in os.environ.items() if k != malloc_arenas.ENVIRONMENT_VARIABLE}
    if environment_max is not None:
        env[malloc_arenas.ENVIRONMENT_VARIABLE] = str(environment_max)
    done = subprocess.run([sys.executable, "-c", PROBE.replace("SETUP", setup)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_threads_get_arenas_of_their_own_without_a_cap():
    # The control: shows the probe can tell a capped process from an uncapped one.
    assert arenas_after("") > malloc_arenas.DEFAULT_MAX_ARENAS


def test_importing_the_commands_caps_the_arenas():
    assert arenas_after("import albert_tf.cli") <= malloc_arenas.DEFAULT_MAX_ARENAS


def test_the_training_runtime_caps_the_arenas_for_jobs_started_from_python():
    setup = "from albert_tf.training import runtime; runtime.configure_devices(0)"
    assert arenas_after(setup) <= malloc_arenas.DEFAULT_MAX_ARENAS


def test_an_explicit_cap_is_applied_and_reported():
    setup = ("from albert_tf.malloc_arenas import limit_malloc_arenas\n"
             "assert limit_malloc_arenas(1) == 1 and limit_malloc_arenas(1) == 1")
    assert arenas_after(setup) == 1


def test_the_users_malloc_arena_max_wins():
    setup = ("from albert_tf.malloc_arenas import limit_malloc_arenas\n"
             "assert limit_malloc_arenas() is None\nimport albert_tf.cli")
    assert arenas_after(setup, environment_max=4) > malloc_arenas.DEFAULT_MAX_ARENAS


def test_a_cap_below_one_is_refused():
    with pytest.raises(ValueError, match="max_arenas=0"):
        malloc_arenas.limit_malloc_arenas(0)
