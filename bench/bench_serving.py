"""Raw-text serving on CPU: the exported albert-tf classifier vs Hugging Face in its best configuration and as
its `text-classification` pipeline, interleaved.

Workload (identical for every implementation): the 872 SST-2 dev sentences as raw strings, in file
order, in batches of `--batch` (default 32), raw strings in, labels out; ALBERT-base shape (vocab
30000, E 128, H 768, 12 layers sharing one block, 12 heads, I 3072), random weights, 2 classes, max
sequence length 128. Latency: `--latency_n` single-sentence calls (the first dev sentences).

Implementations (`--impls`), each a resident worker process (bench/interleave.py):
  * albert_tf: `export_classifier` SavedModel (fp32), `tf.saved_model.load` (only tensorflow +
    tensorflow_text), `serving_default(text_a=...)`: in-graph tokenization, the batch sorted by length
    and run in chunks each cut to its own longest row (`export.serving.in_length_chunks`);
  * albert_tf_bf16: the same classifier exported with `precision="bf16"` (`albert-export --precision=bf16`:
    matrix products in bfloat16, outputs float32), loaded and called the same way;
  * hf_chunked, hf_chunked_bf16: `AlbertForSequenceClassification` (default SDPA attention) under `torch.inference_mode()`, the
    fast `AlbertTokenizerFast` from the same SentencePiece model on each batch, then the same
    sort-by-length-and-chunk batching as albert-tf's (`MAX_CHUNKS`, `MIN_CHUNK_ROWS` of
    `export.serving`), each chunk padded to its longest row; bf16 under
    `torch.autocast("cpu", dtype=torch.bfloat16)`;
  * hf_pipeline: `pipeline("text-classification", batch_size=...)` with the same model class and
    tokenizer, `truncation=True, max_length=128`, under `torch.inference_mode()` (HF's default: each
    batch padded to its longest row);
  * not in the default set: keras_hub (`AlbertTextClassifier.predict` with its preprocessor, static
    padding to 128) and albert_tf_tflite (the export's `model.tflite`, host tokenizer, one call a text;
    not a peer).

Timing: every worker builds and warms up in turn (its first batches and one single sentence), then
each round hands the same batch (then, for latency, the same single sentence) to every worker in
turn, order rotated per round, so background load hits all alike. Sentences/s = sentences / the sum
of the batch times. Usage:
  .venv/bin/python bench/bench_serving.py [--impls ...] [--batch 32] [--latency_n 100] [--time_limit S]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))
import interleave  # noqa: E402  pylint: disable=wrong-import-position
import machine_info  # noqa: E402  pylint: disable=wrong-import-position

REALDATA = os.environ.get("ALBERT_TF_REALDATA", os.path.join(os.path.dirname(REPO), "shared", "realdata"))
SEQ = 128
BASE = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512)
TINY = dict(BASE, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
# name: (precision, label)
IMPLS = {
    "albert_tf": ("fp32", "albert-tf SavedModel `serving_default` (tokenizer in the graph, length chunks)"),
    "albert_tf_bf16": ("bf16", "albert-tf bf16 SavedModel (`precision=\"bf16\"` export) `serving_default`"),
    "hf_chunked": ("fp32", "HF AlbertForSequenceClassification, fast tokenizer, same sort-and-chunk batching"),
    "hf_chunked_bf16": ("bf16", "HF, same sort-and-chunk batching, autocast bf16"),
    "hf_pipeline": ("fp32", "HF `pipeline(\"text-classification\")` (default: batch padded to its longest row)"),
    "keras_hub": ("fp32", "keras-hub AlbertTextClassifier.predict with its preprocessor (static 128)"),
    "albert_tf_tflite": ("fp32", "albert-tf `model.tflite` (id signature, host tokenizer, one call a text; "
                                 "not a peer)"),
}
DEFAULT_IMPLS = "albert_tf,albert_tf_bf16,hf_chunked,hf_chunked_bf16,hf_pipeline"
OURS = ("albert_tf", "albert_tf_bf16", "albert_tf_tflite")


def sst2_dev():
    path = os.path.join(REALDATA, "glue", "SST-2", "dev.tsv")
    with open(path, encoding="utf-8") as handle:
        return [line.split("\t")[0] for line in handle.read().splitlines()[1:]]


def spm_model():
    return os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model")


def chunk_bounds(rows, max_chunks, min_rows):
    """Row boundaries of the length chunks of a sorted batch of `rows` rows: `in_length_chunks`'s rule
    (up to `max_chunks` chunks of at least `min_rows` rows, as even as integer division makes them)."""
    chunks = min(max(rows // min_rows, 1), max_chunks)
    return sorted({min(i * rows // chunks, rows) for i in range(chunks + 1)})


def sorted_chunks(lengths, max_chunks, min_rows):
    """[(row indexes of one chunk, its width)] for a batch of rows of `lengths`, shortest first."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    bounds = chunk_bounds(len(order), max_chunks, min_rows)
    return [(order[a:b], int(np.asarray(lengths)[order[b - 1]])) for a, b in zip(bounds, bounds[1:]) if b > a]


# ------------------------------------------------------------------ the model (orchestrator)

def build_classifier(shape):
    from albert_tf.config import AlbertConfig  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder  # pylint: disable=import-outside-toplevel
    from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel
    classifier = AlbertClassifier(AlbertEncoder(AlbertConfig(**shape)), 2)
    ones = np.ones([1, 4], np.int32)
    classifier({INPUT_WORD_IDS: ones, INPUT_MASK: ones, INPUT_TYPE_IDS: 0 * ones}, training=False)
    return classifier


def export_albert_tf(directory, shape):
    """The raw-text exports of one random-weight classifier: fp32 (with model.tflite) and bf16."""
    import keras  # pylint: disable=import-outside-toplevel

    from albert_tf.export import export_classifier  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel
    keras.utils.set_random_seed(0)
    classifier = build_classifier(shape)
    for name, precision in (("sst2", "fp32"), ("sst2_bf16", "bf16")):
        export_classifier(classifier, SentencePieceTokenizer(spm_model()), os.path.join(directory, name),
                          max_seq_length=SEQ, labels=["0", "1"], text_fields=("text_a",), task_name="SST-2",
                          tflite=precision == "fp32", precision=precision)


# ------------------------------------------------------------------ workers (resident processes)

def predictor_albert_tf(args, shape, plan, export="sst2"):
    del shape, plan
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    serve = tf.saved_model.load(os.path.join(args.scratch, export)).signatures["serving_default"]
    return lambda texts: serve(text_a=tf.constant(texts))["label_id"].numpy(), {"tensorflow": tf.__version__}


def _hf_model(shape):
    import torch  # pylint: disable=import-outside-toplevel
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertTokenizerFast  # pylint: disable=import-outside-toplevel
    torch.manual_seed(0)
    torch.set_num_threads(machine_info.cpu_count())
    config = AlbertConfig(**shape, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return AlbertForSequenceClassification(config).eval(), AlbertTokenizerFast(vocab_file=spm_model())


def predictor_hf_chunked(args, shape, plan, bf16):
    del args
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel
    model, tokenizer = _hf_model(shape)

    def predict(texts):
        ids = tokenizer(list(texts), truncation=True, max_length=SEQ)["input_ids"]
        labels = np.zeros(len(ids), np.int64)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for index, width in sorted_chunks([len(i) for i in ids], plan["max_chunks"], plan["min_rows"]):
                rows = [ids[i] for i in index]
                batch = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
                mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
                labels[index] = model(input_ids=batch, attention_mask=mask).logits.argmax(-1).numpy()
        return labels
    return predict, {"torch": torch.__version__, "transformers": transformers.__version__,
                     "attention": model.config._attn_implementation}  # pylint: disable=protected-access


def predictor_hf_pipeline(args, shape, plan):
    del plan
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel
    model, tokenizer = _hf_model(shape)
    classify = transformers.pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)

    def predict(texts):
        with torch.inference_mode():
            out = classify(list(texts), batch_size=args.batch, truncation=True, max_length=SEQ)
        return np.asarray([int(o["label"].rsplit("_", 1)[-1]) for o in out])
    return predict, {"torch": torch.__version__, "transformers": transformers.__version__}


def predictor_keras_hub(args, shape, plan):
    del plan
    import keras  # pylint: disable=import-outside-toplevel
    import keras_hub  # pylint: disable=import-outside-toplevel
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_model())
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer, sequence_length=SEQ)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=30000, num_layers=shape["num_hidden_layers"], num_heads=shape["num_attention_heads"],
        num_groups=1, num_inner_repetitions=1, embedding_dim=shape["embedding_size"], hidden_dim=shape["hidden_size"],
        intermediate_dim=shape["intermediate_size"], dropout=0.0, max_sequence_length=512)
    model = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    return (lambda texts: model.predict(list(texts), batch_size=args.batch, verbose=0).argmax(-1),
            {"keras_hub": keras_hub.__version__})


def predictor_albert_tf_tflite(args, shape, plan):
    del shape, plan
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel
    tokenizer = SentencePieceTokenizer(spm_model())
    runner = tf.lite.Interpreter(model_path=os.path.join(args.scratch, "sst2", "model.tflite")).get_signature_runner()

    def predict_one(text):
        packed = tokenizer.pack(text, max_seq_length=SEQ)
        width = sum(packed.input_mask)
        row = lambda values: np.asarray([values[:width]], np.int32)  # noqa: E731
        return int(runner(input_word_ids=row(packed.input_ids), input_mask=row(packed.input_mask),
                          input_type_ids=row(packed.segment_ids))["label_id"][0])
    return lambda texts: np.asarray([predict_one(t) for t in texts]), {"tensorflow": tf.__version__}


def make_predictor(name, args, shape, plan):
    if name == "albert_tf_bf16":
        return predictor_albert_tf(args, shape, plan, export="sst2_bf16")
    if name in ("hf_chunked", "hf_chunked_bf16"):
        return predictor_hf_chunked(args, shape, plan, bf16=name.endswith("bf16"))
    return globals()[f"predictor_{name}"](args, shape, plan)


def worker_main(args):
    with open(os.path.join(args.scratch, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    texts, batches = plan["texts"], plan["batches"]
    started = time.perf_counter()
    predict, versions = make_predictor(args.worker, args, TINY if args.tiny else BASE, plan)
    build_s = time.perf_counter() - started
    warmup = []
    for request in plan["warmup"]:
        t0 = time.perf_counter()
        predict(texts[slice(*request)])
        warmup.append(time.perf_counter() - t0)

    def handle(argument):
        kind, index = argument.split()
        rows = slice(*batches[int(index)]) if kind == "batch" else slice(int(index), int(index) + 1)
        t0 = time.perf_counter()
        labels = predict(texts[rows])
        return {"kind": kind, "index": int(index), "seconds": time.perf_counter() - t0, "rows": rows.stop - rows.start,
                "labels": [int(x) for x in labels]}

    interleave.serve(handle, {"build_s": build_s, "warmup_s": warmup, "versions": versions})


# ------------------------------------------------------------------ report

def summarize(entry):
    if not entry["batch_s"]:
        return None
    latencies = np.asarray(entry["one_s"]) * 1000
    return {"rate": sum(entry["rows"]) / sum(entry["batch_s"]), "sentences": sum(entry["rows"]),
            "batches": len(entry["batch_s"]), "cpu_s": statistics.median(entry["cpu_s"]),
            "p50_ms": float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
            "p99_ms": float(np.percentile(latencies, 99)) if len(latencies) else float("nan")}


def best_peer(summaries, precision):
    peers = {n: s for n, s in summaries.items() if s and n not in OURS and IMPLS[n][0] == precision}
    return max(peers, key=lambda n: peers[n]["rate"]) if peers else None


def headline(summaries):
    """[(label, ratio, target)]: throughput against the best-configured peer at the same precision, latency."""
    rows = []
    for ours_name, precision in (("albert_tf", "fp32"), ("albert_tf_bf16", "bf16")):
        ours, peer = summaries.get(ours_name), best_peer(summaries, precision)
        if ours and peer:
            rows.append((f"{ours_name} / best-configured peer at {precision} ({peer}), sentences/s",
                         ours["rate"] / summaries[peer]["rate"], 1.5))
            rows.append((f"{ours_name} / {peer}, single-sentence p50 latency (> 1: albert-tf slower)",
                         ours["p50_ms"] / summaries[peer]["p50_ms"], None))
    if summaries.get("albert_tf") and summaries.get("hf_pipeline"):
        rows.append(("albert_tf / HF pipeline default (hf_pipeline), sentences/s",
                     summaries["albert_tf"]["rate"] / summaries["hf_pipeline"]["rate"], None))
    if summaries.get("albert_tf_bf16") and summaries.get("albert_tf"):
        rows.append(("albert_tf_bf16 / albert_tf (bf16 vs fp32 export of the same weights), sentences/s",
                     summaries["albert_tf_bf16"]["rate"] / summaries["albert_tf"]["rate"], None))
    return rows


def agreement(results, a, b):
    """Share of sentences whose label `a` and `b` agree on (same weights: only albert-tf's own variants)."""
    la, lb = results.get(a, {}).get("labels", {}), results.get(b, {}).get("labels", {})
    common = [k for k in la if k in lb]
    if not common:
        return None
    same = sum(x == y for k in common for x, y in zip(la[k], lb[k]))
    return same, sum(len(la[k]) for k in common)


def render(results, ready, finals, args, plan, rounds):
    lines = ["# Raw-text serving (CPU), interleaved", "",
             f"Workload: the {len(plan['texts'])} SST-2 dev sentences, raw strings in, labels out; "
             f"{len(plan['batches'])} batches of {args.batch}; max seq {SEQ}; "
             f"ALBERT-{'TINY (a check of the script, timings mean nothing)' if args.tiny else 'base'} shape, random "
             f"weights; latency over single sentences. {rounds} rounds, each handing the same batch or sentence to "
             "every implementation in turn, order rotated per round. "
             "Command: `.venv/bin/python bench/bench_serving.py " + " ".join(sys.argv[1:]) + "`.", "",
             f"Machine: {machine_info.describe()}. Python {platform.python_version()}; " + "; ".join(
                 f"{n}: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items())
                 for n, r in ready.items() if "versions" in r and n in ("albert_tf", "hf_chunked")) +
             f". 1-min load average at start -> end: {args.load_start:.1f} -> {os.getloadavg()[0]:.1f}; wall time "
             f"{(time.time() - args.started_at) / 60:.1f} min.", ""]
    summaries = {name: summarize(entry) for name, entry in results.items()}
    rows = headline(summaries)
    if rows:
        lines += ["Headline (same sentences, same precision on both sides):", ""]
        for label, ratio, target in rows:
            lines.append(f"- {label}: **{ratio:.2f}x**{interleave.verdict(ratio, target)}")
        lines.append("")
    lines += ["| implementation | precision | sentences | sentences/s | CPU s/batch | p50 ms | p99 ms | peak RSS MiB "
              "| albert-tf same precision vs this |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, entry in results.items():
        precision, label = IMPLS[name]
        s = summaries[name]
        if s is None:
            error = (entry.get("error") or ready.get(name, {}).get("error") or "no timing")[:200].replace("|", "/")
            lines.append(f"| {label} | {precision} | - | failed: {error} | | | | | |")
            continue
        ours = summaries.get("albert_tf" if precision == "fp32" else "albert_tf_bf16")
        vs = f"{ours['rate'] / s['rate']:.2f}x" if ours and name not in OURS else ""
        rss = finals.get(name, {}).get("peak_rss_mib")
        lines.append(f"| {label} | {precision} | {s['sentences']} | {s['rate']:.1f} | {s['cpu_s']:.2f} | "
                     f"{s['p50_ms']:.0f} | {s['p99_ms']:.0f} | {'?' if rss is None else f'{rss:.0f}'} | {vs} |")
    agree = agreement(results, "albert_tf", "albert_tf_bf16")
    if agree:
        lines += ["", f"Labels of albert-tf bf16 vs float32 (same random weights): {agree[0]} / {agree[1]} agree "
                      f"({100 * agree[0] / agree[1]:.1f}%); random weights give near-tied logits, so this says "
                      "little about a trained model."]
    lines += ["", "Each time is taken in the worker around one call: strings in, label ids out (tokenization "
              "included for every implementation)."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ orchestration

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impls", default=DEFAULT_IMPLS, help=f"comma-separated, of {', '.join(IMPLS)}")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--latency_n", type=int, default=100)
    parser.add_argument("--examples", type=int, default=0, help="only the first N dev sentences (0: all)")
    parser.add_argument("--time_limit", type=float, default=0,
                        help="seconds after which no new throughput round starts (0: no limit)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model shape, to check the script")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "serving.md"))
    parser.add_argument("--worker", choices=sorted(IMPLS), help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    unknown = [i for i in impls if i not in IMPLS]
    if unknown:
        raise SystemExit(f"unknown --impls {unknown}; known: {', '.join(IMPLS)}")
    args.load_start, args.started_at = os.getloadavg()[0], time.time()
    interleave.log(f"machine: {machine_info.describe()}")
    texts = sst2_dev()[:args.examples or None]
    from albert_tf.export import serving  # pylint: disable=import-outside-toplevel
    plan = {"texts": texts, "max_chunks": serving.MAX_CHUNKS, "min_rows": serving.MIN_CHUNK_ROWS,
            "batches": [(start, min(start + args.batch, len(texts))) for start in range(0, len(texts), args.batch)]}
    plan["warmup"] = plan["batches"][:3] + [(0, 1)]
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        args.scratch = scratch
        with open(os.path.join(scratch, "plan.json"), "w", encoding="utf-8") as f:
            json.dump(plan, f)
        if any(name.startswith("albert_tf") for name in impls):
            interleave.log("exporting the albert-tf classifier")
            export_albert_tf(scratch, TINY if args.tiny else BASE)
        commands = {name: [sys.executable, os.path.abspath(__file__), "--worker", name, "--scratch", scratch,
                           "--batch", str(args.batch)] + (["--tiny"] if args.tiny else []) for name in impls}
        workers, ready = interleave.start_in_turn(commands, scratch, cwd=REPO)
        results = {name: {"batch_s": [], "rows": [], "one_s": [], "cpu_s": [], "labels": {}} for name in impls}

        def record(name, round_index, reply):
            entry = results[name]
            if "error" in reply:
                entry["error"] = reply["error"]
                return
            if reply["kind"] == "batch":
                entry["batch_s"].append(reply["seconds"])
                entry["rows"].append(reply["rows"])
                entry["cpu_s"].append(reply["cpu_s"])
                entry["labels"][reply["index"]] = reply["labels"]
            else:
                entry["one_s"].append(reply["seconds"])
            interleave.log(f"  {reply['kind']} {reply['index']} {name}: {reply['seconds'] * 1000:.0f} ms")

        deadline = time.time() + args.time_limit if args.time_limit else None
        rounds = interleave.run_rounds(workers, [f"batch {i}" for i in range(len(plan["batches"]))], record,
                                       deadline=deadline)
        rounds += interleave.run_rounds(workers, [f"one {i}" for i in range(min(args.latency_n, len(texts)))],
                                        record)
        finals = interleave.close_all(workers)
    report = render(results, ready, finals, args, plan, rounds)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
