"""Raw-text serving on CPU: the exported albert-tf classifier vs a Hugging Face `text-classification`
pipeline (PyTorch) vs keras-hub `AlbertTextClassifier` with its preprocessor.

Workload (identical for every implementation): the 872 SST-2 dev sentences as raw strings, ALBERT-base
shape (vocab 30000, E 128, H 768, 12 layers sharing one block, 12 heads, I 3072), random weights,
2 classes, max sequence length 128, fp32.
  * throughput: all sentences in batches of `--batch` (default 32), sentences/s, after one warm-up pass
    over the first batches;
  * latency: `--latency_n` single-sentence calls (the first dev sentences), p50 and p99 in ms.

  * albert-tf: `export_classifier` SavedModel, loaded in the worker with `tf.saved_model.load` (only
    tensorflow + tensorflow_text), `serving_default(text_a=...)`: in-graph tokenization, batches cut to
    their longest row.
  * Hugging Face: `pipeline("text-classification", model=AlbertForSequenceClassification,
    tokenizer=AlbertTokenizerFast from the same SentencePiece model, batch_size=..., truncation=True,
    max_length=128)`, all CPU threads.
  * keras-hub: `AlbertTextClassifier(backbone, preprocessor=AlbertTextClassifierPreprocessor(
    sequence_length=128))`, `predict(texts, batch_size=...)` (its preprocessor pads to 128).
  * albert-tf TFLite (not a peer, for the record): the export's `model.tflite`, host tokenizer, one call a text.

Each implementation runs in its own process, one after another. Usage:
  .venv/bin/python bench/bench_serving.py [--impls albert_tf,hf,keras_hub] [--batch 32] [--latency_n 100]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
REALDATA = os.environ.get("ALBERT_TF_REALDATA", os.path.join(os.path.dirname(REPO), "shared", "realdata"))
SEQ = 128
IMPLS = ("albert_tf", "hf", "keras_hub", "albert_tf_tflite")
BASE = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512)


def sst2_dev():
    path = os.path.join(REALDATA, "glue", "SST-2", "dev.tsv")
    with open(path, encoding="utf-8") as handle:
        return [line.split("\t")[0] for line in handle.read().splitlines()[1:]]


def spm_model():
    return os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model")


def measure(predict_batch, predict_one, texts, batch, latency_n):
    """(sentences/s over all texts, latencies in ms of single-text calls)."""
    for start in range(0, min(len(texts), 3 * batch), batch):  # warm-up: tracing, first allocations
        predict_batch(texts[start:start + batch])
    predict_one(texts[0])
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        predict_batch(texts[start:start + batch])
    seconds = time.perf_counter() - started
    latencies = []
    for text in texts[:latency_n]:
        t0 = time.perf_counter()
        predict_one(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    return {"sentences": len(texts), "seconds": seconds, "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99))}


def export_albert_tf(directory):
    import keras  # pylint: disable=import-outside-toplevel

    from albert_tf.config import AlbertConfig  # pylint: disable=import-outside-toplevel
    from albert_tf.export import export_classifier  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel
    keras.utils.set_random_seed(0)
    classifier = AlbertClassifier(AlbertEncoder(AlbertConfig(**BASE)), 2)
    export_classifier(classifier, SentencePieceTokenizer(spm_model()), directory, max_seq_length=SEQ,
                      labels=["0", "1"], text_fields=("text_a",), task_name="SST-2", tflite=True)


def worker_albert_tf(args):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    serve = tf.saved_model.load(args.export_dir).signatures["serving_default"]
    return measure(lambda b: serve(text_a=tf.constant(b))["label"].numpy(),
                   lambda t: serve(text_a=tf.constant([t]))["label"].numpy(), sst2_dev(), args.batch, args.latency_n)


def worker_hf(args):
    import torch  # pylint: disable=import-outside-toplevel
    from transformers import (AlbertConfig, AlbertForSequenceClassification,  # pylint: disable=import-outside-toplevel
                              AlbertTokenizerFast, pipeline)
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    config = AlbertConfig(**BASE, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = AlbertForSequenceClassification(config).eval()
    tokenizer = AlbertTokenizerFast(vocab_file=spm_model())
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
    options = dict(truncation=True, max_length=SEQ)
    with torch.inference_mode():
        return measure(lambda b: classify(b, batch_size=args.batch, **options), lambda t: classify(t, **options),
                       sst2_dev(), args.batch, args.latency_n)


def worker_keras_hub(args):
    import keras  # pylint: disable=import-outside-toplevel
    import keras_hub  # pylint: disable=import-outside-toplevel
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_model())
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer, sequence_length=SEQ)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=30000, num_layers=12, num_heads=12, num_groups=1, num_inner_repetitions=1,
        embedding_dim=128, hidden_dim=768, intermediate_dim=3072, dropout=0.0, max_sequence_length=512)
    model = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    return measure(lambda b: model.predict(b, batch_size=args.batch, verbose=0),
                   lambda t: model.predict([t], batch_size=1, verbose=0), sst2_dev(), args.batch, args.latency_n)


def worker_albert_tf_tflite(args):
    """The export's model.tflite (id signature): host-side Python tokenizer + one interpreter call per text."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel
    tokenizer = SentencePieceTokenizer(spm_model())
    path = os.path.join(args.export_dir, "model.tflite")
    runner = tf.lite.Interpreter(model_path=path).get_signature_runner()

    def predict_one(text):
        packed = tokenizer.pack(text, max_seq_length=SEQ)
        width = sum(packed.input_mask)
        row = lambda values: np.asarray([values[:width]], np.int32)  # noqa: E731
        return runner(input_word_ids=row(packed.input_ids), input_mask=row(packed.input_mask),
                      input_type_ids=row(packed.segment_ids))["label_id"]

    result = measure(lambda b: [predict_one(t) for t in b], predict_one, sst2_dev(), args.batch, args.latency_n)
    result["tflite_mb"] = os.path.getsize(path) / 2**20
    return result


WORKERS = {"albert_tf": worker_albert_tf, "hf": worker_hf, "keras_hub": worker_keras_hub,
           "albert_tf_tflite": worker_albert_tf_tflite}


def render(results, args):
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import machine_info  # pylint: disable=import-outside-toplevel
    lines = ["# Raw-text serving (CPU)", "",
             f"Workload: the 872 SST-2 dev sentences, raw strings in, labels out; batches of {args.batch}; "
             f"max seq {SEQ}; ALBERT-base shape, random weights, fp32; latency over {args.latency_n} single "
             "sentences. Command: `.venv/bin/python bench/bench_serving.py " + " ".join(sys.argv[1:]) + "`.", "",
             f"Machine: {machine_info.cpu_model()}, {machine_info.cpu_count()} CPUs, "
             f"{machine_info.mem_total_gib():.0f} GiB; load average before the run {args.load}.", "",
             "| implementation | sentences/s | vs best peer | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    rates = {name: r["sentences"] / r["seconds"] for name, r in results.items() if "seconds" in r}
    peers = [rate for name, rate in rates.items() if not name.startswith("albert_tf")]
    best_peer = max(peers) if peers else None
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error'][:120]} | | | |")
            continue
        ratio = f"{rates[name] / best_peer:.2f}x" if best_peer and name == "albert_tf" else ""
        lines.append(f"| {name} | {rates[name]:.1f} | {ratio} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} |")
    if "tflite_mb" in results.get("albert_tf_tflite", {}):
        lines += ["", f"albert_tf_tflite: the export's `model.tflite` ({results['albert_tf_tflite']['tflite_mb']:.1f} MB, "
                      "id signature, fp32), Python tokenizer on the host, one interpreter call per sentence "
                      "(batched rows are run one by one); not a peer."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--latency_n", type=int, default=100)
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "serving.md"))
    parser.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    parser.add_argument("--export_dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(WORKERS[args.worker](args)), flush=True)
        return
    args.load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        export_dir = os.path.join(scratch, "sst2")
        impls = args.impls.split(",")
        if "albert_tf" in impls:
            print("exporting the albert-tf classifier ...", flush=True)
            export_albert_tf(export_dir)
        for name in impls:
            command = [sys.executable, os.path.abspath(__file__), "--worker", name, "--batch", str(args.batch),
                       "--latency_n", str(args.latency_n), "--export_dir", export_dir]
            print(f"running {name} ...", flush=True)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
            results[name] = json.loads(line[7:]) if line else {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
            print(f"  {name}: {results[name]}", flush=True)
    report = render(results, args)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
