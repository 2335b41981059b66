"""Reload an export in a fresh process (only tensorflow + tensorflow_text) and compare its outputs.

What a serving host does is what is checked: no albert_tf, no Keras custom objects, only the
custom ops tensorflow_text registers (`SentencepieceOp`, ...). The export is refused when any
output differs from the in-memory Python pipeline (tokenizer + Keras model) beyond `atol`.

`recording()` collects what a check did (each request: model, signature, rows; each comparison: its
largest difference, tolerance and how many rows agree on the non-float outputs such as labels), so
the export can keep the figures in its `export.json` once the check has passed.
"""

import contextlib
import contextvars
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from albert_tf import atomic_files, child_processes

# Runs in the fresh process: load, call one signature per request, save every output.
# It dies with its parent (`child_processes.die_with_parent`, pasted in: albert_tf must not be imported).
# Requests on an ids-only model (`"core_ops_only": true`, `"model": <subdirectory>`) run first, while
# `import tensorflow_text` is impossible: a text op left in that graph fails its load, as on stock TF Serving.
_RELOAD_SCRIPT = child_processes.SOURCE + r"""
import json, os, sys
die_with_parent(int(sys.argv[4]))
export_dir, requests_path, out_path = sys.argv[1:4]
requests = json.load(open(requests_path, encoding="utf-8"))
order = sorted(range(len(requests)), key=lambda i: not requests[i].get("core_ops_only"))
if requests[order[0]].get("core_ops_only"):
    sys.modules["tensorflow_text"] = None  # any import of it raises ImportError
import numpy as np
import tensorflow as tf
models = {}
arrays = {}
for i in order:
    request = requests[i]
    if not request.get("core_ops_only") and sys.modules.get("tensorflow_text", 0) is None:
        del sys.modules["tensorflow_text"]
    if not request.get("core_ops_only"):
        import tensorflow_text  # noqa: F401  registers the tokenizer ops
    path = os.path.join(export_dir, request.get("model", ""))
    if path not in models:
        models[path] = tf.saved_model.load(path)
    signature = models[path].signatures[request["signature"]]
    inputs = {k: tf.constant(v, dtype=tf.string if isinstance(v[0], str) else tf.int32)
              for k, v in request["inputs"].items()}
    for name, value in signature(**inputs).items():
        array = value.numpy()
        if value.dtype == tf.string:  # fixed-width unicode: loadable without pickle
            array = np.asarray([b.decode("utf-8") for b in array.ravel()], dtype=str).reshape(array.shape)
        arrays[f"{i}/{name}"] = array
if "albert_tf" in sys.modules or any(m.startswith("albert_tf.") for m in sys.modules):
    raise SystemExit("albert_tf was imported by the reload")
np.savez(out_path, **arrays)
"""


class ExportCheckError(RuntimeError):
    """The reloaded SavedModel disagrees with the in-memory model (or could not be reloaded)."""


# The record of the check running now (None outside `recording`): the checks of every export kind call
# `reload_outputs` and `compare*` from their own closures, so the record is kept here, not threaded
# through each of them.
_RECORD = contextvars.ContextVar("albert_tf_export_check_record", default=None)


@contextlib.contextmanager
def recording():
    """Yields the record of the checks run inside the block: `{"requests": [...], "comparisons": {where: ...}}`."""
    record = {"requests": [], "comparisons": {}}
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def _note_requests(requests):
    record = _RECORD.get()
    if record is None:
        return
    for request in requests:
        rows = len(next(iter(request["inputs"].values()), []))
        record["requests"].append({"model": request.get("model", "."), "signature": request["signature"],
                                   "rows": rows, **({"core_ops_only": True} if request.get("core_ops_only") else {})})


def _note_comparison(where, worst, tolerance, agreement):
    """One comparison's figures, merged with earlier ones of the same `where` (largest difference,
    fewest agreeing rows)."""
    record = _RECORD.get()
    if record is None:
        return
    entry = record["comparisons"].setdefault(where or "outputs", {"max_abs_difference": 0.0, **tolerance})
    entry["max_abs_difference"] = max(entry["max_abs_difference"], float(worst))
    if agreement:
        agree = entry.setdefault("rows_agreeing", {})
        for name, (same, total) in agreement.items():
            previous = agree.get(name, [0, 0])
            agree[name] = [previous[0] + int(same), previous[1] + int(total)]


@contextlib.contextmanager
def _scratch_dir():
    # Local on purpose: the child process reads its requests here (the export itself is local too,
    # see saved_model._temporary_dir_for).
    scratch = atomic_files.temporary_dir(tempfile.gettempdir(), "albert-export-check")
    try:
        yield scratch
    finally:
        atomic_files.remove(scratch)


def reload_outputs(export_dir, requests, timeout=600):
    """Runs `requests` ([{"signature": name, "inputs": {arg: list}}]) in a fresh process.

    A request may name a `"model"` subdirectory of `export_dir`; with `"core_ops_only": True` it runs
    before tensorflow_text is importable (the ids-only export).

    Returns one dict of numpy outputs per request.
    """
    _note_requests(requests)
    # An owned scratch name: what a killed check leaves in the temp dir is cleaned by the next one.
    with _scratch_dir() as scratch:
        requests_path = os.path.join(scratch, "requests.json")
        out_path = os.path.join(scratch, "outputs.npz")
        with open(requests_path, "w", encoding="utf-8") as f:
            json.dump(requests, f, ensure_ascii=False)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run([sys.executable, "-c", _RELOAD_SCRIPT, export_dir, requests_path, out_path,
                               str(os.getpid())],
                              capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if done.returncode != 0:
            raise ExportCheckError(f"reloading {export_dir} in a fresh process failed:\n{done.stderr[-3000:]}")
        with np.load(out_path, allow_pickle=False) as data:
            results = [{} for _ in requests]
            for key in data.files:
                index, name = key.split("/", 1)
                results[int(index)][name] = data[key]
    return results


def _rows(array):
    return len(array) if array.ndim else 1


def compare(expected, actual, atol=1e-5, where=""):
    """Raises `ExportCheckError` naming the first output that differs; returns the max difference."""
    worst = 0.0
    agreement = {}
    for name, want in expected.items():
        if name not in actual:
            raise ExportCheckError(f"{where}: output {name!r} missing from the reloaded model")
        got = actual[name]
        want = np.asarray(want)
        if want.dtype.kind in "SUO":
            rows = _rows(want)
            want = np.asarray([w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in want.ravel()])
            got = np.asarray([g.decode("utf-8") if isinstance(g, bytes) else str(g) for g in got.ravel()])
            if not np.array_equal(want, got):
                raise ExportCheckError(f"{where}: output {name!r} differs: {want.tolist()} vs {got.tolist()}")
            agreement[name] = (rows, rows)
            continue
        if want.shape != got.shape:
            raise ExportCheckError(f"{where}: output {name!r} has shape {got.shape}, expected {want.shape}")
        if want.size == 0:
            continue
        difference = float(np.max(np.abs(want.astype(np.float64) - got.astype(np.float64))))
        worst = max(worst, difference)
        if difference > atol:
            raise ExportCheckError(f"{where}: output {name!r} differs by {difference:.3g} (> {atol:g})")
        if want.dtype.kind in "iub" and atol < 1:  # ids and flags: within atol < 1 is equal
            agreement[name] = (_rows(want), _rows(want))
    _note_comparison(where, worst, {"atol": atol}, agreement)
    return worst


# bfloat16 keeps 8 significant bits (relative step 2**-8): over a 12-layer encoder the logits of a
# bf16 export move by a few hundredths from float32's, so its check allows |diff| <= atol + rtol * |fp32|.
BF16_ATOL = 0.05
BF16_RTOL = 0.05


def compare_reduced_precision(expected_fp32, actual, where="", atol=BF16_ATOL, rtol=BF16_RTOL, decided=None):
    """A reduced-precision export against the float32 model: float outputs within `atol + rtol * |fp32|`,
    the other outputs (label ids, label strings) equal on the rows `decided` marks (all when None): rows
    whose float32 decision is clear of the bf16 tolerance. Returns the max float difference."""
    worst = 0.0
    agreement = {}
    for name, want in expected_fp32.items():
        if name not in actual:
            raise ExportCheckError(f"{where}: output {name!r} missing from the reloaded model")
        want, got = np.asarray(want), np.asarray(actual[name])
        if want.shape != got.shape:
            raise ExportCheckError(f"{where}: output {name!r} has shape {got.shape}, expected {want.shape}")
        if want.dtype.kind == "f":
            difference = np.abs(want.astype(np.float64) - got.astype(np.float64))
            if difference.size:
                worst = max(worst, float(difference.max()))
            over = difference > atol + rtol * np.abs(want)
            if over.any():
                row = int(np.argwhere(over)[0][0])
                raise ExportCheckError(f"{where}: output {name!r} differs from float32 by {float(difference.max()):.3g} "
                                       f"(row {row}; allowed {atol:g} + {rtol:g} x |float32|)")
            continue
        rows = np.ones(len(want), bool) if decided is None else np.asarray(decided, bool)
        same = compare_rows(want, got)
        agreement[name] = (int(same.sum()), len(same))
        if (rows & ~same).any():
            row = int(np.flatnonzero(rows & ~same)[0])
            raise ExportCheckError(f"{where}: output {name!r} disagrees with float32 on row {row} "
                                   f"({got.ravel()[row]!r} vs {want.ravel()[row]!r}) although float32's decision there "
                                   "is clear of the bf16 tolerance")
    _note_comparison(where, worst, {"atol": atol, "rtol": rtol}, agreement)
    return worst


def compare_rows(want, got):
    """Per row: equal (strings compared as text)."""
    def text(values):
        return np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.ravel()])
    if want.dtype.kind in "SUO":
        return text(want) == text(got)
    return (want == got).reshape(len(want), -1).all(axis=1)


def clear_decisions(logits, atol=BF16_ATOL, rtol=BF16_RTOL):
    """Rows whose top class leads the runner-up by more than twice the bf16 tolerance: a bf16 export must
    pick the same class there (closer calls may flip either way within the tolerance)."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or logits.shape[1] < 2:
        return np.ones(len(logits), bool)
    top_two = np.sort(logits, axis=1)[:, -2:]
    allowed = atol + rtol * np.abs(top_two).max(axis=1)
    return top_two[:, 1] - top_two[:, 0] > 2 * allowed
