"""Tokenizer throughput: Python and in-graph albert_tf tokenizers vs Hugging Face `tokenizers`.

Same text, same machine: SST-2 train sentences (English, 30k-clean.model) and LCQMC dev+test
text_a/text_b (Chinese, albert_zh vocab.txt; LCQMC train is not available here). Tokens/s counts
the ids each tokenizer produced without [CLS]/[SEP]. HF fast tokenizers are built from the same
assets (AlbertTokenizerFast via the slow->fast converter, BertTokenizerFast from vocab.txt) and are
an optional peer: the library never imports transformers.

Usage:
  TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_tokenizers.py [--repeats 2] \
      [--out bench/results/tokenizers.md]
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from machine_info import cpu_flags, cpu_model, describe_flags  # noqa: E402  (bench/ is the script's directory)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402

from albert_tf.tokenization import (SentencePieceTokenizer, WordPieceTokenizer,  # noqa: E402
                                    iter_lines, layer_for)


def realdata_dir():
    env = os.environ.get("ALBERT_TF_REALDATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "realdata"




def best_of(repeats, fn):
    """(best seconds, result of the last run)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def graph_runner(layer, texts, batch):
    fn = tf.function(layer.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
    fn(tf.constant(texts[:8]))  # trace once, outside the timing
    chunks = [tf.constant(texts[i:i + batch]) for i in range(0, len(texts), batch)]

    def run():
        return [ids for c in chunks for ids in fn(c).to_list()]

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1024, help="in-graph batch size")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" /
                                            "tokenizers.md"))
    args = parser.parse_args()
    root = realdata_dir()
    if not root.exists():
        sys.exit(f"real data not found at {root} (set ALBERT_TF_REALDATA)")

    sst = [line.split("\t")[0] for i, line in enumerate(iter_lines(root / "glue/SST-2/train.tsv"))
           if i > 0]
    lcqmc = [t for name in ("dev.txt", "test.txt") for line in iter_lines(root / "lcqmc" / name)
             for t in line.split("\t")[:2]]
    en = SentencePieceTokenizer(root / "assets/albert_en_spm/30k-clean.model")
    zh = WordPieceTokenizer(root / "assets/albert_zh/vocab.txt")
    try:
        import transformers  # pylint: disable=import-outside-toplevel
        hf = {"en": transformers.AlbertTokenizerFast(
                  vocab_file=str(root / "assets/albert_en_spm/30k-clean.model")),
              "zh": transformers.BertTokenizerFast(vocab_file=str(root / "assets/albert_zh/vocab.txt"))}
        import tokenizers  # pylint: disable=import-outside-toplevel
        hf_version = f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}"
    except ImportError:
        hf, hf_version = {}, "not installed"

    rows = []
    for corpus, key, tok, texts in [("SST-2 train", "en", en, sst), ("LCQMC dev+test", "zh", zh, lcqmc)]:
        def py_run(tok=tok, texts=texts):
            return tok.encode_batch(texts)

        def py_single(tok=tok, texts=texts):
            return [tok.encode(t) for t in texts]

        runs = [("albert_tf Python (encode_batch)", py_run),
                ("albert_tf Python (encode, one by one)", py_single),
                (f"albert_tf in-graph (tf.function, batch {args.batch})",
                 graph_runner(layer_for(tok), texts, args.batch))]
        if key in hf:
            fast = hf[key]

            def hf_backend(fast=fast, texts=texts):
                out = fast.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
                return [e.ids for e in out]

            def hf_call(fast=fast, texts=texts):
                return fast(texts, add_special_tokens=False)["input_ids"]

            runs.append(("HF `tokenizers` fast: Tokenizer.encode_batch", hf_backend))
            runs.append(("HF transformers fast: tokenizer(texts)", hf_call))
        reference = None
        for name, fn in runs:
            seconds, ids = best_of(args.repeats, fn)
            tokens = sum(len(x) for x in ids)
            reference = reference or ids
            same = 100.0 * sum(list(a) == list(b) for a, b in zip(ids, reference)) / len(texts)
            rows.append((corpus, name, len(texts), tokens, seconds, same))
            print(f"{corpus:15s} {name:45s} {len(texts):7d} texts {tokens:9d} tokens "
                  f"{seconds:7.2f}s {tokens / seconds:12,.0f} tok/s  same ids {same:.2f}%",
                  flush=True)

    lines = [
        "# Tokenizer throughput",
        "",
        f"- machine: {os.cpu_count()} CPU cores (nproc), {cpu_model()}, {describe_flags(cpu_flags())}",
        f"- TensorFlow {tf.__version__}, tensorflow-text {__import__('tensorflow_text').__version__}, "
        f"Python {platform.python_version()}; peers: {hf_version}",
        f"- best of {args.repeats} runs; tokens exclude [CLS]/[SEP]; command: "
        "`TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/bench_tokenizers.py`",
        "",
        "| corpus | tokenizer | texts | tokens | seconds | tokens/s | texts with ids = albert_tf Python |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for corpus, name, n, tokens, seconds, same in rows:
        lines.append(f"| {corpus} | {name} | {n} | {tokens} | {seconds:.2f} | "
                     f"{tokens / seconds:,.0f} | {same:.2f}% |")
    lines += ["", "HF's fast ALBERT tokenizer is not id-compatible with the reference pipeline: it "
              "keeps a trailing `▁` for trailing whitespace (SST-2 lines end with a space), rewrites "
              "``/'' quotes and skips the digit-comma re-split (see docs/tokenization.md). "
              "The slow HF tokenizers agree with albert_tf on every checked text "
              "(bench/tokenizer_agreement.py --oracle).", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
