"""Does XLA help the exported classifier's serving function on CPU? Interleaved, in one process, fp32.

Two id functions over the same serving copy of one random-weight classifier (`export.saved_model.
serving_classifier`, ALBERT-base shape by default), both the export's `ClassifierServer.serve_ids`
(sort by length, up to `MAX_CHUNKS` chunks of at least `MIN_CHUNK_ROWS` rows):
  * graph: as exported today, each chunk cut to its own longest row and run by TensorFlow's graph
    executor (oneDNN kernels);
  * xla: each chunk padded further, up to the fine-tuning bucket length that holds it
    (`finetuning.datasets.bucket_lengths`), and run by a `tf.function(jit_compile=True)`: one XLA
    program per (chunk rows, bucket length), all compiled in the warm-up.

Workload: the 872 SST-2 dev sentences, tokenized once on the host (tokenization is the same for both
and is not timed), max sequence length 128, batches of `--batch` (default 32) in file order; then
`--latency_n` single sentences. Each batch (then each sentence) goes to both functions in turn, the
order alternating, after a warm-up over every batch and sentence. Reported: sentences/s over the
batches, p50 / p99 single-sentence latency, the ratio xla / graph, the largest logit difference,
and the 1-minute load average before and after.

Usage:
  .venv/bin/python bench/bench_serving_xla.py [--batch 32] [--latency_n 50] [--tiny] [--out FILE]
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))
import bench_serving  # noqa: E402  pylint: disable=wrong-import-position
import machine_info  # noqa: E402  pylint: disable=wrong-import-position


def servers(classifier):
    """{"graph": serve_ids as exported, "xla": the same with each chunk's model call compiled by XLA}."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from albert_tf.export import saved_model, serving  # pylint: disable=import-outside-toplevel
    from albert_tf.finetuning.datasets import bucket_lengths  # pylint: disable=import-outside-toplevel
    from albert_tf.model_inputs import INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel

    buckets = tf.constant(bucket_lengths(bench_serving.SEQ))

    class XlaChunkServer(serving.ClassifierServer):
        """Each chunk padded up to a bucket length, its model call one XLA program per shape."""

        def __init__(self, *args):
            super().__init__(*args)
            self._compiled_logits = tf.function(super()._logits, jit_compile=True)

        def _logits(self, inputs):
            width = tf.shape(inputs[INPUT_WORD_IDS])[1]
            missing = tf.reduce_min(tf.boolean_mask(buckets, buckets >= width)) - width
            return self._compiled_logits({k: tf.pad(v, [[0, 0], [0, missing]]) for k, v in inputs.items()})

    copy = saved_model.serving_classifier(classifier)
    made = {name: kind(copy, None, {}, bench_serving.SEQ, ["0", "1"], ("text_a",))
            for name, kind in (("graph", serving.ClassifierServer), ("xla", XlaChunkServer))}
    return {name: server.serve_ids for name, server in made.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--latency_n", type=int, default=50)
    parser.add_argument("--tiny", action="store_true", help="a tiny model shape, to check the script (timings "
                        "mean nothing)")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "serving_xla.md"))
    args = parser.parse_args()
    load_start, started = os.getloadavg()[0], time.time()

    import keras  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import SentencePieceTokenizer  # pylint: disable=import-outside-toplevel

    keras.utils.set_random_seed(0)
    functions = servers(bench_serving.build_classifier(bench_serving.TINY if args.tiny else bench_serving.BASE))
    packed = SentencePieceTokenizer(bench_serving.spm_model()).pack_batch(bench_serving.sst2_dev(),
                                                                          max_seq_length=bench_serving.SEQ)
    rows = {INPUT_WORD_IDS: packed.input_ids, INPUT_MASK: packed.input_mask, INPUT_TYPE_IDS: packed.segment_ids}

    def request(index):
        """Batch `index`, cut to its longest row as the in-graph tokenizer would hand it over."""
        part = {k: np.asarray(v[index], np.int32) for k, v in rows.items()}
        width = max(int(part[INPUT_MASK].sum(axis=1).max()), 2)
        return {k: tf.constant(v[:, :width]) for k, v in part.items()}

    count = len(packed.input_ids)
    batches = [request(slice(a, a + args.batch)) for a in range(0, count, args.batch)]
    singles = [request(slice(i, i + 1)) for i in range(min(args.latency_n, count))]

    def call(name, inputs):
        t0 = time.perf_counter()
        logits = functions[name](inputs)["logits"].numpy()
        return time.perf_counter() - t0, logits

    warm = {}
    for name in functions:  # every shape compiled (xla) or its kernels primed (graph) before timing
        t0 = time.perf_counter()
        for inputs in batches + singles:
            call(name, inputs)
        warm[name] = time.perf_counter() - t0
        print(f"{name}: warm-up {warm[name]:.1f}s", file=sys.stderr, flush=True)
    seconds = {name: [] for name in functions}
    latency = {name: [] for name in functions}
    difference = 0.0
    for index, inputs in enumerate(batches + singles):
        order = list(functions) if index % 2 == 0 else list(functions)[::-1]
        logits = {}
        for name in order:
            elapsed, logits[name] = call(name, inputs)
            (seconds if index < len(batches) else latency)[name].append(elapsed)
        difference = max(difference, float(np.abs(logits["graph"] - logits["xla"]).max()))

    rate = {name: count / sum(seconds[name]) for name in functions}
    p50 = {name: 1000 * statistics.median(latency[name]) for name in functions}
    p99 = {name: 1000 * float(np.percentile(latency[name], 99)) for name in functions}
    shape = "TINY (a check of the script, timings mean nothing)" if args.tiny else "base"
    lines = ["# Serving with and without XLA (CPU, fp32), interleaved in one process", "",
             f"{count} SST-2 dev sentences in {len(batches)} batches of {args.batch} (host-tokenized, not timed), "
             f"then {len(singles)} single sentences; ALBERT-{shape} shape, random weights; the export's "
             "`serve_ids` (sort-and-chunk) as exported (graph) and with each chunk padded to a bucket length and "
             "compiled by XLA (xla). Command: `.venv/bin/python bench/bench_serving_xla.py "
             + " ".join(sys.argv[1:]) + "`.", "",
             f"Machine: {machine_info.describe()}. Python {platform.python_version()}, TensorFlow {tf.__version__}. "
             f"1-min load average at start -> end: {load_start:.1f} -> {os.getloadavg()[0]:.1f}; wall time "
             f"{(time.time() - started) / 60:.1f} min.", "",
             "| function | sentences/s | p50 ms (1 sentence) | p99 ms | warm-up s (all shapes) |",
             "|---|---:|---:|---:|---:|"]
    for name in functions:
        lines.append(f"| {name} | {rate[name]:.1f} | {p50[name]:.1f} | {p99[name]:.1f} | {warm[name]:.1f} |")
    lines += ["", f"xla / graph: throughput **{rate['xla'] / rate['graph']:.2f}x**, single-sentence p50 "
                  f"**{p50['graph'] / p50['xla']:.2f}x** (above 1: XLA faster). Largest logit difference "
                  f"{difference:.2e}."]
    report = "\n".join(lines) + "\n"
    atomic_files.write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
