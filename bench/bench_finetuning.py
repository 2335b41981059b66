"""Fine-tuning throughput on CPU: albert-tf vs Hugging Face PyTorch in its best configuration, interleaved.

Workload (identical for every implementation): the first `--examples` (4000) SST-2 training
sentences, max sequence length 128, batch 32, ALBERT-base shape (vocab 30000, E 128, H 768, 12
layers sharing one block, 12 heads, I 3072, dropout 0 in the encoder, 0.1 before the classifier),
random initialization, 2-class head, AdamW lr 2e-5 with weight decay 0.01, gradients clipped to a
global norm of 1.0, one training step per batch.

The batches are made once, before any worker starts, and every implementation trains on exactly
the same tensors:
  * "buckets": albert-tf's own training batches, taken from `finetuning.datasets.train_dataset` over
    the `run_classifier.py` feature cache (shuffled, grouped into the length buckets of
    `datasets.BUCKET_LENGTHS`, each batch padded to its bucket's length);
  * "dynamic": the same token ids in a random order, each batch padded to its longest row (Hugging
    Face's default: `RandomSampler` + `DataCollatorWithPadding`).
albert-tf's SentencePiece ids are the ids HF's slow `AlbertTokenizer` gives on these sentences
(bench/bench_tokenizers.py), so both read the same tokens.

Implementations (`--impls`), each a resident worker process (bench/interleave.py):
  * albert_tf: `finetuning.modeling.build_model` + `loss_for`, `create_optimizer("adamw")`, compiled as
    `run_classifier.py` compiles it (XLA per --xla), one `train_on_batch` per step, fp32;
  * albert_tf_xla: the same with `--jit_compile` (XLA, one program per bucket width, compiled in the warm-up),
    whatever --xla says: next to albert_tf, it measures what XLA gives fine-tuning in fp32;
  * albert_tf_bf16: the same under `--mixed_precision=bf16` (`runtime.configure_runtime`: Keras
    `mixed_bfloat16`, LayerNorm/softmax/logits/loss in float32);
  * hf_buckets, hf_buckets_bf16: `AlbertForSequenceClassification` (transformers' default SDPA attention) on the "buckets"
    batches, `torch.optim.AdamW`, all CPU threads; bf16 = forward under
    `torch.autocast("cpu", dtype=torch.bfloat16)`, backward outside it (PyTorch's recipe);
  * hf_dynamic: the same on the "dynamic" batches, fp32 (HF's default configuration);
  * keras_hub (not in the default set, ~10x slower): `AlbertTextClassifier` with its preprocessor
    (in-graph SentencePiece, static padding to 128) on the raw texts of the "dynamic" batches.

Timing: every worker builds and warms up in turn (one batch of each width it will see, so every
shape is traced before timing), then each round hands the same step number to every worker in turn
(order rotated per round), so background load hits all alike. The timed steps are `--steps` batches
spread over the epoch (a low-discrepancy order, so any prefix is spread too); `--time_limit` stops
the rounds early. Examples/s = examples trained in the timed steps / the sum of their step times.

Usage:
  .venv/bin/python bench/bench_finetuning.py [--examples 4000] [--steps N] [--time_limit SECONDS]
      [--impls albert_tf,albert_tf_bf16,hf_buckets,hf_buckets_bf16,hf_dynamic,albert_tf_xla] [--xla]
      [--out bench/results/finetuning.md]
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
BATCH, SEQ, LR = 32, 128, 2e-5
# name: (implementation, batches, precision, label)
IMPLS = {
    "albert_tf": ("albert_tf", "buckets", "fp32", "albert-tf (`run_classifier.py` model, loss, AdamW), its buckets"),
    "albert_tf_xla": ("albert_tf", "buckets", "fp32", "albert-tf, `--jit_compile` (XLA), its buckets"),
    "albert_tf_bf16": ("albert_tf", "buckets", "bf16", "albert-tf, `--mixed_precision=bf16`, its buckets"),
    "hf_buckets": ("hf", "buckets", "fp32", "HF AlbertForSequenceClassification, same buckets"),
    "hf_buckets_bf16": ("hf", "buckets", "bf16", "HF AlbertForSequenceClassification, same buckets, autocast bf16"),
    "hf_dynamic": ("hf", "dynamic", "fp32", "HF AlbertForSequenceClassification, dynamic padding (default)"),
    "keras_hub": ("keras_hub", "dynamic", "fp32", "keras-hub AlbertTextClassifier + preprocessor (static 128)"),
}
DEFAULT_IMPLS = "albert_tf,albert_tf_bf16,hf_buckets,hf_buckets_bf16,hf_dynamic"
ALWAYS_XLA = {"albert_tf_xla"}
# ALBERT-base, and a tiny shape for checking the script itself (`--tiny`; its timings mean nothing).
SHAPES = {"base": dict(embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                       intermediate_size=3072),
          "tiny": dict(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64)}


def spm_model():
    return os.path.join(REALDATA, "assets", "albert_en_spm", "30k-clean.model")


spread_order = interleave.spread_order


# ------------------------------------------------------------------ the batches (orchestrator)

def _rows(ids, mask, types, labels):
    return {"ids": np.asarray(ids, np.int32), "mask": np.asarray(mask, np.int32),
            "types": np.asarray(types, np.int32), "labels": np.asarray(labels, np.int32)}


def bucket_batches(meta, steps, seed=0):
    """albert-tf's first `steps` training batches, exactly as `run_classifier.py` would train on them."""
    from albert_tf.finetuning import datasets  # pylint: disable=import-outside-toplevel
    from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel
    batches = []
    for inputs, label, _ in datasets.train_dataset(meta, BATCH, SEQ, seed=seed).take(steps):
        batches.append(_rows(inputs[INPUT_WORD_IDS], inputs[INPUT_MASK], inputs[INPUT_TYPE_IDS], label))
    return batches


def dynamic_batches(packed, labels, steps, seed=0):
    """The same rows in a random order, `steps` batches each cut to its longest row (HF's default collator).
    Returns (batches, the example indexes of each batch)."""
    order = np.random.RandomState(seed).permutation(len(labels))
    batches, members = [], []
    for step in range(steps):
        index = order[step * BATCH:(step + 1) * BATCH]
        width = int(packed.input_mask[index].sum(axis=1).max())
        batches.append(_rows(packed.input_ids[index, :width], packed.input_mask[index, :width],
                             packed.segment_ids[index, :width], np.asarray(labels)[index]))
        members.append(index.tolist())
    return batches, members


def first_of_each_width(batches, order):
    """Step numbers, in `order`, of the first batch of every distinct width: the warm-up steps."""
    return interleave.first_of_each_width([batch["ids"].shape[1] for batch in batches], order)


def make_plan(args, directory):
    """Writes the batches (`plan.npz`) and what the workers need to know (`plan.json`); returns the json."""
    from albert_tf.finetuning import feature_cache, get_task  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import tokenizer_from_assets  # pylint: disable=import-outside-toplevel
    task = get_task("SST-2")
    train = os.path.join(REALDATA, "glue", "SST-2", "train.tsv")
    examples = task.read_split(os.path.join(REALDATA, "glue", "SST-2"), "train", True)[:args.examples]
    texts, labels = [e.text_a for e in examples], [int(e.label) for e in examples]
    tokenizer = tokenizer_from_assets(spm_model())
    epoch = len(examples) // BATCH
    started = time.perf_counter()
    meta = feature_cache.cached_features(os.path.join(directory, "cache"), task, "train", train, examples,
                                         tokenizer, SEQ, labelled=True)
    tokenize_s = time.perf_counter() - started
    plans = {"buckets": bucket_batches(meta, epoch)}
    plans["dynamic"], members = dynamic_batches(tokenizer.pack_batch(texts, max_seq_length=SEQ), labels, epoch)
    order = spread_order(epoch)
    timed = order[:args.steps] if args.steps else order
    arrays = {f"{plan}_{step}_{field}": value for plan, batches in plans.items()
              for step, batch in enumerate(batches) for field, value in batch.items()}
    np.savez(os.path.join(directory, "plan.npz"), **arrays)
    info = {"epoch_steps": epoch, "timed_steps": timed, "tokenize_s": tokenize_s,
            # Keras traces (and XLA compiles) once per bucket width: warm up each; PyTorch runs eagerly, so
            # dynamic padding (a width per batch) warms up on a few batches.
            "warmup": {"buckets": first_of_each_width(plans["buckets"], order), "dynamic": order[:3]},
            "dynamic_texts": [[texts[i] for i in index] for index in members],
            "tokens": {plan: {"padded": [int(b["ids"].size) for b in batches],
                              "real": [int(b["mask"].sum()) for b in batches],
                              "width": [int(b["ids"].shape[1]) for b in batches]}
                       for plan, batches in plans.items()}}
    with open(os.path.join(directory, "plan.json"), "w", encoding="utf-8") as f:
        json.dump(info, f)
    return info


# ------------------------------------------------------------------ workers (resident processes)

class AlbertTfStep:
    def __init__(self, precision, xla, shape):
        import dataclasses  # pylint: disable=import-outside-toplevel

        import keras  # pylint: disable=import-outside-toplevel
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from albert_tf.config import preset  # pylint: disable=import-outside-toplevel
        from albert_tf.finetuning import get_task, modeling  # pylint: disable=import-outside-toplevel
        from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel
        from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
        from albert_tf.training import runtime  # pylint: disable=import-outside-toplevel
        self.names = (INPUT_WORD_IDS, INPUT_MASK, INPUT_TYPE_IDS)
        task = get_task("SST-2")
        runtime.configure_runtime(0, {"fp32": "off", "bf16": "bf16"}[precision])
        self.model, _ = modeling.build_model(task, dataclasses.replace(preset("albert_base_v2"), **shape), SEQ,
                                             dropout_rate=0.1)
        self.model.compile(optimizer=create_optimizer("adamw", LR, 10000, 0), loss=modeling.loss_for(task),
                           jit_compile=xla)
        self.versions = {"tensorflow": tf.__version__, "keras": keras.__version__}

    def step(self, batch):
        x = dict(zip(self.names, (batch["ids"], batch["mask"], batch["types"])))
        logs = self.model.train_on_batch(x, batch["labels"], sample_weight=np.ones(len(batch["labels"]), np.float32),
                                         return_dict=True)
        return float(logs["loss"])


class HfStep:
    def __init__(self, precision, xla, shape, threads=0):
        del xla
        import torch  # pylint: disable=import-outside-toplevel
        import transformers  # pylint: disable=import-outside-toplevel
        self.torch = torch
        torch.manual_seed(0)
        torch.set_num_threads(threads or machine_info.cpu_count())
        config = transformers.AlbertConfig(
            vocab_size=30000, **shape, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            classifier_dropout_prob=0.1, num_labels=2)
        self.model = transformers.AlbertForSequenceClassification(config).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR, weight_decay=0.01)
        self.bf16 = precision == "bf16"
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                         "attention": self.model.config._attn_implementation,
                         "threads": torch.get_num_threads()}  # pylint: disable=protected-access

    def step(self, batch):
        torch = self.torch
        inputs = {"input_ids": torch.from_numpy(batch["ids"]).long(),
                  "attention_mask": torch.from_numpy(batch["mask"]).long(),
                  "token_type_ids": torch.from_numpy(batch["types"]).long(),
                  "labels": torch.from_numpy(batch["labels"]).long()}
        self.optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return float(loss)


class KerasHubStep:
    def __init__(self, precision, xla, shape, texts):
        del precision
        import keras  # pylint: disable=import-outside-toplevel
        import keras_hub  # pylint: disable=import-outside-toplevel
        keras.utils.set_random_seed(0)
        tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_model())
        preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer, sequence_length=SEQ)
        backbone = keras_hub.models.AlbertBackbone(
            vocabulary_size=30000, num_layers=shape["num_hidden_layers"], num_heads=shape["num_attention_heads"],
            num_groups=1, num_inner_repetitions=1, embedding_dim=shape["embedding_size"],
            hidden_dim=shape["hidden_size"], intermediate_dim=shape["intermediate_size"], dropout=0.0,
            max_sequence_length=512)
        self.model = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor,
                                                           dropout=0.1)
        self.model.compile(optimizer=keras.optimizers.AdamW(LR),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=xla)
        self.texts = texts
        self.versions = {"keras_hub": keras_hub.__version__, "keras": keras.__version__}

    def step(self, batch):
        texts = self.texts[batch["step"]]
        logs = self.model.train_on_batch(np.asarray(texts), batch["labels"], return_dict=True)
        return float(logs["loss"])


def worker_main(args):
    kind, plan, precision, _ = IMPLS[args.worker]
    directory = os.path.dirname(args.plan)
    with open(os.path.join(directory, "plan.json"), encoding="utf-8") as f:
        info = json.load(f)
    arrays = np.load(args.plan)

    def batch(step):
        rows = {field: arrays[f"{plan}_{step}_{field}"] for field in ("ids", "mask", "types", "labels")}
        return {**rows, "step": step}

    shape = SHAPES["tiny" if args.tiny else "base"]
    started = time.perf_counter()
    if kind == "albert_tf":
        bench = AlbertTfStep(precision, args.xla or args.worker in ALWAYS_XLA, shape)
    elif kind == "hf":
        bench = HfStep(precision, args.xla, shape, args.torch_threads)
    else:
        bench = KerasHubStep(precision, args.xla, shape, info["dynamic_texts"])
    interleave.serve_training_steps(bench, batch, info["warmup"][plan], time.perf_counter() - started)


# ------------------------------------------------------------------ report

def summarize(name, entry, info):
    plan = IMPLS[name][1]
    steps = entry["steps"]
    if not steps:
        return None
    seconds = sum(entry["seconds"])
    tokens = info["tokens"][plan]
    return {"steps": len(steps), "examples": BATCH * len(steps), "seconds": seconds,
            "rate": BATCH * len(steps) / seconds, "median_s": statistics.median(entry["seconds"]),
            "cpu_s": statistics.median(entry["cpu_s"]),
            "padding": sum(tokens["padded"][s] for s in steps) / sum(tokens["real"][s] for s in steps)}


def headline_ratios(summaries, xla=False):
    """[(label, ratio, target)]: albert-tf against the best-configured peer at its precision, against HF's
    default, and bf16 against its own fp32."""
    rows = []
    for precision in ("fp32", "bf16"):
        ours = summaries.get("albert_tf" if precision == "fp32" else "albert_tf_bf16")
        peers = {n: s for n, s in summaries.items() if s and IMPLS[n][0] != "albert_tf" and IMPLS[n][2] == precision}
        if ours and peers:
            best = max(peers, key=lambda n: peers[n]["rate"])
            rows.append((f"albert-tf {precision} / best-configured peer at {precision} ({best})",
                         ours["rate"] / peers[best]["rate"], 1.3))
    if summaries.get("albert_tf") and summaries.get("hf_dynamic"):
        rows.append(("albert-tf fp32 / HF default dynamic padding fp32 (hf_dynamic)",
                     summaries["albert_tf"]["rate"] / summaries["hf_dynamic"]["rate"], 2.0))
    if summaries.get("albert_tf") and summaries.get("albert_tf_xla"):
        rows.append(("albert-tf fp32 with XLA / albert-tf fp32" + (" (both XLA: --xla)" if xla else " without XLA"),
                     summaries["albert_tf_xla"]["rate"] / summaries["albert_tf"]["rate"], None))
    if summaries.get("albert_tf") and summaries.get("albert_tf_bf16"):
        rows.append(("albert-tf bf16 / albert-tf fp32", summaries["albert_tf_bf16"]["rate"] /
                     summaries["albert_tf"]["rate"], None))
    return rows


def render(results, ready, finals, info, args, rounds):
    lines = ["# Fine-tuning throughput (CPU), interleaved", "",
             f"Workload: {args.examples} SST-2 training sentences ({info['epoch_steps']} batches of {BATCH}), seq {SEQ}, "
             f"ALBERT-{'TINY (a check of the script, timings mean nothing)' if args.tiny else 'base'} shape, random init, AdamW 2e-5, clip 1.0; XLA {'on' if args.xla else 'off'}{' (albert_tf_xla: on)' if 'albert_tf_xla' in results else ''}. Timed: "
             f"{rounds} rounds of one step per implementation, the steps spread over the epoch "
             f"(low-discrepancy order), each step handed to every implementation in turn, order rotated per round. "
             "Command: `.venv/bin/python bench/bench_finetuning.py " + " ".join(sys.argv[1:]) + "`.", "",
             f"Machine: {machine_info.describe()}. Python {platform.python_version()}; "
             + "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items())
                         for n, r in ready.items() if "versions" in r and n in ("albert_tf", "hf_buckets")) + ". "
             f"1-min load average at start -> end: {args.load_start:.1f} -> {os.getloadavg()[0]:.1f}; wall time "
             f"{(time.time() - args.started_at) / 60:.1f} min.", ""]
    summaries = {name: summarize(name, entry, info) for name, entry in results.items()}
    ratios = headline_ratios(summaries, args.xla)
    if ratios:
        lines += ["Headline (examples/s ratios over the same steps, same precision on both sides unless stated):", ""]
        for label, ratio, target in ratios:
            lines.append(f"- {label}: **{ratio:.2f}x**{interleave.verdict(ratio, target)}")
        lines.append("")
    lines += ["| implementation | precision | batches | steps | examples/s | median s/step | CPU s/step "
              "| padded / real tokens | peak RSS MiB | vs albert-tf same precision |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, entry in results.items():
        _, plan, precision, label = IMPLS[name]
        s = summaries[name]
        if s is None:
            error = (entry.get("error") or ready.get(name, {}).get("error") or "no timing")[:200].replace("|", "/")
            lines.append(f"| {label} | {precision} | {plan} | - | failed: {error} | | | | | |")
            continue
        ours = summaries.get("albert_tf" if precision == "fp32" else "albert_tf_bf16")
        vs = f"{ours['rate'] / s['rate']:.2f}x" if ours and IMPLS[name][0] != "albert_tf" else ""
        rss = finals.get(name, {}).get("peak_rss_mib")
        lines.append(f"| {label} | {precision} | {plan} | {s['steps']} | {s['rate']:.2f} | {s['median_s']:.2f} | "
                     f"{s['cpu_s']:.2f} | {s['padding']:.2f} | {'?' if rss is None else f'{rss:.0f}'} | {vs} |")
    widths = info["tokens"]["buckets"]["width"]
    lines += ["", f"albert-tf tokenization into the feature cache (once, before training, not timed): "
                  f"{info['tokenize_s']:.1f}s. Bucket widths over the epoch: " +
              ", ".join(f"{w}: {widths.count(w)}" for w in sorted(set(widths))) + ". Warm-up before timing: one step "
              "of each width (traces and, with XLA, compiles); first warm-up step " +
              ", ".join(f"{n} {r['warmup_s'][0]:.1f}s" for n, r in ready.items() if r.get("warmup_s")) + ".",
              "", "Each step's time is taken inside the worker around one training step on ready tensors "
              "(numpy arrays in, loss out: albert-tf `train_on_batch`, which waits for the step; HF forward, "
              "backward, clip, AdamW step). Input pipelines are not timed for any implementation."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ orchestration

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=0,
                        help="timed steps per implementation, spread over the epoch (0: the whole epoch)")
    parser.add_argument("--impls", default=DEFAULT_IMPLS, help=f"comma-separated, of {', '.join(IMPLS)}")
    parser.add_argument("--xla", action="store_true", help="jit_compile for the Keras implementations")
    parser.add_argument("--torch_threads", type=int, default=0,
                        help="PyTorch intra-op threads (0: every usable CPU)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model shape, to check the script (timings "
                        "mean nothing)")
    parser.add_argument("--time_limit", type=float, default=0,
                        help="seconds after which no new round starts (0: no limit); rounds are never cut")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "finetuning.md"))
    parser.add_argument("--worker", choices=sorted(IMPLS), help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
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
    with tempfile.TemporaryDirectory(prefix="bench-finetuning-") as scratch:
        interleave.log("making the batches (feature cache, albert-tf buckets, dynamic padding)")
        info = make_plan(args, scratch)
        plan = os.path.join(scratch, "plan.npz")
        commands = {name: [sys.executable, os.path.abspath(__file__), "--worker", name, "--plan", plan]
                    + (["--xla"] if args.xla else []) + (["--tiny"] if args.tiny else [])
                    + ["--torch_threads", str(args.torch_threads)] for name in impls}
        workers, ready = interleave.start_in_turn(commands, scratch, cwd=REPO)
        results = {name: {"steps": [], "seconds": [], "cpu_s": [], "losses": []} for name in impls}

        def record(name, round_index, reply):
            entry = results[name]
            if "error" in reply:
                entry["error"] = reply["error"]
                return
            entry["steps"].append(reply["step"])
            entry["seconds"].append(reply["seconds"])
            entry["cpu_s"].append(reply["cpu_s"])
            entry["losses"].append(reply["loss"])
            interleave.log(f"  step {reply['step']} {name}: {reply['seconds']:.2f}s")

        deadline = time.time() + args.time_limit if args.time_limit else None
        rounds = interleave.run_rounds(workers, info["timed_steps"], record, deadline=deadline)
        finals = interleave.close_all(workers)
    report = render(results, ready, finals, info, args, rounds)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
