"""Full-corpus acceptance run for the tokenizers (issue 3).

Checks, on the real data in ../shared/realdata (or $ALBERT_TF_REALDATA):
  1. the known-answer ids of the realdata README (English SentencePiece);
  2. Python vs in-graph ids on every line of SST-2 dev, MRPC dev, SQuAD v1.1 dev contexts and
     questions (English) and LCQMC dev (Chinese);
  3. SQuAD v1.1 dev answers: char span -> token span -> original text == answer text;
  4. with --oracle, Python vs Hugging Face's slow reference tokenizers on the same texts.

Usage:
  TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python bench/tokenizer_agreement.py [--oracle] [--limit N]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import tensorflow as tf  # noqa: E402

from albert_tf.tokenization import (SentencePieceTokenizer, WordPieceTokenizer,  # noqa: E402
                                    char_span_to_token_span, iter_lines, layer_for)
import tokenization_testlib as testlib  # noqa: E402  (the published known answers)

KNOWN_ANSWERS = testlib.KNOWN_ANSWERS


def realdata_dir():
    env = os.environ.get("ALBERT_TF_REALDATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "realdata"


def tsv_column_texts(path, columns):
    texts = []
    for i, line in enumerate(iter_lines(path)):
        if i == 0:
            continue  # header
        fields = line.split("\t")
        texts.extend(fields[c] for c in columns if c < len(fields))
    return texts


def squad_texts(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    contexts, questions, answers = [], [], []
    for article in data:
        for para in article["paragraphs"]:
            contexts.append(para["context"])
            for qa in para["qas"]:
                questions.append(qa["question"])
                for ans in qa["answers"]:
                    answers.append((len(contexts) - 1, ans["answer_start"], ans["text"]))
    return contexts, questions, answers


def graph_ids(layer, texts, batch=256):
    fn = tf.function(layer.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
    out = []
    for i in range(0, len(texts), batch):
        out.extend(fn(tf.constant(texts[i:i + batch])).to_list())
    return out


def compare(name, texts, ids_a, ids_b, label_a, label_b, show=5):
    diffs = [i for i, (a, b) in enumerate(zip(ids_a, ids_b)) if list(a) != list(b)]
    rate = 100.0 * (len(texts) - len(diffs)) / max(len(texts), 1)
    print(f"  {name}: {len(texts) - len(diffs)}/{len(texts)} identical ({rate:.3f}%) "
          f"[{label_a} vs {label_b}]")
    for i in diffs[:show]:
        print(f"    DIFF #{i}: {texts[i]!r}\n      {label_a}: {list(ids_a[i])}\n"
              f"      {label_b}: {list(ids_b[i])}")
    if len(diffs) > show:
        print(f"    ... {len(diffs) - show} more")
    return diffs


def offsets_check(tok, contexts, answers):
    encodings = [tok.encode_with_offsets(c) for c in contexts]
    ok, failures = 0, []
    for ctx_index, start, text in answers:
        context, enc = contexts[ctx_index], encodings[ctx_index]
        span = char_span_to_token_span(enc.offsets, start, start + len(text))
        got = None if span is None else context[enc.offsets[span[0]][0]:enc.offsets[span[1]][1]]
        if got == text:
            ok += 1
        else:
            failures.append((text, got))
    return ok, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", action="store_true",
                        help="also compare with Hugging Face slow tokenizers (transformers 4.x)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N texts per corpus")
    args = parser.parse_args()
    root = realdata_dir()
    if not root.exists():
        sys.exit(f"real data not found at {root} (set ALBERT_TF_REALDATA)")
    cut = (lambda xs: xs[:args.limit]) if args.limit else (lambda xs: xs)

    en = SentencePieceTokenizer(root / "assets/albert_en_spm/30k-clean.model")
    zh = WordPieceTokenizer(root / "assets/albert_zh/vocab.txt")
    print("== known answers (30k-clean.model) ==")
    for text, want in KNOWN_ANSWERS:
        got = [en.cls_id] + en.encode(text) + [en.sep_id]
        print(f"  {'OK ' if got == want else 'FAIL'} {text[:50]!r}")

    contexts, questions, answers = squad_texts(root / "squad/dev-v1.1.json")
    corpora = [
        ("SST-2 dev", en, cut(tsv_column_texts(root / "glue/SST-2/dev.tsv", [0]))),
        ("MRPC dev", en, cut(tsv_column_texts(root / "glue/MRPC/dev.tsv", [3, 4]))),
        ("SQuAD v1.1 dev contexts", en, cut(contexts)),
        ("SQuAD v1.1 dev questions", en, cut(questions)),
        ("LCQMC dev (text_a, text_b)", zh,
         cut([t for line in iter_lines(root / "lcqmc/dev.txt") for t in line.split("\t")[:2]])),
    ]
    layers = {id(en): layer_for(en), id(zh): layer_for(zh)}
    oracles = {}
    if args.oracle:
        # HF's AlbertTokenizer also rewrites `` and '' to '"' (the original ALBERT does not), so
        # it is compared with our replace_quotes=True variant, whose in-graph twin is checked too.
        import transformers  # pylint: disable=import-outside-toplevel
        en_hf = SentencePieceTokenizer(root / "assets/albert_en_spm/30k-clean.model",
                                       replace_quotes=True)
        oracles[id(en)] = (en_hf, layer_for(en_hf), transformers.AlbertTokenizer(
            str(root / "assets/albert_en_spm/30k-clean.model"), do_lower_case=True))
        oracles[id(zh)] = (zh, None, transformers.BertTokenizer(
            str(root / "assets/albert_zh/vocab.txt"), do_lower_case=True))

    print("== Python vs in-graph ==")
    for name, tok, texts in corpora:
        t0 = time.time()
        py = tok.encode_batch(texts)
        g = graph_ids(layers[id(tok)], texts)
        compare(name, texts, py, g, "python", "in-graph")
        print(f"    ({time.time() - t0:.1f}s)")
        if id(tok) in oracles:
            variant, variant_layer, hf = oracles[id(tok)]
            label = "python"
            if variant is not tok:
                label = "python(replace_quotes)"
                py = variant.encode_batch(texts)
                compare(name, texts, py, graph_ids(variant_layer, texts), label,
                        "in-graph(replace_quotes)")
            ref = [hf.convert_tokens_to_ids(hf.tokenize(t)) for t in texts]
            compare(name, texts, py, ref, label, "HF slow")

    print("== SQuAD v1.1 dev answer offsets ==")
    ok, failures = offsets_check(en, contexts, answers)
    print(f"  {ok}/{len(answers)} answers reconstructed exactly ({100.0 * ok / len(answers):.3f}%)")
    for text, got in failures[:15]:
        print(f"    answer {text!r} -> tokens cover {got!r}")


if __name__ == "__main__":
    main()
