"""Windows of a SQuAD file cached once per (file content, tokenizer, seq len, stride, query len, ...).

A `.npz` of the `FeatureSet` arrays plus a `.json` with the key and the conversion statistics,
named by a hash of the key: changing the file, the vocabulary, lowercasing, any length setting,
the version or train/eval reading builds a new cache. Both files appear atomically.
"""

import hashlib
import io
import json
import os
import time
from typing import Sequence

import numpy as np
from absl import logging

from albert_tf import filesystem
from albert_tf.finetuning.feature_cache import content_sha256
from albert_tf.squad.features import ARRAY_FIELDS, FeatureSet, convert_examples
from albert_tf.training.artifacts import write_json

FORMAT_VERSION = 1


def cache_key(path: str, tokenizer, max_seq_length: int, doc_stride: int, max_query_length: int, version: str,
              training: bool) -> dict:
    return {"format_version": FORMAT_VERSION, "file_sha256": content_sha256(path),
            "tokenizer": tokenizer.settings.to_dict(), "max_seq_length": max_seq_length, "doc_stride": doc_stride,
            "max_query_length": max_query_length, "version": version, "training": training}


def cache_paths(cache_dir: str, path: str, key: dict):
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    stem = os.path.splitext(os.path.basename(path))[0]
    base = os.path.join(cache_dir, f"squad-{stem}-{key['max_seq_length']}-{digest}")
    return base + ".npz", base + ".json"


def _load(arrays_path: str, meta_path: str, key: dict, num_examples: int):
    if not (filesystem.exists(arrays_path) and filesystem.exists(meta_path)):
        return None
    meta = json.loads(filesystem.read_text(meta_path))
    if meta.get("key") != key or meta.get("stats", {}).get("examples") != num_examples:
        return None
    with np.load(io.BytesIO(filesystem.read_bytes(arrays_path))) as arrays:
        return FeatureSet(**{name: arrays[name] for name in ARRAY_FIELDS}, stats=meta["stats"])


def cached_features(cache_dir: str, path: str, examples: Sequence, tokenizer, max_seq_length: int, doc_stride: int,
                    max_query_length: int, version: str, training: bool) -> FeatureSet:
    """The windows of `examples` (read from `path`), from the cache or converted and cached now."""
    key = cache_key(path, tokenizer, max_seq_length, doc_stride, max_query_length, version, training)
    arrays_path, meta_path = cache_paths(cache_dir, path, key)
    features = _load(arrays_path, meta_path, key, len(examples))
    if features is not None:
        logging.info("%s: %d cached windows of %d questions in %s", path, len(features), len(examples), arrays_path)
        return features
    started = time.time()
    features = convert_examples(examples, tokenizer, max_seq_length, doc_stride, max_query_length)
    elapsed = time.time() - started
    filesystem.makedirs(cache_dir)
    buffer = io.BytesIO()  # a zip archive needs a seekable file; a gs:// object being written is not
    np.savez(buffer, **features.arrays())
    filesystem.write_bytes(arrays_path, buffer.getvalue())
    write_json(meta_path, {"key": key, "stats": features.stats, "seconds": elapsed})
    logging.info("%s: %d questions -> %d windows in %.1fs (%.0f questions/s) -> %s", path, len(examples),
                 len(features), elapsed, len(examples) / max(elapsed, 1e-9), arrays_path)
    return features
