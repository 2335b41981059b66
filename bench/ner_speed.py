"""NER speed on CPU against Hugging Face, interleaved: fine-tuning examples/s and raw-text serving sentences/s.

Fine-tuning workload (identical for every implementation): the first `--sentences` (4000) CoNLL-2003
train sentences cut into run_ner.py's own windows (`NerFamily.prepare`: the English SentencePiece
pieces, tag on each word's first piece, overlapping windows for a sentence over the window),
max sequence length 128, batch 32, ALBERT-base shape, random initialization, dropout 0 in the encoder
and 0.1 before the tagging layer, AdamW lr 5e-5, weight decay 0.01, gradients clipped to a global norm
of 1.0. The batches are made once, before any worker starts:
  * "buckets": albert-tf's own training batches, taken from `NerFamily.train_dataset` (run_ner.py's
    input pipeline: shuffled, grouped into length buckets, each batch padded to its bucket's length);
  * "dynamic": the same windows in a random order, each batch padded to its longest window (Hugging
    Face's default: `RandomSampler` + `DataCollatorForTokenClassification`).

Training implementations, each a resident worker process (bench/interleave.py):
  * albert_tf: `AlbertTokenClassifier` + `masked_token_cross_entropy` + `create_optimizer("adamw")`,
    compiled as run_ner.py compiles it (XLA per --xla), one `train_on_batch` per step, fp32;
  * hf_dynamic: `transformers.AlbertForTokenClassification` on the "dynamic" batches, `torch.optim.AdamW`,
    all CPU threads (HF's default configuration);
  * hf_buckets: the same on albert-tf's "buckets" batches (its best configuration on this data).

Serving workload: the first `--serve_sentences` CoNLL-2003 dev sentences as raw strings (words joined by
spaces), in batches of `--batch`, strings in, entities out, random weights of the same shape:
  * albert_tf: the raw-text NER SavedModel (`export_ner`), `tf.saved_model.load`,
    `serving_default(text=...)` (in-graph tokenizer, word and entity grouping in the graph; each batch cut
    to its longest row);
  * hf_pipeline: `pipeline("token-classification", aggregation_strategy="simple", batch_size=...)` with
    `AlbertTokenizerFast` from the same SentencePiece model, under `torch.inference_mode()`;
  * hf_batched: the same model and tokenizer called directly on the whole batch padded to its longest row
    (albert-tf's batching), first-piece tags grouped into strict IOB2 entities with character offsets,
    under `torch.inference_mode()`.

Timing: every worker builds and warms up in turn (each bucket width once for albert-tf, a few batches
otherwise), then each round hands the same step (or the same batch of sentences) to every worker in
turn, order rotated per round, so other load on the machine hits all alike. Timed training steps are
spread over the epoch (low-discrepancy order; `--steps` and `--time_limit` cut the rounds).

Usage:
  .venv/bin/python bench/ner_speed.py [--sentences 4000] [--steps N] [--time_limit S]
      [--serve_sentences 320] [--tiny] [--out bench/results/ner.md]

Needs the bench extra (transformers, torch) and ../shared/realdata (CoNLL-2003, the English SentencePiece).
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
BATCH, SEQ, LR = 32, 128, 5e-5
TRAIN_IMPLS = {
    "albert_tf": ("buckets", "albert-tf (run_ner.py windows, input pipeline, AlbertTokenClassifier, AdamW)"),
    "hf_dynamic": ("dynamic", "HF AlbertForTokenClassification, dynamic padding (default)"),
    "hf_buckets": ("buckets", "HF AlbertForTokenClassification, albert-tf's length buckets"),
}
SERVE_IMPLS = {
    "albert_tf": "albert-tf raw-text NER SavedModel `serving_default` (tokenizer and grouping in the graph)",
    "hf_pipeline": "HF `pipeline(\"token-classification\", aggregation_strategy=\"simple\")` (default)",
    "hf_batched": "HF model + fast tokenizer on the whole batch padded to its longest row, entities grouped",
}
# ALBERT-base (vocab 30000, E 128, H 768, 12 layers sharing one block, 12 heads, I 3072), and a tiny shape
# for checking the script itself (`--tiny`; its timings mean nothing).
# The same model shapes and SentencePiece model as the sequence-classification benchmark.
from bench_finetuning import SHAPES, spm_model  # noqa: E402,F401  pylint: disable=wrong-import-position


def conll_blocks(name):
    """The sentences of a CoNLL-2003 file as blocks of lines (`-DOCSTART-` blocks included)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    with tf.io.gfile.GFile(os.path.join(REALDATA, "ner", "conll2003", name)) as f:
        return [block for block in f.read().split("\n\n") if block.strip()]


def albert_config(shape):
    import dataclasses  # pylint: disable=import-outside-toplevel

    from albert_tf.config import preset  # pylint: disable=import-outside-toplevel
    return dataclasses.replace(preset("albert_base_v2"), **SHAPES[shape], hidden_dropout_prob=0.0,
                               attention_probs_dropout_prob=0.0)


# ------------------------------------------------------------------ the plan (orchestrator)

def make_plan(args, directory):
    """Writes the training batches (`plan.npz`), the serving sentences and what the workers need to know
    (`plan.json`); exports albert-tf's raw-text tagger when it serves. Returns the json."""
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    from albert_tf.jobs import runner  # pylint: disable=import-outside-toplevel
    from albert_tf.jobs.ner import NerFamily  # pylint: disable=import-outside-toplevel
    from albert_tf.jobs.settings import NerSettings  # pylint: disable=import-outside-toplevel
    from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel
    train_file = os.path.join(directory, "train.txt")
    atomic_files.write_text(train_file, "\n\n".join(conll_blocks("train.txt")[:args.sentences]) + "\n")
    s = NerSettings(train_file=train_file, output_dir=os.path.join(directory, "run"), albert_config_file=None,
                    preset="albert_base_v2", vocab_file=spm_model(), max_seq_length=SEQ, train_batch_size=BATCH,
                    do_train=True)
    family = NerFamily(s)
    family.check_settings()
    family.read()
    family.config, family.tokenizer = albert_config(args.shape), runner.load_tokenizer(s)
    started = time.perf_counter()
    family.prepare(None)
    windows_s = time.perf_counter() - started
    split = family.splits["train"]
    epoch = len(split.windows) // BATCH
    plans = {"buckets": []}
    for inputs, labels in family.train_dataset(runner.SeedRun(0, s.output_dir)).take(epoch):
        plans["buckets"].append({"ids": inputs[INPUT_WORD_IDS].numpy(), "mask": inputs[INPUT_MASK].numpy(),
                                 "types": inputs[INPUT_TYPE_IDS].numpy(), "labels": labels.numpy()})
    inputs, labels = split.arrays(SEQ)
    order = np.random.RandomState(0).permutation(len(labels))
    plans["dynamic"] = []
    for step in range(epoch):
        rows = order[step * BATCH:(step + 1) * BATCH]
        width = int(inputs[INPUT_MASK][rows].sum(axis=1).max())
        plans["dynamic"].append({"ids": inputs[INPUT_WORD_IDS][rows, :width], "mask": inputs[INPUT_MASK][rows, :width],
                                 "types": inputs[INPUT_TYPE_IDS][rows, :width], "labels": labels[rows, :width]})
    np.savez(os.path.join(directory, "plan.npz"), **{f"{plan}_{step}_{field}": value
                                                     for plan, batches in plans.items()
                                                     for step, batch in enumerate(batches)
                                                     for field, value in batch.items()})
    spread = interleave.spread_order(epoch)
    widths = {plan: [int(b["ids"].shape[1]) for b in batches] for plan, batches in plans.items()}
    texts = [" ".join(line.split()[0] for line in block.splitlines())
             for block in conll_blocks("dev.txt") if not block.startswith("-DOCSTART-")][:args.serve_sentences]
    info = {"sentences": len(split.sentences), "windows": len(split.windows), "windows_s": windows_s,
            "epoch_steps": epoch, "timed_steps": spread[:args.steps] if args.steps else spread,
            # Keras traces once per bucket width: warm up each; PyTorch runs eagerly, so a few batches do.
            "warmup": {"buckets": interleave.first_of_each_width(widths["buckets"], spread),
                       "dynamic": spread[:3]},
            "tokens": {plan: {"padded": [int(b["ids"].size) for b in batches],
                              "real": [int(b["mask"].sum()) for b in batches]} for plan, batches in plans.items()},
            "widths": widths, "labels": list(family.labels), "texts": texts,
            "batches": [(i, min(i + args.batch, len(texts))) for i in range(0, len(texts), args.batch)]}
    info["serve_warmup"] = info["batches"][:2]
    atomic_files.write_text(os.path.join(directory, "plan.json"), json.dumps(info))
    if "albert_tf" in args.serve_impls:
        export_tagger(args, family, os.path.join(directory, "export"))
    return info


def export_tagger(args, family, export_dir):
    import keras  # pylint: disable=import-outside-toplevel

    from albert_tf.export import ner_serving  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier  # pylint: disable=import-outside-toplevel
    from albert_tf.model_inputs import INPUT_NAMES  # pylint: disable=import-outside-toplevel
    keras.utils.set_random_seed(0)
    tagger = AlbertTokenClassifier(AlbertEncoder(albert_config(args.shape)), len(family.labels))
    tagger({name: np.zeros((1, 4), np.int32) for name in INPUT_NAMES})
    ner_serving.export_ner(tagger, family.tokenizer, export_dir, labels=family.labels, max_seq_length=SEQ,
                           check=False)


# ------------------------------------------------------------------ training workers

class AlbertTfTrainer:
    def __init__(self, args, num_labels):
        import warnings  # pylint: disable=import-outside-toplevel

        import keras  # pylint: disable=import-outside-toplevel
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier  # pylint: disable=import-outside-toplevel
        from albert_tf.modeling.token_losses import masked_token_cross_entropy  # pylint: disable=import-outside-toplevel
        from albert_tf.model_inputs import INPUT_MASK, INPUT_NAMES, INPUT_TYPE_IDS, INPUT_WORD_IDS  # pylint: disable=import-outside-toplevel
        from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
        from albert_tf.training import runtime  # pylint: disable=import-outside-toplevel
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooler/")
        runtime.configure_runtime(0, "off")
        self.names = (INPUT_WORD_IDS, INPUT_MASK, INPUT_TYPE_IDS)
        self.model = AlbertTokenClassifier(AlbertEncoder(albert_config(args.shape)), num_labels, dropout_rate=0.1)
        self.model({name: np.zeros((1, 2), np.int32) for name in INPUT_NAMES})
        self.model.compile(optimizer=create_optimizer("adamw", LR, 10000, 0), loss=masked_token_cross_entropy,
                           jit_compile=args.xla)
        self.versions = {"tensorflow": tf.__version__, "keras": keras.__version__}

    def step(self, batch):
        x = dict(zip(self.names, (batch["ids"], batch["mask"], batch["types"])))
        return float(self.model.train_on_batch(x, batch["labels"], return_dict=True)["loss"])


class HfTrainer:
    def __init__(self, args, num_labels):
        import torch  # pylint: disable=import-outside-toplevel
        import transformers  # pylint: disable=import-outside-toplevel
        from albert_tf.modeling.token_losses import IGNORE_LABEL  # pylint: disable=import-outside-toplevel
        if IGNORE_LABEL != -100:  # what HF's token-classification loss ignores
            raise SystemExit(f"albert-tf ignores label {IGNORE_LABEL}, HF ignores -100")
        self.torch = torch
        torch.manual_seed(0)
        torch.set_num_threads(machine_info.cpu_count())
        config = transformers.AlbertConfig(vocab_size=30000, **SHAPES[args.shape], hidden_dropout_prob=0.0,
                                           attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.1,
                                           num_labels=num_labels)
        self.model = transformers.AlbertForTokenClassification(config).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR, weight_decay=0.01)
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                         "attention": self.model.config._attn_implementation,  # pylint: disable=protected-access
                         "threads": torch.get_num_threads()}

    def step(self, batch):
        torch = self.torch
        self.optimizer.zero_grad()
        loss = self.model(input_ids=torch.from_numpy(batch["ids"]).long(),
                          attention_mask=torch.from_numpy(batch["mask"]).long(),
                          token_type_ids=torch.from_numpy(batch["types"]).long(),
                          labels=torch.from_numpy(batch["labels"]).long()).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return float(loss)


def train_worker(args, name, info):
    plan = TRAIN_IMPLS[name][0]
    arrays = np.load(os.path.join(args.scratch, "plan.npz"))

    def batch(step):
        return {field: arrays[f"{plan}_{step}_{field}"] for field in ("ids", "mask", "types", "labels")}

    started = time.perf_counter()
    trainer = (AlbertTfTrainer if name == "albert_tf" else HfTrainer)(args, len(info["labels"]))
    interleave.serve_training_steps(trainer, batch, info["warmup"][plan], time.perf_counter() - started)


# ------------------------------------------------------------------ serving workers

def albert_tf_server(args, info):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    del info
    signature = tf.saved_model.load(os.path.join(args.scratch, "export")).signatures["serving_default"]

    def tag(texts):
        outputs = signature(text=tf.constant(texts))
        return int(np.sum(outputs["num_entities"].numpy()))
    return tag, {"tensorflow": tf.__version__}


def _hf_tagger(args, info):
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel
    torch.manual_seed(0)
    torch.set_num_threads(machine_info.cpu_count())
    labels = info["labels"]
    config = transformers.AlbertConfig(vocab_size=30000, **SHAPES[args.shape], num_labels=len(labels),
                                       id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    model = transformers.AlbertForTokenClassification(config).eval()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    return torch, transformers, model, transformers.AlbertTokenizerFast(vocab_file=spm_model()), versions


def hf_pipeline_server(args, info):
    torch, transformers, model, tokenizer, versions = _hf_tagger(args, info)
    tagger = transformers.pipeline("token-classification", model=model, tokenizer=tokenizer,
                                   aggregation_strategy="simple", device=-1)

    def tag(texts):
        with torch.inference_mode():
            return sum(len(entities) for entities in tagger(list(texts), batch_size=args.batch))
    return tag, versions


def strict_entities(tags, spans):
    """[(type, start, end)] of the strict IOB2 runs in one sentence's word tags (B-X then I-X...)."""
    entities = []
    for tag, (start, end) in zip(tags, spans):
        if tag.startswith("B-"):
            entities.append([tag[2:], start, end])
        elif tag.startswith("I-") and entities and entities[-1][0] == tag[2:] and entities[-1][2] is not None:
            entities[-1][2] = end
        else:
            entities.append([None, None, None])  # an O or a broken I- ends the run
    return [tuple(e) for e in entities if e[0] is not None]


def hf_batched_server(args, info):
    torch, _, model, tokenizer, versions = _hf_tagger(args, info)
    labels = info["labels"]

    def tag(texts):
        encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=SEQ,
                            return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping").tolist()
        with torch.inference_mode():
            predicted = model(**encoded).logits.argmax(-1).tolist()
        found = 0
        for row in range(len(texts)):
            words, tags, spans = encoded.word_ids(row), [], []
            for piece, word in enumerate(words):
                if word is None:
                    continue
                if piece == 0 or words[piece - 1] != word:
                    tags.append(labels[predicted[row][piece]])
                    spans.append(list(offsets[row][piece]))
                else:
                    spans[-1][1] = offsets[row][piece][1]
            found += len(strict_entities(tags, spans))
        return found
    return tag, versions


def serve_worker(args, name, info):
    texts, batches = info["texts"], info["batches"]
    started = time.perf_counter()
    tag, versions = globals()[f"{name}_server"](args, info)
    build_s = time.perf_counter() - started
    warmup = []
    for request in info["serve_warmup"]:
        t0 = time.perf_counter()
        tag(texts[slice(*request)])
        warmup.append(time.perf_counter() - t0)

    def handle(argument):
        rows = slice(*batches[int(argument)])
        t0 = time.perf_counter()
        entities = tag(texts[rows])
        return {"index": int(argument), "seconds": time.perf_counter() - t0, "rows": rows.stop - rows.start,
                "entities": entities}

    interleave.serve(handle, {"build_s": build_s, "warmup_s": warmup, "versions": versions})


# ------------------------------------------------------------------ report

def train_summary(name, entry, info):
    if not entry.get("seconds"):
        return None
    tokens = info["tokens"][TRAIN_IMPLS[name][0]]
    steps = entry["steps"]
    return {"steps": len(steps), "rate": BATCH * len(steps) / sum(entry["seconds"]),
            "median_s": statistics.median(entry["seconds"]), "cpu_s": statistics.median(entry["cpu_s"]),
            "padding": sum(tokens["padded"][s] for s in steps) / sum(tokens["real"][s] for s in steps)}


def serve_summary(entry):
    if not entry.get("seconds"):
        return None
    return {"sentences": sum(entry["rows"]), "rate": sum(entry["rows"]) / sum(entry["seconds"]),
            "median_s": statistics.median(entry["seconds"]), "cpu_s": statistics.median(entry["cpu_s"]),
            "entities": sum(entry["entities"])}


def failed(entry, ready, name):
    return (entry.get("error") or ready.get(name, {}).get("error") or "no timing")[:200].replace("|", "/")


def rss(finals, name):
    value = finals.get(name, {}).get("peak_rss_mib")
    return "?" if value is None else f"{value:.0f}"


def render(args, info, train, serve):
    shape = "TINY (a check of the script, timings mean nothing)" if args.shape == "tiny" else "base"
    versions = "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items())
                         for n, r in train["ready"].items() if "versions" in r)
    lines = ["# NER fine-tuning and raw-text serving (CPU), interleaved", "",
             f"Workload: the first {info['sentences']} CoNLL-2003 train sentences as run_ner.py's windows "
             f"({info['windows']} windows, {info['epoch_steps']} batches of {BATCH}), seq {SEQ}, ALBERT-{shape} "
             f"shape, random init, {len(info['labels'])} tags, AdamW {LR}, clip 1.0; XLA {'on' if args.xla else 'off'}. "
             f"Timed: {train['rounds']} rounds of one step per implementation, the steps spread over the epoch "
             "(low-discrepancy order), each step handed to every implementation in turn, order rotated per round. "
             f"Serving: {len(info['texts'])} CoNLL-2003 dev sentences as raw strings, {serve['rounds']} rounds of "
             f"one batch of {args.batch} per implementation. "
             "Command: `.venv/bin/python bench/ner_speed.py " + " ".join(sys.argv[1:]) + "`.", "",
             f"Machine: {machine_info.describe()}. Python {platform.python_version()}; {versions}. "
             f"1-min load average at start -> end: {args.load_start:.1f} -> {os.getloadavg()[0]:.1f}; wall time "
             f"{(time.time() - args.started_at) / 60:.1f} min.", ""]
    ts = {n: train_summary(n, e, info) for n, e in train["results"].items()}
    ss = {n: serve_summary(e) for n, e in serve["results"].items()}
    headline = []
    for peer in ("hf_dynamic", "hf_buckets"):
        if ts.get("albert_tf") and ts.get(peer):
            headline.append((f"fine-tuning examples/s, albert-tf / {peer}", ts["albert_tf"]["rate"] / ts[peer]["rate"]))
    for peer in ("hf_pipeline", "hf_batched"):
        if ss.get("albert_tf") and ss.get(peer):
            headline.append((f"serving sentences/s, albert-tf / {peer}", ss["albert_tf"]["rate"] / ss[peer]["rate"]))
    if headline:
        lines += ["Headline (same steps, same sentences, fp32 on both sides):", ""]
        lines += [f"- {label}: **{ratio:.2f}x**{interleave.verdict(ratio, 2.0)}" for label, ratio in headline]
        lines.append("")
    lines += ["| fine-tuning | batches | steps | examples/s | median s/step | CPU s/step | padded / real tokens "
              "| peak RSS MiB | albert-tf vs this |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, entry in train["results"].items():
        plan, label = TRAIN_IMPLS[name]
        s = ts[name]
        if s is None:
            lines.append(f"| {label} | {plan} | - | failed: {failed(entry, train['ready'], name)} | | | | | |")
            continue
        vs = f"{ts['albert_tf']['rate'] / s['rate']:.2f}x" if ts.get("albert_tf") and name != "albert_tf" else ""
        lines.append(f"| {label} | {plan} | {s['steps']} | {s['rate']:.2f} | {s['median_s']:.2f} | {s['cpu_s']:.2f} "
                     f"| {s['padding']:.2f} | {rss(train['finals'], name)} | {vs} |")
    lines += ["", "| serving | sentences | sentences/s | median s/batch | CPU s/batch | entities (random weights) "
              "| peak RSS MiB | albert-tf vs this |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, entry in serve["results"].items():
        s = ss[name]
        if s is None:
            lines.append(f"| {SERVE_IMPLS[name]} | - | failed: {failed(entry, serve['ready'], name)} | | | | | |")
            continue
        vs = f"{ss['albert_tf']['rate'] / s['rate']:.2f}x" if ss.get("albert_tf") and name != "albert_tf" else ""
        lines.append(f"| {SERVE_IMPLS[name]} | {s['sentences']} | {s['rate']:.1f} | {s['median_s']:.3f} | "
                     f"{s['cpu_s']:.3f} | {s['entities']} | {rss(serve['finals'], name)} | {vs} |")
    widths = info["widths"]["buckets"]
    lines += ["", f"run_ner.py's windows of the {info['sentences']} sentences (once, before training, not timed): "
                  f"{info['windows_s']:.1f}s. Bucket widths over the epoch: " +
              ", ".join(f"{w}: {widths.count(w)}" for w in sorted(set(widths))) + ". Warm-up before timing: one "
              "step of each bucket width for albert-tf (traces), three steps for HF; first warm-up step " +
              ", ".join(f"{n} {r['warmup_s'][0]:.1f}s" for n, r in train["ready"].items() if r.get("warmup_s")) + ".",
              "", "Each training step is timed inside its worker around one step on ready arrays (albert-tf "
              "`train_on_batch`, which waits for the step; HF forward, backward, clip, AdamW step); input "
              "pipelines are not timed. Each serving call is timed around strings in, entities out (tokenization "
              "and grouping included). The two sides hold different random weights, so their entity counts "
              "differ and say nothing about quality."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ orchestration

def run_phase(args, scratch, phase, impls, arguments, deadline):
    commands = {name: [sys.executable, os.path.abspath(__file__), "--worker", f"{phase}:{name}", "--scratch",
                       scratch, "--shape", args.shape, "--batch", str(args.batch)] + (["--xla"] if args.xla else [])
                for name in impls}
    workers, ready = interleave.start_in_turn(commands, scratch, cwd=REPO)
    results = {name: {"steps": [], "seconds": [], "cpu_s": [], "rows": [], "entities": []} for name in impls}

    def record(name, round_index, reply):
        del round_index
        entry = results[name]
        if "error" in reply:
            entry["error"] = reply["error"]
            return
        entry["seconds"].append(reply["seconds"])
        entry["cpu_s"].append(reply["cpu_s"])
        if phase == "train":
            entry["steps"].append(reply["step"])
        else:
            entry["rows"].append(reply["rows"])
            entry["entities"].append(reply["entities"])
        interleave.log(f"  {phase} {arguments_label(reply)} {name}: {reply['seconds']:.2f}s")

    rounds = interleave.run_rounds(workers, arguments, record,
                                   deadline=time.time() + deadline if deadline else None)
    return {"ready": ready, "results": results, "rounds": rounds, "finals": interleave.close_all(workers)}


def arguments_label(reply):
    return f"step {reply['step']}" if "step" in reply else f"batch {reply['index']}"


def names(text, known, flag):
    chosen = [i.strip() for i in text.split(",") if i.strip()]
    unknown = [i for i in chosen if i not in known]
    if unknown:
        raise SystemExit(f"unknown {flag} {unknown}; known: {', '.join(known)}")
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=4000, help="first N CoNLL-2003 train sentences")
    parser.add_argument("--steps", type=int, default=0,
                        help="timed steps per implementation, spread over the epoch (0: the whole epoch)")
    parser.add_argument("--time_limit", type=float, default=0,
                        help="seconds of training rounds after which no new round starts (0: no limit)")
    parser.add_argument("--serve_sentences", type=int, default=320, help="first N CoNLL-2003 dev sentences")
    parser.add_argument("--batch", type=int, default=32, help="serving batch")
    parser.add_argument("--train_impls", default=",".join(TRAIN_IMPLS), help=f"of {', '.join(TRAIN_IMPLS)}")
    parser.add_argument("--serve_impls", default=",".join(SERVE_IMPLS), help=f"of {', '.join(SERVE_IMPLS)}")
    parser.add_argument("--xla", action="store_true", help="jit_compile albert-tf's train step")
    parser.add_argument("--tiny", action="store_true", help="a tiny model shape, to check the script (timings "
                        "mean nothing)")
    parser.add_argument("--out", default=os.path.join(REPO, "bench", "results", "ner.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="base", choices=sorted(SHAPES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        phase, name = args.worker.split(":")
        with open(os.path.join(args.scratch, "plan.json"), encoding="utf-8") as f:
            info = json.load(f)
        (train_worker if phase == "train" else serve_worker)(args, name, info)
        return
    args.shape = "tiny" if args.tiny else "base"
    train_impls = names(args.train_impls, TRAIN_IMPLS, "--train_impls")
    args.serve_impls = names(args.serve_impls, SERVE_IMPLS, "--serve_impls")
    args.load_start, args.started_at = os.getloadavg()[0], time.time()
    interleave.log(f"machine: {machine_info.describe()}")
    with tempfile.TemporaryDirectory(prefix="bench-ner-") as scratch:
        args.scratch = scratch
        interleave.log("making the plan (run_ner.py windows, buckets, dynamic padding, the export)")
        info = make_plan(args, scratch)
        train = run_phase(args, scratch, "train", train_impls, [str(s) for s in info["timed_steps"]],
                          args.time_limit)
        serve = run_phase(args, scratch, "serve", args.serve_impls, [str(i) for i in range(len(info["batches"]))],
                          0)
    report = render(args, info, train, serve)
    from albert_tf import atomic_files  # pylint: disable=import-outside-toplevel
    atomic_files.write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
