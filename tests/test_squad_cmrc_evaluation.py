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
from albert_tf.squad import reading, scoring

REPO = Path(__file__).resolve().parents[1]
CASES = json.loads((FIXTURES / "squad" / "cmrc_metric_cases.json").read_text(encoding="utf-8"))


def test_fixture_is_what_the_oracle_script_writes():
    done = subprocess.run([sys.executable, str(REPO / "tools" / "make_cmrc_metric_fixture.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def gold(tmp_path_factory):
    """The fixture's CMRC2018-format file, read as run_squad.py reads it."""
    path = tmp_path_factory.mktemp("cmrc") / "perturbed.json"
    path.write_text(json.dumps(CASES["dataset"], ensure_ascii=False), encoding="utf-8")
    examples, _ = reading.read_squad(str(path), "1.1", training=False)
    return squad_ev.gold_answers_from_examples(examples)


@pytest.mark.parametrize("kind", sorted(CASES["predictions"]))
def test_each_perturbation_scores_as_the_oracle(gold, kind):
    predictions, expected = CASES["predictions"][kind], CASES["expected"][kind]
    for qid, prediction in predictions.items():
        assert max(cmrc.exact_match(prediction, g) for g in gold[qid]) == expected["per_question"][qid]["exact_match"]
        assert max(cmrc.f1(prediction, g) for g in gold[qid]) == pytest.approx(
            expected["per_question"][qid]["f1"], abs=1e-12), (kind, qid, prediction)
    out = scoring.score_v1("cmrc2018", gold, predictions)
    assert out["metric"] == "cmrc2018" and out["missing"] == len(gold) - len(predictions)
    assert out["exact_match"] == pytest.approx(expected["exact_match"], abs=1e-9)
    assert out["f1"] == pytest.approx(expected["f1"], abs=1e-9)


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
