"""The modeling layers on Keras' JAX and PyTorch backends, against the TensorFlow backend.

Each backend runs in its own process (tests/backend_worker.py, KERAS_BACKEND=jax|torch) where
TensorFlow cannot be imported, as on a machine without it; no module of the project may try.
It loads the parity fixtures' safetensors and `.weights.h5` files written here by the
TensorFlow backend, and its outputs must equal this process's within 1e-5 (and the oracle's
golden values within the parity tolerance).

These run with `make test-backends` (extra `backends`: jax); `make test` skips them, because a
backend process costs tens of seconds of start-up and compilation.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import backend_worker
from conftest import FIXTURES, padded_batch

pytestmark = pytest.mark.skipif(
    os.environ.get("ALBERT_TF_BACKEND_TESTS") != "1",
    reason="backend tests run with `make test-backends` (ALBERT_TF_BACKEND_TESTS=1, jax installed)")

BACKENDS = ["jax", "torch"]
ACROSS_BACKENDS = 1e-5  # the same float32 computation, another kernel library
ORACLE_TOLERANCE = 1e-4  # as tests/test_parity.py
NUM_CHOICES, CHOICE_LENGTH = 2, 8


@pytest.fixture(scope="module")
def tensorflow_side(tmp_path_factory):
    """Inputs, `.weights.h5` files and the TensorFlow backend's outputs, in a shared directory."""
    workdir = tmp_path_factory.mktemp("backends")
    batch = padded_batch(seq=12)
    mc = padded_batch(batch=2, seq=NUM_CHOICES * CHOICE_LENGTH, seed=3)
    inputs = {k: batch[k] for k in backend_worker.ENCODER_INPUTS}
    inputs["p_mask"] = 1 - batch["input_mask"]
    inputs["labels"] = np.array([0, 2, 1], np.int32)
    inputs.update({f"mc_{k}": mc[k] for k in backend_worker.ENCODER_INPUTS})
    np.savez(workdir / "inputs.npz", num_choices=NUM_CHOICES, choice_length=CHOICE_LENGTH, **inputs)

    keras.utils.set_random_seed(1)
    models = backend_worker.task_models(backend_worker.tiny_config(), NUM_CHOICES, CHOICE_LENGTH)
    for name, model in models.items():
        model.save_weights(str(workdir / f"{name}.weights.h5"))
    outputs = {k: np.asarray(v) for k, v in backend_worker.task_outputs(models, inputs).items()}
    for case in backend_worker.HF_CASES:
        case_outputs, _ = backend_worker.parity_outputs(case)
        outputs.update({f"{case}/{k}": np.asarray(v) for k, v in case_outputs.items()})
    return workdir, outputs


@pytest.fixture(scope="module", params=BACKENDS)
def backend_run(request, tensorflow_side):
    backend = request.param
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (`pip install -e .[backends]` installs jax; torch comes with "
                    "the oracle extra)")
    workdir, _ = tensorflow_side
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, str(Path(backend_worker.__file__)), str(workdir)], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{backend} worker failed:\n{done.stderr[-4000:]}"
    status = json.loads((workdir / f"{backend}.json").read_text())
    assert status["backend"] == backend
    return status, dict(np.load(workdir / f"{backend}.npz"))


def test_no_tensorflow_on_the_modeling_path(backend_run):
    status, _ = backend_run
    assert status["tensorflow_modules"] == []
    assert status["tensorflow_imports_from_project"] == []


@pytest.mark.parametrize("case", backend_worker.HF_CASES)
def test_parity_fixtures_match_tensorflow_and_the_oracle(backend_run, tensorflow_side, case):
    status, arrays = backend_run
    _, tf_outputs = tensorflow_side
    golden = np.load(FIXTURES / "parity" / case / "golden.npz")
    assert status[f"{case}/clean"], "the safetensors load was not clean"
    names = [k for k in tf_outputs if k.startswith(case + "/")]
    assert len(names) >= 5
    for name in names:
        np.testing.assert_allclose(arrays[name], tf_outputs[name], atol=ACROSS_BACKENDS, rtol=0, err_msg=name)
        np.testing.assert_allclose(arrays[name], golden[name.split("/", 1)[1]], atol=ORACLE_TOLERANCE, rtol=0,
                                   err_msg=name)


@pytest.mark.parametrize("model", ["classifier", "squad_span", "squad_xlnet", "multiple_choice"])
def test_task_heads_from_weights_h5_match_tensorflow(backend_run, tensorflow_side, model):
    status, arrays = backend_run
    _, tf_outputs = tensorflow_side
    if model == "classifier":
        assert status["classifier/clean"], "the .weights.h5 load through the checkpoints code was not clean"
    names = [k for k in tf_outputs if k.startswith(model + "/")]
    assert names
    for name in names:
        if name.endswith("_index"):
            np.testing.assert_array_equal(arrays[name], tf_outputs[name], err_msg=name)
        else:
            np.testing.assert_allclose(arrays[name], tf_outputs[name], atol=ACROSS_BACKENDS, rtol=0, err_msg=name)


def test_training_steps_lower_the_loss(backend_run):
    status, _ = backend_run
    assert status["train_loss_after"] < status["train_loss_before"]


def test_too_long_input_is_refused_naming_the_limit(backend_run):
    status, _ = backend_run
    assert "exceeds max_position_embeddings (32)" in (status["too_long_error"] or "")
