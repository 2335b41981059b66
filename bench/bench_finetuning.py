"""Fine-tuning throughput on CPU: albert-tf vs keras-hub `AlbertTextClassifier.fit` vs Hugging Face PyTorch.

Workload (identical for every implementation): the first `--examples` (4000) SST-2 training
sentences, max sequence length 128, batch 32, ALBERT-base shape (vocab 30000, E 128, H 768, 12
layers sharing one block, 12 heads, I 3072, dropout 0 in the encoder), random initialization,
2-class head, AdamW lr 2e-5, fp32, one epoch. Each implementation runs in its own process, one
after another, after a warm-up of `--warmup_steps` steps (graph tracing/compilation) on the same data.

  * albert-tf: the `run_classifier.py` path: features tokenized once into the TFRecord cache
    (timed separately), length-bucketed batches (`finetuning.datasets.train_dataset`), the task
    model and loss of `finetuning.modeling`, `create_optimizer("adamw")`, Keras `fit`.
  * keras-hub: `AlbertTextClassifier(backbone, num_classes=2, preprocessor=...)` with its
    `AlbertTextClassifierPreprocessor` (in-graph SentencePiece, static padding to 128) and
    `fit(texts, labels, batch_size=32)`; compiled with `keras.optimizers.AdamW(2e-5)`.
  * Hugging Face: `AlbertForSequenceClassification` (eager attention), texts pre-tokenized
    with `AlbertTokenizer` (not timed), shuffled batches padded to the longest row
    (dynamic padding, as `DataCollatorWithPadding`), `torch.optim.AdamW`, all CPU threads.

Examples/s = examples trained in the timed epoch / its wall time. `--time_limit` bounds each
implementation's timed epoch: a run that reaches it stops after the step in progress and reports the
steps it completed (a slow peer's per-step cost does not change over an epoch of static shapes, and
a shuffled dynamic-padding epoch is sampled at random, so the rate stays representative; the report
says which runs were cut). The report also states the machine. Usage:
  .venv/bin/python bench/bench_finetuning.py [--examples 4000] [--impls albert_tf,keras_hub,hf]
      [--warmup_steps 3] [--time_limit SECONDS] [--out bench/results/finetuning.md]
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
BATCH, SEQ, LR = 32, 128, 2e-5
IMPLS = ("albert_tf", "keras_hub", "hf")


def time_limit_callback(seconds):
    """A Keras callback that counts finished batches and ends `fit` once `seconds` have passed."""
    import keras  # pylint: disable=import-outside-toplevel

    class StopAfter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0
            self.started = None

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if seconds and time.perf_counter() - self.started >= seconds:
                self.model.stop_training = True

    return StopAfter()


def load_sst2(count):
    from albert_tf.finetuning import get_task  # pylint: disable=import-outside-toplevel
    examples = get_task("SST-2").read_split(os.path.join(REALDATA, "glue", "SST-2"), "train", True)[:count]
    return examples, [e.text_a for e in examples], [int(e.label) for e in examples]


def spm_model():
    return os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model")


def worker_albert_tf(args):
    import keras  # pylint: disable=import-outside-toplevel

    from albert_tf.config import preset  # pylint: disable=import-outside-toplevel
    from albert_tf.finetuning import datasets, feature_cache, get_task, modeling  # pylint: disable=import-outside-toplevel
    from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import tokenizer_from_assets  # pylint: disable=import-outside-toplevel
    task = get_task("SST-2")
    examples, _, _ = load_sst2(args.examples)
    tokenizer = tokenizer_from_assets(spm_model())
    steps = len(examples) // BATCH
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        meta = feature_cache.cached_features(cache, task, "train", os.path.join(REALDATA, "glue", "SST-2", "train.tsv"),
                                             examples, tokenizer, SEQ, labelled=True)
        tokenize_s = time.perf_counter() - started
        keras.utils.set_random_seed(0)
        model, _ = modeling.build_model(task, preset("albert_base_v2"), SEQ, dropout_rate=0.1)
        model.compile(optimizer=create_optimizer("adamw", LR, steps + args.warmup_steps, 0),
                      loss=modeling.loss_for(task), jit_compile=args.xla)
        data = datasets.train_dataset(meta, BATCH, SEQ, seed=0)
        # Warm up every bucket shape the epoch will use, so the timed epoch measures steady state.
        model.fit(data, epochs=1, steps_per_epoch=args.warmup_steps * len(datasets.bucket_lengths(SEQ)), verbose=0)
        counter = time_limit_callback(args.time_limit)
        started = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[counter])
        elapsed = time.perf_counter() - started
    return {"examples": counter.batches * BATCH, "seconds": elapsed, "tokenize_seconds": tokenize_s,
            "epoch_examples": steps * BATCH}


def worker_keras_hub(args):
    import keras  # pylint: disable=import-outside-toplevel
    import keras_hub  # pylint: disable=import-outside-toplevel
    _, texts, labels = load_sst2(args.examples)
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_model())
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer, sequence_length=SEQ)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=30000, num_layers=12, num_heads=12, num_groups=1, num_inner_repetitions=1,
        embedding_dim=128, hidden_dim=768, intermediate_dim=3072, dropout=0.0, max_sequence_length=512)
    model = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor, dropout=0.1)
    model.compile(optimizer=keras.optimizers.AdamW(LR), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=args.xla)
    warm = args.warmup_steps * BATCH
    model.fit(texts[:warm], labels[:warm], batch_size=BATCH, epochs=1, verbose=0)
    steps = len(texts) // BATCH
    counter = time_limit_callback(args.time_limit)
    started = time.perf_counter()
    model.fit(texts[:steps * BATCH], labels[:steps * BATCH], batch_size=BATCH, epochs=1, verbose=0,
              callbacks=[counter])
    return {"examples": counter.batches * BATCH, "seconds": time.perf_counter() - started,
            "epoch_examples": steps * BATCH}


def worker_hf(args):
    import torch  # pylint: disable=import-outside-toplevel
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertTokenizer  # pylint: disable=import-outside-toplevel
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    _, texts, labels = load_sst2(args.examples)
    tokenizer = AlbertTokenizer(vocab_file=spm_model())
    encoded = [tokenizer(t, truncation=True, max_length=SEQ)["input_ids"] for t in texts]
    config = AlbertConfig(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                          num_attention_heads=12, intermediate_size=3072, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.1, num_labels=2)
    model = AlbertForSequenceClassification(config, ).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    order = torch.randperm(len(encoded)).tolist()

    def batches():
        for start in range(0, len(order) - BATCH + 1, BATCH):
            rows = [encoded[i] for i in order[start:start + BATCH]]
            width = max(len(r) for r in rows)
            ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            yield ids, mask, torch.tensor([labels[i] for i in order[start:start + BATCH]])

    def step(ids, mask, y):
        optimizer.zero_grad()
        loss = model(input_ids=ids, attention_mask=mask, labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for i, batch in enumerate(batches()):
        if i >= args.warmup_steps:
            break
        step(*batch)
    started = time.perf_counter()
    count = 0
    for batch in batches():
        step(*batch)
        count += BATCH
        if args.time_limit and time.perf_counter() - started >= args.time_limit:
            break
    return {"examples": count, "seconds": time.perf_counter() - started,
            "epoch_examples": (len(order) // BATCH) * BATCH}


WORKERS = {"albert_tf": worker_albert_tf, "keras_hub": worker_keras_hub, "hf": worker_hf}


def render(results, args):
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import machine_info  # pylint: disable=import-outside-toplevel
    lines = ["# Fine-tuning throughput (CPU)", "",
             f"Workload: {args.examples} SST-2 training sentences, seq {SEQ}, batch {BATCH}, ALBERT-base shape, fp32, "
             f"one epoch after {args.warmup_steps} warm-up steps; XLA {'on' if args.xla else 'off'}. "
             "Command: `.venv/bin/python bench/bench_finetuning.py " + " ".join(sys.argv[1:]) + "`.", "",
             f"Machine: {machine_info.cpu_model()}, {machine_info.cpu_count()} CPUs, "
             f"{machine_info.mem_total_gib():.0f} GiB. 1-min load average at start -> end: "
             f"{args.load_start:.1f} -> {os.getloadavg()[0]:.1f}; wall time of the whole run "
             f"{(time.time() - args.started_at) / 60:.1f} min.", "",
             "| implementation | examples | seconds | examples/s | vs best peer |", "|---|---|---|---|---|"]
    peers = [r["examples"] / r["seconds"] for name, r in results.items() if name != "albert_tf" and "seconds" in r]
    best_peer = max(peers) if peers else None
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | - | - | failed: {r['error'][:120]} | - |")
            continue
        rate = r["examples"] / r["seconds"]
        ratio = f"{rate / best_peer:.2f}x" if best_peer and name == "albert_tf" else ""
        cut = (f" (cut at --time_limit: {r['examples']} of {r['epoch_examples']})"
               if r["examples"] < r.get("epoch_examples", r["examples"]) else "")
        lines.append(f"| {name} | {r['examples']}{cut} | {r['seconds']:.1f} | {rate:.2f} | {ratio} |")
    if "albert_tf" in results and "tokenize_seconds" in results["albert_tf"]:
        lines += ["", f"albert-tf tokenization into the feature cache (once, not in the epoch): "
                      f"{results['albert_tf']['tokenize_seconds']:.1f}s."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--warmup_steps", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="jit_compile for the Keras implementations")
    parser.add_argument("--time_limit", type=float, default=0,
                        help="seconds after which an implementation's timed epoch stops (0: no limit)")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "finetuning.md"))
    parser.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(WORKERS[args.worker](args)), flush=True)
        return
    args.load_start, args.started_at = os.getloadavg()[0], time.time()
    results = {}
    for name in args.impls.split(","):
        command = [sys.executable, os.path.abspath(__file__), "--worker", name, "--examples", str(args.examples),
                   "--warmup_steps", str(args.warmup_steps), "--time_limit", str(args.time_limit)]
        command += ["--xla"] if args.xla else []
        print(f"running {name} ...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        results[name] = json.loads(line[7:]) if line else {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        print(f"  {name}: {results[name]}", flush=True)
    report = render(results, args)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
