"""Writes tests/fixtures/squad/cmrc_metric_cases.json: a CMRC2018-format file of gold answers, sets of
perturbed predictions (one per kind of perturbation) and their EM/F1, per question and averaged, as the
official CMRC2018 evaluation defines them.

This is the oracle for `albert_tf.squad.cmrc_evaluation`, so it deliberately imports nothing from
the package: it follows the official script's own structure (one pass over the characters that skips
punctuation, flushes the pending non-CJK run through NLTK's `word_tokenize` at every CJK character,
and a full dynamic-programming table for the longest common substring of segments). NLTK's sentence
model is not needed: `preserve_line=True` skips the sentence split (see the package module).

Usage:
  .venv/bin/python tools/make_cmrc_metric_fixture.py            # rewrite the fixture
  .venv/bin/python tools/make_cmrc_metric_fixture.py --check    # exit 1 if the fixture is stale
"""

import argparse
import json
import re
import sys
from pathlib import Path

from nltk.tokenize import word_tokenize

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "squad" / "cmrc_metric_cases.json"

# The official `sp_char` list, "……" included as its single (never matching) entry.
SP_CHAR = ['-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=', '，', '。', '：', '？', '！', '“', '”', '；', '’',
           '《', '》', '……', '·', '、', '「', '」', '（', '）', '－', '～', '『', '』']


def mixed_segmentation(text):
    text = str(text).lower().strip()
    segs, pending = [], ""
    for char in text:
        if char in SP_CHAR:
            continue
        if re.search(r"[\u4e00-\u9fa5]", char):
            if pending:
                segs.extend(word_tokenize(pending, preserve_line=True))
                pending = ""
            segs.append(char)
        else:
            pending += char
    if pending:
        segs.extend(word_tokenize(pending, preserve_line=True))
    return segs


def remove_punctuation(text):
    return "".join(c for c in str(text).lower().strip() if c not in SP_CHAR)


def find_lcs(s1, s2):
    table = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
    best = 0
    for i in range(len(s1)):
        for j in range(len(s2)):
            if s1[i] == s2[j]:
                table[i + 1][j + 1] = table[i][j] + 1
                best = max(best, table[i + 1][j + 1])
    return best


def f1_score(answers, prediction):
    scores = []
    for answer in answers:
        ans, pred = mixed_segmentation(answer), mixed_segmentation(prediction)
        lcs = find_lcs(ans, pred)
        if lcs == 0:
            scores.append(0.0)
            continue
        precision, recall = lcs / len(pred), lcs / len(ans)
        scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def em_score(answers, prediction):
    return max(float(remove_punctuation(a) == remove_punctuation(prediction)) for a in answers)


# (id, gold answers): Chinese, Chinese with numbers and Latin words, several golds.
GOLDS = [
    ("zh-name", ["北京大学图书馆"]),
    ("zh-date", ["1998年5月4日"]),
    ("mixed-en", ["NBA总冠军"]),
    ("mixed-product", ["iPhone 6 Plus手机"]),
    ("zh-long", ["第二次世界大战结束以后的冷战时期"]),
    ("zh-dot", ["约翰·史密斯"]),
    ("number", ["3.14159"]),
    ("mixed-words", ["COVID-19疫苗的第三期临床试验"]),
    ("multi-gold", ["长江", "长江流域", "中国最长的河流长江"]),
]


def perturbations(gold):
    half = max(1, len(gold) // 2)
    return {
        "gold": gold,
        "trim_one": gold[:-1],
        "extra_one": gold + "的",
        "half": gold[:half],
        "fullwidth_period": gold + "。",
        "fullwidth_comma": gold + "，",
        "ascii_period": gold + ".",
        "ascii_question": gold + "?",
        "upper": gold.upper(),
        "spaced": "  " + gold + " ",
        "wrong": "完全无关",
    }


def dataset():
    """The gold answers as a CMRC2018-format (SQuAD-style) file: one article, one paragraph per question."""
    paragraphs = []
    for qid, golds in GOLDS:
        context = "据报道，" + "；另一种说法是".join(golds) + "。这是本段讨论的重点。"
        answers = [{"text": g, "answer_start": context.index(g)} for g in golds]
        paragraphs.append({"id": f"{qid}-p", "context": context,
                           "qas": [{"id": qid, "question": "文中提到了什么？", "answers": answers}]})
    return {"version": "v1.0", "data": [{"title": "扰动测试", "id": "perturbed", "paragraphs": paragraphs}]}


def build():
    golds = dict(GOLDS)
    predictions = {}
    for qid, answers in GOLDS:
        for kind, prediction in perturbations(answers[0]).items():
            predictions.setdefault(kind, {})[qid] = prediction
    # One file where a question has no prediction: it counts 0, as officially.
    predictions["one_missing"] = {qid: answers[0] for qid, answers in GOLDS[1:]}
    expected = {}
    for kind, by_question in predictions.items():
        scores = {qid: {"exact_match": em_score(golds[qid], p), "f1": f1_score(golds[qid], p)}
                  for qid, p in by_question.items()}
        expected[kind] = {"exact_match": 100.0 * sum(v["exact_match"] for v in scores.values()) / len(golds),
                          "f1": 100.0 * sum(v["f1"] for v in scores.values()) / len(golds),
                          "per_question": scores}
    return {"generated_by": "tools/make_cmrc_metric_fixture.py", "dataset": dataset(), "predictions": predictions,
            "expected": expected}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixture instead")
    args = parser.parse_args()
    text = json.dumps(build(), ensure_ascii=False, indent=1) + "\n"
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("fixture is current" if same else f"{OUT} is stale: rerun without --check")
        sys.exit(0 if same else 1)
    temp = OUT.with_suffix(".tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(OUT)
    print(f"wrote {sum(len(p) for p in build()['predictions'].values())} scored predictions to {OUT}")


if __name__ == "__main__":
    main()
