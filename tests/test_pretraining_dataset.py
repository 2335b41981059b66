"""The tf.data reader: validation against dataset_meta.json and the model, shapes, sharding."""

import json

import numpy as np
import pytest
import tensorflow as tf

import pretraining_testlib as lib
from albert_tf.config import AlbertConfig
from albert_tf.data import generation, meta as meta_lib
from albert_tf.data.pretraining_dataset import pretraining_dataset

testlib = lib.testlib
SEQ, PREDICTIONS = 32, 5


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("dataset")
    spm_model = testlib.build_spm_model(base)
    text = lib.write_corpus(base / "text.txt", num_documents=60)
    out = base / "static"
    generation.generate(str(text), str(out), generation.GenerationSettings(
        max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS, dupe_factor=1, unit_bytes=2048),
        generation.TokenizerSpec(spm_model_file=str(spm_model)), log=lambda m: None)
    return out


def _config(**overrides):
    values = dict(vocab_size=300, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=16, max_position_embeddings=64)
    values.update(overrides)
    return AlbertConfig(**values)


def test_batches_are_int32_with_static_shapes_and_match_records(dataset_dir):
    dataset, meta = pretraining_dataset(f"{dataset_dir}/*.tfrecord", 4, is_training=False, config=_config())
    spec = dataset.element_spec
    assert set(spec) == {"input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions",
                         "masked_lm_ids", "masked_lm_weights", "sentence_order_label"}
    for name, tensor_spec in spec.items():
        assert tensor_spec.dtype == (tf.float32 if name == "masked_lm_weights" else tf.int32), name
    assert spec["input_word_ids"].shape.as_list() == [None, SEQ]  # eval keeps the last partial batch
    records = lib.read_records(sorted(dataset_dir.glob("*.tfrecord")))
    batches = list(dataset.as_numpy_iterator())
    assert sum(len(b["input_word_ids"]) for b in batches) == meta.instances == len(records)
    first = batches[0]
    np.testing.assert_array_equal(first["input_word_ids"][0], records[0]["input_ids"])
    np.testing.assert_array_equal(first["sentence_order_label"][0], records[0]["next_sentence_labels"][0])

    training, _ = pretraining_dataset(f"{dataset_dir}/*.tfrecord", 4, is_training=True, seed=1)
    assert training.element_spec["input_word_ids"].shape.as_list() == [4, SEQ]
    assert training.element_spec["sentence_order_label"].shape.as_list() == [4]
    assert all(s.dtype != tf.string for s in training.element_spec.values())


def test_each_input_pipeline_reads_its_own_files(dataset_dir):
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline)
        dataset, _ = pretraining_dataset(f"{dataset_dir}/*.tfrecord", 2, is_training=False, input_context=context)
        seen.append({tuple(row) for b in dataset.as_numpy_iterator() for row in b["input_word_ids"]})
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_model_mismatches_are_refused_before_training(dataset_dir):
    with pytest.raises(meta_lib.MetaError, match="max_position_embeddings 16"):
        pretraining_dataset(f"{dataset_dir}/*.tfrecord", 4, config=_config(max_position_embeddings=16))
    with pytest.raises(meta_lib.MetaError, match="vocab_size 300 > the model's vocab_size 100"):
        pretraining_dataset(f"{dataset_dir}/*.tfrecord", 4, config=_config(vocab_size=100))


def test_missing_meta_unknown_files_and_wrong_lengths(dataset_dir, tmp_path):
    with pytest.raises(meta_lib.MetaError, match="matches no file"):
        pretraining_dataset(f"{tmp_path}/*.tfrecord", 4)
    copy = tmp_path / "copy"
    copy.mkdir()
    for shard in dataset_dir.glob("*.tfrecord"):
        (copy / shard.name).write_bytes(shard.read_bytes())
    with pytest.raises(meta_lib.MetaError, match="dataset_meta.json not found"):
        pretraining_dataset(f"{copy}/*.tfrecord", 4)

    meta = json.loads((dataset_dir / meta_lib.META_NAME).read_text())
    (copy / "stray.tfrecord").write_bytes(next(dataset_dir.glob("*.tfrecord")).read_bytes())
    (copy / meta_lib.META_NAME).write_text(json.dumps(meta))
    with pytest.raises(meta_lib.MetaError, match=r"does not list \['stray.tfrecord'\]"):
        pretraining_dataset(f"{copy}/*.tfrecord", 4)
    (copy / "stray.tfrecord").unlink()

    meta["max_seq_length"] = 64
    (copy / meta_lib.META_NAME).write_text(json.dumps(meta))
    with pytest.raises(meta_lib.MetaError, match="feature 'input_ids' has length 32 .* max_seq_length=64"):
        pretraining_dataset(f"{copy}/*.tfrecord", 4)


def test_datasets_with_different_settings_cannot_be_mixed(dataset_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    meta = json.loads((dataset_dir / meta_lib.META_NAME).read_text())
    for shard in dataset_dir.glob("*.tfrecord"):
        (other / shard.name).write_bytes(shard.read_bytes())
    meta["masked_lm_prob"] = 0.2
    (other / meta_lib.META_NAME).write_text(json.dumps(meta))
    with pytest.raises(meta_lib.MetaError, match=r"disagree on \['masked_lm_prob'\]"):
        pretraining_dataset(f"{dataset_dir}/*.tfrecord,{other}/*.tfrecord", 4)


def _copy_dataset(dataset_dir, target):
    target.mkdir()
    for path in dataset_dir.iterdir():
        if path.is_file():
            (target / path.name).write_bytes(path.read_bytes())
    return target


def test_truncated_or_changed_shards_are_named_before_training(dataset_dir, tmp_path):
    copy = _copy_dataset(dataset_dir, tmp_path / "copy")
    shards = sorted(copy.glob("*.tfrecord"))
    data = shards[-1].read_bytes()
    shards[-1].write_bytes(data[:len(data) - 7])  # cut inside the last record
    with pytest.raises(meta_lib.MetaError, match=rf"{shards[-1].name}: shard does not match .*"
                                                 rf"{len(data) - 7} bytes, .* lists {len(data)}.*ends 7 byte"):
        pretraining_dataset(f"{copy}/*.tfrecord", 4)

    # Same size, other records: the full check (on request) walks the framing and hashes every shard.
    from albert_tf.data.pretraining_dataset import check_shard_files
    files = [str(p) for p in shards]
    meta = json.loads((dataset_dir / meta_lib.META_NAME).read_text())
    entry = next(s for s in meta["shards"] if s["file"] == shards[-1].name)
    shards[-1].write_bytes(data)
    entry["instances"] += 1
    (copy / meta_lib.META_NAME).write_text(json.dumps(meta))
    check_shard_files(files)  # one stat per shard: the size fits
    with pytest.raises(meta_lib.MetaError, match=rf"{entry['instances'] - 1} complete record\(s\), .* lists "
                                                 rf"{entry['instances']}"):
        check_shard_files(files, verify_sha256=True)
    entry["instances"] -= 1
    (copy / meta_lib.META_NAME).write_text(json.dumps(meta))
    flipped = bytearray(data)
    flipped[-5] ^= 1
    shards[-1].write_bytes(bytes(flipped))
    check_shard_files(files)
    with pytest.raises(meta_lib.MetaError, match="sha256"):
        check_shard_files(files, verify_sha256=True)


def test_a_dataset_of_zero_instances_is_refused_before_training(dataset_dir, tmp_path):
    # Reading it would repeat an empty stream forever: training would spin with no output.
    import hashlib
    copy = tmp_path / "empty"
    copy.mkdir()
    meta = json.loads((dataset_dir / meta_lib.META_NAME).read_text())
    (copy / "pretrain-00000-of-00001.tfrecord").write_bytes(b"")
    meta["shards"] = [{"file": "pretrain-00000-of-00001.tfrecord", "instances": 0, "bytes": 0,
                       "sha256": hashlib.sha256(b"").hexdigest()}]
    meta["instances"] = 0
    (copy / meta_lib.META_NAME).write_text(json.dumps(meta))
    with pytest.raises(meta_lib.MetaError, match=r"the selected shard\(s\) hold 0 instances "
                                                 r"\(pretrain-00000-of-00001.tfrecord\)"):
        pretraining_dataset(f"{copy}/*.tfrecord", 4)
