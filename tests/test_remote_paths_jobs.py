"""The fine-tuning jobs with every path on `ram://`: TensorFlow's in-memory file system, which like `gs://`
is not the local disk and has no directory rename. While these tests run, Python's own file calls refuse
any `ram://` path (tests/ram_guard.py), so a read or write of a user's path that bypasses
`albert_tf.filesystem` fails here instead of silently touching a local `ram:/` directory. Pretraining and
the data tool on `ram://`, under the same guard, are in tests/test_filesystem.py."""

import io
import json
import os
import random
import uuid

import keras
import numpy as np
import pytest

from albert_tf import filesystem as fs
from albert_tf.jobs import classifier, ner, runner, squad
from albert_tf.jobs.settings import NerSettings
from conftest import FIXTURES
from ram_guard import StrayLocalCall, local_calls_refused

import tokenization_testlib as testlib

TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
WORDS = "the quick brown fox jumps over lazy dog price rose city river album song".split()


@pytest.fixture(scope="module", autouse=True)
def no_local_calls_on_ram(tmp_path_factory):
    """For the whole module, job fixtures included (they run before any function-scoped fixture)."""
    with local_calls_refused(tmp_path_factory.mktemp("cwd")):
        yield


@pytest.fixture(autouse=True)
def _float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _ram(name: str) -> str:
    return f"ram://{name}-{uuid.uuid4().hex[:8]}"


def _put(path: str, text: str) -> str:
    fs.makedirs(fs.dirname(path))
    fs.write_text(path, text)
    return path


def test_a_stray_local_call_on_a_ram_path_fails(tmp_path):
    path = fs.join(_ram("stray"), "x.txt")
    _put(path, "x")
    local = tmp_path / "local.txt"
    local.write_text("y")
    for call in (lambda: open(path, encoding="utf-8"), lambda: os.path.exists(path),
                 lambda: os.makedirs(fs.dirname(path), exist_ok=True), lambda: os.replace(local, path)):
        with pytest.raises(StrayLocalCall):
            call()
    assert fs.read_text(path) == "x"  # the layer itself reads it


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """Tokenizer, config and task files, all on ram://."""
    base = tmp_path_factory.mktemp("remote_jobs")
    root = _ram("inputs")
    spm = fs.join(root, "spiece.model")
    fs.makedirs(root)
    fs.copy(str(testlib.build_spm_model(base)), spm)
    rng = random.Random(0)

    def sentence(label):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 10))]
        return " ".join(words + ["great" if label else "awful"])
    for split, n in (("train", 64), ("dev", 20)):
        _put(fs.join(root, "SST-2", f"{split}.tsv"),
             "sentence\tlabel\n" + "".join(f"{sentence(i % 2)} \t{i % 2}\n" for i in range(n)))
    _put(fs.join(root, "SST-2", "test.tsv"), "index\tsentence\n" + "".join(f"{i}\t{sentence(i % 2)}\n"
                                                                          for i in range(9)))
    squad_file = fs.join(root, "squad", "tiny-v1.1.json")
    fs.makedirs(fs.dirname(squad_file))
    fs.copy(str(FIXTURES / "squad" / "tiny-v1.1.json"), squad_file)
    conll = "\n\n".join("\n".join([f"{w} X O" for w in rng.sample(WORDS, 3)] + ["north X B-LOC", "city X I-LOC"])
                        for _ in range(24)) + "\n"
    return {"root": root, "spm": spm, "config": _put(fs.join(root, "albert_config.json"), json.dumps(TINY)),
            "sst2": fs.join(root, "SST-2"), "squad": squad_file, "conll": _put(fs.join(root, "ner.txt"), conll)}


def _classifier_settings(remote, output_dir, **overrides):
    values = dict(task_name="SST-2", data_dir=remote["sst2"], output_dir=output_dir,
                  albert_config_file=remote["config"], vocab_file=remote["spm"], max_seq_length=32,
                  train_batch_size=8, eval_batch_size=16, predict_batch_size=16, learning_rate=3e-3,
                  train_steps=6, eval_every_steps=3, save_checkpoints_steps=2, do_train=True, do_eval=True,
                  do_predict=True, cpu_devices=0, seed=7, deterministic_ops=True)
    values.update(overrides)
    return classifier.ClassifierSettings(**values)


@pytest.fixture(scope="module")
def classifier_run(remote):
    out = _ram("classifier-run")
    cache = _ram("classifier-cache")
    result = classifier.run(_classifier_settings(remote, out, cache_dir=cache))
    return {"out": out, "cache": cache, "result": result}


def test_classifier_trains_evaluates_and_predicts_on_ram(classifier_run):
    out = classifier_run["out"]
    names = fs.listdir(out)
    for name in ("eval_results.json", "best_checkpoint.json", "best_checkpoint", "predictions", "resume", "logs"):
        assert name in names, (name, names)
    assert not [n for n in names if n.startswith(".tmp-")]
    final = json.loads(fs.read_text(fs.join(out, "eval_results.json")))
    assert final["dev"]["num_examples"] == 20
    lines = fs.read_text(fs.join(out, "predictions", "SST-2.tsv")).splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 10
    assert json.loads(fs.read_text(fs.join(out, "resume", "state.json")))["finished"] is True
    assert [n for n in fs.listdir(fs.join(out, "resume")) if n.endswith(".npz")] == ["variables-0000006.npz"]
    assert sorted(n.split("-")[2] for n in fs.listdir(classifier_run["cache"]) if n.endswith(".json")) == \
        ["dev", "test", "train"]
    best = fs.join(out, "best_checkpoint")
    assert {"task.json", "albert_config.json", "tokenizer_config.json", "model.ckpt.index"} <= set(fs.listdir(best))


def test_classifier_reads_its_ram_model_directory_as_init_checkpoint(remote, classifier_run):
    """--init_checkpoint on ram://: the fine-tuned model directory gives the recorded evaluation again, and the
    ram:// feature cache is reused."""
    cache = classifier_run["cache"]
    before = {name: fs.read_bytes(fs.join(cache, name)) for name in fs.listdir(cache)}
    again = classifier.run(_classifier_settings(
        remote, _ram("classifier-eval"), init_checkpoint=fs.join(classifier_run["out"], "best_checkpoint"),
        albert_config_file=None, vocab_file=None, do_train=False, do_predict=False, cache_dir=cache))
    recorded = json.loads(fs.read_text(fs.join(classifier_run["out"], "eval_results.json")))
    evaluated = again["runs"][0]["eval"]["dev"]
    assert evaluated["loss"] == pytest.approx(recorded["dev"]["loss"], abs=1e-6)  # the same weights, read back
    assert evaluated["accuracy"] == recorded["dev"]["accuracy"]
    assert {name: fs.read_bytes(fs.join(cache, name)) for name in fs.listdir(cache)} == before


def test_a_killed_classifier_run_resumes_from_ram(remote, classifier_run, monkeypatch):
    real_save = runner.Runner.save_state

    def save_then_die(self, step):  # the process dies right after the state of step 4 is written
        real_save(self, step)
        if step >= 4:
            raise KeyboardInterrupt
    monkeypatch.setattr(runner.Runner, "save_state", save_then_die)
    out = _ram("classifier-killed")
    settings = _classifier_settings(remote, out, cache_dir=classifier_run["cache"])
    with pytest.raises(KeyboardInterrupt):
        classifier.run(settings)
    monkeypatch.setattr(runner.Runner, "save_state", real_save)
    assert json.loads(fs.read_text(fs.join(out, "resume", "state.json")))["step"] == 4
    classifier.run(settings)
    whole = classifier_run["out"]
    assert fs.read_text(fs.join(out, "predictions", "SST-2.tsv")) == \
        fs.read_text(fs.join(whole, "predictions", "SST-2.tsv"))
    results = [json.loads(fs.read_text(fs.join(d, "eval_results.json"))) for d in (out, whole)]
    assert results[0]["dev"] == results[1]["dev"]
    variables = [np.load(io.BytesIO(fs.read_bytes(fs.join(d, "resume", "variables-0000006.npz")))) for d in (out, whole)]
    assert sorted(variables[0].files) == sorted(variables[1].files)
    for name in variables[0].files:  # the resumed run ends where the uninterrupted one did
        np.testing.assert_allclose(variables[0][name], variables[1][name], rtol=0, atol=1e-6, err_msg=name)


def test_squad_trains_and_predicts_on_ram(remote):
    out = _ram("squad-run")
    squad.run(squad.SquadSettings(
        output_dir=out, version="1.1", train_file=remote["squad"], predict_file=remote["squad"],
        albert_config_file=remote["config"], vocab_file=remote["spm"], max_seq_length=64, doc_stride=16,
        max_query_length=16, train_batch_size=4, predict_batch_size=5, train_steps=3, learning_rate=1e-3,
        do_train=True, do_eval=True, do_predict=True, log_every_steps=3))
    predictions = json.loads(fs.read_text(fs.join(out, "predictions.json")))
    assert len(predictions) == 6 and all(isinstance(text, str) for text in predictions.values())
    assert json.loads(fs.read_text(fs.join(out, "eval_results.json")))["total"] == 6
    assert "task.json" in fs.listdir(fs.join(out, squad.MODEL_DIR))


def test_ner_trains_on_ram(remote):
    out = _ram("ner-run")
    ner.run(NerSettings(
        train_file=remote["conll"], eval_file=remote["conll"], predict_file=remote["conll"], output_dir=out,
        albert_config_file=remote["config"], vocab_file=remote["spm"], max_seq_length=32, doc_stride=8,
        train_batch_size=8, predict_batch_size=16, learning_rate=5e-3, train_steps=3, warmup_steps=0,
        eval_every_steps=0, do_train=True, do_eval=True, do_predict=True, seed=3, log_every_steps=10))
    names = fs.listdir(out)
    assert "eval_results.json" in names and "ner_model" in names, names
    assert "task.json" in fs.listdir(fs.join(out, "ner_model"))


def test_a_task_module_on_ram_is_imported():
    from albert_tf.finetuning import get_task  # pylint: disable=import-outside-toplevel
    from albert_tf.finetuning.tasks import load_task_modules  # pylint: disable=import-outside-toplevel

    module = _put(fs.join(_ram("tasks"), "ram_review_tasks.py"), (
        "from albert_tf.finetuning.tasks import TsvTask, register\n\n\n"
        "@register\nclass RamReview(TsvTask):\n    name = 'RamReview'\n    labels = ('neg', 'pos')\n"))
    load_task_modules([module])
    assert get_task("RamReview").labels == ("neg", "pos")
    with pytest.raises(ValueError, match="missing.py: file not found"):
        load_task_modules([fs.join(fs.dirname(module), "missing.py")])
