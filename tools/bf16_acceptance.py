"""bfloat16 against float32 end to end on SST-2, paired over seeds.

For each seed, run_classifier.py fine-tunes twice, with --mixed_precision=off (float32) and =bf16 and the same
--seed: the same initialization, data order and dropout masks, so the two runs differ only in precision (which
of the two goes first alternates from seed to seed, so a change in the machine's load hits both alike). The
report gives each seed's dev accuracy, the mean and sample standard deviation per precision, the paired
differences bf16 - float32 in points with their mean, median, standard deviation and 95% t interval, and a
verdict against the target "bf16 within 0.5 points of float32" (again without the seeds where a run predicted
one class for every sentence, a failed training rather than a precision effect); also each run's wall time, its training examples/s
(median of the progress lines after the first, which includes tracing) and the load average around it. The
first seed's float32 model is then exported as fp32 and bf16 with albert-export and the two exports' labels
compared on every dev sentence.

The model: a tiny ALBERT from random init with the official English SentencePiece vocabulary (default), or
pretrained weights with --init_checkpoint (config and tokenizer read from next to it), which is what users
fine-tune. Data from ../shared/realdata (or $ALBERT_TF_REALDATA): the first --train_rows SST-2 training
sentences and the 872 dev sentences. Results go to <workdir>/bf16_acceptance.json and stdout. A run whose
record is in <workdir> with the same settings is not repeated, so an interrupted comparison continues.

  python tools/bf16_acceptance.py --workdir /tmp/bf16_acceptance --seeds 6
  python tools/bf16_acceptance.py --workdir /tmp/bf16_acceptance_pretrained --seeds 6 \\
      --init_checkpoint /tmp/albert_tf_direct_use_acceptance/en/model/pretrained/model.ckpt-1200
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from albert_tf import filesystem  # noqa: E402  pylint: disable=wrong-import-position

REALDATA = Path(os.environ.get("ALBERT_TF_REALDATA", REPO.parent / "shared" / "realdata"))
TINY = dict(vocab_size=30000, embedding_size=64, hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
            intermediate_size=512, max_position_embeddings=512, hidden_act="gelu", type_vocab_size=2,
            initializer_range=0.02, num_hidden_groups=1, inner_group_num=1)
PRECISIONS = ("off", "bf16")  # run_classifier.py's --mixed_precision values: float32, bfloat16
TARGET_POINTS = 0.5  # bf16 dev accuracy may trail float32's by at most this much (mean over seeds)
PROGRESS = re.compile(r"step \d+/\d+ .* ([0-9.]+) examples/s")


def paired_summary(accuracies: dict, target_points: float = TARGET_POINTS) -> dict:
    """Statistics of dev accuracies {"off": [...], "bf16": [...]} (fractions, seed i at index i in both).

    Differences are bf16 - float32 in accuracy points (percent); the 95% interval of their mean is Student's t
    over the seeds (paired, so the seed-to-seed spread that both precisions share drops out)."""
    fp32, bf16 = accuracies["off"], accuracies["bf16"]
    if len(fp32) != len(bf16) or not fp32:
        raise ValueError(f"paired accuracies need one value per seed in both precisions, got {len(fp32)} float32 "
                         f"and {len(bf16)} bf16")
    n = len(fp32)
    points = {p: [100.0 * a for a in accuracies[p]] for p in PRECISIONS}
    differences = [b - f for f, b in zip(points["off"], points["bf16"])]

    def spread(values):
        return statistics.stdev(values) if n > 1 else None

    summary = {p: {"accuracy_points": points[p], "mean": statistics.fmean(points[p]), "std": spread(points[p])}
               for p in PRECISIONS}
    mean = statistics.fmean(differences)
    paired = {"differences_points": differences, "mean": mean, "median": statistics.median(differences),
              "std": spread(differences), "seeds": n}
    if n > 1:
        from scipy import stats  # pylint: disable=import-outside-toplevel
        half = stats.t.ppf(0.975, n - 1) * paired["std"] / math.sqrt(n)
        paired["ci95"] = [mean - half, mean + half]
    paired["verdict"] = verdict(mean, paired.get("ci95"), target_points, n)
    summary["bf16_minus_fp32"] = paired
    return summary


def verdict(mean: float, ci95, target_points: float, seeds: int) -> str:
    """What the paired differences say about "bf16 within `target_points` of float32"."""
    if ci95 is None:
        return (f"one seed: bf16 - float32 = {mean:+.2f} points; the seed-to-seed spread is unknown, so this "
                f"neither meets nor fails the {target_points} point target")
    low, high = ci95
    if low >= -target_points:
        return (f"met: mean bf16 - float32 {mean:+.2f} points over {seeds} seeds, 95% interval "
                f"[{low:+.2f}, {high:+.2f}] above -{target_points}")
    if high < -target_points:
        return (f"NOT met: bf16 loses {-mean:.2f} points on average over {seeds} seeds, 95% interval "
                f"[{low:+.2f}, {high:+.2f}] entirely below -{target_points}")
    side = "within" if mean >= -target_points else "more than"
    return (f"not resolved by {seeds} seeds: mean bf16 - float32 {mean:+.2f} points ({side} {target_points}), "
            f"but the 95% interval [{low:+.2f}, {high:+.2f}] reaches across -{target_points}")


def collapsed(run: dict) -> bool:
    """Whether a run predicts one class for every dev sentence (training failed; not a precision effect)."""
    histogram = run.get("prediction_histogram") or {}
    return sum(1 for count in histogram.values() if count) == 1


def accuracy_summaries(runs, seeds) -> dict:
    """paired_summary over all seeds, and, when a run collapsed to one class, again over the seeds where
    neither precision did (one failed run would otherwise decide the mean difference)."""
    def of(seed, precision):
        return next(r for r in runs if r["seed"] == seed and r["precision"] == precision)

    summaries = {"accuracy": paired_summary({p: [of(s, p)["dev_accuracy"] for s in seeds] for p in PRECISIONS})}
    failed = [s for s in seeds if any(collapsed(of(s, p)) for p in PRECISIONS)]
    kept = [s for s in seeds if s not in failed]
    if failed:
        summaries["collapsed_seeds"] = {s: [p for p in PRECISIONS if collapsed(of(s, p))] for s in failed}
        if kept:
            summaries["accuracy_without_collapsed"] = paired_summary(
                {p: [of(s, p)["dev_accuracy"] for s in kept] for p in PRECISIONS})
    return summaries


def training_examples_per_second(log: str):
    """Median examples/s of run_classifier.py's progress lines, the first (tracing, warm-up) left out."""
    rates = [float(m.group(1)) for m in PROGRESS.finditer(log)][1:]
    return statistics.median(rates) if rates else None


def prepare(workdir: str, train_rows: int):
    """SST-2 with the first `train_rows` training sentences, the tiny config."""
    source = REALDATA / "glue" / "SST-2"
    data = filesystem.join(workdir, "SST-2")
    filesystem.makedirs(data)
    lines = filesystem.read_text(source / "train.tsv").splitlines()
    filesystem.write_text(filesystem.join(data, "train.tsv"), "\n".join(lines[:train_rows + 1]) + "\n")
    filesystem.write_text(filesystem.join(data, "dev.tsv"), filesystem.read_text(source / "dev.tsv"))
    filesystem.write_text(filesystem.join(workdir, "albert_config.json"), json.dumps(TINY))


def model_flags(workdir: str, init_checkpoint):
    if init_checkpoint:
        return [f"--init_checkpoint={init_checkpoint}"]
    return [f"--albert_config_file={filesystem.join(workdir, 'albert_config.json')}",
            f"--vocab_file={REALDATA / 'assets' / 'albert_en_spm' / '30k-clean.model'}"]


def fine_tune(workdir: str, seed: int, precision: str, settings: dict) -> dict:
    """One run_classifier.py run (its record reused when the same settings already ran to the end)."""
    output = filesystem.join(workdir, f"seed_{seed}", precision)
    record_path = filesystem.join(output, "bf16_acceptance_run.json")
    if filesystem.exists(record_path):
        record = json.loads(filesystem.read_text(record_path))
        if record.get("settings") == settings:
            print(f"seed {seed} {precision}: kept from {record_path}", flush=True)
            return record
    filesystem.remove(output)
    filesystem.makedirs(output)
    command = [sys.executable, "run_classifier.py", "--task_name=SST-2",
               f"--data_dir={filesystem.join(workdir, 'SST-2')}", *model_flags(workdir, settings["init_checkpoint"]),
               f"--output_dir={output}", "--do_train", "--do_eval", f"--train_steps={settings['train_steps']}",
               "--train_batch_size=32", f"--learning_rate={settings['learning_rate']}", "--max_seq_length=64",
               f"--mixed_precision={precision}", f"--seed={seed}", "--save_checkpoints_steps=0",
               "--log_every_steps=100"]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")),
                          check=False)
    seconds = time.perf_counter() - start
    log_path = filesystem.join(output, "run.log")
    filesystem.write_text(log_path, done.stdout)
    if done.returncode:
        print("\n".join(done.stdout.splitlines()[-40:]), file=sys.stderr)
        raise SystemExit(f"seed {seed} {precision}: run_classifier.py exited with {done.returncode} (log: {log_path})")
    dev = json.loads(filesystem.read_text(filesystem.join(output, "eval_results.json")))["dev"]
    record = {"settings": settings, "seed": seed, "precision": precision, "dev_accuracy": dev["accuracy"],
              "prediction_histogram": dev.get("prediction_histogram"), "seconds": seconds,
              "train_examples_per_second": training_examples_per_second(done.stdout),
              "load_average_1min": [load_before, os.getloadavg()[0]]}
    filesystem.write_text(record_path, json.dumps(record, indent=2) + "\n")
    print(f"seed {seed} {precision}: dev accuracy {100 * record['dev_accuracy']:.2f}%, {seconds:.0f} s, "
          f"{record['train_examples_per_second']} examples/s training, load {load_before:.1f}", flush=True)
    return record


def export_and_serve(workdir: str, precision: str, checkpoint: str, texts) -> dict:
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    export_dir = filesystem.join(workdir, f"export_{precision}")
    filesystem.remove(export_dir)
    subprocess.run([sys.executable, "-m", "albert_tf.cli.export", f"--checkpoint={checkpoint}",
                    f"--export_dir={export_dir}", f"--precision={precision}"], check=True, cwd=REPO)
    info = json.loads(filesystem.read_text(filesystem.join(export_dir, "assets.extra", "export.json")))
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, 96, 32):
        serve(text_a=tf.constant([texts[i] for i in order[start:start + 32]]))
    labels = np.zeros(len(texts), np.int64)
    begin = time.perf_counter()
    for start in range(0, len(texts), 32):
        rows = order[start:start + 32]
        labels[rows] = serve(text_a=tf.constant([texts[i] for i in rows]))["label_id"].numpy()
    return {"labels": labels, "sentences_per_second": len(texts) / (time.perf_counter() - begin),
            "self_check_max_abs_difference": info.get("max_abs_difference")}


def speed_summary(runs) -> dict:
    """bf16 / float32 ratios of the paired runs: wall time (float32 s / bf16 s) and training examples/s."""
    by_seed = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["precision"]] = run
    wall = [pair["off"]["seconds"] / pair["bf16"]["seconds"] for pair in by_seed.values()]
    rate = [pair["bf16"]["train_examples_per_second"] / pair["off"]["train_examples_per_second"]
            for pair in by_seed.values()
            if pair["off"]["train_examples_per_second"] and pair["bf16"]["train_examples_per_second"]]
    loads = [value for run in runs for value in run["load_average_1min"]]
    return {"bf16_speedup_wall_median": statistics.median(wall),
            "bf16_speedup_training_median": statistics.median(rate) if rate else None,
            "load_average_1min_range": [min(loads), max(loads)]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--seeds", type=int, default=3, help="paired runs (seeds first_seed, first_seed+1, ...)")
    parser.add_argument("--first_seed", type=int, default=12345)
    parser.add_argument("--init_checkpoint", default="",
                        help="pretrained weights to fine-tune (config and tokenizer next to them); "
                             "default: the tiny config from random init")
    parser.add_argument("--train_steps", type=int, default=1000)
    parser.add_argument("--train_rows", type=int, default=20000)
    parser.add_argument("--learning_rate", type=float, default=3e-4)
    parser.add_argument("--skip_export", action="store_true", help="no export and label comparison")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds={args.seeds}: at least one paired run is needed")
    if not (REALDATA / "glue" / "SST-2" / "dev.tsv").exists():
        raise SystemExit(f"SST-2 is not under {REALDATA}: set $ALBERT_TF_REALDATA")
    if args.init_checkpoint and not filesystem.exists(args.init_checkpoint + ".index"):
        raise SystemExit(f"--init_checkpoint={args.init_checkpoint}: no {args.init_checkpoint}.index")
    import machine_info  # pylint: disable=import-outside-toplevel
    workdir = args.workdir
    prepare(workdir, args.train_rows)
    settings = {"train_steps": args.train_steps, "train_rows": args.train_rows, "learning_rate": args.learning_rate,
                "init_checkpoint": args.init_checkpoint}
    seeds = [args.first_seed + i for i in range(args.seeds)]
    runs = []
    for index, seed in enumerate(seeds):
        for precision in (PRECISIONS if index % 2 == 0 else PRECISIONS[::-1]):
            runs.append(fine_tune(workdir, seed, precision, settings))
    report = {"machine": machine_info.describe(), **settings, "seeds": seeds,
              "model": "pretrained: " + args.init_checkpoint if args.init_checkpoint else "random init",
              "config": None if args.init_checkpoint else TINY,
              **accuracy_summaries(runs, seeds), "speed": speed_summary(runs),
              "runs": [{k: v for k, v in run.items() if k != "settings"} for run in runs]}
    if not args.skip_export:
        dev = filesystem.read_text(filesystem.join(workdir, "SST-2", "dev.tsv")).splitlines()[1:]
        texts = [line.split("\t")[0] for line in dev]
        gold = [int(line.split("\t")[1]) for line in dev]
        checkpoint = filesystem.join(workdir, f"seed_{seeds[0]}", "off", "best_checkpoint")
        labels = {}
        for precision in ("fp32", "bf16"):
            result = export_and_serve(workdir, precision, checkpoint, texts)
            labels[precision] = result.pop("labels")
            result["dev_accuracy"] = float((labels[precision] == gold).mean())
            report[f"serving_{precision}"] = result
        report["serving_label_agreement"] = float((labels["fp32"] == labels["bf16"]).mean())
    filesystem.write_text(filesystem.join(workdir, "bf16_acceptance.json"),
                          json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("config", "runs")}, indent=2, default=str))


if __name__ == "__main__":
    main()
