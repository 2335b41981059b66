"""Does a tiny pretrained ALBERT learn NER for real? Dev entity F1 curves against the train-lexicon baseline.

For each language (Chinese: CLUENER2020 with the Chinese WordPiece vocab; English: CoNLL-2003 with the
English SentencePiece model), on the FULL train and dev files of ../shared/realdata/ner:

- the lexicon baseline (`tools/ner_lexicon_baseline.py`: longest match of the training entities), scored
  like run_ner.py;
- run_ner.py fine-tuning a tiny model pretrained by this project (`--init_checkpoint`), evaluated on the
  whole dev file every `--eval_every_steps` (the curve: `eval_results/step_N.json`);
- with `--random_init`, the same run from random weights (same config, tokenizer and settings), which
  shows what the pretraining buys.

The tiny models are those of `make direct-use-acceptance` (`--pretrained_root`, `<root>/<language>/
model/pretrained`), or, with `--pretrain_steps=N`, trained here first with run_pretraining.py on all of
../shared/realdata/text/<language> (records by albert-create-pretraining-data, through the helpers of
tools/pretrain_acceptance.py). Every run is a subprocess of the project's own commands; its log is kept
next to its output directory, and the log line that reports which weights were restored is copied into
the summary. Writes `<workdir>/ner_learning_acceptance.json` and prints a markdown table.

  python tools/ner_learning_acceptance.py --workdir /tmp/albert_tf_ner_learning_acceptance --random_init
  python tools/ner_learning_acceptance.py --pretrain_steps 1500 --random_init   (new models, longer pretraining)
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
import ner_lexicon_baseline  # noqa: E402  pylint: disable=wrong-import-position
import pretrain_acceptance  # noqa: E402  pylint: disable=wrong-import-position

REALDATA = pretrain_acceptance.REALDATA
# language: NER train / dev files, extra run_ner.py flags, the tokenizer of the pretraining records,
# and the raw text the model is pretrained on.
LANGUAGES = {
    "zh": {"data": "CLUENER2020", "train": "ner/cluener/train.json", "dev": "ner/cluener/dev.json",
           # CLUENER's own train file nests spans (line 1507); both run_ner.py and the baseline keep the outer one.
           "nested": "outer", "tokenizer": ("vocab_file", "assets/albert_zh/vocab.txt"), "vocab_size": 21128,
           "text": ["text/zh/CLUECorpusSmall_bert_sampled.txt", "text/zh/news_zh_1.txt"]},
    "en": {"data": "CoNLL-2003", "train": "ner/conll2003/train.txt", "dev": "ner/conll2003/dev.txt",
           "nested": "refuse", "tokenizer": ("spm_model", "assets/albert_en_spm/30k-clean.model"),
           "vocab_size": 30000,
           "text": ["text/en/wikitext-2.valid.txt", "text/en/wikitext-2.test.txt", "text/en/tinyshakespeare.txt",
                    "text/en/bert_sample_text.txt"]},
}
WIKITEXT_TITLE = re.compile(r"^ = [^=].* = $")  # a wikitext article starts at its top-level heading
WIKITEXT_SENTENCE_END = re.compile(r"(?<= [.!?]) (?=[A-Z])")  # its paragraphs are tokenized: "word . Next"
CJK = re.compile(r"[\u4e00-\u9fff]")
CHINESE_SENTENCE_END = re.compile(r"(?<=[。！？])")


# === Pretraining (optional) ===
def documents_of(path: Path) -> List[str]:
    """The documents of one raw text file, one sentence a line as the pretraining data tool wants them
    (sentence-order pairs are cut at line ends): wikitext cut at its article headings (its paragraphs
    after ` . `), the other files at their blank lines; Chinese paragraph lines are cut after their
    sentence-final marks."""
    text = path.read_text(encoding="utf-8")
    if CJK.search(text[:10000]):
        text = "\n".join(sentence for line in text.split("\n") for sentence in CHINESE_SENTENCE_END.split(line)
                         if sentence or not line)
    if path.name.startswith("wikitext"):
        documents, current = [], []
        for line in text.splitlines():
            if WIKITEXT_TITLE.match(line) and current:
                documents.append(current)
                current = []
            if line.strip() and not line.strip().startswith("="):
                current.extend(WIKITEXT_SENTENCE_END.split(line.strip()))
        documents.append(current)
        return ["\n".join(lines) for lines in documents if lines]
    return [d.strip() for d in text.split("\n\n") if d.strip()]


def pretrain_language(root: Path, language: str, steps: int, batch_size: int, learning_rate: float,
                      dupe_factor: int) -> Path:
    """Pretrains the tiny model of `language` on all of its raw text (5% of the documents held out for
    run_pretraining.py's eval); returns its export (`<root>/model/pretrained`)."""
    spec = LANGUAGES[language]
    root.mkdir(parents=True, exist_ok=True)
    documents = [d for name in spec["text"] for d in documents_of(REALDATA / name)]
    cut = len(documents) - max(1, len(documents) // 20)
    (root / "train.txt").write_text("\n\n".join(documents[:cut]) + "\n", encoding="utf-8")
    (root / "heldout.txt").write_text("\n\n".join(documents[cut:]) + "\n", encoding="utf-8")
    flag, vocab = spec["tokenizer"]
    pretrain_acceptance.make_records(root, "train", dupe_factor, **{flag: REALDATA / vocab})
    pretrain_acceptance.make_records(root, "heldout", 1, **{flag: REALDATA / vocab})
    pretrain_acceptance.pretrain(root, dict(pretrain_acceptance.TINY, vocab_size=spec["vocab_size"]), steps,
                                 batch_size, learning_rate)
    return root / "model" / "pretrained"


# === Fine-tuning ===
def run_ner_flags(language: str, args) -> List[str]:
    spec = LANGUAGES[language]
    return [f"--train_file={REALDATA / spec['train']}", f"--eval_file={REALDATA / spec['dev']}",
            f"--nested_entities={spec['nested']}", f"--max_seq_length={args.max_seq_length}",
            f"--doc_stride={args.doc_stride}", f"--train_batch_size={args.batch_size}",
            f"--learning_rate={args.learning_rate}", f"--train_steps={args.train_steps}",
            f"--warmup_steps={args.warmup_steps}", f"--eval_every_steps={args.eval_every_steps}",
            f"--classifier_dropout={args.classifier_dropout}", f"--seed={args.seed}",
            "--save_checkpoints_steps=0", "--do_train", "--do_eval"]


def fine_tune(output_dir: Path, flags: List[str]) -> Dict:
    """One fresh run_ner.py run (an earlier one in `output_dir` removed: the runner would not retrain a
    finished run); returns its curve, final scores, wall time and what its log says about the weights."""
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    log = output_dir.with_suffix(".log")
    command = [sys.executable, "run_ner.py", f"--output_dir={output_dir}", *flags]
    print("$", " ".join(command[1:]), flush=True)
    start = time.time()
    with open(log, "w", encoding="utf-8") as stream:
        code = subprocess.run(command, cwd=REPO, stdout=stream, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.time() - start
    text = log.read_text(encoding="utf-8")
    if code:
        sys.exit(f"run_ner.py failed (exit {code}); its log: {log}\n{text[-3000:]}")
    curve = []
    for path in sorted((output_dir / "eval_results").glob("step_*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        curve.append({"step": int(path.stem.split("_")[1]), "f1": result["f1"], "precision": result["precision"],
                      "recall": result["recall"]})
    final = json.loads((output_dir / "eval_results.json").read_text(encoding="utf-8"))
    # What the weights were and how the sentences became windows is the point of the comparison:
    # a log that no longer says it stops the run rather than leaving the summary silently without it.
    weights = log_lines(text, r"(fine-tuning from --init_checkpoint.*|no --init_checkpoint.*)")
    windows = log_lines(text, r"((?:train|eval): \d+ windows of \d+ pieces for \d+ sentences)")
    if not curve or not weights or len(windows) != 2:
        sys.exit(f"{log}: expected the evaluations, the weights line and the window counts of run_ner.py, "
                 f"found {len(curve)} evaluations, {weights} and {windows}")
    return {"command": " ".join(["python", *command[1:]]), "log": str(log), "wall_seconds": round(wall, 1),
            "curve": curve, "best": max(curve, key=lambda point: point["f1"]),
            "final": {k: v for k, v in final.items() if k != "per_type"},
            "per_type_f1": {kind: round(scores["f1"], 4) for kind, scores in final.get("per_type", {}).items()},
            "weights": weights, "windows": windows, "train_examples_per_second": examples_per_second(text)}


def log_lines(text: str, pattern: str) -> List[str]:
    return [match.group(1) for match in re.finditer(pattern, text)]


def examples_per_second(text: str) -> Optional[float]:
    """The median of the progress lines' examples/s (compiling and evaluation pauses land in single lines)."""
    rates = sorted(float(x) for x in re.findall(r"([\d.]+) examples/s", text))
    return rates[len(rates) // 2] if rates else None


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} CPU cores ({model}), {platform.system()}, Python {platform.python_version()}"


# === Report ===
def markdown_table(results: Dict) -> str:
    rows = ["| data | weights | dev entity F1 at steps " + " / ".join(
        str(p["step"]) for p in next(iter(results["languages"].values()))["runs"]["pretrained"]["curve"])
            + " | best | lexicon baseline | best − baseline | wall |", "|---|---|---|---|---|---|---|"]
    for language, result in results["languages"].items():
        for name, run in result["runs"].items():
            curve = " / ".join(f"{p['f1']:.3f}" for p in run["curve"])
            margin = run["best"]["f1"] - result["baseline"]["f1"]
            rows.append(f"| {LANGUAGES[language]['data']} | {name} | {curve} | {run['best']['f1']:.3f} "
                        f"(step {run['best']['step']}) | {result['baseline']['f1']:.3f} | {margin:+.3f} | "
                        f"{run['wall_seconds'] / 60:.1f} min |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="/tmp/albert_tf_ner_learning_acceptance")
    parser.add_argument("--languages", default="zh,en")
    parser.add_argument("--pretrained_root", default="/tmp/albert_tf_direct_use_acceptance",
                        help="where the tiny pretrained models are (<root>/<language>/model/pretrained), e.g. "
                             "from make direct-use-acceptance; ignored with --pretrain_steps")
    parser.add_argument("--pretrain_steps", type=int, default=0,
                        help="pretrain the tiny models here first for this many steps (0: reuse --pretrained_root)")
    parser.add_argument("--pretrain_batch_size", type=int, default=32)
    parser.add_argument("--pretrain_learning_rate", type=float, default=2e-3)
    parser.add_argument("--pretrain_dupe_factor", type=int, default=5)
    parser.add_argument("--random_init", action="store_true",
                        help="also fine-tune from random weights with the same settings")
    parser.add_argument("--max_seq_length", type=int, default=64)
    parser.add_argument("--doc_stride", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--train_steps", type=int, default=4000)
    parser.add_argument("--warmup_steps", type=int, default=300)
    parser.add_argument("--eval_every_steps", type=int, default=500)
    parser.add_argument("--classifier_dropout", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    languages = [language.strip() for language in args.languages.split(",") if language.strip()]
    for language in languages:
        if language not in LANGUAGES:
            sys.exit(f"--languages: unknown language {language!r} (known: {', '.join(LANGUAGES)})")
        spec = LANGUAGES[language]
        for name in [spec["train"], spec["dev"], *(spec["text"] if args.pretrain_steps else [])]:
            if not (REALDATA / name).exists():
                sys.exit(f"missing {REALDATA / name}: this run needs the shared real data (set $ALBERT_TF_REALDATA)")
        if not args.pretrain_steps and not (Path(args.pretrained_root) / language / "model" / "pretrained").is_dir():
            sys.exit(f"--pretrained_root: no {Path(args.pretrained_root) / language / 'model' / 'pretrained'}; run "
                     "make direct-use-acceptance first, or give --pretrain_steps")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = {"settings": vars(args), "machine": machine(), "languages": {}}
    for language in languages:
        spec = LANGUAGES[language]
        result = {"data": spec["data"], "train_file": str(REALDATA / spec["train"]),
                  "eval_file": str(REALDATA / spec["dev"]), "runs": {}}
        start = time.time()
        result["baseline"] = {k: v for k, v in ner_lexicon_baseline.baseline(
            str(REALDATA / spec["train"]), str(REALDATA / spec["dev"]), nested=spec["nested"]).items()
            if k != "per_type"}
        result["baseline"]["wall_seconds"] = round(time.time() - start, 1)
        print(f"{spec['data']} lexicon baseline: entity f1={result['baseline']['f1']:.4f}", flush=True)
        if args.pretrain_steps:
            start = time.time()
            pretrained = pretrain_language(workdir / language / "pretraining", language, args.pretrain_steps,
                                           args.pretrain_batch_size, args.pretrain_learning_rate,
                                           args.pretrain_dupe_factor)
            result["pretraining"] = {"wall_seconds": round(time.time() - start, 1), **json.loads(
                (pretrained.parent / "eval_results.json").read_text(encoding="utf-8"))}
        else:
            pretrained = Path(args.pretrained_root) / language / "model" / "pretrained"
        result["pretrained_model"] = str(pretrained)
        flags = run_ner_flags(language, args)
        result["runs"]["pretrained"] = fine_tune(workdir / language / "pretrained",
                                                 [*flags, f"--init_checkpoint={pretrained}"])
        if args.random_init:
            # The same config and tokenizer, no weights: the difference is what pretraining buys.
            result["runs"]["random init"] = fine_tune(
                workdir / language / "random_init",
                [*flags, f"--albert_config_file={pretrained / 'albert_config.json'}", f"--vocab_file={pretrained}"])
        for name, run in result["runs"].items():
            print(f"{spec['data']} {name}: dev entity f1 " + " ".join(
                f"{p['step']}:{p['f1']:.4f}" for p in run["curve"]) + f" ({run['wall_seconds']:.0f} s)", flush=True)
        results["languages"][language] = result
    results["beats_baseline"] = {
        f"{language} {name}": run["best"]["f1"] > result["baseline"]["f1"]
        for language, result in results["languages"].items() for name, run in result["runs"].items()}
    table = markdown_table(results)
    print(table)
    out = workdir / "ner_learning_acceptance.json"
    from albert_tf.training.artifacts import write_json  # pylint: disable=import-outside-toplevel
    write_json(str(out), dict(results, table=table))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
