"""Direct use over files (`albert-predict --task`): fill-mask, sentence-order and embed rows with a pretrained model.

Rows arrive read and checked (`[(id, [texts])]`); this module loads the model (`albert_tf.inference` for a
checkpoint, the `fill_mask` / `sentence_order` / `embed` signatures of an `albert-export --kind=encoder`
SavedModel otherwise), runs it in chunks with a progress line, and writes `.jsonl` (plus `.npy` for
embeddings) under temporary names that are renamed only when everything is complete.
"""

import json
import os
import time

import numpy as np
from absl import logging

from albert_tf import filesystem

# The text inputs each task reads (tsv header names / json fields by default).
TASK_INPUTS = {"fill-mask": ["text"], "sentence-order": ["text_a", "text_b"], "embed": ["text"]}
# The encoder export's signature of each task.
TASK_SIGNATURES = {"fill-mask": "fill_mask", "sentence-order": "sentence_order", "embed": "embed"}


def encoder_export_dir(model):
    """The SavedModel directory of an encoder export given as itself or as its parent, else None."""
    for candidate in (filesystem.join(model, "encoder"), model):
        if filesystem.exists(filesystem.join(candidate, "saved_model.pb")):
            return candidate
    return None


def check_export(task, export_dir, info, *, top_k, layer):
    """Refuses, naming the export, a task or option its signatures cannot serve."""
    signature = TASK_SIGNATURES[task]
    if info.get("kind") != "encoder":
        raise ValueError(f"--model={export_dir}: a {info.get('kind')} export; --task={task} needs a pretrained "
                         "model directory or checkpoint, or an albert-export --kind=encoder export")
    if signature not in info.get("signatures", {}):
        raise ValueError(f"--model={export_dir}: the export has no {signature} signature (exported from a checkpoint "
                         "without that head, or by an older albert-export); use the checkpoint itself")
    if task == "fill-mask" and top_k > info.get("fill_mask_top_k", 0):
        raise ValueError(f"--top_k={top_k}: the export serves {info.get('fill_mask_top_k')} candidates per mask")
    if task == "embed" and layer != -1:
        raise ValueError(f"--layer={layer}: an export's embed signature pools the last layer only (--layer=-1); "
                         "use the checkpoint for other layers")


class ExportedDirectUse:
    """`PretrainedAlbert`'s fill_mask / sentence_order / embed over an encoder export's signatures."""

    def __init__(self, export_dir, batch_size):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        import tensorflow_text  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        self._tf = tf
        self._signatures = tf.saved_model.load(export_dir).signatures
        self.batch_size = batch_size

    def _run(self, signature, columns):
        """Output dicts per length-sorted batch, with the row indices of each."""
        tf = self._tf
        order = np.argsort([len(t) for t in next(iter(columns.values()))], kind="stable")
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            inputs = {name: tf.constant([texts[i] for i in index]) for name, texts in columns.items()}
            yield index, {k: v.numpy() for k, v in self._signatures[signature](**inputs).items()}

    def fill_mask(self, texts, top_k):
        # pylint: disable-next=import-outside-toplevel
        from albert_tf.inference import MaskPrediction, fill_nth_mask, token_text
        results = [None] * len(texts)
        for index, out in self._run("fill_mask", {"text": texts}):
            for j, i in enumerate(index):
                results[i] = [[MaskPrediction(score=float(out["top_scores"][j, m, k]),
                                              token_id=int(out["top_ids"][j, m, k]),
                                              token=out["top_tokens"][j, m, k].decode("utf-8"),
                                              sequence=fill_nth_mask(texts[i], m, token_text(
                                                  out["top_tokens"][j, m, k].decode("utf-8"))))
                               for k in range(top_k)] for m in range(int(out["num_masks"][j]))]
        return results

    def sentence_order(self, texts_a, texts_b):
        out = np.zeros(len(texts_a), np.float32)
        for index, result in self._run("sentence_order", {"text_a": texts_a, "text_b": texts_b}):
            out[index] = result["in_order"]
        return out

    def embed(self, texts, pooling, layer, normalize):
        del layer  # checked: the last layer
        out = None
        for index, result in self._run("embed", {"text": texts}):
            if out is None:
                out = np.zeros((len(texts), result[pooling].shape[1]), np.float32)
            out[index] = result[pooling]
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


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
    """Runs `task` over `rows` with the pretrained model or encoder export at `model`; returns the row count."""
    export_dir = encoder_export_dir(model)
    if export_dir:
        albert = ExportedDirectUse(export_dir, batch_size)
    else:
        from albert_tf import inference  # pylint: disable=import-outside-toplevel  (TensorFlow: after the checks)
        albert = inference.PretrainedAlbert.load(model, vocab_file=vocab_file, max_seq_length=max_seq_length,
                                                 batch_size=batch_size)
    chunk = max(batch_size * 16, 1)
    vectors = []
    started = time.time()
    with filesystem.replacing(output_file) as out:
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
            with filesystem.replacing(embeddings_path(output_file), "wb") as handle:
                np.save(handle, np.concatenate(vectors).astype(np.float32))
    return len(rows)
