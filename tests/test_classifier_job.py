"""run_classifier.py end to end on a tiny model: train/eval/predict, best checkpoint, cache, padding, errors."""

import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import FIXTURES
from albert_tf.finetuning import datasets, feature_cache, get_task
from albert_tf.jobs import classifier as job

import tokenization_testlib as testlib

REPO = Path(__file__).resolve().parents[1]
TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
WORDS = "the quick brown fox jumps over lazy dog price rose city river album song".split()


def _sentence(rng, label):
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
    words.insert(rng.randint(0, len(words)), "great" if label else "awful")
    return " ".join(words)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("finetune")
    spm_model = testlib.build_spm_model(base)
    data = base / "SST-2"
    data.mkdir()
    rng = random.Random(0)
    for split, n in (("train", 320), ("dev", 70)):
        labels = [rng.randint(0, 1) for _ in range(n)]
        (data / f"{split}.tsv").write_text("sentence\tlabel\n" + "".join(f"{_sentence(rng, y)} \t{y}\n"
                                                                          for y in labels))
    # 45 test rows: not a multiple of the batch size, so the last batch needs weight-0 padding.
    (data / "test.tsv").write_text("index\tsentence\n" + "".join(f"{i}\t{_sentence(rng, i % 2)}\n"
                                                               for i in range(45)))
    config = base / "albert_config.json"
    config.write_text(json.dumps(TINY))
    return {"base": base, "data": str(data), "spm": str(spm_model), "config": str(config)}


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _settings(workspace, output_dir, **overrides):
    values = dict(task_name="SST-2", data_dir=workspace["data"], output_dir=str(output_dir),
                  albert_config_file=workspace["config"], vocab_file=workspace["spm"], max_seq_length=32,
                  train_batch_size=16, eval_batch_size=32, predict_batch_size=32, learning_rate=3e-3,
                  num_train_epochs=2, eval_every_steps=20, do_train=True, do_eval=True, do_predict=True,
                  cpu_devices=0, seed=7)
    values.update(overrides)
    return job.FinetuneSettings(**values)


def test_train_eval_predict_best_checkpoint_and_cache(workspace, tmp_path):
    out = tmp_path / "run"
    # Progress every 10 steps: the final train loss is the mean of the last 10 steps. Four epochs: in two,
    # whether the tiny model leaves chance level depends on the seed's example order.
    result = job.run(_settings(workspace, out, export_dir=str(tmp_path / "export"), log_every_steps=10,
                               num_train_epochs=4, eval_every_steps=40))["runs"][0]
    # 320 examples x 4 epochs / 16 = 80 steps: evaluations at 40 and 80.
    assert sorted(os.listdir(out / "eval_results")) == ["step_0000040.json", "step_0000080.json"]
    history = {int(p[5:12]): json.loads((out / "eval_results" / p).read_text())["dev"]["accuracy"]
               for p in os.listdir(out / "eval_results")}
    best = json.loads((out / "best_checkpoint.json").read_text())
    assert best["value"] == max(history.values()) and history[best["step"]] == best["value"]
    assert best["metric"] == "accuracy" and best["split"] == "dev"
    final = json.loads((out / "eval_results.json").read_text())
    # The final evaluation is of the restored best checkpoint, over every dev example.
    assert final["dev"]["accuracy"] == pytest.approx(best["value"], abs=1e-9)
    assert final["dev"]["num_examples"] == 70 and sum(final["dev"]["prediction_histogram"].values()) == 70
    assert best["value"] > 0.9, "the tiny model should learn the keyword task"
    lines = (out / "predictions" / "SST-2.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 46
    assert [line.split("\t")[0] for line in lines[1:]] == [str(i) for i in range(45)]
    assert {line.split("\t")[1] for line in lines[1:]} <= {"0", "1"}
    assert (tmp_path / "export" / "saved_model.pb").exists()
    assert json.loads((tmp_path / "export" / "assets.extra" / "export.json").read_text())["labels"] == ["0", "1"]
    assert result["final_train_loss"] < 0.69  # below the chance-level loss ln 2 over the last 10 steps

    # The best checkpoint directory is a complete --init_checkpoint (TF1 layout + config + tokenizer),
    # and evaluating it again gives the recorded value. The cache is reused (same files, same tokenizer).
    cache = out / "feature_cache"
    dev_meta = next(cache.glob("SST-2-dev-32-*.json"))
    stamp = dev_meta.stat().st_mtime_ns
    again = job.run(_settings(workspace, tmp_path / "eval_only", init_checkpoint=str(out / "best_checkpoint"),
                              albert_config_file=None, vocab_file=None, do_train=False, do_predict=False,
                              cache_dir=str(cache)))
    assert again["runs"][0]["eval"]["dev"]["accuracy"] == pytest.approx(best["value"], abs=1e-9)
    assert dev_meta.stat().st_mtime_ns == stamp
    assert len(list(cache.glob("SST-2-dev-*.json"))) == 1
    from albert_tf import model_directory
    saved = model_directory.read_model_directory(str(out / "best_checkpoint"))
    assert (saved.kind, saved.task["task_name"], saved.labels, saved.max_seq_length) == ("classification", "SST-2",
                                                                                       ["0", "1"], 32)


def test_num_seeds_reports_mean_median_max(workspace, tmp_path):
    summary = job.run(_settings(workspace, tmp_path, num_seeds=2, train_steps=6, eval_every_steps=0,
                                do_predict=False))["seeds"]
    assert summary["seeds"] == [7, 8] and len(summary["values"]) == 2
    assert summary["mean"] == pytest.approx(np.mean(summary["values"]))
    assert summary["median"] == pytest.approx(np.median(summary["values"]))
    assert summary["max"] == max(summary["values"])
    assert json.loads((tmp_path / "seeds_summary.json").read_text())["values"] == summary["values"]
    assert (tmp_path / "seed_8" / "eval_results.json").exists()


def test_multiple_choice_race(workspace, tmp_path):
    settings = _settings(workspace, tmp_path, task_name="RACE", data_dir=str(FIXTURES / "classifier" / "RACE"),
                         max_seq_length=48, max_qa_length=16, train_batch_size=2, eval_batch_size=2,
                         predict_batch_size=2, train_steps=3, eval_every_steps=0)
    result = job.run(settings)["runs"][0]
    assert set(result["eval"]["dev"]) >= {"accuracy", "high/accuracy", "middle/accuracy"}
    lines = (tmp_path / "predictions" / "RACE.tsv").read_text().splitlines()
    assert lines[0] == "id\tanswer" and len(lines) == 4
    assert all(line.split("\t")[1] in "ABCD" for line in lines[1:])


def test_eval_batches_are_padded_with_weight_zero_rows(workspace, tmp_path):
    task = get_task("SST-2")
    from albert_tf.tokenization import tokenizer_from_assets
    tokenizer = tokenizer_from_assets(workspace["spm"])
    examples = task.read_split(workspace["data"], "test", False)
    meta = feature_cache.cached_features(str(tmp_path), task, "test", task.split_path(workspace["data"], "test"),
                                         examples, tokenizer, 32, labelled=False)
    for static in (False, True):
        batches = list(datasets.eval_dataset(meta, 16, 32, static_shapes=static))
        assert len(batches) == 3 and all(b[2].shape[0] == 16 for b in batches)
        weights = np.concatenate([b[2].numpy() for b in batches])
        assert weights.sum() == 45 and weights[45:].sum() == 0
        if static:
            assert batches[0][0]["input_word_ids"].shape == (16, 32)
    train = datasets.train_dataset(meta, 8, 32, seed=1)
    for inputs, _, weight in train.take(6):
        assert inputs["input_word_ids"].shape[1] in datasets.bucket_lengths(32)
        assert weight.shape[0] == 8
        # The mask covers exactly the stored tokens (padding ids are 0).
        np.testing.assert_array_equal(inputs["input_mask"].numpy(), (inputs["input_word_ids"].numpy() != 0))


def test_checks_run_before_tokenizing(workspace, tmp_path):
    with pytest.raises(ValueError, match=r"--max_seq_length: 128 exceeds the model's max_position_embeddings \(64\)"):
        job.run(_settings(workspace, tmp_path / "a", max_seq_length=128))
    assert not (tmp_path / "a" / "feature_cache").exists()
    bad = Path(workspace["base"]) / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "train.tsv").write_text("sentence\tlabel\nfine\t1\nbroken\n")
    (bad / "dev.tsv").write_text("sentence\tlabel\nfine\t1\n")
    with pytest.raises(ValueError, match=r"bad/train.tsv:3: expected 2 tab-separated columns"):
        job.run(_settings(workspace, tmp_path / "b", data_dir=str(bad)))
    assert not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="--init_checkpoint: give the model"):
        job.run(_settings(workspace, tmp_path / "c", albert_config_file=None))


def test_cli_help_and_unknown_task():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    listed = subprocess.run([sys.executable, str(REPO / "run_classifier.py"), "--task_name=help"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0 and "CLUEWSC2020" in listed.stdout and "STS-B" in listed.stdout
    unknown = subprocess.run([sys.executable, str(REPO / "run_classifier.py"), "--task_name=MPRC",
                              "--data_dir=x", "--output_dir=y", "--do_train", "--preset=albert_base_v2"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert unknown.returncode == 1
    assert "--task_name='MPRC' is not a known task; known tasks: AFQMC, AX" in unknown.stderr


def test_train_and_export_without_eval(workspace, tmp_path, monkeypatch):
    # The export's reload check takes its rows from the splits this run read (here: train only). The
    # export itself is covered above; here only the rows handed to it matter.
    import albert_tf.export
    calls = []
    monkeypatch.setattr(albert_tf.export, "export_classifier",
                        lambda *args, **kwargs: calls.append(kwargs) or {"max_abs_difference": 0.0})
    out, export = tmp_path / "run", tmp_path / "export"
    job.run(_settings(workspace, out, do_eval=False, do_predict=False, eval_every_steps=0, train_steps=2,
                      export_dir=str(export)))
    train_rows = [(e.text_a,) for e in get_task("SST-2").read_split(workspace["data"], "train", True)[:32]]
    assert len(calls) == 1 and calls[0]["check_texts"] == train_rows
    assert not (out / "eval_results.json").exists()


def test_eval_only_run_says_what_it_does(workspace, tmp_path, caplog):
    caplog.set_level("INFO", logger="absl")
    result = job.run(_settings(workspace, tmp_path, do_train=False, do_predict=True, eval_every_steps=0))
    text = caplog.text
    assert "fine-tuning from RANDOM weights" not in text
    assert "no --init_checkpoint and no --do_train: evaluating and predicting RANDOM weights" in text
    warning = result["runs"][0]["eval"]["dev"].get("warning")
    if warning:  # an untrained head often predicts one class; the advice must not be about training
        assert "--learning_rate" not in warning and "this run did not train" in warning


@pytest.mark.parametrize("overrides, message", [
    ({"eval_batch_size": 0}, "--eval_batch_size=0: must be >= 1"),
    ({"log_every_steps": 0}, "--log_every_steps=0: must be >= 1"),
    ({"data_dir": "/nonexistent/SST-2"}, "--data_dir=/nonexistent/SST-2: no such directory"),
    ({"vocab_file": "/nonexistent/spm.model"}, "--vocab_file=/nonexistent/spm.model: no such file"),
    ({"init_checkpoint": "/nonexistent/model.ckpt"}, "--init_checkpoint=/nonexistent/model.ckpt: checkpoint not found"),
])
def test_every_flag_and_input_path_is_checked_before_tokenizing(workspace, tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        job.run(_settings(workspace, tmp_path / "out", **overrides))
    assert not (tmp_path / "out" / "feature_cache").exists()


def _checkpoint_with_tokenizer(directory, tokenizer, **config_overrides):
    from albert_tf.checkpoints import save_tf1
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.tokenization import save_tokenizer_assets
    classifier = AlbertClassifier(AlbertEncoder(AlbertConfig(**{**TINY, **config_overrides})), 2)
    save_tf1(classifier, str(directory / "model.ckpt"))
    if tokenizer is not None:
        save_tokenizer_assets(tokenizer, directory)
    return str(directory / "model.ckpt")


def test_a_vocabulary_other_than_the_checkpoints_is_refused_naming_both(workspace, tmp_path):
    from albert_tf.tokenization import SentencePieceTokenizer
    english = SentencePieceTokenizer(workspace["spm"])
    checkpoint = _checkpoint_with_tokenizer(tmp_path / "english", english)
    # Another kind of vocabulary with exactly the model's 300 ids: only the record tells them apart.
    words = [f"w{i}" for i in range(300 - 5)]
    other = tmp_path / "vocab.txt"
    other.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    with pytest.raises(ValueError, match=rf"--vocab_file={other} \(wordpiece vocab.txt, 300 ids, .*\) is not the "
                                         rf"tokenizer of --init_checkpoint={checkpoint}, which records sentencepiece "
                                         r".*tokenizer_config.json"):
        job.run(_settings(workspace, tmp_path / "a", albert_config_file=None, init_checkpoint=checkpoint,
                          vocab_file=str(other)))
    assert not (tmp_path / "a" / "feature_cache").exists()
    # The same vocabulary passes the check (and fine-tunes; not run here).
    job.check_model_inputs(_settings(workspace, tmp_path / "b", init_checkpoint=checkpoint), job.load_config(
        _settings(workspace, tmp_path / "b", albert_config_file=None, init_checkpoint=checkpoint)), english)
    # A checkpoint whose embeddings have more rows than the vocabulary has ids: another vocabulary.
    wide = _checkpoint_with_tokenizer(tmp_path / "wide", None, vocab_size=400)
    with pytest.raises(ValueError, match=r"--vocab_file: the tokenizer has 300 ids but the model of "
                                         rf"--init_checkpoint={wide} has vocab_size 400"):
        job.run(_settings(workspace, tmp_path / "c", albert_config_file=None, init_checkpoint=wide))
    assert not (tmp_path / "c" / "feature_cache").exists()


def test_a_second_run_on_the_output_dir_is_refused_before_any_work(workspace, tmp_path):
    from albert_tf import output_lock
    out = tmp_path / "run"
    with output_lock.OutputDirLock(str(out)):  # a run in progress on this directory
        with pytest.raises(output_lock.OutputDirBusyError, match=rf"--output_dir={out} is in use by pid "
                                                                  rf"{os.getpid()}"):
            job.run(_settings(workspace, out))
    assert sorted(p.name for p in out.iterdir()) == []  # nothing tokenized, no result written, lock released


def test_export_dir_holding_the_output_dir_is_refused_before_training(workspace, tmp_path):
    out = tmp_path / "run"
    for export_dir in (out, tmp_path):
        with pytest.raises(ValueError, match=rf"--export_dir={export_dir} holds {out}"):
            job.run(_settings(workspace, out, export_dir=str(export_dir)))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an earlier export"):
        job.run(_settings(workspace, out, export_dir=str(tmp_path / "notes")))
    assert not (out / "feature_cache").exists() and (tmp_path / "notes" / "todo.txt").read_text() == "mine"


def test_a_full_disk_never_leaves_a_half_best_checkpoint(workspace, tmp_path, monkeypatch):
    import errno

    import albert_tf.tokenization as tokenization
    from albert_tf.output_errors import OutputError
    real_save = tokenization.save_tokenizer_assets
    calls = []

    def full_on(call_numbers):
        def save(tokenizer, directory):
            calls.append(directory)
            if len(calls) in call_numbers:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_save(tokenizer, directory)
        return save

    # The first best checkpoint: weights written, then the disk is full before the vocabulary.
    monkeypatch.setattr(tokenization, "save_tokenizer_assets", full_on({1}))
    out = tmp_path / "first"
    with pytest.raises(OutputError, match=f"cannot write {out / job.BEST_DIR}: No space left on device"):
        job.run(_settings(workspace, out, do_predict=False))
    assert not (out / job.BEST_DIR).exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]

    # A later, better checkpoint fails the same way: the earlier one stays, complete.
    calls.clear()
    monkeypatch.setattr(job.runner.metrics_lib, "better", lambda value, best: True)  # every evaluation is a new best
    monkeypatch.setattr(tokenization, "save_tokenizer_assets", full_on({2}))
    out = tmp_path / "second"
    with pytest.raises(OutputError, match="No space left on device"):
        job.run(_settings(workspace, out, do_predict=False, eval_every_steps=10, num_train_epochs=1))
    kept = sorted(p.name for p in (out / job.BEST_DIR).iterdir())
    assert "tokenizer_config.json" in kept and any(name.endswith(".index") for name in kept), kept
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_text_the_tokenizer_does_not_know_is_refused_before_training(workspace, tmp_path, caplog):
    # Chinese rows with the English test SentencePiece model: nearly every token is <unk>.
    data = tmp_path / "LCQMC"
    data.mkdir()
    rows = "".join(f"今天天气怎么样{i}\t明天会下雨吗\t{i % 2}\n" for i in range(8))
    for name in ("train.txt", "dev.txt", "test.txt"):  # LCQMC evaluates on dev and test
        (data / name).write_text(rows, encoding="utf-8")
    settings = _settings(workspace, tmp_path / "out", task_name="LCQMC", data_dir=str(data), do_predict=False)
    with pytest.raises(ValueError, match=r"LCQMC/train.txt: \d+\.\d% of the tokens \(\d+ of \d+\) are unknown to the "
                                         r"tokenizer \(sentencepiece .*: LCQMC is a Chinese task and this is a "
                                         r"SentencePiece model.*--max_unknown_rate="):
        job.run(settings)
    assert not list((tmp_path / "out").glob("best_checkpoint*"))
    # Allowed explicitly, the run goes on with a warning naming the rate.
    caplog.set_level("WARNING", logger="absl")
    job.prepare(dataclasses.replace(settings, max_unknown_rate=1.0, output_dir=str(tmp_path / "out2")))
    assert "are unknown to the tokenizer" in caplog.text


def test_task_from_a_user_module_trains_and_predicts_with_row_ids(workspace, tmp_path):
    # The task lives in a file outside the package; its test file has no id column.
    (tmp_path / "review_tasks.py").write_text(
        "from albert_tf.finetuning.tasks import TsvTask, register\n\n\n"
        "@register\nclass Reviews(TsvTask):\n    name = 'Reviews'\n    labels = ('neg', 'pos')\n"
        "    text_names = (('review',),)\n    label_names = ('stars',)\n    predict_splits = {'Reviews': 'test'}\n")
    data = tmp_path / "reviews"
    data.mkdir()
    rng = random.Random(3)
    for split in ("train", "dev"):
        (data / f"{split}.tsv").write_text("stars\treview\n" + "".join(
            f"{('neg', 'pos')[y]}\t{_sentence(rng, y)}\n" for y in (rng.randint(0, 1) for _ in range(24))))
    (data / "test.tsv").write_text("review\n" + "".join(f"{_sentence(rng, i % 2)}\n" for i in range(5)))
    out = tmp_path / "out"
    job.run(_settings(workspace, out, task_name="Reviews", data_dir=str(data), train_steps=2, eval_every_steps=0,
                      task_module=[str(tmp_path / "review_tasks.py")]))
    lines = (out / "predictions" / "Reviews.tsv").read_text().splitlines()[1:]
    assert [line.split("\t")[0] for line in lines] == ["0", "1", "2", "3", "4"]
    assert {line.split("\t")[1] for line in lines} <= {"neg", "pos"}


def _evaluations(out):
    return [(int(p.stem.split("_")[1]), json.loads(p.read_text())["dev"]["accuracy"])
            for p in sorted((out / "eval_results").glob("step_*.json"))]


def test_early_stopping_stops_after_patience_evaluations_and_keeps_the_best(workspace, tmp_path):
    common = dict(train_steps=24, eval_every_steps=2, learning_rate=5e-3, do_predict=False, deterministic_ops=True)
    full = job.run(_settings(workspace, tmp_path / "full", **common))["runs"][0]
    history = _evaluations(tmp_path / "full")
    # Where patience 2 stops, computed from the full run's evaluations: the second evaluation in a row
    # that does not beat the best so far.
    best, since, stop = None, 0, None
    for step, value in history:
        if best is None or value > best[1]:
            best, since = (step, value), 0
        else:
            since += 1
            if since == 2:
                stop = step
                break
    assert stop is not None and stop < 24, f"the full run never plateaus: {history}"
    assert full.get("stopped_early_at") is None
    stopped = job.run(_settings(workspace, tmp_path / "patience", early_stopping_patience=2, **common))["runs"][0]
    assert stopped["stopped_early_at"] == stop
    # Training itself ended there (not only the evaluations), and a rerun would not train on.
    state = json.loads((tmp_path / "patience" / "resume" / "state.json").read_text())
    assert (state["step"], state["finished"], state["stopped_early_at"]) == (stop, True, stop)
    # Up to that step the two runs are the same run: every evaluation file is identical.
    evaluated = sorted(p.name for p in (tmp_path / "patience" / "eval_results").iterdir())
    assert evaluated == [f"step_{s:07d}.json" for s, _ in history if s <= stop]
    for name in evaluated:
        assert (tmp_path / "patience" / "eval_results" / name).read_text() == \
            (tmp_path / "full" / "eval_results" / name).read_text(), name
    record = json.loads((tmp_path / "patience" / "best_checkpoint.json").read_text())
    assert (record["step"], record["value"]) == best
    assert os.path.exists(record["path"] + ".index")
    # Final results come from that checkpoint: the model the full run had at that step (loss included).
    final = json.loads((tmp_path / "patience" / "eval_results.json").read_text())
    at_best = json.loads((tmp_path / "full" / "eval_results" / f"step_{best[0]:07d}.json").read_text())
    assert final["dev"] == at_best["dev"]
    assert final["global_step"] == stop


def test_early_stopping_needs_evaluations_during_training(workspace, tmp_path):
    with pytest.raises(ValueError, match="--early_stopping_patience: needs --do_train and evaluations"):
        job.run(_settings(workspace, tmp_path / "out", early_stopping_patience=2, eval_every_steps=0))
    assert not (tmp_path / "out").exists()


def _final_variables(out):
    state = json.loads((out / "resume" / "state.json").read_text())
    assert state["finished"]
    with np.load(out / "resume" / state["variables"]) as arrays:
        return {name: arrays[name] for name in arrays.files}


def test_a_run_killed_midway_resumes_to_the_uninterrupted_result(workspace, tmp_path, monkeypatch, caplog):
    flags = dict(max_seq_length=32, train_batch_size=16, eval_batch_size=32, learning_rate=3e-3, train_steps=60,
                 eval_every_steps=10, save_checkpoints_steps=3, seed=7, classifier_dropout=0.1, num_train_epochs=2)
    # The uninterrupted run (relative --output_dir, so the paths recorded in the results read the same).
    (tmp_path / "whole").mkdir()
    monkeypatch.chdir(tmp_path / "whole")
    job.run(_settings(workspace, "out", do_predict=False, deterministic_ops=True, **flags))
    monkeypatch.undo()
    command = [sys.executable, str(REPO / "run_classifier.py"), "--task_name=SST-2", f"--data_dir={workspace['data']}",
               "--output_dir=out", f"--albert_config_file={workspace['config']}", f"--vocab_file={workspace['spm']}",
               "--do_train", "--do_eval", "--deterministic_ops", *[f"--{k}={v}" for k, v in flags.items()]]
    killed = tmp_path / "killed"
    killed.mkdir()
    process = subprocess.Popen(command, cwd=killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = killed / "out" / "resume" / "state.json"
    deadline = time.time() + 240
    while process.poll() is None and time.time() < deadline:
        try:
            if json.loads(state_file.read_text())["step"] >= 36:  # about 60% of the run
                process.kill()  # SIGKILL: no clean-up of any kind
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    assert process.wait(timeout=60) == -9, "the run ended before it could be killed"
    assert not json.loads(state_file.read_text())["finished"]
    again = subprocess.run(command, cwd=killed, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming out from step" in again.stderr and "resumed at step" in again.stderr
    for name in ("eval_results.json", "best_checkpoint.json"):
        assert (killed / "out" / name).read_text() == (tmp_path / "whole" / "out" / name).read_text(), name
    whole, resumed = _final_variables(tmp_path / "whole" / "out"), _final_variables(killed / "out")
    assert sorted(whole) == sorted(resumed)
    for name, value in whole.items():
        np.testing.assert_allclose(resumed[name], value, rtol=0, atol=1e-6, err_msg=name)
    # A finished run started again is not retrained.
    caplog.set_level("INFO", logger="absl")
    monkeypatch.chdir(killed)
    job.run(_settings(workspace, "out", do_predict=False, deterministic_ops=True, **flags))
    assert "training finished earlier (step 60 of 60); not retrained" in caplog.text
    assert (killed / "out" / "eval_results.json").read_text() == \
        (tmp_path / "whole" / "out" / "eval_results.json").read_text()


def test_a_resumed_run_with_other_training_flags_is_refused(workspace, tmp_path):
    job.run(_settings(workspace, tmp_path, do_predict=False, eval_every_steps=0, train_steps=2))
    with pytest.raises(ValueError, match=r"holds a run with --learning_rate=0.003, this one has "
                                         r"--learning_rate=0.001; rerun with the same flags"):
        job.run(_settings(workspace, tmp_path, do_predict=False, eval_every_steps=0, train_steps=2,
                          learning_rate=1e-3))


@pytest.mark.parametrize("global_seed", [0, 7])
def test_shuffled_passes_are_permutations_and_the_same_from_every_iterator(global_seed):
    # --seed=0 sets TensorFlow's global seed to 0, which a tensor-valued shuffle seed cannot be combined with.
    keras.utils.set_random_seed(global_seed)
    stream = datasets.shuffled_epochs(tf.data.Dataset.range(6), 6, seed=global_seed, distinct_passes=3)
    first = [int(x) for x in stream.take(24)]
    assert first == [int(x) for x in stream.take(24)]
    passes = [first[i:i + 6] for i in range(0, 24, 6)]
    assert all(sorted(p) == list(range(6)) for p in passes)
    assert passes[3] == passes[0] and len({tuple(p) for p in passes[:3]}) > 1  # orders recur after 3 passes
