"""run_squad.py's job end to end on a tiny model: v1 span head, v2 XLNet-style and CLS-null heads, outputs,
the stored null threshold, reloading the fine-tuned model, the cache, and CLI errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES
from albert_tf import model_directory
from albert_tf.jobs import runner
from albert_tf.jobs import squad as job
from albert_tf.squad import datasets, decoding, features, modeling, reading

import tokenization_testlib as testlib

REPO = Path(__file__).resolve().parents[1]
SQUAD = FIXTURES / "squad"
TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("squad")
    config = base / "albert_config.json"
    config.write_text(json.dumps(TINY))
    return {"base": base, "spm": str(testlib.build_spm_model(base)), "config": str(config)}


def _settings(workspace, name, version, **overrides):
    data = str(SQUAD / ("tiny-v1.1.json" if version == "1.1" else "tiny-v2.0.json"))
    values = dict(output_dir=str(workspace["base"] / name), version=version, train_file=data, predict_file=data,
                  albert_config_file=workspace["config"], vocab_file=workspace["spm"], max_seq_length=64,
                  doc_stride=16, max_query_length=16, train_batch_size=4, predict_batch_size=5, train_steps=6,
                  learning_rate=1e-3, do_train=True, do_eval=True, log_every_steps=3)
    values.update(overrides)
    return job.SquadSettings(**values)


def _read(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as handle:
        return json.load(handle)


def test_v1_train_eval_outputs_and_reload(workspace):
    s = _settings(workspace, "v1", "1.1")
    result = job.run(s)["runs"][0]
    predictions = _read(s.output_dir, "predictions.json")
    nbest = _read(s.output_dir, "nbest_predictions.json")
    examples, _ = reading.read_squad(s.predict_file, "1.1", training=False)
    assert set(predictions) == {e.qas_id for e in examples}
    for example in examples:  # answers are slices of the original context, the n-best is sorted
        entries = nbest[example.qas_id]
        assert predictions[example.qas_id] == entries[0]["text"]
        assert all(e["text"] == example.context[e["char_start"]:e["char_end"]] for e in entries)
        assert [e["score"] for e in entries] == sorted((e["score"] for e in entries), reverse=True)
        assert len(entries) <= s.n_best_size and abs(sum(e["probability"] for e in entries) - 1) < 1e-6
    assert not os.path.exists(os.path.join(s.output_dir, "null_odds.json"))
    results = _read(s.output_dir, "eval_results.json")
    assert results["total"] == 6 and results == {**result["eval"]}
    assert results["metric"] == "squad"  # English data and tokenizer: the SQuAD definitions
    head = _read(os.path.join(s.output_dir, job.MODEL_DIR), model_directory.TASK_FILE)
    assert head["head"] == "span" and head["version"] == "1.1"
    # The saved model predicts the same answers when loaded as --init_checkpoint.
    again = job.SquadSettings(output_dir=str(workspace["base"] / "v1_reload"), version="1.1",
                              predict_file=s.predict_file, init_checkpoint=os.path.join(s.output_dir, job.MODEL_DIR),
                              max_seq_length=64, doc_stride=16, max_query_length=16, do_predict=True)
    job.run(again)
    assert _read(again.output_dir, "predictions.json") == predictions


@pytest.mark.parametrize("head", ["auto", "cls_null"])
def test_v2_heads_write_null_odds_and_store_the_threshold(workspace, head):
    s = _settings(workspace, f"v2_{head}", "2.0", squad_head=head)
    result = job.run(s)["runs"][0]
    null_odds = _read(s.output_dir, "null_odds.json")
    predictions = _read(s.output_dir, "predictions.json")
    assert set(null_odds) == set(predictions)
    results = result["eval"]
    for key in ("exact", "f1", "HasAns_f1", "NoAns_f1", "best_f1", "best_f1_thresh", "null_threshold_used"):
        assert key in results
    # predictions.json is written with the stored threshold, and it reaches the searched best F1.
    threshold = _read(os.path.join(s.output_dir, job.MODEL_DIR), model_directory.TASK_FILE)["null_threshold"]
    assert threshold == results["null_threshold_used"]
    assert all((predictions[q] == "") or odds <= threshold for q, odds in null_odds.items())
    assert results["f1"] == pytest.approx(results["best_f1"])
    expected_head = "xlnet" if head == "auto" else "cls_null"
    assert _read(os.path.join(s.output_dir, job.MODEL_DIR), model_directory.TASK_FILE)["head"] == expected_head


def test_xlnet_head_shapes_and_beam(workspace):
    from albert_tf.config import AlbertConfig
    model = modeling.build_squad_model(AlbertConfig(**TINY), "xlnet", start_n_top=3, end_n_top=2)
    tokenizer = _workspace_tokenizer(workspace)
    examples, _ = reading.read_squad(str(SQUAD / "tiny-v2.0.json"), "2.0", training=False)
    feats = features.convert_examples(examples, tokenizer, 64, 16, 16)
    outputs = datasets.predict_outputs(model, feats, batch_size=7)
    n = len(feats)
    assert outputs["start_top_index"].shape == (n, 3) and outputs["end_top_index"].shape == (n, 6)
    assert outputs["cls_logits"].shape == (n,)
    p_mask = feats.p_mask()
    rows = np.arange(n)[:, None]
    assert not p_mask[rows, outputs["start_top_index"]].any()  # the beam never starts in the question
    decoded = decoding.decode(examples, feats, outputs, decoding.DecodeSettings(version="2.0"))
    assert set(decoded.null_odds) == {e.qas_id for e in examples}


def _workspace_tokenizer(workspace):
    from albert_tf.tokenization import SentencePieceTokenizer
    return SentencePieceTokenizer(workspace["spm"])


def test_feature_cache_is_reused_and_keyed(workspace, tmp_path):
    from albert_tf.squad import feature_cache
    tokenizer = _workspace_tokenizer(workspace)
    path = str(SQUAD / "tiny-v1.1.json")
    examples, _ = reading.read_squad(path, "1.1", training=False)
    first = feature_cache.cached_features(str(tmp_path), path, examples, tokenizer, 64, 16, 16, "1.1", False)
    files = sorted(os.listdir(tmp_path))
    again = feature_cache.cached_features(str(tmp_path), path, examples, tokenizer, 64, 16, 16, "1.1", False)
    assert sorted(os.listdir(tmp_path)) == files
    for name, value in first.arrays().items():
        np.testing.assert_array_equal(value, getattr(again, name))
    feature_cache.cached_features(str(tmp_path), path, examples, tokenizer, 64, 24, 16, "1.1", False)  # new stride
    assert len(os.listdir(tmp_path)) == len(files) + 2


def test_null_warning():
    assert job.null_warning({f"q{i}": "" for i in range(20)}, "dev.json").startswith("dev.json: 100.0%")
    assert job.null_warning({f"q{i}": "" if i else "x" for i in range(20)}, "dev.json").startswith("dev.json: 95.0%")
    assert job.null_warning({f"q{i}": "" if i > 1 else "x" for i in range(20)}, "dev.json") is None  # 90%


def _check_flags(s):
    """The flag checks alone (no file read): the family's own, then the runner's shared ones."""
    family = job.SquadFamily(s)
    family.check_settings()
    runner.check_shared_settings(s, family)


def test_settings_errors(workspace):
    with pytest.raises(ValueError, match="--max_seq_length=40 must exceed"):
        _check_flags(_settings(workspace, "e", "1.1", max_seq_length=40, max_query_length=40))
    with pytest.raises(ValueError, match="--train_file: required"):
        _check_flags(_settings(workspace, "e", "1.1", train_file=None))
    with pytest.raises(ValueError, match="--squad_head: xlnet is a v2 head"):
        _check_flags(_settings(workspace, "e", "1.1", squad_head="xlnet"))
    with pytest.raises(ValueError, match="--eval_metric: cmrc2018 needs --version=1.1"):
        _check_flags(_settings(workspace, "e", "2.0", eval_metric="cmrc2018"))


def test_cmrc_metric_forced_on_english_and_long_answers_warned(workspace, caplog):
    s = _settings(workspace, "forced", "1.1", do_train=False, eval_metric="cmrc2018", max_answer_length=1)
    with caplog.at_level("INFO", logger="absl"):
        result = job.run(s)["runs"][0]
    assert result["eval"]["metric"] == "cmrc2018" == _read(s.output_dir, "eval_results.json")["metric"]
    assert "evaluation metric: official CMRC2018 metric (--eval_metric=cmrc2018)" in caplog.text
    assert "questions have a gold answer longer than --max_answer_length=1 tokens" in caplog.text


@pytest.mark.realdata
def test_cli_evaluates_the_cmrc2018_trial_file_with_the_cmrc_metric(tmp_path):
    trial = testlib.realdata_path("cmrc2018/cmrc2018_trial.json")
    vocab = testlib.realdata_path("assets/albert_zh/vocab.txt")
    if not (trial.exists() and vocab.exists()):
        pytest.skip(f"real CMRC2018 data not found: {trial}, {vocab}")
    config = tmp_path / "albert_config.json"
    config.write_text(json.dumps({**TINY, "vocab_size": 21128}))
    command = [sys.executable, str(REPO / "run_squad.py"), "--do_eval", f"--predict_file={trial}",
               f"--output_dir={tmp_path / 'out'}", f"--albert_config_file={config}", f"--vocab_file={vocab}",
               "--max_seq_length=128", "--doc_stride=96", "--max_query_length=32"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    results = _read(tmp_path / "out", "eval_results.json")
    assert results["metric"] == "cmrc2018" and results["total"] == 1002 and results["missing"] == 0
    assert "evaluation metric: official CMRC2018 metric (the tokenizer is a Chinese WordPiece vocabulary)" \
        in done.stderr
    # The trial file: 5 first answers whose answer_start is off the text, 2 empty questions, 338 questions whose
    # only answer is over 30 tokens.
    assert "5 answer(s) with an unusable answer_start" in done.stderr
    assert "338 of 1002 questions have a gold answer longer than --max_answer_length=30" in done.stderr


def test_cli_reports_version_mismatch_before_building(workspace, tmp_path):
    command = [sys.executable, str(REPO / "run_squad.py"), "--version=1.1", "--do_predict",
               f"--predict_file={SQUAD / 'tiny-v2.0.json'}", f"--output_dir={tmp_path / 'out'}",
               f"--albert_config_file={workspace['config']}", f"--vocab_file={workspace['spm']}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 1
    assert "--version=1.1 but the file is SQuAD 2.0 data" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_init_checkpoint_is_named_before_reading(workspace, tmp_path):
    with pytest.raises(ValueError, match="--init_checkpoint=/nonexistent/model.ckpt: checkpoint not found"):
        job.run(_settings(workspace, "missing_init", "1.1", init_checkpoint="/nonexistent/model.ckpt"))
    assert not (workspace["base"] / "missing_init" / "feature_cache").exists()
    with pytest.raises(ValueError, match="--predict_batch_size=0: must be >= 1"):
        job.run(_settings(workspace, "zero_batch", "1.1", predict_batch_size=0))


def test_a_second_run_on_the_output_dir_is_refused_and_the_export_dir_checked_first(workspace):
    from albert_tf import output_lock
    out = workspace["base"] / "busy"
    with output_lock.OutputDirLock(str(out)):
        with pytest.raises(output_lock.OutputDirBusyError, match=f"in use by pid {os.getpid()}"):
            job.run(_settings(workspace, "busy", "1.1"))
    with pytest.raises(ValueError, match=rf"--export_dir={out} holds"):
        job.run(_settings(workspace, "busy", "1.1", export_dir=str(out)))
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_full_disk_leaves_the_previous_complete_squad_model(workspace, tmp_path, monkeypatch):
    import errno

    import albert_tf.tokenization as tokenization
    from albert_tf.output_errors import OutputError
    from albert_tf.tokenization import SentencePieceTokenizer
    from albert_tf.config import AlbertConfig
    tokenizer = SentencePieceTokenizer(workspace["spm"])
    s = _settings(workspace, "full_disk", "1.1")
    model = modeling.build_squad_model(AlbertConfig(**TINY), "span", None, s.start_n_top, s.end_n_top)
    directory = tmp_path / job.MODEL_DIR
    job.save_squad_model(model, str(directory), tokenizer, s, None)
    before = sorted(p.name for p in directory.iterdir())

    def full(tokenizer, directory):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(tokenization, "save_tokenizer_assets", full)
    with pytest.raises(OutputError, match=f"cannot write {directory}: No space left on device"):
        job.save_squad_model(model, str(directory), tokenizer, s, 0.5)
    assert sorted(p.name for p in directory.iterdir()) == before and "tokenizer_config.json" in before
    assert job.saved_head(str(directory))["null_threshold"] is None  # the earlier, complete model
    assert sorted(p.name for p in tmp_path.iterdir()) == [job.MODEL_DIR]  # no temporary left


def test_an_interrupted_squad_run_resumes_to_the_uninterrupted_result(workspace, monkeypatch):
    flags = dict(train_steps=8, save_checkpoints_steps=2, eval_every_steps=4, deterministic_ops=True)
    whole = _settings(workspace, "resume_whole", "1.1", **flags)
    job.run(whole)
    real_save = runner.Runner.save_state

    def save_then_die(self, step):  # the process dies right after the state of step 4 is written
        real_save(self, step)
        if step >= 4:
            raise KeyboardInterrupt
    monkeypatch.setattr(runner.Runner, "save_state", save_then_die)
    cut = _settings(workspace, "resume_cut", "1.1", **flags)
    with pytest.raises(KeyboardInterrupt):
        job.run(cut)
    monkeypatch.undo()
    assert _read(os.path.join(cut.output_dir, "resume"), "state.json")["step"] == 4
    job.run(cut)
    for name in ("predictions.json", "nbest_predictions.json"):
        assert _read(cut.output_dir, name) == _read(whole.output_dir, name)
    assert _read(cut.output_dir, "eval_results.json") == _read(whole.output_dir, "eval_results.json")
    states = [_read(os.path.join(d, "resume"), "state.json") for d in (whole.output_dir, cut.output_dir)]
    arrays = [np.load(os.path.join(d, "resume", s["variables"])) for d, s in zip((whole.output_dir, cut.output_dir),
                                                                                   states)]
    assert sorted(arrays[0].files) == sorted(arrays[1].files)
    for name in arrays[0].files:
        np.testing.assert_allclose(arrays[1][name], arrays[0][name], rtol=0, atol=1e-6, err_msg=name)
