"""The CMRC2018 metric against the committed oracle fixture (tools/make_cmrc_metric_fixture.py, written
from the official definitions), and where it differs from SQuAD's metric on Chinese."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REALDATA
from albert_tf.squad import cmrc_evaluation as cmrc
from albert_tf.squad import evaluation as squad_ev

REPO = Path(__file__).resolve().parents[1]
CASES = json.loads((FIXTURES / "squad" / "cmrc_metric_cases.json").read_text(encoding="utf-8"))


def test_fixture_is_what_the_oracle_script_writes():
    done = subprocess.run([sys.executable, str(REPO / "tools" / "make_cmrc_metric_fixture.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["id"] for c in CASES["cases"]])
def test_each_perturbed_prediction_scores_as_the_oracle(case):
    em = max(cmrc.exact_match(case["prediction"], g) for g in case["golds"])
    f1 = max(cmrc.f1(case["prediction"], g) for g in case["golds"])
    assert em == case["exact_match"]
    assert f1 == pytest.approx(case["f1"], abs=1e-12)


def test_averages_per_perturbation_and_missing_predictions():
    by_kind = {}
    for n, case in enumerate(CASES["cases"]):
        by_kind.setdefault(case["kind"], ({}, {}))
        gold, predictions = by_kind[case["kind"]]
        gold[str(n)] = case["golds"]
        predictions[str(n)] = case["prediction"]
    for kind, (gold, predictions) in by_kind.items():
        out = cmrc.evaluate(gold, predictions)
        assert out["f1"] == pytest.approx(CASES["totals_by_kind"][kind]["f1"], abs=1e-9), kind
        assert out["exact_match"] == pytest.approx(CASES["totals_by_kind"][kind]["exact_match"], abs=1e-9), kind
    gold = {"a": ["长江"], "b": ["黄河"]}
    assert cmrc.evaluate(gold, {"a": "长江"}) == {"exact_match": 50.0, "f1": 50.0, "total": 2, "missing": 1}


def test_chinese_differs_from_the_squad_metric_as_officially():
    gold, short = "北京大学图书馆", "北京大学图书"
    assert squad_ev.f1_v1(short, gold) == 0.0                    # whitespace tokens: one token each, different
    assert cmrc.f1(short, gold) == pytest.approx(2 * 6 / 7 / (1 + 6 / 7))
    assert cmrc.exact_match(gold + "。", gold) == 1               # full-width period is in the punctuation set
    assert squad_ev.exact_match(gold + "。", gold) == 0
    assert cmrc.exact_match(gold + ".", gold) == 0                # the ASCII period is not: one extra segment
    assert cmrc.f1(gold + ".", gold) == pytest.approx(2 * 7 / 8 / (1 + 7 / 8))
    assert cmrc.segments("iPhone 6 Plus手机…") == ["iphone", "6", "plus", "手", "机", "…"]  # "…" is kept


@pytest.mark.realdata
def test_trial_file_perturbations_land_near_the_published_sanity_numbers():
    path = REALDATA / "cmrc2018" / "cmrc2018_trial.json"
    if not path.exists():
        pytest.skip(f"real CMRC2018 data not found: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    gold = {qa["id"]: [a["text"] for a in qa["answers"]]
            for article in data["data"] for p in article["paragraphs"] for qa in p["qas"]}
    first = {qid: answers[0] for qid, answers in gold.items()}
    assert cmrc.evaluate(gold, first)["f1"] == 100.0
    trimmed = cmrc.evaluate(gold, {q: a[:-1] for q, a in first.items()})
    period = cmrc.evaluate(gold, {q: a + "。" for q, a in first.items()})
    dot = cmrc.evaluate(gold, {q: a + "." for q, a in first.items()})
    squad_trimmed = squad_ev.evaluate_v1(gold, {q: a[:-1] for q, a in first.items()})
    # Measured on the 1,002 trial questions: trimmed F1 92.8 (SQuAD's metric: 4.9), "。" 100, "." 94.2.
    assert period["f1"] == 100.0 and period["exact_match"] > 99.5  # one gold ends in a space before "。"
    assert 85 < trimmed["f1"] < 97 and squad_trimmed["f1"] < 15
    assert 88 < dot["f1"] < 97 and dot["exact_match"] < 5
