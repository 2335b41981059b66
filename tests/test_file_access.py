"""Every read or write of a user's path goes through the file-system layer (`albert_tf/filesystem.py`, with
`albert_tf/atomic_files.py` for local files), so gs:// works everywhere. This test reads the package's source
(`ast`, so docstrings and comments do not count) for Python's own file calls; each one outside the layer
must be on the allow-list below, which says why that use is local-only. An allow-list entry whose call is gone
from its file fails too, so the list stays the set of genuine exceptions."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "albert_tf"
LAYER = {"filesystem.py", "atomic_files.py"}
# Calls that take a path and only know the local disk.
LOCAL_ONLY_CALLS = {"open", "io.open", "os.open", "os.rename", "os.replace", "os.remove", "os.unlink",
                    "os.makedirs", "os.listdir", "os.walk", "os.path.exists", "os.path.isdir", "os.path.isfile",
                    "os.path.getsize", "glob.glob"}
LOCAL_ONLY_MODULES = {"tempfile", "shutil"}  # any call of theirs

# (file relative to albert_tf/, call) -> why it is local-only.
ALLOWED = {
    ("data/tfrecord.py", "open"):
        "the data tool's worker processes (no TensorFlow) write each shard to a local file; a gs:// "
        "--output_dir is made in filesystem.scratch_dir and copied out by the main process",
    ("output_lock.py", "os.open"): "flock needs a local file descriptor; a gs:// directory gets a run record "
                                   "through the layer instead (see the module docstring)",
    ("output_lock.py", "os.makedirs"): "the local branch of the lock (above)",
    ("output_lock.py", "os.remove"): "the local branch of the lock (above)",
    ("output_errors.py", "os.path.exists"): "the local branch of check_writable: the nearest existing directory",
    ("output_errors.py", "os.path.isdir"): "the local branch of check_writable (above)",
    ("output_errors.py", "tempfile.TemporaryFile"):
        "the local branch of check_writable probes with a nameless file (nothing to clean up after a kill); "
        "other file systems are probed through the layer",
    ("tf_logs.py", "tempfile.TemporaryFile"): "captures file descriptor 2 (TensorFlow's C++ log lines); no user path",
    ("training/cpu_features.py", "open"): "reads /proc/cpuinfo, a local system file; no user path",
    ("checkpoints/tf1.py", "tempfile.gettempdir"):
        "SaveV2 writes a gs:// checkpoint in local scratch first (each of its renames would be a server-side "
        "copy there); the files are then copied over, data before index",
    ("checkpoints/tf1.py", "shutil.rmtree"): "removes that local scratch (above)",
    ("checkpoints/keras_hub.py", "tempfile.mkdtemp"): "keras-hub's preset savers write local files only; the "
                                                      "preset is staged there, then copied through the layer",
    ("checkpoints/keras_hub.py", "open"): "task.json into that local staging directory (above)",
    ("checkpoints/keras_hub.py", "shutil.rmtree"): "removes that local staging directory (above)",
    ("export/destination.py", "os.path.isdir"):
        "the local branch of the destination check: a symbolic link or a file where the export goes is refused "
        "(gs:// has no links; its branch goes through the layer)",
    ("export/self_check.py", "tempfile.gettempdir"):
        "the reload check's child process reads its requests from local scratch (it cannot see this process's "
        "ram://, and the export it checks is staged locally too)",
    ("export/self_check.py", "open"): "the requests file in that local scratch (above), also read by the child",
}


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id] + parts[::-1])


def local_file_calls(source: str):
    """(line, call name) of every call in `source` that only knows the local disk."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name and (name in LOCAL_ONLY_CALLS or name.split(".")[0] in LOCAL_ONLY_MODULES):
                found.append((node.lineno, name))
    return sorted(found)


def test_the_scanner_finds_local_file_calls_and_ignores_text():
    source = ('"""open(x) in a docstring"""\n'
              "import os, shutil\n"
              "def f(path):\n"
              "    # os.rename(a, b) in a comment\n"
              "    with open(path) as handle:\n"
              "        os.path.exists(path)\n"
              "    shutil.copyfile(path, path + '~')\n"
              "    filesystem.open_file(path)\n"
              "    tf.io.gfile.exists(path)\n")
    assert local_file_calls(source) == [(5, "open"), (6, "os.path.exists"), (7, "shutil.copyfile")]


def test_user_paths_go_through_the_file_system_layer():
    found, used = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in LAYER:
            continue
        for line, name in local_file_calls(path.read_text(encoding="utf-8")):
            if (relative, name) in ALLOWED:
                used.add((relative, name))
            else:
                found.append(f"albert_tf/{relative}:{line}: {name}(...)")
    assert not found, ("Python's own file calls outside albert_tf/filesystem.py (use the layer, so gs:// "
                       "works; or add a commented ALLOWED entry saying why it is local-only):\n"
                       + "\n".join(found))
    stale = sorted(entry for entry in set(ALLOWED) - used if (PACKAGE / entry[0]).exists())
    assert not stale, f"ALLOWED entries whose call is gone from the file: {stale}"
