"""Tokenize a split once: TFRecords keyed by (file content, tokenizer, sequence length, task).

Re-running with the same files and tokenizer reads the cache; changing any of them (an edited
file, another vocabulary, lowercasing, `--max_seq_length`) builds a new one. Files appear
atomically (temporary name, then rename), so an interrupted run never leaves a truncated cache.
"""

import hashlib
import json
import os
import time
from typing import Dict, List

import tensorflow as tf
from absl import logging

from albert_tf import filesystem
from albert_tf.finetuning.features import encode_example
from albert_tf.model_inputs import INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.training.artifacts import publishing, write_json

FORMAT_VERSION = 2  # 2: the meta counts the text tokens and the unknown ones


def content_sha256(path: str) -> str:
    """Hash of a file, or of every file under a directory (names and contents)."""
    digest = hashlib.sha256()
    # (None: the file itself; else its name relative to the directory, which is hashed too.)
    names = [None] if filesystem.isfile(path) else filesystem.files_under(path)
    for name in names:
        digest.update(name.encode() if name else b"")
        with filesystem.open_file(filesystem.join(path, *name.split("/")) if name else path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def cache_key(task, split: str, path: str, tokenizer, max_seq_length: int, labelled: bool,
              max_qa_length: int) -> Dict:
    return {"format_version": FORMAT_VERSION, "task": task.name, "split": split, "labelled": labelled,
            "file_sha256": content_sha256(path), "tokenizer": tokenizer.settings.to_dict(),
            "max_seq_length": max_seq_length,
            "max_qa_length": max_qa_length if task.is_multiple_choice else None}


def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def serialize(features: Dict, regression: bool) -> bytes:
    label = _float_feature([features["label"]]) if regression else _int_feature([features["label"]])
    return tf.train.Example(features=tf.train.Features(feature={
        INPUT_WORD_IDS: _int_feature(features[INPUT_WORD_IDS]),
        INPUT_TYPE_IDS: _int_feature(features[INPUT_TYPE_IDS]),
        "label": label,
        "weight": _float_feature([features["weight"]]),
    })).SerializeToString()


def cached_features(cache_dir: str, task, split: str, path: str, examples: List, tokenizer, max_seq_length: int,
                    labelled: bool, max_qa_length: int = 128) -> Dict:
    """The meta of the split's cached records (building them if needed); `meta["records"]` is the file."""
    key = cache_key(task, split, path, tokenizer, max_seq_length, labelled, max_qa_length)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    base = os.path.join(cache_dir, f"{task.name}-{split}-{max_seq_length}-{digest}")
    records, meta_path = base + ".tfrecord", base + ".json"
    if filesystem.exists(meta_path) and filesystem.exists(records):
        meta = json.loads(filesystem.read_text(meta_path))
        if meta.get("key") == key and meta.get("count") == len(examples):
            logging.info("%s %s: %d cached examples in %s", task.name, split, meta["count"], records)
            return {**meta, "records": records}
    filesystem.makedirs(cache_dir)
    started = time.time()
    lengths, truncated = [], 0
    tokens, unknown = 0, 0
    structural = {tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id}
    with publishing(records) as temp, tf.io.TFRecordWriter(temp) as writer:
        for example in examples:
            features = encode_example(example, task, tokenizer, max_seq_length, max_qa_length)
            text_ids = [i for i in features[INPUT_WORD_IDS] if i not in structural]
            tokens += len(text_ids)
            unknown += text_ids.count(tokenizer.unk_id)
            length = len(features[INPUT_WORD_IDS])
            lengths.append(length)
            truncated += int(not task.is_multiple_choice and length == max_seq_length)
            writer.write(serialize(features, task.is_regression))
    meta = {"key": key, "count": len(examples), "max_length": max(lengths), "at_max_length": truncated,
            "text_tokens": tokens, "unknown_tokens": unknown,
            "multiple_choice": task.is_multiple_choice, "num_choices": task.num_choices,
            "regression": task.is_regression}
    write_json(meta_path, meta)
    logging.info("%s %s: tokenized %d examples in %.1fs (%d reach max_seq_length=%d) -> %s", task.name, split,
                 len(examples), time.time() - started, truncated, max_seq_length, records)
    return {**meta, "records": records}
