"""albert-predict's direct-use tasks: fill-mask, sentence-order and embed rows with a pretrained model.

Rows arrive read and checked (`[(id, [texts])]`); this module loads the model (`albert_tf.inference`),
runs it in chunks with a progress line, and writes `.jsonl` (plus `.npy` for embeddings) under temporary
names that are renamed only when everything is complete.
"""

import json
import os
import time

import numpy as np
from absl import logging

from albert_tf import atomic_files

# The text inputs each task reads (tsv header names / json fields by default).
TASK_INPUTS = {"fill-mask": ["text"], "sentence-order": ["text_a", "text_b"], "embed": ["text"]}


def embeddings_path(output_file):
    """Where the vectors of an embed run go: the `.jsonl` name with `.npy` instead."""
    return os.path.splitext(output_file)[0] + ".npy"


def check_output(task, output_file):
    if not output_file.endswith(".jsonl"):
        raise ValueError(f"--output_file={output_file}: --task={task} writes .jsonl"
                         + (" (and the vectors to a .npy next to it)" if task == "embed" else ""))


def _records(task, albert, ids, texts, *, top_k, pooling, layer, normalize):
    """(json records, vectors or None) of one chunk."""
    if task == "fill-mask":
        results = albert.fill_mask([t[0] for t in texts], top_k=top_k)
        return [{"id": row_id, "masks": [[c.to_dict() for c in mask] for mask in per_text]}
                for row_id, per_text in zip(ids, results)], None
    if task == "sentence-order":
        probs = albert.sentence_order([t[0] for t in texts], [t[1] for t in texts])
        return [{"id": row_id, "in_order": float(p)} for row_id, p in zip(ids, probs)], None
    vectors = albert.embed([t[0] for t in texts], pooling=pooling, layer=layer, normalize=normalize)
    return [{"id": row_id} for row_id in ids], vectors


def write_predictions(task, model, rows, output_file, *, batch_size=64, max_seq_length=128, top_k=5,
                      pooling="pooled", layer=-1, normalize=False, log_every=5000, vocab_file=None):
    """Runs `task` over `rows` with the pretrained model at `model`; returns the number of rows written."""
    from albert_tf import inference  # pylint: disable=import-outside-toplevel  (TensorFlow: after the checks)
    albert = inference.PretrainedAlbert.load(model, vocab_file=vocab_file, max_seq_length=max_seq_length,
                                             batch_size=batch_size)
    chunk = max(batch_size * 16, 1)
    vectors = []
    started = time.time()
    with atomic_files.replacing(output_file, encoding="utf-8") as out:
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            records, chunk_vectors = _records(task, albert, [r[0] for r in part], [r[1] for r in part],
                                              top_k=top_k, pooling=pooling, layer=layer, normalize=normalize)
            for k, record in enumerate(records):
                if chunk_vectors is not None:
                    record["row"] = start + k  # the row of the .npy holding this text's vector
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            if chunk_vectors is not None:
                vectors.append(chunk_vectors)
            done = start + len(part)
            if done == len(rows) or done // log_every != start // log_every:
                rate = done / max(time.time() - started, 1e-9)
                logging.info("%d/%d rows, %.1f rows/s, ETA %.0fs", done, len(rows), rate, (len(rows) - done) / rate)
        if task == "embed":
            # Inside the .jsonl block: an interrupted run publishes neither; the .npy lands just before it.
            with atomic_files.replacing(embeddings_path(output_file), "wb") as handle:
                np.save(handle, np.concatenate(vectors).astype(np.float32))
    return len(rows)
