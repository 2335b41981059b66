"""The file-system layer, and the jobs with every path on `ram://`: TensorFlow's in-memory file system,
which like `gs://` is not the local disk, so a stray `open()` / `os.path.exists` / `os.rename` on a user's
path fails these tests."""

import json
import os
import uuid
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import pretraining_testlib as lib
from ram_guard import local_calls_refused
from albert_tf import filesystem as fs
from albert_tf.data import generation, meta as meta_lib
from albert_tf.tokenization import (SentencePieceTokenizer, WordPieceTokenizer, load_tokenizer,
                                    save_tokenizer_assets)
from albert_tf.training import pretraining_job

TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64)


def _ram(name: str) -> str:
    """A fresh ram:// directory (the file system lives as long as the test process)."""
    return f"ram://{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _float32_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("where", ["local", "ram"])
def test_files_are_published_complete_and_copied(where, tmp_path):
    root = str(tmp_path / "root") if where == "local" else _ram("layer")
    fs.makedirs(root)
    path = fs.join(root, "a", "b.json")
    fs.makedirs(fs.dirname(path))
    fs.write_text(path, '{"k": 1}\n')
    assert fs.read_text(path) == '{"k": 1}\n' and fs.isfile(path) and fs.isdir(fs.dirname(path))
    fs.write_text(path, "replaced\n")
    assert fs.read_text(path) == "replaced\n"
    assert fs.listdir(fs.dirname(path)) == ["b.json"]  # no temporary name left behind
    fs.copy(path, fs.join(root, "c.txt"))
    assert fs.read_bytes(fs.join(root, "c.txt")) == b"replaced\n" and fs.size(fs.join(root, "c.txt")) == 9
    assert fs.glob(fs.join(root, "*.txt")) == [fs.join(root, "c.txt")]
    fs.remove(fs.join(root, "a"))
    assert not fs.exists(path) and fs.listdir(root) == ["c.txt"]
    fs.remove(fs.join(root, "missing"))  # not an error


def test_a_directory_is_published_by_copy_where_there_is_no_rename(monkeypatch):
    root = _ram("publish")
    old = fs.join(root, "export")
    fs.makedirs(old)
    fs.write_text(fs.join(old, "stale.txt"), "old")
    temporary = fs.temporary_dir(root, "export")
    assert fs.basename(temporary).startswith(".tmp-export")
    for name in ("model.index", "model.data", "sub/x.txt"):
        fs.makedirs(fs.dirname(fs.join(temporary, name)))
        fs.write_text(fs.join(temporary, name), name)
    copied = []
    real_copy = fs.copy
    monkeypatch.setattr(fs, "copy", lambda source, target, **kw: copied.append(fs.basename(target))
                        or real_copy(source, target, **kw))
    fs.publish_dir(temporary, old, last=("model.index",))
    assert copied[-1] == "model.index"  # the file that marks the directory complete comes last
    assert sorted(fs.listdir(old)) == ["model.data", "model.index", "sub"]
    assert fs.read_text(fs.join(old, "sub", "x.txt")) == "sub/x.txt"
    assert not fs.exists(temporary)


def test_local_copy_for_libraries_that_need_a_local_file(tmp_path):
    remote = fs.join(_ram("local-copy"), "spiece.model")
    fs.makedirs(fs.dirname(remote))
    fs.write_bytes(remote, b"\x00\x01model")
    with fs.local_copy(remote) as local:
        assert fs.is_local(local) and local.endswith("spiece.model")
        assert Path(local).read_bytes() == b"\x00\x01model"
    assert not os.path.exists(local)
    here = tmp_path / "x.model"
    here.write_bytes(b"x")
    with fs.local_copy(str(here)) as same:
        assert same == str(here)  # a local file is used where it is


def test_tokenizer_assets_are_saved_and_loaded_on_ram(spm_model_file, wordpiece_vocab_file):
    tokenizer = SentencePieceTokenizer(spm_model_file)
    model_dir = _ram("tokenizer")
    config_path = save_tokenizer_assets(tokenizer, model_dir)
    assert fs.exists(config_path) and fs.exists(fs.join(model_dir, tokenizer.settings.vocab_file))
    loaded = load_tokenizer(model_dir)
    assert loaded.settings == tokenizer.settings
    text = "the quick brown fox"
    assert loaded.encode(text) == tokenizer.encode(text)
    # A SentencePiece model read straight from ram:// too.
    assert SentencePieceTokenizer(fs.join(model_dir, tokenizer.settings.vocab_file)).encode(text) == \
        tokenizer.encode(text)
    wordpiece = WordPieceTokenizer(wordpiece_vocab_file)
    wordpiece_dir = _ram("wordpiece")
    save_tokenizer_assets(wordpiece, wordpiece_dir)
    assert load_tokenizer(wordpiece_dir).encode(text) == wordpiece.encode(text)


@pytest.fixture(scope="module")
def ram_dataset(tmp_path_factory, spm_model_file):
    """Pretraining data written by the data tool straight to ram:// (the tool's workers write local scratch,
    copied there with dataset_meta.json last)."""
    base = tmp_path_factory.mktemp("ram_data")
    text = lib.write_corpus(base / "text.txt", num_documents=60)
    corpus = fs.join(_ram("corpus"), "text.txt")  # the input on ram:// too (one worker: read in this process)
    fs.makedirs(fs.dirname(corpus))
    fs.copy(str(text), corpus)
    data_dir = _ram("pretraining-data")
    with local_calls_refused(base):
        generation.generate(corpus, data_dir, generation.GenerationSettings(
            max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1, unit_bytes=4096),
            generation.TokenizerSpec(spm_model_file=spm_model_file), log=lambda m: None)
    config = fs.join(_ram("config"), "albert_config.json")
    fs.makedirs(fs.dirname(config))
    fs.write_text(config, json.dumps(TINY))
    return {"data": data_dir, "config": config}


def test_pretraining_data_is_written_to_ram(ram_dataset):
    names = fs.listdir(ram_dataset["data"])
    assert meta_lib.META_NAME in names and "tokenizer_config.json" in names
    meta = json.loads(fs.read_text(fs.join(ram_dataset["data"], meta_lib.META_NAME)))
    shards = [s["file"] for s in meta["shards"]]
    assert shards and set(shards) <= set(names) and not [n for n in names if n.startswith(".tmp-")]
    records = sum(1 for _ in tf.data.TFRecordDataset([fs.join(ram_dataset["data"], s) for s in shards]))
    assert records == meta["instances"] > 0
    assert meta["inputs"][0]["path"].startswith("ram://corpus-")


def test_pretraining_on_ram_writes_checkpoints_results_and_the_tf1_export(ram_dataset, tmp_path):
    model_dir = _ram("pretraining-run")
    with local_calls_refused(tmp_path):  # every model_dir file through the layer (tests/ram_guard.py)
        results = pretraining_job.run(pretraining_job.JobSettings(
            input_file=fs.join(ram_dataset["data"], "*.tfrecord"), model_dir=model_dir,
            albert_config_file=ram_dataset["config"], num_train_steps=4, num_warmup_steps=1, train_batch_size=8,
            steps_per_loop=2, save_checkpoints_steps=2, do_eval=True, max_eval_steps=1, eval_batch_size=8,
            seed=1))
    assert results["global_step"] == 4
    names = fs.listdir(model_dir)
    for name in ("albert_config.json", "tokenizer_config.json", meta_lib.META_NAME, "eval_results.json",
                 "checkpoint", pretraining_job.EXPORT_DIR):
        assert name in names, (name, names)
    assert json.loads(fs.read_text(fs.join(model_dir, "eval_results.json")))["global_step"] == 4
    export = fs.join(model_dir, pretraining_job.EXPORT_DIR)
    exported = fs.listdir(export)
    assert "model.ckpt-4.index" in exported and "task.json" in exported and "tokenizer_config.json" in exported
    assert not [n for n in exported if n.startswith(".tmp-")]
    # (By prefix: ram:// calls any prefix of a file name a directory, which tf.train.load_checkpoint trips on.)
    reader = tf.compat.v1.train.NewCheckpointReader(fs.join(export, "model.ckpt-4"))
    table = reader.get_tensor("bert/embeddings/word_embeddings")
    assert table.shape == (TINY["vocab_size"], TINY["embedding_size"]) and np.isfinite(table).all()
    assert load_tokenizer(export).vocab_size == TINY["vocab_size"]


def test_direct_use_predictions_and_vectors_are_written_to_ram(monkeypatch):
    from albert_tf import inference, inference_files  # pylint: disable=import-outside-toplevel

    class Model:  # the model is not what is tested here: only where its outputs go
        def embed(self, texts, pooling, layer, normalize):
            return np.arange(len(texts) * 3, dtype=np.float32).reshape(len(texts), 3)

    monkeypatch.setattr(inference.PretrainedAlbert, "load", classmethod(lambda cls, *a, **kw: Model()))
    output = fs.join(_ram("predict"), "vectors.jsonl")
    fs.makedirs(fs.dirname(output))
    rows = [(f"r{i}", [f"text {i}"]) for i in range(5)]
    assert inference_files.write_predictions("embed", "unused-model", rows, output, batch_size=2) == 5
    lines = fs.read_text(output).splitlines()
    assert [json.loads(line) for line in lines] == [{"id": f"r{i}", "row": i} for i in range(5)]
    with fs.local_copy(inference_files.embeddings_path(output)) as local:
        np.testing.assert_array_equal(np.load(local), np.arange(15, dtype=np.float32).reshape(5, 3))
    assert sorted(fs.listdir(fs.dirname(output))) == ["vectors.jsonl", "vectors.npy"]


def test_configs_and_task_files_are_read_from_ram():
    from albert_tf.config import AlbertConfig  # pylint: disable=import-outside-toplevel
    from albert_tf.finetuning import get_task  # pylint: disable=import-outside-toplevel
    from albert_tf.squad import reading  # pylint: disable=import-outside-toplevel

    root = _ram("tasks")
    config = AlbertConfig.from_dict(TINY)
    config.to_json_file(fs.join(root, "model", "albert_config.json"))
    assert AlbertConfig.from_json_file(fs.join(root, "model", "albert_config.json")) == config
    fs.makedirs(fs.join(root, "SST-2"))
    fs.write_text(fs.join(root, "SST-2", "train.tsv"), "sentence\tlabel\ngood film \t1\nbad film \t0\n")
    examples = get_task("SST-2").read_split(fs.join(root, "SST-2"), "train", True)
    assert [(e.text_a.strip(), e.label) for e in examples] == [("good film", "1"), ("bad film", "0")]
    squad = fs.join(root, "dev.json")
    fs.write_text(squad, json.dumps({"version": "1.1", "data": []}))
    assert reading.load_json(squad)["version"] == "1.1"
