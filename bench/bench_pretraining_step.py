"""Pretraining train step (MLM + SOP): albert-tf vs keras-hub vs TF Model Garden, fp32 (or bf16) on CPU.

Identical shapes for every implementation: ALBERT-base (vocab 30000, embedding 128, hidden 768,
12 layers sharing one weight set, 12 heads, intermediate 3072, gelu, dropout 0), sequence
length 128, 20 masked positions, the same synthetic int32 batch (one .npz per batch size,
written by this script and loaded by every worker), repeated.

Implementations (each in its own worker process, so peak RSS is per implementation):
  * albert-tf: `PretrainingLoop.train_steps(iterator, n)` (as `run_pretraining.py` builds it:
    AlbertEncoder(sequence_length=128) + AlbertPretrainer(max_predictions_per_seq=20), LAMB from
    `create_optimizer("lamb", ...)`, OneDeviceStrategy("/cpu:0"), a repeated `tf.data`
    batch through `experimental_distribute_dataset`); `--xla` sets `LoopSettings.jit_compile`.
  * keras-hub: `AlbertBackbone` + the `MaskedLMHead` that `AlbertMaskedLM` builds (same
    arguments, tied to the backbone's token embedding) + a `Dense(2)` SOP head on the pooled
    output, one functional Keras model compiled with `keras.optimizers.Lamb` (weight decay 0.01
    except LayerNorm/bias, global clipnorm 1.0), sparse categorical cross-entropy on both
    heads (MLM weighted by masked_lm_weights), `jit_compile` per --xla; one `train_on_batch`
    per step.
  * Model Garden: bench/peers/modelgarden_pretraining_step.py in its own venv (tf_keras).

Interleaving: workers build and warm up one after another (so compiles don't overlap), then
every round runs `--chunk` steps of each live worker in turn (order rotated per round) plus one
peak-FLOP/s probe, until `--steps` steps were timed. Workers of one (batch, XLA) group are
alive together and idle while another runs. Other load on the machine therefore hits every
implementation about equally; ratios are the robust figures. Other load only adds time, so the
headline per configuration is its fastest timed step; the median step and the worker's CPU time
per step are reported next to it.

MFU = achieved FLOP/s / peak FLOP/s, achieved = 3 * 175e6 * B * 128 per step (ALBERT-base
forward ~175 MFLOP per token at seq 128, x3 for forward + backward); peak = best observed
rate of a chain of dependent 4096x4096 fp32 matmuls, run both as TF ops (oneDNN) and XLA-compiled
(XLA's own CPU kernels, which are the faster of the two on some CPUs), measured during the same run. Peak RSS is the worker's ru_maxrss (build, compile and steps included).

Usage:
  .venv/bin/python bench/bench_pretraining_step.py [--batches 8,32] [--steps 10] [--warmup 3]
      [--chunk 1] [--xla both|off|on] [--precision fp32|bf16] [--impls albert_tf,keras_hub,modelgarden]
      [--peer-python .venv-modelgarden/bin/python] [--out bench/results/pretraining_step.md]
`--steps` and `--warmup` take one number or per-batch values, e.g. `--steps 8:6,32:3`.
`--json F` also saves the raw results; `--reuse-json F --rerun 32:off` reruns only the listed
(batch, XLA) groups on top of them, `--reuse-json F --render-only` only rewrites the report, and
`--note TEXT` adds a line to it. `--precision bf16` builds albert-tf and keras-hub under Keras'
mixed_bfloat16 policy (what `--mixed_precision=bf16` sets); the peak probe and so the MFU column stay fp32.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from interleave import Worker, close_all, log, run_rounds, serve, start_in_turn  # noqa: E402  (bench/ is the script's directory)
from machine_info import cpu_flags, cpu_model, describe_flags, mem_total_gib  # noqa: E402

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER_SCRIPT = ROOT / "bench" / "peers" / "modelgarden_pretraining_step.py"
SEQ_LENGTH = 128
MAX_PREDICTIONS = 20
VOCAB = 30000
FLOPS_PER_TOKEN = 3 * 175e6
LABELS = {"albert_tf": "albert-tf PretrainingLoop", "keras_hub": "keras-hub AlbertBackbone + MLM/SOP heads",
          "modelgarden": "TF Model Garden BertPretrainerV2(AlbertEncoder)"}


def synthetic_batch(batch_size, seq_length=SEQ_LENGTH, max_predictions=MAX_PREDICTIONS, vocab_size=VOCAB,
                    seed=12345):
    """One pretraining batch: ~10% of rows padded, two segments, 20 distinct sorted masked positions."""
    rng = np.random.RandomState(seed)
    word_ids = rng.randint(5, vocab_size, size=(batch_size, seq_length)).astype(np.int32)
    mask = np.ones((batch_size, seq_length), np.int32)
    type_ids = np.zeros((batch_size, seq_length), np.int32)
    positions = np.zeros((batch_size, max_predictions), np.int32)
    for i in range(batch_size):
        length = seq_length if rng.rand() > 0.1 else rng.randint(seq_length // 2, seq_length)
        mask[i, length:] = 0
        word_ids[i, length:] = 0
        word_ids[i, 0] = 2
        split = rng.randint(2, length - 2)
        type_ids[i, split:length] = 1
        positions[i] = np.sort(rng.choice(np.arange(1, length), max_predictions, replace=False))
    return {
        "input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids,
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.randint(5, vocab_size, size=(batch_size, max_predictions)).astype(np.int32),
        "masked_lm_weights": np.ones((batch_size, max_predictions), np.float32),
        "sentence_order_label": rng.randint(0, 2, size=(batch_size,)).astype(np.int32),
    }


# ============================================================== workers (run in subprocesses)

def set_precision(precision):
    """bf16: Keras' mixed_bfloat16 policy for everything built after (variables, LayerNorm, softmax and losses
    stay float32 in both implementations); the same policy albert-tf's `--mixed_precision=bf16` sets."""
    if precision == "bf16":
        import keras  # pylint: disable=import-outside-toplevel
        keras.mixed_precision.set_global_policy("mixed_bfloat16")


class AlbertTfBench:
    def __init__(self, batch, jit, precision="fp32"):
        # What run_pretraining.py does on import (albert_tf.cli): glibc's malloc settings made before TensorFlow's
        # threads allocate, so each step's scratch memory is reused, not unmapped and faulted in again.
        from albert_tf.malloc_settings import apply_malloc_settings  # pylint: disable=import-outside-toplevel
        apply_malloc_settings()
        set_precision(precision)
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        import keras  # pylint: disable=import-outside-toplevel
        from albert_tf.config import preset  # pylint: disable=import-outside-toplevel
        from albert_tf.modeling import AlbertEncoder, AlbertPretrainer  # pylint: disable=import-outside-toplevel
        from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
        from albert_tf.training.pretraining_loop import (  # pylint: disable=import-outside-toplevel
            LoopSettings, PretrainingLoop)

        self.tf = tf
        t0 = time.perf_counter()
        keras.utils.set_random_seed(12345)
        config = preset("albert_base_v2")
        assert config.hidden_dropout_prob == 0.0 and config.attention_probs_dropout_prob == 0.0, config
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        with strategy.scope():
            encoder = AlbertEncoder(config, sequence_length=SEQ_LENGTH)
            model = AlbertPretrainer(encoder, max_predictions_per_seq=MAX_PREDICTIONS)
            # No warmup (like the peers' schedules), so the sanity losses move; the cost is the same.
            optimizer = create_optimizer("lamb", 0.00176, 125000, 0, weight_decay_rate=0.01, poly_power=1.0)
            optimizer.build(model.trainable_variables)
        self.loop = PretrainingLoop(strategy, model, optimizer, LoopSettings(num_train_steps=125000, jit_compile=jit))
        dataset = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()}).repeat()
        self.iterator = iter(strategy.experimental_distribute_dataset(dataset))
        self.num_params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
        self.versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
        self.build_s = time.perf_counter() - t0

    def run(self, steps):
        t0 = time.perf_counter()
        sums = self.loop.train_steps(self.iterator, self.tf.constant(steps))
        loss = float(sums["mlm_loss"]) / max(float(sums["mlm_weight"]), 1e-5) + \
            float(sums["sop_loss"]) / max(float(sums["sop_count"]), 1.0)
        return time.perf_counter() - t0, loss


class KerasHubBench:
    def __init__(self, batch, jit, precision="fp32"):
        import keras  # pylint: disable=import-outside-toplevel
        import keras_hub  # pylint: disable=import-outside-toplevel
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        from keras_hub.src.utils.keras_utils import gelu_approximate  # pylint: disable=import-outside-toplevel

        t0 = time.perf_counter()
        set_precision(precision)
        keras.utils.set_random_seed(12345)
        backbone = keras_hub.models.AlbertBackbone(
            vocabulary_size=VOCAB, num_layers=12, num_heads=12, num_groups=1, num_inner_repetitions=1,
            embedding_dim=128, hidden_dim=768, intermediate_dim=3072, dropout=0.0, max_sequence_length=512)
        # The head AlbertMaskedLM builds, with its arguments, plus a 2-way SOP dense on the pooled output.
        mlm_head = keras_hub.layers.MaskedLMHead(
            vocabulary_size=VOCAB, token_embedding=backbone.token_embedding,
            intermediate_activation=gelu_approximate,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02), name="mlm_head")
        inputs = {**backbone.input,
                  "mask_positions": keras.Input(shape=(None,), dtype="int32", name="mask_positions")}
        encoded = backbone(backbone.input)
        outputs = {"mlm": mlm_head(encoded["sequence_output"], inputs["mask_positions"]),
                   "sop": keras.layers.Dense(2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                                             name="sop_head")(encoded["pooled_output"])}
        model = keras.Model(inputs, outputs)
        schedule = keras.optimizers.schedules.PolynomialDecay(0.00176, 125000, end_learning_rate=0.0)
        optimizer = keras.optimizers.Lamb(learning_rate=schedule, epsilon=1e-6, weight_decay=0.01,
                                          global_clipnorm=1.0)
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        model.compile(optimizer=optimizer,
                      loss={"mlm": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                            "sop": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                      jit_compile=jit)
        self.x = {"token_ids": tf.constant(batch["input_word_ids"]),
                  "segment_ids": tf.constant(batch["input_type_ids"]),
                  "padding_mask": tf.constant(batch["input_mask"]),
                  "mask_positions": tf.constant(batch["masked_lm_positions"])}
        self.y = {"mlm": tf.constant(batch["masked_lm_ids"]), "sop": tf.constant(batch["sentence_order_label"])}
        self.sample_weight = {"mlm": tf.constant(batch["masked_lm_weights"]),
                              "sop": tf.ones_like(tf.constant(batch["sentence_order_label"]), tf.float32)}
        self.model = model
        self.num_params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
        self.versions = {"keras_hub": keras_hub.__version__, "keras": keras.__version__,
                         "tensorflow": tf.__version__}
        self.build_s = time.perf_counter() - t0

    def run(self, steps):
        t0 = time.perf_counter()
        loss = None
        for _ in range(steps):
            loss = self.model.train_on_batch(self.x, self.y, sample_weight=self.sample_weight, return_dict=True)
        return time.perf_counter() - t0, float(loss["loss"])


class PeakBench:
    """fp32 matmul rate: a chain of dependent 4096x4096 matmuls, as TF ops and XLA-compiled (the faster counts)."""

    N, CHAIN = 4096, 2

    def __init__(self, batch=None, jit=False, precision="fp32"):
        del precision  # the probe measures the float32 rate
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        t0 = time.perf_counter()
        n = self.N
        self.a = tf.random.normal([n, n], seed=1)
        self.b = tf.random.normal([n, n], seed=2) / float(np.sqrt(n))  # keeps the chain's scale stable

        def chain(a, b):
            c = a
            for _ in range(self.CHAIN):
                c = tf.matmul(c, b)
            return tf.reduce_sum(c)

        self.chains = (tf.function(chain), tf.function(chain, jit_compile=True))
        for compiled in self.chains:
            float(compiled(self.a, self.b))
        self.num_params = 0
        self.versions = {"tensorflow": tf.__version__}
        self.build_s = time.perf_counter() - t0

    def run(self, steps):
        best = float("inf")
        for _ in range(steps):
            for compiled in self.chains:
                t0 = time.perf_counter()
                float(compiled(self.a, self.b))
                best = min(best, time.perf_counter() - t0)
        return best, 2.0 * self.N ** 3 * self.CHAIN / best


WORKERS = {"albert_tf": AlbertTfBench, "keras_hub": KerasHubBench, "peak": PeakBench}


def worker_main(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    batch = None
    if args.data:
        with np.load(args.data) as f:
            batch = {k: f[k] for k in f.files}
    bench = WORKERS[args.worker](batch, args.jit, args.precision)
    warmup = []
    for _ in range(args.warmup):
        warmup.append(bench.run(1)[0])

    def handle(argument):
        seconds, value = bench.run(int(argument))
        return {"steps": int(argument), "seconds": seconds, "loss": value}

    serve(handle, {"impl": args.worker, "jit": args.jit, "build_s": bench.build_s, "warmup_s": warmup,
                   "params": bench.num_params, "versions": bench.versions})


# ============================================================== orchestration

def per_batch(spec, batches, name):
    if ":" not in spec:
        return {b: int(spec) for b in batches}
    values = dict(tuple(int(x) for x in part.split(":")) for part in spec.split(","))
    missing = [b for b in batches if b not in values]
    if missing:
        raise SystemExit(f"--{name} {spec!r} gives no value for batch {missing}")
    return values


def worker_cmd(impl, jit, data, warmup, peer_python, precision="fp32"):
    if impl == "modelgarden":
        cmd = [peer_python, str(PEER_SCRIPT), "--serve", "--data", data, "--warmup", str(warmup)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl, "--warmup", str(warmup),
               "--precision", precision]
        if data:
            cmd += ["--data", data]
    return cmd + (["--jit"] if jit else [])


def run_group(batch_size, jit, impls, steps, warmup, chunk, data, peer_python, tmp, results, peaks,
              precision="fp32"):
    """Build + warm up each implementation in turn, then time them interleaved (bench/interleave.py),
    with one peak-FLOP/s probe per round."""
    group_dir = os.path.join(tmp, f"b{batch_size}_xla{int(jit)}")
    os.makedirs(group_dir, exist_ok=True)
    log(f"batch {batch_size} xla={jit}: {warmup} warmup step(s) each, the first compiles")
    workers, ready = start_in_turn({impl: worker_cmd(impl, jit, data, warmup, peer_python, precision)
                                    for impl in impls},
                                   group_dir, cwd=ROOT)
    for impl in impls:
        entry = results.setdefault((impl, batch_size, jit), {"impl": impl, "batch": batch_size, "jit": jit,
                                                             "precision": precision, "chunks": [], "losses": []})
        if "error" in ready[impl]:
            entry["error"] = ready[impl]["error"]
            continue
        entry.update({k: ready[impl][k] for k in ("build_s", "warmup_s", "params", "versions",
                                                  "rss_after_warmup_mib")})
        log(f"  {impl}: build {ready[impl]['build_s']:.1f}s, warmup steps " +
            ", ".join(f"{s:.1f}s" for s in ready[impl]["warmup_s"]))
    probe = Worker("peak", worker_cmd("peak", False, None, 0, peer_python), os.path.join(group_dir, "peak.log"),
                   cwd=ROOT)
    probe.read()

    def before_round(round_index):
        peaks.append(probe.request(1)["loss"])
        log(f"  round {round_index + 1}: peak {peaks[-1] / 1e9:.0f} GFLOP/s")

    def record(impl, round_index, reply):
        entry = results[(impl, batch_size, jit)]
        if "error" in reply:
            entry["error"] = reply["error"]
            return
        entry["chunks"].append(reply["seconds"] / reply["steps"])
        entry.setdefault("cpu", []).append(reply["cpu_s"] / reply["steps"])
        entry["losses"].append(reply["loss"])
        log(f"    {impl} {entry['chunks'][-1]:.2f}s/step")

    run_rounds(workers, [min(chunk, steps - done) for done in range(0, steps, chunk)], record, before_round)
    finals = close_all({**workers, "peak": probe})  # all shut down together: TF teardown takes a while
    for impl in workers:
        results[(impl, batch_size, jit)]["peak_rss_mib"] = finals[impl].get("peak_rss_mib")


# ============================================================== report





def summarize(entry, peak):
    chunks = entry["chunks"]
    if not chunks:
        return None
    # Other load only ever adds time, so the fastest step is the least disturbed estimate of the cost.
    best = min(chunks)
    flops = FLOPS_PER_TOKEN * entry["batch"] * SEQ_LENGTH
    cpu = statistics.median(entry["cpu"]) if entry.get("cpu") else float("nan")
    return {"best_ms": best * 1e3, "median_ms": statistics.median(chunks) * 1e3, "cpu_s": cpu,
            "steps_s": 1.0 / best, "examples_s": entry["batch"] / best, "mfu": flops / best / peak,
            "gflops": flops / best / 1e9}


PEER_SHORT = {"keras_hub": "keras-hub", "modelgarden": "Model Garden"}


def _xla(jit):
    return "on" if jit else "off"


def render(results, peaks, runs, chunk, notes=()):
    peak = max(peaks) if peaks else float("nan")
    impls = [i for i in LABELS if any(e["impl"] == i for e in results.values())]
    batches = sorted({e["batch"] for e in results.values()})
    jits = sorted({e["jit"] for e in results.values()})
    versions = {}
    for entry in results.values():
        if entry.get("versions"):
            versions.setdefault(entry["impl"], entry["versions"])
    precisions = sorted({e.get("precision", "fp32") for e in results.values()})
    title = " and ".join("bf16 (mixed_bfloat16)" if p == "bf16" else p for p in precisions) or "fp32"
    lines = [f"# Pretraining train step (MLM + SOP), {title} CPU", ""]
    loads = ", ".join(f"{r['load_before']:.1f} -> {r['load_after']:.1f}" for r in runs)
    lines.append(f"- machine: {os.cpu_count()} CPU cores (nproc), {cpu_model()}, {describe_flags(cpu_flags())}, "
                 f"{mem_total_gib():.0f} GiB RAM; "
                 f"1-min load average at start -> end of the run: {loads} (other processes shared the 2 cores: "
                 "absolute numbers are pessimistic and noisy; the implementations were interleaved, so the ratios "
                 "are the figures to trust)")
    lines.append(f"- Python {platform.python_version()}; " + "; ".join(
        f"{PEER_SHORT.get(impl, 'albert-tf')}: " + ", ".join(f"{k} {v}" for k, v in versions[impl].items())
        for impl in impls if impl in versions))
    lines.append("- shapes: ALBERT-base (vocab 30000, embedding 128, hidden 768, 12 layers sharing one weight set, "
                 "12 heads, intermediate 3072, gelu), dropout 0, seq 128, 20 masked positions, the same synthetic "
                 "batch repeated; LAMB-type optimizer with global-norm clipping 1.0 everywhere")
    if peaks:
        lines.append(f"- peak fp32 rate: {peak / 1e9:.0f} GFLOP/s, the best of {len(peaks)} probes (two chained "
                     f"4096x4096 matmuls as TF ops and XLA-compiled, the faster counting; one probe per round, interleaved with the steps; they "
                     f"ranged {min(peaks) / 1e9:.0f}-{peak / 1e9:.0f} GFLOP/s, median "
                     f"{statistics.median(peaks) / 1e9:.0f})")
    lines.append("- model FLOPs per step: 3 x 175 MFLOP x batch x 128 tokens; MFU = model FLOPs / best step "
                 "time / peak")
    lines.append(f"- timing: per (batch, XLA) group each implementation builds and runs its warmup step(s) in turn "
                 f"(the first includes tracing/compilation), then the implementations run {chunk} step(s) "
                 "each in rotation. Other load only adds time, so the headline is the best (fastest) timed step; "
                 "steps/s, examples/s, GFLOP/s and MFU derive from it. The median step and the process's CPU time "
                 "per step (user+system, median) are shown too")
    for run in runs:
        lines.append(f"- command: `{run['command']}` (started {run['start']}, {run['minutes']:.1f} min wall; "
                     f"groups {', '.join(run['groups'])})")
    lines += [f"- note: {note}" for note in notes]
    lines.append("")
    lines.append("| implementation | batch | XLA | ms/step (best) | median ms | CPU s/step | steps/s | examples/s "
                 "| achieved GFLOP/s | MFU | peak RSS MiB | first step s (incl. compile) | timed steps |")
    lines.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summaries = {}
    for batch in batches:
        for jit in jits:
            for impl in impls:
                entry = results.get((impl, batch, jit))
                if entry is None:
                    continue
                s = summaries[(impl, batch, jit)] = summarize(entry, peak)
                head = f"| {LABELS[impl]} | {batch} | {_xla(jit)} |"
                if s is None:
                    error = entry.get("error", "no timing")[:200].replace("|", "/")
                    lines.append(f"{head} failed: {error} |" + " |" * 9)
                    continue
                rss = entry.get("peak_rss_mib")
                if rss is not None:
                    rss_cell = f"{rss:.0f}"
                elif entry.get("error") and entry.get("rss_after_warmup_mib"):
                    rss_cell = f"> {entry['rss_after_warmup_mib']:.0f} (killed)"
                else:
                    rss_cell = "?"
                first = entry["warmup_s"][0] if entry.get("warmup_s") else None
                lines.append(
                    f"{head} {s['best_ms']:.0f} | {s['median_ms']:.0f} | {s['cpu_s']:.1f} | {s['steps_s']:.3f} | "
                    f"{s['examples_s']:.2f} | {s['gflops']:.1f} | {100 * s['mfu']:.1f}% | {rss_cell} | "
                    f"{'-' if first is None else f'{first:.1f}'} | {len(entry['chunks'])} |")

    peers = [i for i in impls if i != "albert_tf"]
    lines += ["", "Ratios, albert-tf / peer at the same batch and XLA setting (< 1: albert-tf is faster). "
              "Each cell: best step / median step / CPU time per step; best peer = the peer with the fastest "
              "best step.", ""]
    lines.append("| batch | XLA | " + " | ".join(f"vs {PEER_SHORT[i]} (best / median / CPU)" for i in peers) +
                 " | vs best peer (best step) |")
    lines.append("|---:|---|" + "---:|" * (len(peers) + 1))

    def ratio(a, b, key):
        return f"{a[key] / b[key]:.2f}" if a and b and b[key] else "n/a"

    for batch in batches:
        for jit in jits:
            ours = summaries.get(("albert_tf", batch, jit))
            cells = []
            for impl in peers:
                peer = summaries.get((impl, batch, jit))
                cells.append(" / ".join(ratio(ours, peer, k) for k in ("best_ms", "median_ms", "cpu_s")))
            available = [summaries[(i, batch, jit)] for i in peers if summaries.get((i, batch, jit))]
            best = min(available, key=lambda x: x["best_ms"]) if available else None
            cells.append(ratio(ours, best, "best_ms"))
            lines.append(f"| {batch} | {_xla(jit)} | " + " | ".join(cells) + " |")

    if len(jits) > 1:
        lines += ["", "Each implementation at its faster XLA setting (by best step), and albert-tf / best peer on "
                  "that basis:", ""]
        lines.append("| batch | " + " | ".join(LABELS[i] for i in impls) + " | albert-tf / best peer |")
        lines.append("|---:|" + "---|" * len(impls) + "---:|")
        for batch in batches:
            best_of = {}
            for impl in impls:
                options = [(summaries[(impl, batch, j)]["best_ms"], j) for j in jits
                           if summaries.get((impl, batch, j))]
                if options:
                    best_of[impl] = min(options)
            cells = [f"{best_of[i][0]:.0f} ms (XLA {_xla(best_of[i][1])})" if i in best_of else "n/a" for i in impls]
            peer_ms = [best_of[i][0] for i in peers if i in best_of]
            cell = f"{best_of['albert_tf'][0] / min(peer_ms):.2f}" if "albert_tf" in best_of and peer_ms else "n/a"
            lines.append(f"| {batch} | " + " | ".join(cells) + f" | {cell} |")

    lines += ["", "Loss after the last timed step (sanity only: every implementation trains on one repeated batch "
              "from its own random init; keras-hub's MLM loss is averaged over all 20 slots): " + "; ".join(
                  f"{PEER_SHORT.get(e['impl'], 'albert-tf')} b{e['batch']} XLA {_xla(e['jit'])} {e['losses'][-1]:.3f}"
                  for e in results.values() if e.get("losses")), ""]
    for entry in results.values():
        if entry.get("error"):
            lines.append(f"- {LABELS[entry['impl']]} batch {entry['batch']} XLA {_xla(entry['jit'])} failed: "
                         f"{entry['error']}")
    lines.append("")
    lines.append("Setup differences: with XLA, all three compile the whole step including the optimizer "
                 "(albert-tf on one replica fuses gradients, clipping and LAMB into one compiled function; "
                 "runs before that change compiled only its forward/backward). keras-hub uses Keras' own `Lamb` "
                 "(bias-corrected moments, decay outside the trust ratio), Model Garden its LAMB; albert-tf's is "
                 "the original ALBERT LAMB. albert-tf and Model Garden loop the steps inside one `tf.function` "
                 "call; keras-hub runs one `train_on_batch` per step (host overhead is milliseconds against "
                 "seconds-long steps). keras-hub's SOP head is a Dense(2) on its pooled output (AlbertMaskedLM "
                 "itself has no SOP head); Model Garden's is `ClassificationHead(inner_dim=768)`, which pools the "
                 "[CLS] token itself, so the encoder's own pooler dense gets no gradient there. Model Garden runs in "
                 "its own venv (TensorFlow 2.20, tf_keras = Keras 2); the others on TensorFlow 2.21 / Keras 3.")
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(path, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--batches", default="8,32")
    parser.add_argument("--steps", default="10", help="timed steps: N or per batch B:N,B:N")
    parser.add_argument("--warmup", default="3", help="untimed steps after building (the first compiles)")
    parser.add_argument("--chunk", type=int, default=1, help="steps per worker per round")
    parser.add_argument("--xla", choices=("both", "off", "on"), default="both")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: both sides under Keras' mixed_bfloat16 policy (Model Garden is fp32 only)")
    parser.add_argument("--impls", default="albert_tf,keras_hub,modelgarden")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-modelgarden" / "bin" / "python"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "pretraining_step.md"))
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--reuse-json", help="start from the results of an earlier run (its --json file)")
    parser.add_argument("--rerun", help="with --reuse-json: only run these groups, e.g. 32:off,8:on "
                                        "(their earlier results are replaced)")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report")
    parser.add_argument("--render-only", action="store_true", help="with --reuse-json: only rewrite the report")
    # Worker mode (internal).
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--jit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.warmup = int(args.warmup)
        worker_main(args)
        return

    started = time.time()
    load_before = os.getloadavg()
    batches = [int(b) for b in args.batches.split(",")]
    jits = {"both": [False, True], "off": [False], "on": [True]}[args.xla]
    results, peaks, runs, notes = {}, [], [], []
    if args.reuse_json:
        with open(args.reuse_json, encoding="utf-8") as f:
            previous = json.load(f)
        results = {(e["impl"], e["batch"], e["jit"]): e for e in previous["results"]}
        peaks, runs, notes = previous["peaks"], previous.get("runs", []), previous.get("notes", [])
    groups = [(b, j) for b in batches for j in jits]
    if args.render_only:
        if not args.reuse_json:
            raise SystemExit("--render-only needs --reuse-json")
        text = render(results, peaks, runs, args.chunk, notes + args.note)
        write_atomic(args.out, text)
        print(text)
        return
    if args.rerun:
        groups = [(int(b), {"off": False, "on": True}[x]) for b, x in (g.split(":") for g in args.rerun.split(","))]
        batches = sorted({b for b, _ in groups})
    steps = per_batch(args.steps, batches, "steps")
    warmup = per_batch(args.warmup, batches, "warmup")
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    unknown = [i for i in impls if i not in LABELS]
    if unknown:
        raise SystemExit(f"unknown --impls {unknown}; known: {sorted(LABELS)}")
    if args.precision != "fp32" and "modelgarden" in impls:
        raise SystemExit(f"--precision {args.precision}: the Model Garden peer runs in fp32 only; leave it out "
                         "of --impls")
    mixed = sorted({e.get("precision", "fp32") for e in results.values()} - {args.precision})
    if mixed and not args.render_only:
        raise SystemExit(f"--reuse-json holds {mixed} results; rerun them with the same --precision")
    if "modelgarden" in impls:
        check = subprocess.run([args.peer_python, "-c", "import official, tf_keras"], capture_output=True,
                               text=True, check=False) if os.path.exists(args.peer_python) else None
        if check is None or check.returncode:
            reason = "missing" if check is None else (check.stderr.strip().splitlines() or ["?"])[-1]
            message = (f"Model Garden not run: {args.peer_python} cannot import official/tf_keras ({reason}); "
                       "bash bench/peers/setup_modelgarden.sh creates that venv")
            log(message)
            notes.append(message)
            impls.remove("modelgarden")
    with tempfile.TemporaryDirectory(prefix="bench_step_") as tmp:
        for batch, jit in groups:
            for key in [k for k in results if k[1:] == (batch, jit)]:
                del results[key]
            data = os.path.join(tmp, f"batch_{batch}.npz")
            if not os.path.exists(data):
                np.savez(data, **synthetic_batch(batch))
            run_group(batch, jit, impls, steps[batch], warmup[batch], args.chunk, data, args.peer_python, tmp,
                      results, peaks, args.precision)
    runs.append({"command": " ".join([Path(sys.executable).name] + sys.argv), "start": time.strftime(
        "%Y-%m-%d %H:%M", time.localtime(started)), "minutes": (time.time() - started) / 60,
                 "load_before": load_before[0], "load_after": os.getloadavg()[0],
                 "groups": [f"{b}:{_xla(j)}" for b, j in groups]})
    notes += args.note
    text = render(results, peaks, runs, args.chunk, notes)
    write_atomic(args.out, text)
    if args.json:
        write_atomic(args.json, json.dumps({"peaks": peaks, "runs": runs, "notes": notes,
                                            "results": list(results.values())}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
