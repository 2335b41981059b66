"""Pretraining step (MLM + SOP, forward + backward + LAMB) on one accelerator: albert-tf vs
keras-hub vs transformers, with model FLOP utilization (MFU).

Implementations, each cell in its own worker process (so memory, compile caches and an
out-of-memory crash stay per run):
  * albert-tf: `AlbertPretrainer(AlbertEncoder(config, sequence_length=S), max_predictions_per_seq=P)`
    on Keras' JAX backend (no TensorFlow).
  * keras-hub: `AlbertBackbone` + the `AlbertMaskedLM` model's own MLM head (`masked_lm_head`,
    tied to the token embedding) + a `Dense(2)` SOP head on the pooled output, same backend.
  * transformers: `AlbertForPreTraining` on PyTorch, `torch.compile`d, bf16 autocast (or fp32),
    labels on the masked positions only (its MLM head still computes logits at every position:
    that is the peer as users run it).
Both Keras models train with one jitted JAX function: `stateless_call` + `jax.value_and_grad` +
the same keras.ops LAMB (bench/any_backend_lamb.py, ALBERT's update, global clipnorm 1.0), the
argument buffers donated. The PyTorch peer uses the same LAMB formulas written in torch.
The loss is mean MLM cross-entropy + mean SOP cross-entropy; dropout 0 (ALBERT v2); synthetic
int32 batches (P = 20 masked positions at length 128, 80 at 512).

Shapes: ALBERT-base (V 30000, E 128, H 768, L 12, A 12, I 3072) and ALBERT-large (H 1024, L 24,
A 16, I 4096), one shared layer group, sequence 128 and 512, bf16 (Keras "mixed_bfloat16": fp32
weights, bf16 compute; torch autocast bf16) and fp32 (matmuls at full fp32 precision on both
frameworks unless --fp32-matmul=tf32). Batch: a starting size per shape and length
(x --batch-scale), halved on out-of-memory until it fits; with --fill-memory then doubled while it
fits and gains at least 5% examples/s (each size is a compile: it costs time on the clock).

FLOPs per step (model FLOPs, the same count for every implementation, multiply-add = 2):
  forward per sequence = 2·S·E·H (embedding projection)
                       + L·[2·S·(4H² + 2·H·I) + 4·S²·H] (projections, FFN, attention scores and context)
                       + 2·P·(H·E + E·V) (MLM transform and tied output on the masked positions)
                       + 2·(H² + 2H) (pooler, SOP)
  step = 3 x forward x batch (backward = 2 x forward). MFU = step FLOPs / step time / peak,
  peak = --peak-tflops (default 790: the H200's bf16 dense figure measured on the machine; fp32
  cells are also quoted against it).

Order and time: cells run by priority (base/128/bf16 first, every implementation of a cell in a
row), each worker gets the time that is left; at --time-limit-s the run stops, marks what did
not run, and writes what it has. The table and json are rewritten (temporary name, then
rename) after every cell.

Usage (CPU check, tiny shapes, about a minute on 2 cores):
  KERAS_BACKEND=jax .venv/bin/python bench/accelerator_step.py --tiny --no-torch-compile \\
      --out-dir /tmp/accel_tiny

On the GPU machine (waiting for one; JAX backend, no TensorFlow there; the project is the working
tree; keras, keras-hub and keras' pure requirements come as wheels carried in .accel_wheels/,
installed without requirements because keras-hub names tensorflow-text, which it does not need
here; BENCHMARKS.md says how to fetch them):
  pip install --no-index --no-deps .accel_wheels/*.whl && \
  KERAS_BACKEND=jax XLA_PYTHON_CLIENT_MEM_FRACTION=0.9 python bench/accelerator_step.py \
      --time-limit-s 330 --out-dir $OUT
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "bench")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

SHAPES = {
    "base": dict(vocab=30000, embedding=128, hidden=768, layers=12, heads=12, intermediate=3072),
    "large": dict(vocab=30000, embedding=128, hidden=1024, layers=24, heads=16, intermediate=4096),
    "tiny": dict(vocab=128, embedding=16, hidden=32, layers=2, heads=2, intermediate=64),
}
START_BATCH = {("base", 128): 512, ("base", 512): 128, ("large", 128): 256, ("large", 512): 64}
PREDICTIONS = {128: 20, 512: 80}
PEERS = ("albert_tf", "keras_hub", "hf_torch")
LABELS = {"albert_tf": "albert-tf (Keras/JAX)", "keras_hub": "keras-hub AlbertMaskedLM + SOP (Keras/JAX)",
          "hf_torch": "transformers AlbertForPreTraining (PyTorch)"}
OOM_MARKERS = ("RESOURCE_EXHAUSTED", "out of memory", "OutOfMemory", "Out of memory")


def predictions_for(seq):
    return PREDICTIONS.get(seq, max(1, round(0.15 * seq)))


def step_flops(shape, seq, batch, predictions):
    s = SHAPES[shape]
    e, h, l, i, v = s["embedding"], s["hidden"], s["layers"], s["intermediate"], s["vocab"]
    forward = (2 * seq * e * h + l * (2 * seq * (4 * h * h + 2 * h * i) + 4 * seq * seq * h)
               + 2 * predictions * (h * e + e * v) + 2 * (h * h + 2 * h))
    return 3 * forward * batch


def synthetic_batch(shape, seq, batch, predictions, seed=0):
    rng = np.random.default_rng(seed)
    vocab = SHAPES[shape]["vocab"]
    ids = rng.integers(5, vocab, size=(batch, seq)).astype(np.int32)
    types = np.zeros((batch, seq), np.int32)
    types[:, seq // 2:] = 1
    positions = np.stack([rng.choice(np.arange(1, seq), predictions, replace=False) for _ in range(batch)])
    return {"ids": ids, "mask": np.ones((batch, seq), np.int32), "types": types,
            "positions": positions.astype(np.int32),
            "mlm_labels": rng.integers(5, vocab, size=(batch, predictions)).astype(np.int32),
            "sop_labels": rng.integers(0, 2, size=(batch,)).astype(np.int32)}


# ---------------------------------------------------------------- Keras workers (JAX backend)

def _albert_tf_model(shape, seq, predictions):
    from albert_tf.config import AlbertConfig
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer

    s = SHAPES[shape]
    config = AlbertConfig(vocab_size=s["vocab"], embedding_size=s["embedding"], hidden_size=s["hidden"],
                          num_hidden_layers=s["layers"], num_attention_heads=s["heads"],
                          intermediate_size=s["intermediate"], max_position_embeddings=max(512, seq))
    model = AlbertPretrainer(AlbertEncoder(config, sequence_length=seq), max_predictions_per_seq=predictions)

    def inputs(b):
        return {"input_word_ids": b["ids"], "input_mask": b["mask"], "input_type_ids": b["types"],
                "masked_lm_positions": b["positions"]}
    return model, inputs, ("mlm_logits", "sop_logits")


def _keras_hub_model(shape, seq, predictions):
    import keras
    import keras_hub

    s = SHAPES[shape]
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=s["vocab"], num_layers=s["layers"], num_heads=s["heads"], num_groups=1,
        num_inner_repetitions=1, embedding_dim=s["embedding"], hidden_dim=s["hidden"],
        intermediate_dim=s["intermediate"], dropout=0.0, max_sequence_length=max(512, seq))
    masked_lm = keras_hub.models.AlbertMaskedLM(backbone=backbone, preprocessor=None)
    inputs = {**backbone.input, "mask_positions": keras.Input(shape=(predictions,), dtype="int32",
                                                             name="mask_positions")}
    encoded = backbone(backbone.input)
    outputs = {"mlm": masked_lm.masked_lm_head(encoded["sequence_output"], inputs["mask_positions"]),
               "sop": keras.layers.Dense(2, name="sop_head")(encoded["pooled_output"])}
    model = keras.Model(inputs, outputs)

    def feed(b):
        return {"token_ids": b["ids"], "segment_ids": b["types"], "padding_mask": b["mask"],
                "mask_positions": b["positions"]}
    return model, feed, ("mlm", "sop")


def _keras_loss(outputs, names, batch):
    from keras import losses, ops

    mlm = ops.cast(outputs[names[0]], "float32")
    sop = ops.cast(outputs[names[1]], "float32")
    return (ops.mean(losses.sparse_categorical_crossentropy(batch["mlm_labels"], mlm, from_logits=True))
            + ops.mean(losses.sparse_categorical_crossentropy(batch["sop_labels"], sop, from_logits=True)))


def _jax_train_step(model, optimizer, names):
    import jax

    def loss_fn(trainable, non_trainable, x, labels):
        outputs, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        return _keras_loss(outputs, names, labels), non_trainable

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(trainable, non_trainable, optimizer_state, x, labels):
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, labels)
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, grads, trainable)
        return loss, trainable, non_trainable, optimizer_state

    return jax.jit(step, donate_argnums=(0, 1, 2))


def run_keras(peer, shape, seq, batch, dtype, steps, warmup, fp32_matmul):
    import keras

    from any_backend_lamb import AnyBackendLamb

    backend = keras.backend.backend()
    if dtype == "bf16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    if backend == "jax" and dtype == "fp32":
        import jax
        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if fp32_matmul == "tf32" else "highest")
    predictions = predictions_for(seq)
    build = _albert_tf_model if peer == "albert_tf" else _keras_hub_model
    t0 = time.perf_counter()
    model, feed, names = build(shape, seq, predictions)
    optimizer = AnyBackendLamb(learning_rate=1e-4, weight_decay_rate=0.01, global_clipnorm=1.0)
    data = synthetic_batch(shape, seq, batch, predictions)
    x = feed(data)
    labels = {"mlm_labels": data["mlm_labels"], "sop_labels": data["sop_labels"]}
    params = int(sum(np.prod(v.shape) for v in model.trainable_variables))

    if backend == "jax":
        import jax

        optimizer.build(model.trainable_variables)
        state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
                 [v.value for v in optimizer.variables])
        x, labels = jax.device_put(x), jax.device_put(labels)
        step = _jax_train_step(model, optimizer, names)

        def run(n):
            nonlocal state
            loss = None
            for _ in range(n):
                loss, *new_state = step(*state, x, labels)
                state = tuple(new_state)
            return float(loss)
        device = jax.devices()[0]
        device_name = f"{device.platform}: {getattr(device, 'device_kind', str(device))}"
    else:  # the other Keras backends: Keras' own compiled train step (CPU checks)
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=optimizer, loss={names[0]: cross_entropy, names[1]: cross_entropy})
        y = {names[0]: labels["mlm_labels"], names[1]: labels["sop_labels"]}

        def run(n):
            logs = None
            for _ in range(n):
                logs = model.train_on_batch(x, y, return_dict=True)
            return float(logs["loss"])
        device_name = f"{backend}: {platform.processor() or platform.machine()}"
    build_s = time.perf_counter() - t0
    versions = {"keras": keras.__version__, "backend": backend}
    if peer == "keras_hub":
        import keras_hub
        versions["keras_hub"] = keras_hub.__version__
    if backend == "jax":
        import jax
        versions["jax"] = jax.__version__
    return _time(run, steps, warmup, build_s, params, device_name, versions)


# ---------------------------------------------------------------- PyTorch worker

def _torch_lamb(params, lr=1e-4, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, eps=1e-6, clipnorm=1.0):
    """The LAMB of bench/any_backend_lamb.py in torch: (name, parameter) pairs → step function."""
    import torch

    state = [(p, torch.zeros_like(p), torch.zeros_like(p),
              not any(k in n for k in ("LayerNorm", "layer_norm", "bias"))) for n, p in params]

    @torch.no_grad()
    def step():
        grads = [p.grad for p, *_ in state]
        norm = torch.sqrt(sum(torch.sum(g.float() ** 2) for g in grads))
        scale = clipnorm * torch.minimum(1.0 / norm, torch.tensor(1.0 / clipnorm, device=norm.device))
        for (p, m, v, adapt), g in zip(state, grads):
            g = g * scale
            m.mul_(beta_1).add_(g, alpha=1.0 - beta_1)
            v.mul_(beta_2).addcmul_(g, g, value=1.0 - beta_2)
            update = m / (torch.sqrt(v) + eps)
            if adapt:
                update = update + weight_decay_rate * p
                w_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
                ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm.clamp_min(1e-30), 1.0)
                update = update * ratio
            p.sub_(lr * update)
            p.grad = None
    return step


def run_torch(shape, seq, batch, dtype, steps, warmup, compile_model, fp32_matmul):
    import torch
    import transformers
    from transformers import AlbertConfig as HfAlbertConfig
    from transformers import AlbertForPreTraining

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = fp32_matmul == "tf32"
    torch.backends.cudnn.allow_tf32 = fp32_matmul == "tf32"
    s = SHAPES[shape]
    predictions = predictions_for(seq)
    t0 = time.perf_counter()
    config = HfAlbertConfig(vocab_size=s["vocab"], embedding_size=s["embedding"], hidden_size=s["hidden"],
                            num_hidden_layers=s["layers"], num_attention_heads=s["heads"],
                            intermediate_size=s["intermediate"], hidden_act="gelu_new", hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
                            max_position_embeddings=max(512, seq))
    model = AlbertForPreTraining(config).to(device).train()
    params = int(sum(p.numel() for p in model.parameters() if p.requires_grad))
    optimizer_step = _torch_lamb(list(model.named_parameters()))
    data = synthetic_batch(shape, seq, batch, predictions)
    labels = np.full((batch, seq), -100, np.int64)
    np.put_along_axis(labels, data["positions"].astype(np.int64), data["mlm_labels"].astype(np.int64), axis=1)
    feed = {"input_ids": torch.from_numpy(data["ids"].astype(np.int64)).to(device),
            "attention_mask": torch.from_numpy(data["mask"].astype(np.int64)).to(device),
            "token_type_ids": torch.from_numpy(data["types"].astype(np.int64)).to(device),
            "labels": torch.from_numpy(labels).to(device),
            "sentence_order_label": torch.from_numpy(data["sop_labels"].astype(np.int64)).to(device)}
    forward = torch.compile(model) if compile_model else model

    def run(n):
        loss = None
        for _ in range(n):
            with torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == "bf16"):
                loss = forward(**feed).loss
            loss.backward()
            optimizer_step()
        if device == "cuda":
            torch.cuda.synchronize()
        return float(loss)
    build_s = time.perf_counter() - t0
    device_name = f"cuda: {torch.cuda.get_device_name(0)}" if device == "cuda" else \
        f"cpu: {platform.processor() or platform.machine()}"
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "torch_compile": bool(compile_model)}
    return _time(run, steps, warmup, build_s, params, device_name, versions)


def _time(run, steps, warmup, build_s, params, device_name, versions):
    t0 = time.perf_counter()
    first_loss = run(warmup)  # compiles
    compile_s = time.perf_counter() - t0
    times = []
    loss = first_loss
    for _ in range(steps):
        t = time.perf_counter()
        loss = run(1)  # ends by reading the loss: the step is finished on the device
        times.append(time.perf_counter() - t)
    return {"step_s_median": float(np.median(times)), "step_s_min": float(np.min(times)), "steps": steps,
            "compile_s": compile_s, "build_s": build_s, "params": params, "device": device_name,
            "versions": versions, "first_loss": first_loss, "last_loss": loss}


# ---------------------------------------------------------------- the parent: cells, limits, report

def _worker_main(args):
    try:
        if args.worker == "hf_torch":
            result = run_torch(args.shape, args.seq, args.batch, args.dtype, args.steps, args.warmup,
                               args.torch_compile, args.fp32_matmul)
        else:
            result = run_keras(args.worker, args.shape, args.seq, args.batch, args.dtype, args.steps, args.warmup,
                               args.fp32_matmul)
        result["status"] = "ok"
    except Exception as err:  # pylint: disable=broad-except
        text = f"{type(err).__name__}: {err}"
        result = {"status": "oom" if any(m in text for m in OOM_MARKERS) else "error", "error": text[:2000]}
    _write_atomic(Path(args.result_file), json.dumps(result))


def _write_atomic(path, text):
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(path, text)


def cells(args):
    if args.tiny:
        return [("tiny", seq, dtype) for dtype in args.dtypes for seq in (16,)]
    order = []
    for dtype in args.dtypes:
        for shape in args.shapes:
            for seq in args.seqs:
                order.append((shape, seq, dtype))
    return order


def run_worker(args, peer, shape, seq, dtype, batch, deadline):
    """One worker process for one batch size: its result, or why there is none."""
    left = deadline - time.time()
    if left < 20:
        return {"status": "skipped", "error": "time limit"}
    result_file = Path(args.out_dir) / f".cell-{peer}-{shape}-{seq}-{dtype}-{batch}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", peer, "--shape", shape,
               "--seq", str(seq), "--dtype", dtype, "--batch", str(batch), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--fp32-matmul", args.fp32_matmul, "--result-file", str(result_file)]
    if not args.torch_compile:
        command.append("--no-torch-compile")
    env = dict(os.environ)
    if peer != "hf_torch":
        env.setdefault("KERAS_BACKEND", "jax")
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=left - 5, check=False)
        result = json.loads(result_file.read_text()) if result_file.exists() else {
            "status": "error", "error": f"worker exited {done.returncode}: {done.stderr[-1500:]}"}
    except subprocess.TimeoutExpired:
        result = {"status": "skipped", "error": "time limit (killed while running)"}
    if result_file.exists():
        result_file.unlink()
    result["batch"] = batch
    return result


def run_cell(args, peer, shape, seq, dtype, deadline):
    """The starting batch, halved while it does not fit; with --fill-memory, then doubled while it
    fits, stays under --max-batch and gains at least 5% examples/s. The fastest run is kept."""
    batch = 4 if args.tiny else max(1, int(START_BATCH.get((shape, seq), 32) * args.batch_scale))
    attempts, best = [], None
    while True:
        result = run_worker(args, peer, shape, seq, dtype, batch, deadline)
        attempts.append({"batch": batch, "status": result["status"]})
        if result["status"] == "oom" and batch > 1 and best is None:
            batch //= 2
            continue
        if result["status"] != "ok":
            break
        speed = result["batch"] / result["step_s_median"]
        gained = best is None or speed > 1.05 * best["batch"] / best["step_s_median"]
        if gained:
            best = result
        if not (args.fill_memory and gained and 2 * batch <= args.max_batch):
            break
        batch *= 2
    chosen = best or result
    chosen["attempts"] = attempts
    return chosen


def summarize(record, args):
    if record.get("status") != "ok":
        return record
    predictions = predictions_for(record["seq"])
    flops = step_flops(record["shape"], record["seq"], record["batch"], predictions)
    step = record["step_s_median"]
    record.update(step_flops=flops, examples_per_s=record["batch"] / step, tflops=flops / step / 1e12,
                  mfu=flops / step / (args.peak_tflops * 1e12))
    return record


def render(records, args, started):
    devices = sorted({r["device"] for r in records if r.get("device")})
    lines = ["# Pretraining step on one accelerator (MLM + SOP, forward + backward + LAMB)", "",
             f"Device: {', '.join(devices) or 'unknown'}; peak for MFU: {args.peak_tflops:g} TFLOP/s "
             f"(--peak-tflops); fp32 matmuls: {args.fp32_matmul}; median of {args.steps} timed steps after "
             f"{args.warmup} warm-up (compile) steps; run took {time.time() - started:.0f} s of "
             f"--time-limit-s {args.time_limit_s:g}.", "",
             "| implementation | shape | seq | dtype | batch | step ms | examples/s | TFLOP/s | MFU | compile s "
             "| note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        head = f"| {LABELS[r['peer']]} | {r['shape']} | {r['seq']} | {r['dtype']} | {r.get('batch', '')} |"
        if r.get("status") == "ok":
            lines.append(f"{head} {1000 * r['step_s_median']:.1f} | {r['examples_per_s']:.1f} | "
                         f"{r['tflops']:.1f} | {100 * r['mfu']:.1f}% | {r['compile_s']:.1f} | |")
        else:
            note = (r.get("error") or "").splitlines()[0][:120].replace("|", "/") if r.get("error") else ""
            lines.append(f"{head} | | | | | {r.get('status')}: {note} |")
    ratios = []
    for r in records:
        if r["peer"] != "albert_tf" or r.get("status") != "ok":
            continue
        for peer in ("keras_hub", "hf_torch"):
            other = [o for o in records if o["peer"] == peer and o.get("status") == "ok"
                     and (o["shape"], o["seq"], o["dtype"]) == (r["shape"], r["seq"], r["dtype"])]
            if other:
                ratios.append(f"| {r['shape']} | {r['seq']} | {r['dtype']} | {LABELS[peer]} | "
                              f"{r['examples_per_s'] / other[0]['examples_per_s']:.2f}x |")
    if ratios:
        lines += ["", "albert-tf examples/s relative to each peer in the same run:", "",
                  "| shape | seq | dtype | peer | albert-tf / peer |", "|---|---|---|---|---|", *ratios]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="bench/results/accelerator_step")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma list of " + ", ".join(PEERS))
    parser.add_argument("--shapes", default="base,large")
    parser.add_argument("--seqs", default="128,512")
    parser.add_argument("--dtypes", default="bf16,fp32")
    parser.add_argument("--batch-scale", type=float, default=1.0, help="x the starting batch of each cell")
    parser.add_argument("--fill-memory", action="store_true",
                        help="after the starting batch fits, double it while it fits and gains 5%% examples/s")
    parser.add_argument("--max-batch", type=int, default=8192, help="upper bound for --fill-memory")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per cell")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (they compile)")
    parser.add_argument("--peak-tflops", type=float, default=790.0, help="device peak for MFU (H200 bf16 dense)")
    parser.add_argument("--time-limit-s", type=float, default=330.0,
                        help="the whole run stops here (leave room for a rerun)")
    parser.add_argument("--fp32-matmul", choices=("highest", "tf32"), default="highest")
    parser.add_argument("--no-torch-compile", dest="torch_compile", action="store_false")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes, seq 16, batch 4: a CPU check")
    # worker-only flags
    parser.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--seq", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker_main(args)

    started = time.time()
    deadline = started + args.time_limit_s
    args.peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)}; known: {', '.join(PEERS)}")
    args.shapes = [s for s in args.shapes.split(",") if s]
    args.seqs = [int(s) for s in args.seqs.split(",") if s]
    args.dtypes = [d for d in args.dtypes.split(",") if d]
    if args.tiny:
        args.steps, args.warmup = min(args.steps, 2), 1
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for shape, seq, dtype in cells(args):
        for peer in args.peers:
            record = {"peer": peer, "shape": shape, "seq": seq, "dtype": dtype}
            record.update(run_cell(args, peer, shape, seq, dtype, deadline))
            records.append(summarize(record, args))
            print(json.dumps({k: record.get(k) for k in ("peer", "shape", "seq", "dtype", "batch", "status",
                                                          "step_s_median", "examples_per_s", "mfu", "error")}),
                  flush=True)
            _write_atomic(out_dir / "accelerator_step.json", json.dumps(
                {"settings": {k: v for k, v in vars(args).items() if not k.startswith("_")}, "records": records},
                indent=1, default=str))
            _write_atomic(out_dir / "accelerator_step.md", render(records, args, started))
    print((out_dir / "accelerator_step.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
