"""float32 against mixed bfloat16 on this CPU: fine-tuning steps and raw-text serving, ALBERT-base shape.

Workload: ALBERT-base shape (vocab 30000, E 128, H 768, 12 layers sharing one block, 12 heads, I 3072),
random weights, 2 classes.
  * step: one fine-tuning step (forward, loss, backward, AdamW) through Keras `train_on_batch`, the
    runner's path, on a fixed batch of `--batch` x `--seq` tokens; per precision without and with XLA
    (`--xla`); seconds per step after `--warmup` steps, median of `--steps`.
  * serve: the classifier exported by `export_classifier(precision=...)` (fresh-process self-check included),
    loaded with `tf.saved_model.load`, all SST-2 dev sentences through `serving_default` in batches of
    `--batch`: sentences/s after a warm-up pass, and the share of labels bf16 and float32 agree on.

Each (mode, precision, XLA) cell runs in its own process, one after another; the CPU flags are recorded.
Usage:
  .venv/bin/python bench/precision_speed.py step [--batch 32] [--seq 128] [--xla both]
  .venv/bin/python bench/precision_speed.py serve [--batch 32]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
REALDATA = os.environ.get("ALBERT_TF_REALDATA", os.path.join(os.path.dirname(REPO), "shared", "realdata"))
BASE = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512)


def sst2_dev():
    with open(os.path.join(REALDATA, "glue", "SST-2", "dev.tsv"), encoding="utf-8") as handle:
        return [line.split("\t")[0] for line in handle.read().splitlines()[1:]]


def step_cell(args):
    """Seconds per fine-tuning step of one precision (and XLA or not), in this process."""
    import keras
    import numpy as np
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.optimization import create_optimizer
    from albert_tf.training import runtime

    runtime.configure_runtime(0, args.precision)
    model = AlbertClassifier(AlbertEncoder(AlbertConfig(**BASE)), 2)
    model.compile(optimizer=create_optimizer("adamw", 2e-5, 1000, 100, weight_decay_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=args.xla)
    rng = np.random.default_rng(0)
    inputs = {"input_word_ids": rng.integers(5, 30000, (args.batch, args.seq), dtype=np.int32),
              "input_mask": np.ones((args.batch, args.seq), np.int32),
              "input_type_ids": np.zeros((args.batch, args.seq), np.int32)}
    labels = rng.integers(0, 2, (args.batch,), dtype=np.int32)
    times = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = model.train_on_batch(inputs, labels)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return {"seconds_per_step": float(np.median(times)), "loss": float(loss),
            "logits_dtype": str(model(inputs, training=False).dtype)}


def serve_cell(args):
    """Exports fp32 and bf16 of one random model; sentences/s of each and their label agreement."""
    import keras
    import numpy as np
    import tensorflow as tf
    from albert_tf.config import AlbertConfig
    from albert_tf.export import export_classifier
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.tokenization import SentencePieceTokenizer

    keras.utils.set_random_seed(0)
    model = AlbertClassifier(AlbertEncoder(AlbertConfig(**BASE)), 2)
    tokenizer = SentencePieceTokenizer(os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model"))
    texts = sst2_dev()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # sort-and-chunk, as served
    results, labels = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for precision in ("fp32", "bf16"):
            directory = os.path.join(scratch, precision)
            info = export_classifier(model, tokenizer, directory, max_seq_length=128, labels=["0", "1"],
                                     text_fields=("text_a",), precision=precision, ids_export=False)
            serve = tf.saved_model.load(directory).signatures["serving_default"]
            for start in range(0, 3 * args.batch, args.batch):
                serve(text_a=tf.constant([texts[i] for i in order[start:start + args.batch]]))
            got = np.zeros(len(texts), np.int64)
            begin = time.perf_counter()
            for start in range(0, len(texts), args.batch):
                rows = order[start:start + args.batch]
                got[rows] = serve(text_a=tf.constant([texts[i] for i in rows]))["label_id"].numpy()
            seconds = time.perf_counter() - begin
            labels[precision] = got
            results[precision] = {"sentences_per_second": len(texts) / seconds,
                                  "self_check_max_abs_difference": info["max_abs_difference"]}
    results["label_agreement"] = float(np.mean(labels["fp32"] == labels["bf16"]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["step", "serve"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--xla", choices=["off", "on", "both"], default="both")
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # a worker: precision,xla
    args = parser.parse_args()
    if args.cell:
        args.precision, xla = args.cell.split(",")
        args.xla = xla == "on"
        print(json.dumps(step_cell(args) if args.mode == "step" else serve_cell(args)))
        return
    from albert_tf.training import cpu_features
    record = {"cpu_flags": cpu_features.describe_cpu(cpu_features.cpu_flags()), "mode": args.mode,
              "batch": args.batch, "seq": args.seq, "cells": {}}
    cells = ([("off", "off"), ("bf16", "off"), ("off", "on"), ("bf16", "on")] if args.mode == "step" else
             [("bf16", "off")])
    if args.mode == "step" and args.xla != "both":
        cells = [c for c in cells if c[1] == args.xla]
    for precision, xla in cells:
        command = [sys.executable, os.path.abspath(__file__), args.mode, "--cell", f"{precision},{xla}",
                   "--batch", str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps),
                   "--warmup", str(args.warmup)]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"cell {precision},{xla} failed:\n{out.stderr[-3000:]}")
        record["cells"][f"{precision},xla={xla}"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{precision},xla={xla}: {record['cells'][f'{precision},xla={xla}']}", flush=True)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
