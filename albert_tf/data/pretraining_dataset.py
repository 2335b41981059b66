"""tf.data input for pretraining: our TFRecords, checked against dataset_meta.json and the model.

Before any training step the reader (1) finds the `dataset_meta.json` of every matched shard and
refuses files it does not list or metas that disagree, (1b) checks each shard's size against the
meta (a truncated copy is named here, not hundreds of steps in), (2) checks the meta against the model config
(sequence length vs positions, vocabulary size), and (3) parses the first record of the first
shards and compares every feature's length with the meta. Records come out int32 with static
shapes under the model's input names, ready for a compiled step; strings never leave tf.data.
With a "dynamic" dataset the masks are drawn here, anew for every batch.
"""

import json
import os
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from albert_tf.data import dynamic_masking
from albert_tf.data import meta as meta_lib
from albert_tf.data import shard_check
from albert_tf.model_inputs import RECORD_TO_MODEL, TOKEN_BOUNDARY

_RECORDS_CHECKED = 16


def resolve_files(input_file: str) -> List[str]:
    """Comma-separated globs (local or gs://) -> sorted shard files; every pattern must match."""
    files = []
    for pattern in [p.strip() for p in input_file.split(",") if p.strip()]:
        matches = sorted(m for m in tf.io.gfile.glob(pattern) if not os.path.basename(m).startswith("."))
        matches = [m for m in matches if not m.endswith(meta_lib.META_NAME)]
        if not matches:
            raise meta_lib.MetaError(f"input pattern {pattern!r} matches no file")
        files.extend(matches)
    if not files:
        raise meta_lib.MetaError("no input files given")
    return sorted(set(files))


def _read_meta(directory: str) -> meta_lib.DatasetMeta:
    path = os.path.join(directory, meta_lib.META_NAME)
    if not tf.io.gfile.exists(path):
        raise meta_lib.MetaError(
            f"{path} not found: pretraining records must come with the {meta_lib.META_NAME} that "
            "albert-create-pretraining-data writes (an unfinished run leaves none)")
    with tf.io.gfile.GFile(path, "r") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise meta_lib.MetaError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    return meta_lib.DatasetMeta.from_dict(data, source=path)


def load_dataset_meta(files: List[str]) -> meta_lib.DatasetMeta:
    """The one meta describing `files` (several directories must agree on every setting)."""
    by_directory: Dict[str, List[str]] = {}
    for path in files:
        by_directory.setdefault(os.path.dirname(path), []).append(path)
    merged, first_source = None, None
    for directory, members in sorted(by_directory.items()):
        meta = _read_meta(directory)
        source = os.path.join(directory, meta_lib.META_NAME)
        listed = {shard["file"]: shard for shard in meta.shards}
        strangers = [os.path.basename(m) for m in members if os.path.basename(m) not in listed]
        if strangers:
            raise meta_lib.MetaError(f"{source} does not list {strangers[:3]}: files from another run "
                                     "or not made by albert-create-pretraining-data")
        if merged is None:
            merged, first_source = meta, source
            merged.instances = 0
        elif meta.settings_key() != merged.settings_key():
            differ = sorted(k for k, v in meta.settings_key().items() if merged.settings_key().get(k) != v)
            raise meta_lib.MetaError(f"{source} and {first_source} disagree on {differ}; "
                                     "datasets read together must share their settings")
        merged.instances += sum(listed[os.path.basename(m)]["instances"] for m in members)
    if merged.instances == 0:  # training would repeat an empty stream forever, with no output
        raise meta_lib.MetaError(f"{first_source}: the selected shard(s) hold 0 instances "
                                 f"({', '.join(os.path.basename(f) for f in files[:3])}); nothing to train or "
                                 "evaluate on: regenerate the data from a corpus with documents")
    return merged


def check_shard_files(files: List[str], verify_sha256: bool = False):
    """Every file's size and record count (and, when asked, sha256) against its meta entry."""
    by_directory: Dict[str, List[str]] = {}
    for path in files:
        by_directory.setdefault(os.path.dirname(path), []).append(path)
    for directory, members in sorted(by_directory.items()):
        listed = {shard["file"]: shard for shard in _read_meta(directory).shards}
        meta_path = os.path.join(directory, meta_lib.META_NAME)
        shard_check.check_shards(members, {m: listed[os.path.basename(m)] for m in members},
                                 meta_path, verify_sha256=verify_sha256)


def record_spec(meta: meta_lib.DatasetMeta) -> Dict[str, tf.io.FixedLenFeature]:
    seq, predictions = meta.max_seq_length, meta.max_predictions_per_seq
    spec = {name: tf.io.FixedLenFeature([seq], tf.int64) for name in meta_lib.SEQUENCE_FEATURES}
    spec[meta_lib.LABEL_FEATURE] = tf.io.FixedLenFeature([1], tf.int64)
    if meta.masking == "static":
        for name in meta_lib.PREDICTION_FEATURES:
            spec[name] = tf.io.FixedLenFeature([predictions], tf.int64)
        spec[meta_lib.WEIGHT_FEATURE] = tf.io.FixedLenFeature([predictions], tf.float32)
    return spec


def check_records(files: List[str], meta: meta_lib.DatasetMeta, limit: int = _RECORDS_CHECKED):
    """Compare the first record of the first `limit` shards with the meta."""
    spec = record_spec(meta)
    for path in files[:limit]:
        for raw in tf.data.TFRecordDataset(path).take(1):
            example = tf.train.Example.FromString(raw.numpy())
            features = example.features.feature
            missing = sorted(set(spec) - set(features))
            if missing:
                raise meta_lib.MetaError(f"{path}: records lack feature(s) {missing} that the "
                                         f"{meta.masking}-masking meta requires")
            for name, feature_spec in spec.items():
                values = features[name].int64_list.value or features[name].float_list.value
                if len(values) != feature_spec.shape[0]:
                    setting = ("max_predictions_per_seq" if feature_spec.shape[0] == meta.max_predictions_per_seq
                               and name.startswith("masked") else "max_seq_length")
                    raise meta_lib.MetaError(
                        f"{path}: feature {name!r} has length {len(values)} but {meta_lib.META_NAME} "
                        f"says {setting}={feature_spec.shape[0]}")


def masking_config(meta: meta_lib.DatasetMeta):
    special = meta.special_ids
    return dynamic_masking.MaskingConfig(
        max_predictions_per_seq=meta.max_predictions_per_seq, vocab_size=meta.vocab_size,
        mask_id=int(special["mask"]), special_ids=(int(special["cls"]), int(special["sep"])),
        masked_lm_prob=meta.masked_lm_prob, ngram=meta.ngram, favor_shorter_ngram=meta.favor_shorter_ngram,
        do_whole_word_mask=meta.do_whole_word_mask)


def _to_model_inputs(batch):
    out = {}
    for name, value in batch.items():
        if name == TOKEN_BOUNDARY:
            continue
        if name == meta_lib.LABEL_FEATURE:
            value = tf.squeeze(value, axis=-1)
        out[RECORD_TO_MODEL.get(name, name)] = (tf.cast(value, tf.float32) if value.dtype.is_floating
                                                  else tf.cast(value, tf.int32))
    return out


def pretraining_dataset(input_file: str, batch_size: int, *, is_training: bool = True, config=None,
                        input_context: Optional[tf.distribute.InputContext] = None, seed: Optional[int] = None,
                        shuffle_buffer: int = 10000, drop_remainder: Optional[bool] = None,
                        check: bool = True, skip_batches: int = 0, input_sharding: str = "auto") -> Tuple[tf.data.Dataset, meta_lib.DatasetMeta]:
    """Batches of model inputs (int32, static shapes) and the dataset's meta.

    Args:
        input_file: comma-separated globs of shards.
        batch_size: per-replica batch (use `input_context.get_per_replica_batch_size(global)`).
        is_training: shuffle files and records and repeat forever; eval reads once, in order.
        config: the model's `AlbertConfig`; when given the meta is checked against it.
        input_context: from `strategy.distribute_datasets_from_function`; each input pipeline
            (host) reads its own subset of the files (or of the records, with fewer files).
        seed: makes shuffling and dynamic masks reproducible.
        drop_remainder: default True for training (static shapes); eval keeps the last batch.
        input_sharding: with several input pipelines (hosts): "files" gives each its own
            shards (least I/O; the default "auto" when there are enough files); "records" has
            every host read the same shuffled stream and keep every n-th record, so the global
            batches are exactly those of a single-device run.
        skip_batches: resume position: batches this pipeline already delivered. With a seed the
            order is deterministic, so skipping (raw records, before parsing) restores the
            exact input position of an interrupted run.
    """
    files = resolve_files(input_file)
    meta = load_dataset_meta(files)
    if config is not None:
        for warning in meta_lib.check_against_model(meta, config):
            tf.get_logger().warning(warning)
    if check:
        check_shard_files(files)
        check_records(files, meta)
    if drop_remainder is None:
        drop_remainder = is_training

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if input_sharding not in ("auto", "files", "records"):
        raise ValueError(f"input_sharding must be auto, files or records, got {input_sharding!r}")
    shard_records = False
    if input_context is not None and input_context.num_input_pipelines > 1:
        pipelines = input_context.num_input_pipelines
        if input_sharding == "files" and len(files) < pipelines:
            raise meta_lib.MetaError(f"{len(files)} shard file(s) cannot be split across {pipelines} input "
                                     "pipelines; use input sharding by records or make more shards")
        if input_sharding == "files" or (input_sharding == "auto" and len(files) >= pipelines):
            dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
        else:
            shard_records = True
    if is_training:
        dataset = dataset.shuffle(len(files), seed=seed).repeat()
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=not is_training or seed is not None)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    if shard_records:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    spec = record_spec(meta)
    dataset = dataset.map(lambda records: tf.io.parse_example(records, spec), num_parallel_calls=tf.data.AUTOTUNE)
    if meta.masking == "dynamic":
        mask_fn = dynamic_masking.dynamic_masking_fn(masking_config(meta), 0 if seed is None else seed)
        dataset = dataset.map(lambda batch: {k: tf.cast(v, tf.int32) for k, v in batch.items()})
        dataset = dataset.enumerate(start=skip_batches).map(mask_fn, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(_to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE), meta
