"""float32 against mixed bfloat16 on this CPU: fine-tuning steps and raw-text serving, ALBERT-base shape.

Workload: ALBERT-base shape (vocab 30000, E 128, H 768, 12 layers sharing one block, 12 heads, I 3072),
random weights, 2 classes.
  * step: one fine-tuning step (forward, loss, backward, AdamW) through Keras `train_on_batch`, the
    runner's path, on a fixed batch of `--batch` x `--seq` tokens; per precision without and with XLA
    (`--xla`); seconds per step after `--warmup` steps, median of `--steps`.
  * serve: one random classifier exported by `export_classifier` as fp32 and as bf16 (fresh-process
    self-check included), and with `--with_mixed` also as the former bf16 export (`bf16_mixed`: float32
    variables under Keras' `mixed_bfloat16`, every call casting the weights to bfloat16), all loaded with
    `tf.saved_model.load` in this one process and timed interleaved: the 872 SST-2 dev sentences in file
    order, in batches of `--batch` through `serving_default`, each batch handed to every export in turn
    (order rotated per batch), `--rounds` times: sentences/s of each. Then single-sentence latency over
    the first `--latency_n` dev sentences, each sentence to every export in turn: p50 and p90 of
    `serving_default` (raw text: in-graph tokenizer + model) and of `serving_ids` (the same sentence's ids,
    packed on the host: the model alone), so the tokenizer's share shows. Labels agreeing with fp32's.

The step cells each run in their own process, one after another; the CPU flags and the load average
before and after are recorded.
Usage:
  .venv/bin/python bench/precision_speed.py step [--batch 32] [--seq 128] [--xla both]
  flock /tmp/albert_heavy.lock .venv/bin/python bench/precision_speed.py serve [--batch 32] [--rounds 2] \
      [--latency_n 50] [--with_mixed]
"""

import argparse
import contextlib
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
TINY = dict(BASE, hidden_size=128, num_hidden_layers=4, num_attention_heads=2, intermediate_size=512)


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


SERVE_VARIANTS = ("fp32", "bf16", "bf16_mixed")


@contextlib.contextmanager
def former_mixed_bf16():
    """The bf16 export as it was built before its weights were stored in bfloat16: float32 variables under
    `mixed_bfloat16`, cast to bfloat16 on every call. Only for comparison here."""
    import keras
    from albert_tf.export import saved_model
    current = saved_model.serving_dtype_policy
    saved_model.serving_dtype_policy = lambda precision: keras.DTypePolicy(
        "float32" if precision == "fp32" else "mixed_bfloat16")
    try:
        yield
    finally:
        saved_model.serving_dtype_policy = current


def _percentiles(seconds):
    import numpy as np
    return {"p50_ms": 1000 * float(np.percentile(seconds, 50)), "p90_ms": 1000 * float(np.percentile(seconds, 90))}


def serve_interleaved(args):
    """Exports the variants of one random model, then times them interleaved in this process."""
    import keras
    import numpy as np
    import tensorflow as tf
    from albert_tf.config import AlbertConfig
    from albert_tf.export import export_classifier
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.tokenization import SentencePieceTokenizer

    variants = [v for v in SERVE_VARIANTS if v != "bf16_mixed" or args.with_mixed]
    keras.utils.set_random_seed(0)
    model = AlbertClassifier(AlbertEncoder(AlbertConfig(**(TINY if args.tiny else BASE))), 2)
    tokenizer = SentencePieceTokenizer(os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model"))
    texts = sst2_dev()[:args.examples or None]
    record = {"variants": {}, "sentences": len(texts)}
    with tempfile.TemporaryDirectory() as scratch:
        served = {}
        for variant in variants:
            directory = os.path.join(scratch, variant)
            begin = time.perf_counter()
            with former_mixed_bf16() if variant == "bf16_mixed" else contextlib.nullcontext():
                info = export_classifier(model, tokenizer, directory, max_seq_length=128, labels=["0", "1"],
                                         text_fields=("text_a",), precision="fp32" if variant == "fp32" else "bf16",
                                         ids_export=False, check=not args.skip_self_check)
            data = sum(os.path.getsize(os.path.join(directory, "variables", name))
                       for name in os.listdir(os.path.join(directory, "variables")) if ".data-" in name)
            record["variants"][variant] = {"export_seconds": time.perf_counter() - begin,
                                           "self_check_max_abs_difference": info["max_abs_difference"],
                                           "variables_bytes": data}
            served[variant] = tf.saved_model.load(directory).signatures

        def by_text(variant, rows):
            return served[variant]["serving_default"](text_a=tf.constant(rows))

        def by_ids(variant, ids):
            return served[variant]["serving_ids"](**ids)

        batches = [texts[i:i + args.batch] for i in range(0, len(texts), args.batch)]
        for variant in variants:  # warm-up: the first batches, a single sentence, its ids
            for rows in batches[:3]:
                by_text(variant, rows)
        seconds = {v: 0.0 for v in variants}
        labels = {v: np.zeros(len(texts), np.int64) for v in variants}
        load_before = os.getloadavg()
        for round_index in range(args.rounds):
            for b, rows in enumerate(batches):
                shift = (b + round_index) % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    begin = time.perf_counter()
                    got = by_text(variant, rows)["label_id"].numpy()
                    seconds[variant] += time.perf_counter() - begin
                    labels[variant][b * args.batch:b * args.batch + len(rows)] = got
        for variant in variants:
            record["variants"][variant]["sentences_per_second"] = args.rounds * len(texts) / seconds[variant]
            record["variants"][variant]["labels_agreeing_with_fp32"] = float(np.mean(labels[variant] == labels["fp32"]))

        latency = {v: {"text": [], "ids": []} for v in variants}
        for i, text in enumerate(texts[:args.latency_n] if args.latency_n else []):
            packed = tokenizer.pack_batch([text], max_seq_length=128)
            width = int(packed.input_mask.sum())
            ids = {"input_word_ids": tf.constant(packed.input_ids[:, :width]),
                   "input_mask": tf.constant(packed.input_mask[:, :width]),
                   "input_type_ids": tf.constant(packed.segment_ids[:, :width])}
            if i == 0:
                for variant in variants:
                    by_text(variant, [text]), by_ids(variant, ids)
            shift = i % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                begin = time.perf_counter()
                by_text(variant, [text])
                latency[variant]["text"].append(time.perf_counter() - begin)
                begin = time.perf_counter()
                by_ids(variant, ids)
                latency[variant]["ids"].append(time.perf_counter() - begin)
        record["load_average_1m"] = [load_before[0], os.getloadavg()[0]]
        for variant in variants:
            if latency[variant]["text"]:
                record["variants"][variant]["latency_serving_default"] = _percentiles(latency[variant]["text"])
                record["variants"][variant]["latency_serving_ids"] = _percentiles(latency[variant]["ids"])
    fp32 = record["variants"]["fp32"]
    record["ratios"] = {f"{v} / fp32 sentences/s": record["variants"][v]["sentences_per_second"] /
                        fp32["sentences_per_second"] for v in variants if v != "fp32"}
    if args.with_mixed:
        record["ratios"]["bf16 / bf16_mixed sentences/s"] = (record["variants"]["bf16"]["sentences_per_second"] /
                                                             record["variants"]["bf16_mixed"]["sentences_per_second"])
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["step", "serve"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--xla", choices=["off", "on", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=2, help="serve: passes over the dev sentences")
    parser.add_argument("--latency_n", type=int, default=50, help="serve: single sentences timed")
    parser.add_argument("--with_mixed", action="store_true",
                        help="serve: also the former bf16 export (float32 weights cast on every call)")
    parser.add_argument("--examples", type=int, default=0, help="serve: the first N dev sentences (0: all)")
    parser.add_argument("--skip_self_check", action="store_true", help="serve: export without the reload check")
    parser.add_argument("--tiny", action="store_true", help="serve: H 128, 4 layers instead of the base shape")
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # a worker: precision,xla
    args = parser.parse_args()
    if args.cell:
        args.precision, xla = args.cell.split(",")
        args.xla = xla == "on"
        print(json.dumps(step_cell(args)))
        return
    from albert_tf.training import cpu_features
    record = {"cpu_flags": cpu_features.describe_cpu(cpu_features.cpu_flags()), "mode": args.mode,
              "batch": args.batch, "cells": {}}
    if args.mode == "serve":
        record.update(serve_interleaved(args), rounds=args.rounds, latency_n=args.latency_n,
                      shape="tiny" if args.tiny else "base")
        del record["cells"]
        print(json.dumps(record, indent=2))
        return
    record["seq"] = args.seq
    cells = [("off", "off"), ("bf16", "off"), ("off", "on"), ("bf16", "on")]
    if args.xla != "both":
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
