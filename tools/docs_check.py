"""Runs every shell command shown in README.md and docs/*.md, with tiny settings, in a scratch directory.

Each command of a ```bash / ```sh / ```shell / ```console block (`\\` continuations joined, comments
dropped, `$ ` prompts of console blocks removed) is either

- run: in `<scratch>/<doc>/work` (one directory per document, commands in document order, so a
  command may use what an earlier one in the same document wrote), after the fixtures the
  commands name were built there: a tiny SentencePiece model and WordPiece vocabulary trained on
  generated text, tiny TF1 / brightmart / TF-Hub / Hugging Face checkpoints written with the
  project's own API, tiny GLUE, LCQMC and SQuAD files, tiny corpora and pretraining records.
  Sizes are cut by appending flags (absl keeps the last value of a repeated flag), see RUNNERS;
  `/tmp/` becomes `<scratch>/<doc>/tmp/` and `../shared/realdata` points at tiny stand-ins; or
- listed in NOT_RUN with the reason it cannot run here (a TPU, a bucket, the network, long jobs).

A command that is neither fails the check, and so does a NOT_RUN entry that matches no command:
the documentation cannot drift from what is checked.

    python tools/docs_check.py                 # run everything, print a summary
    python tools/docs_check.py --list          # show how each command is handled, run nothing
    python tools/docs_check.py --only README   # documents whose name contains README
    python tools/docs_check.py --keep DIR      # scratch directory to use and keep
"""

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
# Unlabelled blocks that start lines like these hold commands and must be labelled (```bash).
COMMAND_WORDS = ("python ", "python3 ", "albert-", "make ", "pip ", "export ", "echo ", "saved_model_cli ",
                 "gsutil ", "tensorboard ", "mkdir ", "$ ")

# ----------------------------------------------------------------------------------------------
# What is not run here, and why. Each entry must match at least one command.
NOT_RUN: List[Tuple[str, str]] = [
    (r"^make demo\b", "the full demo takes minutes; run `make demo`"),
    (r"^make test-backends\b", "installs jax and runs the backend tests (minutes); run `make test-backends`"),
    (r"^make test\b", "the whole test suite; run `make test`"),
    (r"^make ner-learning-acceptance\b|^python tools/ner_learning_acceptance\.py\b",
     "pretrains two tiny models and fine-tunes four NER runs on the full CLUENER and CoNLL-2003 files "
     "(about 45 minutes of CPU); see docs/ner.md"),
    (r"bench/accelerator_step\.py", "the accelerator benchmark needs jax, keras-hub, torch and transformers "
                                     "(a minute even with --tiny); see its docstring"),
    (r"--strategy=tpu\b", "needs a Cloud TPU"),
    (r"^pip install\b", "installs into the current environment; tests/test_install.py pip-installs the checkout "
                        "into a fresh virtualenv and runs every console command"),
    (r"^export TF_CONFIG=", "part of the several-hosts example (needs several machines)"),
    (r"--strategy=multi_worker_mirrored\b", "needs several hosts (the suite runs two workers on loopback)"),
    (r"^curl .*/v1/models/", "needs a running tensorflow_model_server; tests/test_ids_export.py runs each request body "
                             "through the signature it names"),
    (r"^tensorflow_model_server\b", "TF Serving is not installed here (a server binary, not a Python package)"),
    (r"^docker run\b", "needs Docker and the network"),
    (r"import tensorflow as tf, tensorflow_hub", "needs the optional hub extra; tests/test_export.py fine-tunes "
                                                 "through hub.KerasLayer when it is installed"),
]


@dataclasses.dataclass
class Runner:
    """How one kind of command is run: flags appended, extra flags when a pattern matches."""
    pattern: str
    append: str = ""
    when: Tuple[Tuple[str, str], ...] = ()   # (regex on the command, flags appended when it matches)
    timeout: int = 600


PRETRAIN = ("--preset= --albert_config_file={scratch}/tiny_config.json --num_train_steps=2 --num_warmup_steps=1 "
            "--train_batch_size=4 --eval_batch_size=4 --max_eval_steps=1 --steps_per_loop=1 "
            "--save_checkpoints_steps=1")
CLASSIFIER = ("--train_steps=2 --warmup_steps=0 --train_batch_size=4 --eval_batch_size=8 --predict_batch_size=8 "
              "--max_seq_length=32 --log_every_steps=1")
CREATE = "--max_seq_length=64 --max_predictions_per_seq=10 --dupe_factor=1 --num_workers=2 --overwrite"
NER = ("--train_steps=2 --warmup_steps=0 --train_batch_size=4 --predict_batch_size=8 --max_seq_length=32 "
       "--doc_stride=16 --log_every_steps=1")
SQUAD = ("--train_steps=2 --warmup_steps=0 --train_batch_size=4 --predict_batch_size=8 --max_seq_length=64 "
         "--doc_stride=32 --max_query_length=16 --log_every_steps=1")

RUNNERS: List[Runner] = [
    Runner(r"^python run_pretraining\.py\b", PRETRAIN, ((r"--strategy=mirrored\b", "--cpu_devices=2"),)),
    Runner(r"^python run_classifier\.py\b", CLASSIFIER, ((r"--eval_every_steps=", "--eval_every_steps=1"),
                                                          (r"--strategy=mirrored\b", "--cpu_devices=2"))),
    Runner(r"^python run_squad\.py\b", SQUAD, ((r"--eval_every_steps=", "--eval_every_steps=1"),
                                                (r"--strategy=mirrored\b", "--cpu_devices=2"))),
    Runner(r"^python run_ner\.py\b", NER, ((r"--eval_every_steps=", "--eval_every_steps=1"),)),
    Runner(r"^albert-pretrain\b", PRETRAIN),
    Runner(r"^albert-classify\b", CLASSIFIER),
    Runner(r"^albert-squad\b", SQUAD),
    Runner(r"^albert-create-pretraining-data\b", CREATE),
    Runner(r"^albert-convert\b"),
    Runner(r"^albert-export\b"),
    Runner(r"^albert-predict\b"),
    Runner(r"^saved_model_cli (show|run)\b"),
    Runner(r"^python tools/squad_roundtrip\.py\b"),
    Runner(r"^python tools/ner_lexicon_baseline\.py\b"),
    Runner(r"^python tools/make_cmrc_metric_fixture\.py --check\b"),
    Runner(r"^python -c\b"),
    Runner(r"^(echo|mkdir|cat|ls|head) "),
]

# vocab_size is set to the size of the tiny tokenizer a checkpoint comes with (as in every release).
TINY_CONFIG = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0,
                   attention_probs_dropout_prob=0.0)


# ----------------------------------------------------------------------------------------------
# Extraction


@dataclasses.dataclass
class Command:
    doc: str
    line: int
    text: str


def _scan(text: str, quote: Optional[str]) -> Tuple[str, Optional[str], bool]:
    """Drops comments and joins `\\` continuations outside quotes.

    Returns (text, quote still open at the end, ends with a continuation).
    """
    out, i, continued = [], 0, False
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"' and i + 1 < len(text):
                out.append(text[i:i + 2])
                i += 2
                continue
            if c == quote:
                quote = None
            out.append(c)
        elif c in "'\"":
            quote = c
            out.append(c)
        elif c == "\\" and text[i + 1:].strip() == "":
            continued = True
            break
        elif c == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out), quote, continued


def commands_in(text: str, doc: str) -> Tuple[List[Command], List[str]]:
    """(shell commands, problems) of one markdown document."""
    commands, problems = [], []
    lines = text.splitlines()
    in_block, language, start = False, "", 0
    block: List[Tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        fence = re.match(r"^\s*```(.*)$", line)
        if fence and not in_block:
            in_block, language, start, block = True, fence.group(1).strip().lower(), number, []
            continue
        if fence and in_block:
            in_block = False
            if language in SHELL_LANGUAGES:
                commands += _block_commands(block, doc, console=language == "console")
            elif not language and any(l.lstrip().startswith(COMMAND_WORDS) for _, l in block):
                problems.append(f"{doc}:{start}: code block without a language holds shell commands; "
                                "label it ```bash")
            continue
        if in_block:
            block.append((number, line))
    return commands, problems


def _block_commands(block, doc, console):
    commands = []
    current, first, quote = "", 0, None
    for number, line in block:
        if not current and not quote:
            if console:
                if not line.lstrip().startswith("$ "):
                    continue  # output shown in a console block
                line = line.lstrip()[2:]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            first = number
        piece, quote, continued = _scan(line, quote)
        current += piece
        if quote:
            current += "\n"
        elif continued:
            current += " "
        else:
            commands.append(Command(doc, first, _normalize(current)))
            current = ""
    if current.strip():
        commands.append(Command(doc, first, _normalize(current)))
    return commands


def _normalize(text):
    # Collapse runs of spaces outside quotes (continuation indentation) but keep quoted text as written.
    out, quote = [], None
    for c in text.strip():
        if quote:
            if c == quote:
                quote = None
            out.append(c)
        elif c in "'\"":
            quote = c
            out.append(c)
        elif c.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(c)
    return "".join(out).strip()


def extract(docs=None):
    commands, problems = [], []
    for path in docs or DOCS:
        found, issues = commands_in(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
        commands += found
        problems += issues
    return commands, problems


def classify(command: Command):
    """("skip", reason) | ("run", Runner) | ("unlisted", None)."""
    for pattern, reason in NOT_RUN:
        if re.search(pattern, command.text):
            return "skip", reason
    for runner in RUNNERS:
        if re.search(runner.pattern, command.text):
            return "run", runner
    return "unlisted", None


def coverage(commands):
    """Problems with the lists: commands neither run nor listed, NOT_RUN entries matching nothing."""
    problems = []
    for command in commands:
        kind, _ = classify(command)
        if kind == "unlisted":
            problems.append(f"{command.doc}:{command.line}: neither run nor listed in NOT_RUN "
                            f"(tools/docs_check.py): {command.text}")
    for pattern, _ in NOT_RUN:
        if not any(re.search(pattern, c.text) for c in commands):
            problems.append(f"NOT_RUN entry {pattern!r} matches no command in the docs: remove it")
    return problems


# ----------------------------------------------------------------------------------------------
# Fixtures


def _tiny_texts():
    sys.path.insert(0, str(ROOT / "tests"))
    import tokenization_testlib  # pylint: disable=import-outside-toplevel,import-error
    return tokenization_testlib


def _write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _corpus(lines, documents=12, per_document=8):
    out = []
    for d in range(documents):
        out += [lines[(d * per_document + i) % len(lines)] + "." for i in range(per_document)] + [""]
    return "\n".join(out) + "\n"


def _mrpc(directory: Path, lines):
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    for split, n in (("train", 24), ("dev", 12)):
        rows = [f"{i % 2}\t{1000 + i}\t{2000 + i}\t{lines[i]}\t{lines[i + 1]}" for i in range(n)]
        _write(directory / f"{split}.tsv", header + "\n".join(rows) + "\n")
    rows = [f"{i}\t{3000 + i}\t{4000 + i}\t{lines[i + 2]}\t{lines[i + 3]}" for i in range(10)]
    _write(directory / "test.tsv", "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "\n".join(rows) + "\n")


def _squad(path: Path, source: Path, copies: int):
    data = json.loads(source.read_text(encoding="utf-8"))
    articles = []
    for copy in range(copies):
        for article in data["data"]:
            article = json.loads(json.dumps(article))
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    qa["id"] = f"{qa['id']}-{copy}"
            articles.append(article)
    _write(path, json.dumps({"version": data.get("version", "1.1"), "data": articles}))


def _ner_files(directory: Path):
    """Tiny CoNLL-2003-like columns and CLUENER json lines, in words the tiny tokenizers know."""
    import random  # pylint: disable=import-outside-toplevel
    rng = random.Random(0)
    filler = "the quick brown fox jumps over lazy dog".split()
    entities = [("LOC", "north city"), ("PER", "model"), ("ORG", "album song")]

    def conll(n):
        sentences = []
        for _ in range(n):
            rows = [f"{w} NN O" for w in rng.sample(filler, 3)]
            kind, words = rng.choice(entities)
            rows += [f"{w} NNP {'B' if i == 0 else 'I'}-{kind}" for i, w in enumerate(words.split())]
            sentences.append("\n".join(rows))
        return "\n\n".join(sentences) + "\n"

    def cluener(n, labelled=True):
        lines = []
        for i in range(n):
            kind, name = rng.choice([("address", "北京"), ("name", "中国"), ("organization", "模型训练")])
            text = "我们今天" + name + "很好"
            record = {"id": i, "text": text}
            if labelled:
                record["label"] = {kind: {name: [[4, 4 + len(name) - 1]]}}
            lines.append(json.dumps(record, ensure_ascii=False))
        return "\n".join(lines) + "\n"
    _write(directory / "conll2003" / "train.txt", conll(24))
    _write(directory / "conll2003" / "dev.txt", conll(8))
    _write(directory / "cluener" / "train.json", cluener(24))
    _write(directory / "cluener" / "dev.json", cluener(8))
    _write(directory / "cluener" / "test.json", cluener(6, labelled=False))


def build_fixtures(base: Path, log):
    """Everything the documented commands name, under base/work, base/shared/realdata and base."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np  # pylint: disable=import-outside-toplevel

    from albert_tf.checkpoints import export_weights, save_hf, save_tf1  # pylint: disable=import-outside-toplevel
    from albert_tf.checkpoints.tf1 import write_tf1_checkpoint  # pylint: disable=import-outside-toplevel
    from albert_tf.config import AlbertConfig, preset  # pylint: disable=import-outside-toplevel
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer  # pylint: disable=import-outside-toplevel

    started = time.time()
    work, realdata = base / "work", base / "shared" / "realdata"
    work.mkdir(parents=True)
    testlib = _tiny_texts()
    assets = base / "assets"
    assets.mkdir()
    spm = testlib.build_spm_model(assets)
    vocab = testlib.build_vocab(assets)
    lines = [l for l in testlib.corpus_lines(400, seed=1) if l.strip()]
    from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer  # pylint: disable=import-outside-toplevel
    english = {**TINY_CONFIG, "vocab_size": SentencePieceTokenizer(str(spm)).vocab_size}
    chinese = {**TINY_CONFIG, "vocab_size": WordPieceTokenizer(str(vocab)).vocab_size}
    _write(base / "tiny_config.json", json.dumps(english, indent=2))

    def copy(source, *targets):
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)

    copy(spm, work / "30k-clean.model", work / "albert_base_v2" / "30k-clean.model",
         work / "albert_base" / "30k-clean.model", work / "albert-base-v2" / "spiece.model",
         realdata / "assets" / "albert_en_spm" / "30k-clean.model")
    copy(vocab, work / "vocab.txt", work / "albert_tiny_zh" / "vocab.txt", work / "albert_base_zh" / "vocab.txt",
         work / "albert_tiny_zh_google" / "vocab.txt")

    # Checkpoints, written with the project's own writers.
    np.random.seed(0)
    tiny = AlbertConfig(**english)
    for prefix in ("albert_base/model.ckpt-best", "albert_base_v2/model.ckpt-best"):
        save_tf1(AlbertPretrainer(AlbertEncoder(tiny)), str(work / prefix), global_step=1)
    save_tf1(AlbertPretrainer(AlbertEncoder(AlbertConfig(**{**chinese, "hidden_act": "relu"}))),
             str(work / "albert_base_zh" / "model.ckpt-best"), global_step=1)
    brightmart = {**chinese, "embedding_layout": "project_first"}
    save_tf1(AlbertPretrainer(AlbertEncoder(AlbertConfig(**brightmart))), str(work / "albert_tiny_zh" / "albert_model.ckpt"),
             write_config=False)
    _write(work / "albert_tiny_zh" / "albert_config_tiny.json",
           json.dumps({**chinese, "ln_type": "postln", "directionality": "bidi"}, indent=2))
    save_tf1(AlbertPretrainer(AlbertEncoder(preset("albert_tiny_zh_google"))),
             str(work / "albert_tiny_zh_google" / "albert_model.ckpt"), write_config=False)
    # A TF1 TF-Hub module keeps the official names under `module/` in variables/variables.
    hub = export_weights(AlbertPretrainer(AlbertEncoder(preset("albert_base_v2"))))
    write_tf1_checkpoint({f"module/{name}": value for name, value in hub.items()},
                         str(work / "albert_base_hub" / "variables" / "variables"))
    save_hf(AlbertPretrainer(AlbertEncoder(tiny)), str(work / "albert-base-v2"))

    # Task files.
    for directory in (work / "glue_data" / "MRPC", realdata / "glue" / "MRPC"):
        _mrpc(directory, lines)
    for split in ("train", "dev", "test"):
        rows = [f"{lines[i]}\t{lines[i + 1]}\t{i % 2}" for i in range(16 if split == "train" else 8)]
        _write(work / "lcqmc" / f"{split}.txt", "\n".join(rows) + "\n")
    squad_fixtures = ROOT / "tests" / "fixtures" / "squad"
    for name, source in (("train-v1.1.json", "tiny-v1.1.json"), ("dev-v1.1.json", "tiny-v1.1.json"),
                         ("train-v2.0.json", "tiny-v2.0.json"), ("dev-v2.0.json", "tiny-v2.0.json"),
                         ("test.json", "tiny-v2.0.json")):
        _squad(work / name, squad_fixtures / source, copies=1)
    _squad(realdata / "squad" / "dev-v1.1.json", squad_fixtures / "tiny-v1.1.json", copies=7)  # 14 articles
    _squad(realdata / "cmrc2018" / "cmrc2018_trial.json", squad_fixtures / "cmrc-style-zh.json", copies=1)

    _ner_files(realdata / "ner")

    # Corpora and pretraining records (held-out records with the settings the docs' commands get).
    _write(work / "corpus" / "part-0.txt", _corpus(lines))
    _write(work / "corpus" / "part-1.txt", _corpus(lines[100:]))
    zh = [testlib.corpus_lines(200, seed=2)[i] for i in range(0, 200, 3)]
    _write(work / "zh" / "part-0.txt", _corpus(zh, documents=6, per_document=6))
    _write(base / "heldout" / "held.txt", _corpus(lines[200:], documents=4))
    for target, corpus in (("data/en128", "corpus/*.txt"), ("data/en128_heldout", str(base / "heldout" / "*.txt"))):
        subprocess.run(_shell_args(f"albert-create-pretraining-data --input_file='{corpus}' --output_dir={target} "
                                   f"--spm_model_file=30k-clean.model {CREATE}"),
                       cwd=work, env=_env(base), check=True, capture_output=True, text=True)
    log(f"fixtures built in {time.time() - started:.0f} s")


def _env(base: Path):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _shell_args(text):
    return ["bash", "-o", "pipefail", "-c", text]


def prepare_workspace(fixtures: Path, base: Path):
    """A fresh copy of the fixtures for one document, with the repository's scripts linked in."""
    shutil.copytree(fixtures, base, symlinks=True)
    for script in ("run_pretraining.py", "run_classifier.py", "run_squad.py", "run_ner.py"):
        (base / "work" / script).symlink_to(ROOT / script)
    for directory in ("tools", "bench", "tests"):
        (base / "work" / directory).symlink_to(ROOT / directory)
    (base / "tmp").mkdir(exist_ok=True)


def runnable_text(command: Command, runner: Runner, base: Path) -> str:
    text = command.text.replace("/tmp/", f"{base}/tmp/")
    extra = runner.append
    for pattern, flags in runner.when:
        if re.search(pattern, command.text):
            extra += " " + flags
    extra = extra.format(scratch=base).strip()
    return f"{text} {extra}" if extra else text


# ----------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="show how each command is handled; run nothing")
    parser.add_argument("--only", default="", help="only documents whose path contains this")
    parser.add_argument("--keep", default="", help="scratch directory to use and keep")
    parser.add_argument("--verbose", action="store_true", help="print every command's output")
    args = parser.parse_args()

    commands, problems = extract()
    problems += coverage(commands)
    if args.list:
        for command in commands:
            kind, detail = classify(command)
            how = detail if kind == "skip" else ("run" if kind == "run" else "UNLISTED")
            print(f"{command.doc}:{command.line}: [{how}] {command.text}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"docs check: {len(problems)} problem(s) with the command lists", file=sys.stderr)
        sys.exit(1)
    if args.list:
        return

    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="albert-docs-check-"))
    if args.keep and scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.time()
    ok, skipped, failed = [], [], []
    try:
        fixtures = scratch / "fixtures"
        build_fixtures(fixtures, log=print)
        docs = sorted({c.doc for c in commands if args.only in c.doc}, key=lambda d: (d != "README.md", d))
        for doc in docs:
            base = scratch / re.sub(r"[^A-Za-z0-9]+", "_", doc)
            prepare_workspace(fixtures, base)
            for command in (c for c in commands if c.doc == doc):
                kind, detail = classify(command)
                if kind == "skip":
                    skipped.append((command, detail))
                    print(f"-- not run  {doc}:{command.line}: {command.text[:90]}  ({detail})", flush=True)
                    continue
                text = runnable_text(command, detail, base)
                t0 = time.time()
                try:
                    result = subprocess.run(_shell_args(text), cwd=base / "work", env=_env(base),
                                            capture_output=True, text=True, timeout=detail.timeout, check=False)
                    code, output = result.returncode, result.stdout + result.stderr
                except subprocess.TimeoutExpired as error:
                    code, output = "timeout", f"{error.stdout or ''}{error.stderr or ''}"
                seconds = time.time() - t0
                if code == 0:
                    ok.append(command)
                    print(f"ok {seconds:5.0f}s  {doc}:{command.line}: {command.text[:100]}".replace("\n", " "), flush=True)
                    if args.verbose:
                        print(output[-3000:])
                else:
                    failed.append((command, code, output))
                    print(f"FAILED ({code}) {seconds:.0f}s  {doc}:{command.line}: {command.text}\n    ran: {text}\n"
                          + "\n".join("    | " + l for l in output.strip().splitlines()[-25:]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    minutes = (time.time() - started) / 60
    print(f"\ndocs check: {len(ok)} run OK, {len(skipped)} not run (listed with reasons), {len(failed)} failed "
          f"({minutes:.1f} min)")
    reasons = {}
    for _, reason in skipped:
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        print(f"  not run x{count}: {reason}")
    for command, code, _ in failed:
        print(f"  failed: {command.doc}:{command.line} (exit {code}): {command.text[:120]}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
