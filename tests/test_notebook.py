"""notebooks/albert_tf_quickstart.ipynb executed end to end on CPU with tiny settings and no network
(`make notebook-check`; skipped unless ALBERT_TF_NOTEBOOK_TESTS=1: it runs a few minutes of training,
export and prediction in a Jupyter kernel)."""

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "albert_tf_quickstart.ipynb"

pytestmark = pytest.mark.skipif(os.environ.get("ALBERT_TF_NOTEBOOK_TESTS") != "1",
                                reason="the notebook runs only with ALBERT_TF_NOTEBOOK_TESTS=1 (make notebook-check)")


def test_quickstart_notebook_runs_end_to_end(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the test extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient comes with the test extra")
    work = tmp_path / "quickstart"
    # The kernel inherits this environment: the notebook's parameter cell reads it.
    for name, value in {"ALBERT_TF_NOTEBOOK_INSTALL": "0", "ALBERT_TF_REPO_DIR": str(REPO),
                        "ALBERT_TF_NOTEBOOK_WORKDIR": str(work), "ALBERT_TF_NOTEBOOK_TRAIN_STEPS": "20",
                        "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(str(NOTEBOOK), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell that failed

    outputs = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                        for out in cell.get("outputs", []))
    assert "training with --strategy=cpu" in outputs
    # Every step left its product: the converted checkpoint, the run, both exports, the predictions.
    assert (work / "converted" / "albert_config.json").is_file()
    assert json.loads((work / "run" / "eval_results.json").read_text())
    assert (work / "export" / "saved_model.pb").is_file() and (work / "export" / "ids" / "1" / "saved_model.pb").is_file()
    predictions = (work / "sst2_test.jsonl").read_text().splitlines()
    assert len(predictions) == 16 and all("label" in json.loads(line) for line in predictions)
    assert "ids-only twin:" in outputs and "tensorflow_model_server" in outputs
