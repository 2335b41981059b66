"""bench/accelerator_step.py on CPU: its FLOP count against XLA's own, and a tiny run end to end.

Run with `make test-backends` (JAX needed); `make test` skips them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "accelerator_step.py"

pytestmark = [
    pytest.mark.skipif(os.environ.get("ALBERT_TF_BACKEND_TESTS") != "1",
                       reason="backend tests run with `make test-backends` (ALBERT_TF_BACKEND_TESTS=1, jax installed)"),
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (extra `backends`)"),
]

# The forward pass of an albert-tf pretrainer, compiled by XLA, and XLA's FLOP count of it
# (matmuls and the elementwise work, which the model-FLOP formula leaves out).
PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import jax
import accelerator_step as a
a.SHAPES["probe"] = dict(vocab=1000, embedding=64, hidden=256, layers=2, heads=4, intermediate=1024)
seq, batch, predictions = 64, 2, 10
model, feed, _ = a._albert_tf_model("probe", seq, predictions)
x = feed(a.synthetic_batch("probe", seq, batch, predictions))
def forward(trainable, non_trainable, x):
    return model.stateless_call(trainable, non_trainable, x)[0]
cost = jax.jit(forward).lower([v.value for v in model.trainable_variables],
                              [v.value for v in model.non_trainable_variables], x).compile().cost_analysis()
cost = cost[0] if isinstance(cost, list) else cost
print(json.dumps({"xla": float(cost["flops"]), "formula": a.step_flops("probe", seq, batch, predictions) / 3}))
"""


def _env():
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")


def test_model_flops_agree_with_xla_cost_analysis():
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "bench")], env=_env(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    # XLA also counts softmax, GELU, LayerNorm and the losses' elementwise work: a few percent more.
    assert counts["formula"] <= counts["xla"] <= 1.05 * counts["formula"], counts


def test_tiny_run_writes_the_table_and_json(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--peers", "albert_tf", "--dtypes", "fp32",
                           "--time-limit-s", "240", "--out-dir", str(tmp_path)], env=_env(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    records = json.loads((tmp_path / "accelerator_step.json").read_text())["records"]
    assert [(r["peer"], r["status"]) for r in records] == [("albert_tf", "ok")], records
    assert records[0]["examples_per_s"] > 0 and records[0]["mfu"] > 0
    table = (tmp_path / "accelerator_step.md").read_text()
    assert "| albert-tf (Keras/JAX) | tiny | 16 | fp32 | 4 |" in table
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_time_limit_marks_cells_skipped(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--peers", "albert_tf", "--dtypes", "fp32",
                           "--time-limit-s", "5", "--out-dir", str(tmp_path)], env=_env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    records = json.loads((tmp_path / "accelerator_step.json").read_text())["records"]
    assert records[0]["status"] == "skipped" and "time limit" in records[0]["error"]
    assert "skipped: time limit" in (tmp_path / "accelerator_step.md").read_text()


def test_fill_memory_doubles_the_batch_up_to_the_bound(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--peers", "albert_tf", "--dtypes", "fp32",
                           "--fill-memory", "--max-batch", "8", "--time-limit-s", "240", "--out-dir", str(tmp_path)],
                          env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "accelerator_step.json").read_text())["records"][0]
    assert record["status"] == "ok"
    tried = [a["batch"] for a in record["attempts"]]
    assert tried == [4, 8] and record["batch"] in tried
