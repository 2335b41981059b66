"""run_pretraining.py: training, resume after kill -9, strategies, XLA/bf16, bad input."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import pretraining_testlib as lib
from albert_tf.checkpoints.report import CheckpointMismatchError
from albert_tf.data import generation, meta as meta_lib
from albert_tf.training import pretraining_job, pretraining_losses

REPO = Path(__file__).resolve().parents[1]
TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0, hidden_act="gelu", type_vocab_size=2, initializer_range=0.02,
            num_hidden_groups=1, inner_group_num=1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("pretrain")
    spm_model = lib.testlib.build_spm_model(base)
    text = lib.write_corpus(base / "text.txt", num_documents=120)
    generation.generate(str(text), str(base / "data"), generation.GenerationSettings(
        max_seq_length=32, max_predictions_per_seq=5, dupe_factor=3, unit_bytes=4096),
        generation.TokenizerSpec(spm_model_file=str(spm_model)), log=lambda m: None)
    config = base / "albert_config.json"
    config.write_text(json.dumps(TINY))
    return {"base": base, "data": f"{base}/data/*.tfrecord", "config": str(config)}


def _settings(workspace, model_dir, **overrides):
    values = dict(input_file=workspace["data"], model_dir=str(model_dir), albert_config_file=workspace["config"],
                  learning_rate=2e-3, num_train_steps=30, num_warmup_steps=3, train_batch_size=16,
                  steps_per_loop=10, save_checkpoints_steps=10, do_eval=True, max_eval_steps=4,
                  eval_batch_size=16, seed=3)
    values.update(overrides)
    return pretraining_job.JobSettings(**values)


@pytest.fixture(autouse=True)
def _float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _command(workspace, model_dir, *extra):
    return [sys.executable, str(REPO / "run_pretraining.py"), f"--input_file={workspace['data']}",
            f"--albert_config_file={workspace['config']}", f"--model_dir={model_dir}", "--learning_rate=2e-3",
            "--num_train_steps=40", "--num_warmup_steps=3", "--train_batch_size=16", "--steps_per_loop=5",
            "--save_checkpoints_steps=5", "--seed=3", *extra]


def _losses(output):
    return [float(x) for x in re.findall(r"step \d+/\d+ loss ([0-9.]+)", output)]


def _final_weights(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(model_dir))
            if name.startswith("model/")}


def test_losses_are_normalized_over_the_global_batch():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, size=(8, 5)).astype(np.int32)
    logits = rng.normal(size=(8, 5, 7)).astype(np.float32)
    weights = (rng.random((8, 5)) < 0.7).astype(np.float32)
    whole = pretraining_losses.mlm_sums(labels, logits, weights)
    halves = [pretraining_losses.mlm_sums(labels[s], logits[s], weights[s]) for s in (slice(0, 3), slice(3, 8))]
    for total, a, b in zip(whole, *halves):
        np.testing.assert_allclose(float(total), float(a) + float(b), rtol=1e-6)
    reference = -np.log(np.take_along_axis(tf.nn.softmax(logits).numpy(), labels[..., None], -1))[..., 0]
    np.testing.assert_allclose(float(whole[0]) / float(whole[1]), (reference * weights).sum() / weights.sum(),
                               rtol=1e-5)


def test_trains_evaluates_and_keeps_its_artifacts(workspace, tmp_path):
    model_dir = tmp_path / "run"
    results = pretraining_job.run(_settings(workspace, model_dir))
    saved = json.loads((model_dir / "eval_results.json").read_text())
    assert saved["global_step"] == 30 and saved["eval_steps"] == 4
    assert saved["mlm_loss"] == pytest.approx(results["mlm_loss"])
    assert saved["mlm_loss"] < np.log(300)  # below uniform guessing over the vocabulary
    for name in ("albert_config.json", meta_lib.META_NAME, "tokenizer_config.json", "tiny.model", "checkpoint"):
        assert (model_dir / name).exists(), name
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-30")
    assert list((model_dir / "train").iterdir())  # TensorBoard events
    again = pretraining_job.run(_settings(workspace, model_dir, max_eval_steps=2))
    assert again["global_step"] == 30 and again["eval_steps"] == 2  # nothing more to train


def test_gradient_accumulation_matches_the_full_batch(workspace, tmp_path):
    one = pretraining_job.run(_settings(workspace, tmp_path / "one", num_train_steps=10, do_eval=True))
    four = pretraining_job.run(_settings(workspace, tmp_path / "four", num_train_steps=10, grad_accum_steps=4))
    a, b = _final_weights(tmp_path / "one"), _final_weights(tmp_path / "four")
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=2e-5, err_msg=name)
    assert one["mlm_loss"] == pytest.approx(four["mlm_loss"], rel=1e-4)
    _check_export_is_what_fine_tuning_reads(tmp_path / "one", a, step=10)


def _check_export_is_what_fine_tuning_reads(model_dir, trained, step):
    """The finished run is exported in the official TF1 layout, with config and tokenizer."""
    from albert_tf.checkpoints import load_config_for, load_weights  # pylint: disable=import-outside-toplevel
    from albert_tf.checkpoints.loader import export_weights  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import load_tokenizer  # pylint: disable=import-outside-toplevel
    export = model_dir / pretraining_job.EXPORT_DIR
    assert (export / f"model.ckpt-{step}.index").exists()
    assert load_tokenizer(str(export)).vocab_size == TINY["vocab_size"]
    classifier = AlbertClassifier(AlbertEncoder(load_config_for(str(export))), num_classes=2)
    report = load_weights(classifier, str(export), verbose=False)
    assert report.clean and not report.missing, report
    loaded = export_weights(classifier)
    reader = tf.train.load_checkpoint(str(export / f"model.ckpt-{step}"))
    encoder_names = [n for n in loaded if n.startswith("bert/")]
    assert len(encoder_names) > 10
    for name in encoder_names:
        np.testing.assert_array_equal(loaded[name], reader.get_tensor(name), err_msg=name)
    # ... and they are the trained weights, not a fresh initialization.
    word_table = reader.get_tensor("bert/embeddings/word_embeddings")
    assert any(v.shape == word_table.shape and np.array_equal(v, word_table) for v in trained.values())


def test_xla_step_with_the_fused_update_matches_the_uncompiled_step(workspace, tmp_path):
    # One replica + XLA compiles gradients, clipping and the LAMB update into one function.
    plain = pretraining_job.run(_settings(workspace, tmp_path / "plain", num_train_steps=6, do_eval=False))
    fused = pretraining_job.run(_settings(workspace, tmp_path / "xla", num_train_steps=6, do_eval=False,
                                          jit_compile=True))
    assert plain["global_step"] == fused["global_step"] == 6
    a, b = _final_weights(tmp_path / "plain"), _final_weights(tmp_path / "xla")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-4, err_msg=name)


@pytest.mark.parametrize("policy", ["off", "bf16", "fp16"])
def test_step_compiles_with_xla_and_sees_no_strings(workspace, tmp_path, policy):
    settings = _settings(workspace, tmp_path / policy, num_train_steps=4, steps_per_loop=2, jit_compile=True,
                         mixed_precision=policy, do_eval=False)
    result = pretraining_job.run(settings)
    assert result["global_step"] == 4
    # Rebuild the pieces to inspect the compiled function's graph.
    pretraining_job._configure_runtime(settings)  # pylint: disable=protected-access
    config = pretraining_job.load_model_config(settings)
    _, meta = pretraining_job.check_data(settings, config)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    model, optimizer = pretraining_job._build(settings, config, meta, strategy)  # pylint: disable=protected-access
    from albert_tf.training.pretraining_loop import LoopSettings, PretrainingLoop
    loop = PretrainingLoop(strategy, model, optimizer, LoopSettings(num_train_steps=4, jit_compile=True))
    assert loop._compute_and_apply is not None  # pylint: disable=protected-access  # one replica: fused
    data = strategy.distribute_datasets_from_function(pretraining_job._dataset_fn(  # pylint: disable=protected-access
        settings, config, True, settings.input_file, 16))
    iterator = iter(data)
    graph = loop.train_steps.get_concrete_function(iterator, tf.constant(1)).graph
    dtypes = {t.dtype for op in graph.get_operations() for t in op.outputs}
    assert tf.string not in dtypes
    step_graph = loop._compute.get_concrete_function(  # pylint: disable=protected-access
        next(iterator), tf.constant(1.0), tf.constant(1.0)).graph
    assert step_graph.get_operations() and all(t.dtype != tf.string for op in step_graph.get_operations()
                                               for t in op.outputs)


def test_bad_input_fails_before_training(workspace, tmp_path):
    with pytest.raises(meta_lib.MetaError, match="max_position_embeddings 16"):
        small = tmp_path / "small.json"
        small.write_text(json.dumps({**TINY, "max_position_embeddings": 16}))
        pretraining_job.run(_settings(workspace, tmp_path / "a", albert_config_file=str(small)))
    with pytest.raises(meta_lib.MetaError, match="vocab_size 300 > the model's vocab_size 100"):
        small = tmp_path / "vocab.json"
        small.write_text(json.dumps({**TINY, "vocab_size": 100}))
        pretraining_job.run(_settings(workspace, tmp_path / "b", albert_config_file=str(small)))
    with pytest.raises(meta_lib.MetaError, match="matches no file"):
        pretraining_job.run(_settings(workspace, tmp_path / "c", input_file=str(tmp_path / "none*.tfrecord")))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="not writable"):
        pretraining_job.run(_settings(workspace, blocker / "run"))
    with pytest.raises(ValueError, match="--train_batch_size: 16 must divide"):
        pretraining_job.run(_settings(workspace, tmp_path / "d", grad_accum_steps=3))
    # Static eval batches larger than the held-out data would evaluate nothing and report accuracy 0.
    with pytest.raises(ValueError, match="--eval_batch_size=100000 exceeds the"):
        pretraining_job.run(_settings(workspace, tmp_path / "f", eval_batch_size=100000))
    assert not (tmp_path / "f" / "checkpoint").exists()
    # An init checkpoint of another width: refused naming the config field, nothing trained.
    from albert_tf.checkpoints import save_tf1
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
    wide = AlbertPretrainer(AlbertEncoder(AlbertConfig(**{**TINY, "hidden_size": 48, "intermediate_size": 96})))
    wide(wide.encoder.dummy_inputs() | {"masked_lm_positions": tf.zeros((1, 1), tf.int32)})
    save_tf1(wide, str(tmp_path / "wide" / "model.ckpt"))
    with pytest.raises(CheckpointMismatchError, match="hidden_size"):
        pretraining_job.run(_settings(workspace, tmp_path / "e", init_checkpoint=str(tmp_path / "wide" / "model.ckpt")))
    assert not (tmp_path / "e" / "checkpoint").exists()


def test_resumes_after_kill_9_with_the_same_final_weights(workspace, tmp_path):
    reference = tmp_path / "reference"
    done = subprocess.run(_command(workspace, reference), capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(workspace, killed), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=REPO)
    deadline = time.time() + 240
    while time.time() < deadline:
        latest = tf.train.latest_checkpoint(str(killed))
        if latest and int(latest.rsplit("-", 1)[1]) >= 15:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_at = int(tf.train.latest_checkpoint(str(killed)).rsplit("-", 1)[1])
    assert 15 <= interrupted_at < 40
    resumed = subprocess.run(_command(workspace, killed), capture_output=True, text=True, cwd=REPO, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {killed}/ckpt-{interrupted_at}" in resumed.stderr
    steps = [int(s) for s in re.findall(r"step (\d+)/40 loss", resumed.stderr)]
    assert steps[0] == interrupted_at + 5 and steps[-1] == 40  # nothing repeated or skipped
    reference_losses = dict(zip(re.findall(r"step (\d+)/40 loss", done.stderr), _losses(done.stderr)))
    for step, loss in zip(re.findall(r"step (\d+)/40 loss", resumed.stderr), _losses(resumed.stderr)):
        assert loss == pytest.approx(reference_losses[step], abs=1e-4), step
    a, b = _final_weights(reference), _final_weights(killed)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)


def test_mirrored_over_four_cpus_gives_the_single_device_loss(workspace, tmp_path):
    single = subprocess.run(_command(workspace, tmp_path / "single", "--num_train_steps=10"),
                            capture_output=True, text=True, cwd=REPO, check=False)
    mirrored = subprocess.run(_command(workspace, tmp_path / "mirrored", "--num_train_steps=10",
                                       "--strategy=mirrored", "--cpu_devices=4"),
                              capture_output=True, text=True, cwd=REPO, check=False)
    assert single.returncode == 0 and mirrored.returncode == 0, mirrored.stderr[-3000:]
    np.testing.assert_allclose(_losses(mirrored.stderr), _losses(single.stderr), atol=2e-4)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_with_two_processes_gives_the_single_device_loss(workspace, tmp_path):
    single = subprocess.run(_command(workspace, tmp_path / "single", "--num_train_steps=10"),
                            capture_output=True, text=True, cwd=REPO, check=False)
    assert single.returncode == 0, single.stderr[-3000:]
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            _command(workspace, tmp_path / "multi", "--num_train_steps=10", "--strategy=multi_worker_mirrored",
                     "--input_sharding=records"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env))
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    np.testing.assert_allclose(_losses(outputs[0][1]), _losses(single.stderr), atol=2e-4)
    assert tf.train.latest_checkpoint(str(tmp_path / "multi")).endswith("ckpt-10")
    assert not any(p.name.startswith(".worker-") for p in (tmp_path / "multi").iterdir())


def test_a_recorded_vocab_file_cannot_lead_outside_the_model_dir(workspace, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(workspace["base"] / "data", data)
    config = data / "tokenizer_config.json"
    record = json.loads(config.read_text())
    (tmp_path / "outside.model").write_bytes((data / record["vocab_file"]).read_bytes())
    record["vocab_file"] = "../outside.model"
    config.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"tokenizer_config.json: field 'vocab_file' must be a plain file name .*"
                                         r"'\.\./outside.model'"):
        pretraining_job.run(_settings(workspace, tmp_path / "runs" / "m", input_file=f"{data}/*.tfrecord"))
    assert not (tmp_path / "runs" / "outside.model").exists()


@pytest.mark.parametrize("flag, value, message", [
    ("eval_batch_size", 0, "--eval_batch_size=0: must be >= 1"),
    ("keep_checkpoint_max", 0, "--keep_checkpoint_max=0: must be >= 1"),
    ("max_eval_steps", -1, "--max_eval_steps=-1: must be >= 0"),
    ("num_warmup_steps", 31, r"--num_warmup_steps=31: must be in \[0, --num_train_steps=30\]"),
    ("init_checkpoint", "/nonexistent/model.ckpt", "--init_checkpoint=/nonexistent/model.ckpt: checkpoint not found"),
    ("albert_config_file", "/nonexistent/config.json", "--albert_config_file=/nonexistent/config.json: no such"),
])
def test_every_flag_is_checked_before_any_work(workspace, tmp_path, flag, value, message):
    with pytest.raises(ValueError, match=message):
        pretraining_job.run(_settings(workspace, tmp_path / "m", **{flag: value}))
    assert not (tmp_path / "m").exists()


def test_a_second_run_on_the_model_dir_is_refused_naming_the_holder(workspace, tmp_path):
    from albert_tf import output_lock
    with output_lock.OutputDirLock(str(tmp_path / "run"), flag="--model_dir"):
        with pytest.raises(output_lock.OutputDirBusyError, match=rf"--model_dir={tmp_path / 'run'} is in use by "
                                                                  rf"pid {os.getpid()}"):
            pretraining_job.run(_settings(workspace, tmp_path / "run"))
    assert not list((tmp_path / "run").glob("ckpt*"))


def test_a_full_disk_during_the_pretrained_export_leaves_no_half_directory(workspace, tmp_path, monkeypatch):
    import errno
    from albert_tf import atomic_files
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
    from albert_tf.tokenization import load_tokenizer, save_tokenizer_assets
    model_dir = tmp_path / "run"
    save_tokenizer_assets(load_tokenizer(str(workspace["base"] / "data")), str(model_dir))
    model = AlbertPretrainer(AlbertEncoder(AlbertConfig(**TINY)))
    real_publish = atomic_files.publish

    def full_disk(temporary, final):
        if final.endswith("albert_config.json"):
            raise OSError(errno.ENOSPC, "No space left on device", final)
        return real_publish(temporary, final)
    monkeypatch.setattr(atomic_files, "publish", full_disk)
    with pytest.raises(OSError, match="No space left"):
        pretraining_job._export_pretrained(str(model_dir), model, 30)  # pylint: disable=protected-access
    assert not (model_dir / pretraining_job.EXPORT_DIR).exists()
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".tmp-")]
    monkeypatch.setattr(atomic_files, "publish", real_publish)
    pretraining_job._export_pretrained(str(model_dir), model, 30)  # pylint: disable=protected-access
    assert {"model.ckpt-30.index", "albert_config.json", "tokenizer_config.json"} <= \
        {p.name for p in (model_dir / pretraining_job.EXPORT_DIR).iterdir()}
    from albert_tf import model_directory  # pylint: disable=import-outside-toplevel
    saved = model_directory.read_model_directory(str(model_dir / pretraining_job.EXPORT_DIR))
    assert saved.kind == "pretraining" and saved.checkpoint_prefix.endswith("model.ckpt-30")
