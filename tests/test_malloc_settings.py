"""glibc malloc settings: the commands make them, the user's own MALLOC_* variables win, other C libraries are
untouched.

Each case runs a fresh interpreter that starts 8 threads allocating at the same moment, then allocates and frees
one 256 MiB block on the main thread, and reads glibc's `malloc_stats()`: the arenas it lists, whether a block was
ever mmap'd, and whether the freed block is still in the heap. Without the settings glibc gives such threads
arenas of their own, mmaps the big block and unmaps it on free."""

import os
import platform
import re
import subprocess
import sys

import pytest

from albert_tf import malloc_settings

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="these are glibc's malloc settings; another C library is left alone")

PROBE = r"""
import ctypes, sys, threading
SETUP
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
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
big = libc.malloc(256 << 20)
ctypes.memset(big, 1, 256 << 20)
libc.free(big)
libc.malloc_stats()
"""

BIG = 256 << 20


def stats_after(setup: str, environment=None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in malloc_settings.USER_VARIABLES and k != "GLIBC_TUNABLES"}
    env.update(environment or {})
    done = subprocess.run([sys.executable, "-c", PROBE.replace("SETUP", setup)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    lines = done.stderr.splitlines()
    main_arena = lines[lines.index("Arena 0:") + 1]
    return {"arenas": sum(line.startswith("Arena ") for line in lines),
            "mmap_regions": int(re.search(r"max mmap regions =\s*(\d+)", done.stderr).group(1)),
            "main_heap_bytes": int(re.search(r"system bytes\s*=\s*(\d+)", main_arena).group(1))}


def assert_glibc_defaults(stats):
    assert stats["arenas"] > malloc_settings.MAX_ARENAS
    assert stats["mmap_regions"] >= 1 and stats["main_heap_bytes"] < BIG


def assert_settings_made(stats):
    assert stats["arenas"] <= malloc_settings.MAX_ARENAS
    # The big block came from the heap, not mmap, and stayed there after free: the next step reuses it without
    # faults. (The mmap count is a high-water mark, so imports before the settings can leave it above 0.)
    assert stats["main_heap_bytes"] >= BIG


def test_glibc_defaults_without_the_settings():
    # The control: shows the probe tells a process with the settings from one without.
    assert_glibc_defaults(stats_after(""))


def test_importing_the_commands_makes_the_settings():
    assert_settings_made(stats_after("import albert_tf.cli"))


def test_the_training_runtime_makes_the_settings_for_jobs_started_from_python():
    assert_settings_made(stats_after("from albert_tf.training import runtime; runtime.configure_devices(0)"))


def test_the_settings_made_are_reported_once():
    setup = ("from albert_tf.malloc_settings import apply_malloc_settings, TRIM_THRESHOLD\n"
             "first = apply_malloc_settings(1)\n"
             "assert first == {'arena_max': 1, 'mmap_max': 0, 'trim_threshold': TRIM_THRESHOLD}, first\n"
             "assert apply_malloc_settings(1) is first")
    assert stats_after(setup)["arenas"] == 1


@pytest.mark.parametrize("environment", [{"MALLOC_ARENA_MAX": "4"}, {"MALLOC_TRIM_THRESHOLD_": "131072"},
                                         {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=65536"}])
def test_the_users_own_malloc_variables_win(environment):
    setup = ("from albert_tf.malloc_settings import apply_malloc_settings\n"
             "assert apply_malloc_settings() is None\nimport albert_tf.cli")
    stats = stats_after(setup, environment)
    assert stats["mmap_regions"] >= 1 and stats["main_heap_bytes"] < BIG


def test_a_cap_below_one_is_refused():
    with pytest.raises(ValueError, match="max_arenas=0"):
        malloc_settings.apply_malloc_settings(0)
