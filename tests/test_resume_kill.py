"""A fine-tuning run killed with SIGKILL at about 60% of its steps, on real data, and started again with
the same command ends where an uninterrupted run with the same seed ends: the same final variables
(within 1e-6), the same best checkpoint and byte-identical `eval_results.json`. `run_classifier.py` on a
slice of GLUE MRPC and `run_squad.py` on a slice of the SQuAD v1.1 dev file, each as a subprocess."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import REALDATA

pytestmark = pytest.mark.realdata

REPO = Path(__file__).resolve().parents[1]
SPM_MODEL = REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"
MRPC = REALDATA / "glue" / "MRPC"
SQUAD_DEV = REALDATA / "squad" / "dev-v1.1.json"
# Tiny, but with dropout everywhere: a resumed run must also continue the dropout draws.
TINY = dict(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1)
TRAIN_STEPS, SAVE_EVERY, KILL_AT = 40, 4, 24  # the kill comes once the state of step 24 (60%) is on disk


def _need(*paths):
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real data not found: {', '.join(missing)} (set ALBERT_TF_REALDATA to the shared realdata "
                    "directory)")


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "albert_config.json"
    path.write_text(json.dumps(TINY))
    return str(path)


def _state(out):
    return json.loads((out / "resume" / "state.json").read_text())


def _kill_when_state_reaches(command, cwd, out, step):
    """Starts `command` and SIGKILLs it as soon as its resume state is at `step` or later; returns that
    step. The window is short on a fast machine (the last steps take well under a second), so a run that
    finished before it was seen is started again in a clean directory, a few times at most."""
    for attempt in range(3):
        if out.exists():
            shutil.rmtree(out)
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while process.poll() is None and time.time() < deadline:
            try:
                if _state(out)["step"] >= step:
                    os.kill(process.pid, signal.SIGKILL)  # no clean-up of any kind
                    break
            except (OSError, ValueError, KeyError):
                pass  # not written yet
            time.sleep(0.002)
        code = process.wait(timeout=60)
        stderr = process.stderr.read()
        process.stderr.close()
        if code == -signal.SIGKILL:
            state = _state(out)
            assert not state["finished"] and step <= state["step"] < TRAIN_STEPS, state
            return state["step"]
        assert code == 0, f"the run failed (code {code}):\n{stderr[-3000:]}"
    pytest.fail(f"the run finished {attempt + 1} times before its state at step {step} was seen")


def _final_variables(out):
    state = _state(out)
    assert state["finished"] and state["step"] == TRAIN_STEPS, state
    with np.load(out / "resume" / state["variables"]) as arrays:
        return {name: arrays[name] for name in arrays.files}


def _assert_same_arrays(resumed, whole, what):
    assert sorted(resumed) == sorted(whole), what
    for name, value in whole.items():
        np.testing.assert_allclose(resumed[name], value, rtol=0, atol=1e-6, err_msg=f"{what}: {name}")


def _checkpoint_arrays(prefix):
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _kill_rerun_and_compare(tmp_path, command, results):
    """The uninterrupted run in `whole/`, the killed one rerun in `killed/`; both with --output_dir=out,
    so paths recorded in the results read the same. Returns both output directories."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for directory in (whole, killed):
        directory.mkdir()
    done = subprocess.run(command, cwd=whole, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    killed_at = _kill_when_state_reaches(command, killed, killed / "out", KILL_AT)
    again = subprocess.run(command, cwd=killed, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming out from step {killed_at}" in again.stderr, again.stderr[-3000:]
    assert f"resumed at step {killed_at}" in again.stderr, again.stderr[-3000:]
    for name in results:
        assert (killed / "out" / name).read_text() == (whole / "out" / name).read_text(), name
    _assert_same_arrays(_final_variables(killed / "out"), _final_variables(whole / "out"), "final variables")
    # The loss of the last progress interval (steps 31-40, after the kill in both runs) is the same.
    assert _state(killed / "out")["final_train_loss"] == pytest.approx(_state(whole / "out")["final_train_loss"],
                                                                       rel=1e-5)
    return whole / "out", killed / "out"


def _head(source, target, rows):
    """The header and the first `rows` rows of a tsv (bytes kept as they are, BOM included)."""
    with open(source, "rb") as handle:
        lines = [handle.readline() for _ in range(rows + 1)]
    target.write_bytes(b"".join(lines))


def test_run_classifier_killed_at_60_percent_on_mrpc_resumes_to_the_uninterrupted_result(tmp_path, config_file):
    _need(MRPC / "train.tsv", MRPC / "dev.tsv", SPM_MODEL)
    data = tmp_path / "MRPC"
    data.mkdir()
    for split in ("train", "dev"):
        _head(MRPC / f"{split}.tsv", data / f"{split}.tsv", 200)
    command = [sys.executable, str(REPO / "run_classifier.py"), "--task_name=MRPC", f"--data_dir={data}",
               "--output_dir=out", f"--albert_config_file={config_file}", f"--vocab_file={SPM_MODEL}",
               "--do_train", "--do_eval", "--deterministic_ops", "--seed=3", "--max_seq_length=128",
               "--train_batch_size=16", "--eval_batch_size=64", "--learning_rate=1e-3",
               f"--train_steps={TRAIN_STEPS}", f"--save_checkpoints_steps={SAVE_EVERY}", "--eval_every_steps=10",
               "--log_every_steps=10", "--classifier_dropout=0.1"]
    whole, killed = _kill_rerun_and_compare(tmp_path, command, ["eval_results.json", "best_checkpoint.json"])
    steps = sorted(p.name for p in (whole / "eval_results").iterdir())
    assert steps == [f"step_{s:07d}.json" for s in (10, 20, 30, 40)]
    for name in steps:
        assert (killed / "eval_results" / name).read_text() == (whole / "eval_results" / name).read_text(), name
    best = json.loads((whole / "best_checkpoint.json").read_text())["path"]  # relative to the run's directory
    _assert_same_arrays(_checkpoint_arrays(killed.parent / best), _checkpoint_arrays(whole.parent / best),
                        "best checkpoint")


def _squad_slice(target, articles=3, paragraphs=3):
    """The first `paragraphs` paragraphs of the first `articles` articles of the real dev file."""
    with open(SQUAD_DEV, encoding="utf-8") as handle:
        dev = json.load(handle)
    dev["data"] = [dict(article, paragraphs=article["paragraphs"][:paragraphs]) for article in dev["data"][:articles]]
    target.write_text(json.dumps(dev), encoding="utf-8")
    return sum(len(p["qas"]) for a in dev["data"] for p in a["paragraphs"])


def test_run_squad_killed_at_60_percent_on_squad_dev_resumes_to_the_uninterrupted_result(tmp_path, config_file):
    _need(SQUAD_DEV, SPM_MODEL)
    data = tmp_path / "squad-slice.json"
    questions = _squad_slice(data)
    command = [sys.executable, str(REPO / "run_squad.py"), "--version=1.1", f"--train_file={data}",
               f"--predict_file={data}", "--output_dir=out", f"--albert_config_file={config_file}",
               f"--vocab_file={SPM_MODEL}", "--do_train", "--do_eval", "--deterministic_ops", "--seed=3",
               "--max_seq_length=128", "--doc_stride=64", "--max_query_length=32", "--train_batch_size=8",
               "--predict_batch_size=32", "--learning_rate=1e-3", f"--train_steps={TRAIN_STEPS}",
               f"--save_checkpoints_steps={SAVE_EVERY}", "--eval_every_steps=10", "--log_every_steps=10"]
    whole, killed = _kill_rerun_and_compare(tmp_path, command,
                                            ["eval_results.json", "best_checkpoint.json", "predictions.json",
                                             "nbest_predictions.json"])
    assert json.loads((whole / "eval_results.json").read_text())["total"] == questions
