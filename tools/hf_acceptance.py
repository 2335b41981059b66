"""Hugging Face acceptance: our converted directories as transformers loads them.

Tiny model directories (random seeded weights) are written with the real vocabularies, an English one on
ALBERT's SentencePiece model and a Chinese one on the BERT-Chinese WordPiece vocabulary, and converted with
`albert-convert --output_format hf`. Then:
  * `AutoTokenizer` on each converted directory gives ids identical to this project's tokenizer on the first
    1,000 SST-2 train sentences (English: transformers' fast AlbertTokenizerFast, running the tokenizer.json
    albert-convert writes) and the first 1,000 LCQMC dev pairs (Chinese);
  * `pipeline("fill-mask")`, `pipeline("question-answering")` and `pipeline("token-classification")` load the
    converted directories and run.

With `--wide`, the English fast tokenizer is also compared on every SST-2 dev and train sentence, every MRPC
dev pair and every SQuAD v1.1 dev question (the differing texts are listed, up to 20 a set).

Needs the oracle extra (transformers 4.x + torch) and ../shared/realdata (see its README). Usage:

    python tools/hf_acceptance.py --out hf_acceptance_output [--wide]
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REALDATA = os.environ.get("ALBERT_TF_REALDATA", os.path.join(os.path.dirname(ROOT), "shared", "realdata"))
EN_SPM = os.path.join("assets", "albert_en_spm", "30k-clean.model")
ZH_VOCAB = os.path.join("assets", "albert_zh", "vocab.txt")
SST2 = os.path.join("glue", "SST-2", "train.tsv")
LCQMC = os.path.join("lcqmc", "dev.txt")
SST2_DEV = os.path.join("glue", "SST-2", "dev.tsv")
MRPC_DEV = os.path.join("glue", "MRPC", "dev.tsv")
SQUAD_DEV = os.path.join("squad", "dev-v1.1.json")
WIDE = (SST2_DEV, MRPC_DEV, SQUAD_DEV)
NEEDED = (EN_SPM, ZH_VOCAB, SST2, LCQMC)
LINES = 1000
MAX_SEQ_LENGTH = 64
TINY = dict(embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=48, num_hidden_layers=2,
            max_position_embeddings=128, hidden_act="gelu", hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
NER_LABELS = ["O", "B-name", "I-name", "B-address", "I-address"]


def missing_realdata(realdata: str = REALDATA):
    """The realdata files this check needs that are absent (empty when all are there)."""
    return [os.path.join(realdata, name) for name in NEEDED if not os.path.exists(os.path.join(realdata, name))]


def sst2_sentences(realdata: str, count: int = LINES, name: str = SST2):
    with open(os.path.join(realdata, name), encoding="utf-8") as handle:
        next(handle)  # header: sentence<TAB>label
        return [line.rstrip("\n").split("\t")[0] for _, line in zip(range(count), handle)]


def mrpc_pairs(realdata: str):
    with open(os.path.join(realdata, MRPC_DEV), encoding="utf-8-sig") as handle:
        next(handle)  # header: Quality, #1 ID, #2 ID, #1 String, #2 String
        return [tuple(line.rstrip("\n").split("\t")[3:5]) for line in handle]


def squad_questions(realdata: str):
    with open(os.path.join(realdata, SQUAD_DEV), encoding="utf-8") as handle:
        data = json.load(handle)["data"]
    return [qa["question"] for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def lcqmc_pairs(realdata: str, count: int = LINES):
    with open(os.path.join(realdata, LCQMC), encoding="utf-8") as handle:
        return [tuple(line.rstrip("\n").split("\t")[:2]) for _, line in zip(range(count), handle)]


def _model_directory(directory, tokenizer, task, seed):
    """A model directory of `task` over `tokenizer`, every weight drawn from `seed`."""
    from albert_tf import model_directory  # pylint: disable=import-outside-toplevel
    from albert_tf.checkpoints.names import model_slots  # pylint: disable=import-outside-toplevel
    from albert_tf.config import AlbertConfig  # pylint: disable=import-outside-toplevel

    config = AlbertConfig(vocab_size=tokenizer.vocab_size, **TINY)
    model = model_directory.build_model(config, task)
    rng = np.random.default_rng(seed)
    for slot in model_slots(model):
        noise = rng.standard_normal(tuple(slot.variable.shape)).astype(np.float32)
        slot.variable.assign(1.0 + 0.1 * noise if slot.name.endswith("LayerNorm/gamma") else 0.2 * noise)
    return model_directory.save_model_directory(directory, model, tokenizer, task)


def build_directories(realdata: str, work: str) -> dict:
    """{name: (our tokenizer, converted Hugging Face directory)} for the three heads."""
    from albert_tf import model_directory  # pylint: disable=import-outside-toplevel
    from albert_tf.cli.convert import convert  # pylint: disable=import-outside-toplevel
    from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer  # pylint: disable=import-outside-toplevel

    english = SentencePieceTokenizer(os.path.join(realdata, EN_SPM))
    chinese = WordPieceTokenizer(os.path.join(realdata, ZH_VOCAB))
    cases = {
        "en_pretraining": (english, {"kind": model_directory.PRETRAINING}),
        "en_squad": (english, model_directory.squad_task(version="1.1", head="span", max_seq_length=MAX_SEQ_LENGTH,
                                                         doc_stride=32, max_query_length=16, start_n_top=5,
                                                         end_n_top=5)),
        "zh_ner": (chinese, {"kind": model_directory.TOKEN_CLASSIFICATION, "task_name": "cluener",
                             "labels": NER_LABELS, "max_seq_length": MAX_SEQ_LENGTH}),
    }
    out = {}
    for seed, (name, (tokenizer, task)) in enumerate(sorted(cases.items())):
        ours = _model_directory(os.path.join(work, name), tokenizer, task, seed)
        hf_dir = os.path.join(work, f"{name}_hf")
        convert(ours, hf_dir, "hf")
        out[name] = (tokenizer, hf_dir)
    return out


def _ours(tokenizer, first, second=None):
    special = tokenizer.settings.special_ids
    ids = [special["cls"]] + tokenizer.encode(first) + [special["sep"]]
    if second is not None:
        ids += tokenizer.encode(second) + [special["sep"]]
    return ids


def compare_tokenizer(tokenizer, hf_dir, rows, use_fast=True, show=3):
    """Rows with identical ids and the first `show` differing rows, AutoTokenizer (fast by default, as
    transformers loads it; `use_fast=False`: its Python tokenizer) vs ours."""
    from transformers import AutoTokenizer  # pylint: disable=import-outside-toplevel

    theirs = AutoTokenizer.from_pretrained(hf_dir, use_fast=use_fast)
    same, differing, quoted = 0, [], 0
    for row in rows:
        row = row if isinstance(row, tuple) else (row,)
        want = _ours(tokenizer, *row)
        got = theirs(*row, truncation=False)["input_ids"]
        if got == want:
            same += 1
            continue
        # transformers' AlbertTokenizer always rewrites `` and '' to a double quote.
        quoted += any("``" in text or "''" in text for text in row)
        if len(differing) < show:
            differing.append({"text": row, "ours": tokenizer.convert_ids_to_tokens(want),
                              "transformers": theirs.convert_ids_to_tokens(got)})
    return {"tokenizer_class": type(theirs).__name__, "rows": len(rows), "identical": same,
            "differing_with_latex_quotes": quoted, "first_differences": differing}


def run_pipelines(directories) -> dict:
    from transformers import pipeline  # pylint: disable=import-outside-toplevel

    results = {}
    fill = pipeline("fill-mask", model=directories["en_pretraining"][1], framework="pt")
    filled = fill(f"the movie was {fill.tokenizer.mask_token} and the actors were good.")
    results["fill-mask"] = {"predictions": len(filled), "top": filled[0]["token_str"],
                            "score": round(float(filled[0]["score"]), 6)}
    qa = pipeline("question-answering", model=directories["en_squad"][1], framework="pt")
    answer = qa(question="who wrote the play?", context="the play was written by william shakespeare in london.")
    results["question-answering"] = {"answer": answer["answer"], "start": answer["start"], "end": answer["end"],
                                     "score": round(float(answer["score"]), 6)}
    tagger = pipeline("token-classification", model=directories["zh_ner"][1], framework="pt")
    tags = tagger("浙江杭州的张三在阿里巴巴工作。")
    results["token-classification"] = {"tokens": len(tags),
                                       "labels": sorted({tag["entity"] for tag in tags}),
                                       "labels_known": all(tag["entity"] in NER_LABELS for tag in tags)}
    return results


def wide_agreement(tokenizer, hf_dir, realdata: str) -> dict:
    """The English fast tokenizer vs ours on whole evaluation sets."""
    sets = {"sst2_dev": sst2_sentences(realdata, sys.maxsize, SST2_DEV),
            "sst2_train": sst2_sentences(realdata, sys.maxsize),
            "mrpc_dev_pairs": mrpc_pairs(realdata), "squad_v1.1_dev_questions": squad_questions(realdata)}
    return {name: compare_tokenizer(tokenizer, hf_dir, rows, show=20) for name, rows in sets.items()}


def run(realdata: str = REALDATA, lines: int = LINES, work: str = None, wide: bool = False) -> dict:
    absent = missing_realdata(realdata) + [os.path.join(realdata, name) for name in WIDE
                                           if wide and not os.path.exists(os.path.join(realdata, name))]
    if absent:
        raise FileNotFoundError(f"realdata files missing: {', '.join(absent)} (see ../shared/realdata/README.md)")
    with tempfile.TemporaryDirectory() as scratch:
        directories = build_directories(realdata, work or scratch)
        report = {
            "sst2_en": compare_tokenizer(*directories["en_pretraining"], sst2_sentences(realdata, lines)),
            "sst2_en_python_tokenizer": compare_tokenizer(*directories["en_pretraining"],
                                                          sst2_sentences(realdata, lines), use_fast=False),
            "lcqmc_zh": compare_tokenizer(*directories["zh_ner"], lcqmc_pairs(realdata, lines)),
            "pipelines": run_pipelines(directories),
        }
        if wide:
            report["wide_en_fast"] = wide_agreement(*directories["en_pretraining"], realdata)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", default=REALDATA)
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--out", default=None, help="directory for report.json (and the converted directories)")
    parser.add_argument("--wide", action="store_true",
                        help="also compare the English fast tokenizer on all of SST-2, MRPC dev and SQuAD dev questions")
    args = parser.parse_args()
    work = None
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        work = args.out
    report = run(args.realdata, args.lines, work, args.wide)
    text = json.dumps(report, indent=2, ensure_ascii=False, sort_keys=True)
    print(text)
    if args.out:
        with open(os.path.join(args.out, "report.json"), "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    # The acceptance is AutoTokenizer as transformers loads it (its fast tokenizer): identical ids.
    ok = all(report[key]["identical"] == report[key]["rows"] for key in ("sst2_en", "lcqmc_zh"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
