"""Direct use on CPU: albert-tf `PretrainedAlbert.fill_mask` / `embed` vs Hugging Face's `fill-mask` and
`feature-extraction` pipelines (PyTorch) on the same weights.

Workload (identical for both): the 872 SST-2 dev sentences, ALBERT-base shape (vocab 30000, E 128, H 768,
12 layers sharing one block, 12 heads, I 3072), random weights written once by transformers
(`model.safetensors`, read by both), fp32, batches of `--batch` (default 32).
  * fill-mask: each sentence with one word replaced by [MASK] (fixed seed), top 5 candidates;
  * embed: mean-pooled last layer (albert-tf `embed(pooling="mean")`; the HF pipeline returns every
    token's vector, averaged here as a user would).
Sentences/s over all sentences after a warm-up pass over the first batches; each implementation in its
own process, one after another. Needs the oracle extra (transformers, torch) and ../shared/realdata.
Usage:
  .venv/bin/python bench/bench_direct_use.py [--batch 32] [--tasks fill-mask,embed] [--impls albert_tf,hf]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
REALDATA = os.environ.get("ALBERT_TF_REALDATA", os.path.join(os.path.dirname(REPO), "shared", "realdata"))
BASE = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, hidden_act="gelu_new")


def workload():
    with open(os.path.join(REALDATA, "glue", "SST-2", "dev.tsv"), encoding="utf-8") as handle:
        texts = [line.split("\t")[0].strip() for line in handle.read().splitlines()[1:]]
    rng = random.Random(5)
    masked = []
    for text in texts:
        words = text.split(" ")
        words[rng.randrange(len(words))] = "[MASK]"
        masked.append(" ".join(words))
    return texts, masked


def write_model(directory):
    import torch
    import transformers
    torch.manual_seed(0)
    model = transformers.AlbertForPreTraining(transformers.AlbertConfig(**BASE)).eval()
    model.save_pretrained(directory, safe_serialization=True)
    shutil.copy(os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model"),
                os.path.join(directory, "30k-clean.model"))


def run_albert_tf(directory, task, texts, batch):
    from albert_tf.inference import PretrainedAlbert
    albert = PretrainedAlbert.load(directory, max_seq_length=128, batch_size=batch)
    if task == "fill-mask":
        return lambda chunk: albert.fill_mask(chunk, top_k=5)
    return lambda chunk: albert.embed(chunk, pooling="mean")


def run_hf(directory, task, texts, batch):
    import transformers
    tokenizer = transformers.AlbertTokenizerFast(vocab_file=os.path.join(directory, "30k-clean.model"))
    if task == "fill-mask":
        model = transformers.AlbertForMaskedLM.from_pretrained(directory).eval()
        pipe = transformers.pipeline("fill-mask", model=model, tokenizer=tokenizer, device="cpu")
        return lambda chunk: pipe(chunk, top_k=5, batch_size=batch)
    model = transformers.AlbertModel.from_pretrained(directory, add_pooling_layer=False).eval()
    pipe = transformers.pipeline("feature-extraction", model=model, tokenizer=tokenizer, device="cpu")
    return lambda chunk: [np.asarray(v[0]).mean(0) for v in pipe(chunk, batch_size=batch)]


def worker(impl, task, directory, batch):
    texts, masked = workload()
    data = masked if task == "fill-mask" else texts
    run = (run_albert_tf if impl == "albert_tf" else run_hf)(directory, task, data, batch)
    run(data[:3 * batch])  # warm-up: tracing, first allocations
    started = time.perf_counter()
    run(data)
    seconds = time.perf_counter() - started
    print(json.dumps({"impl": impl, "task": task, "sentences": len(data), "seconds": seconds,
                      "sentences_per_s": len(data) / seconds}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tasks", default="fill-mask,embed")
    parser.add_argument("--impls", default="albert_tf,hf")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)  # impl task directory
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.batch)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-direct-") as directory:
        write_model(directory)
        for task in args.tasks.split(","):
            for impl in args.impls.split(","):
                done = subprocess.run([sys.executable, __file__, "--batch", str(args.batch), "--worker", impl, task,
                                       directory], capture_output=True, text=True, check=False)
                if done.returncode:
                    raise SystemExit(f"{impl} {task} failed:\n{done.stderr[-3000:]}")
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(results[-1]), flush=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import machine_info  # pylint: disable=import-outside-toplevel
    print(f"machine: {machine_info.describe()}")
    for task in args.tasks.split(","):
        rows = {r["impl"]: r for r in results if r["task"] == task}
        if {"albert_tf", "hf"} <= set(rows):
            print(f"{task}: albert-tf {rows['albert_tf']['sentences_per_s']:.1f}/s, transformers "
                  f"{rows['hf']['sentences_per_s']:.1f}/s, {rows['albert_tf']['sentences_per_s'] / rows['hf']['sentences_per_s']:.2f}x")


if __name__ == "__main__":
    main()
