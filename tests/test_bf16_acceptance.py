"""The statistics of tools/bf16_acceptance.py on made-up accuracies (no model, no training)."""

import pytest
from scipy import stats

import bf16_acceptance as acceptance


def test_paired_differences_are_bf16_minus_float32_in_points_seed_by_seed():
    summary = acceptance.paired_summary({"off": [0.80, 0.82, 0.78], "bf16": [0.79, 0.83, 0.78]})
    assert summary["bf16_minus_fp32"]["differences_points"] == pytest.approx([-1.0, 1.0, 0.0])
    assert summary["off"]["mean"] == pytest.approx(80.0)
    assert summary["off"]["std"] == pytest.approx(2.0)
    assert summary["bf16"]["mean"] == pytest.approx(80.0)
    # Pairing removes the spread the two precisions share: the seeds differ by 4 points, the pairs by 1.
    assert summary["bf16_minus_fp32"]["std"] == pytest.approx(1.0)


def test_the_interval_is_where_a_one_sample_t_test_of_the_differences_reaches_5_percent():
    summary = acceptance.paired_summary({"off": [0.80, 0.81, 0.79, 0.80], "bf16": [0.795, 0.80, 0.792, 0.801]})
    paired = summary["bf16_minus_fp32"]
    for bound in paired["ci95"]:
        assert stats.ttest_1samp(paired["differences_points"], bound).pvalue == pytest.approx(0.05)


@pytest.mark.parametrize("bf16, expected", [
    ([0.801, 0.811, 0.790], "met"),                 # within a tenth of a point every time
    ([0.780, 0.790, 0.771], "NOT met"),             # two points lost every time
    ([0.790, 0.820, 0.780], "not resolved"),        # -1, +1, -1: the interval spans -0.5
])
def test_verdict_against_the_half_point_target(bf16, expected):
    verdict = acceptance.paired_summary({"off": [0.80, 0.81, 0.79], "bf16": bf16})["bf16_minus_fp32"]["verdict"]
    assert verdict.startswith(expected), verdict


def test_one_seed_says_the_spread_is_unknown():
    summary = acceptance.paired_summary({"off": [0.814], "bf16": [0.795]})
    assert summary["off"]["std"] is None and "ci95" not in summary["bf16_minus_fp32"]
    assert summary["bf16_minus_fp32"]["verdict"].startswith("one seed")


def test_unpaired_accuracies_are_refused():
    with pytest.raises(ValueError, match="one value per seed in both precisions, got 2 float32 and 1 bf16"):
        acceptance.paired_summary({"off": [0.8, 0.81], "bf16": [0.8]})


def test_training_rate_leaves_out_the_first_progress_line():
    log = "\n".join([
        "I1130 10:15:34.9 callbacks.py:44] step 100/1000  loss 0.6909  57.1 examples/s  ETA 63s",
        "I1130 10:15:39.7 callbacks.py:44] step 200/1000  loss 0.5989  600.0 examples/s  ETA 38s",
        "I1130 10:15:44.5 runner.py:275] eval at step 200: dev/accuracy=0.7924",
        "I1130 10:15:49.7 callbacks.py:44] step 300/1000  loss 0.4452  700.0 examples/s  ETA 31s",
        "I1130 10:15:56.3 callbacks.py:44] step 400/1000  loss 0.3921  650.0 examples/s  ETA 33s",
    ])
    assert acceptance.training_examples_per_second(log) == pytest.approx(650.0)
    assert acceptance.training_examples_per_second("step 100/1000  loss 0.69  57.1 examples/s") is None


def _run(seed, precision, accuracy, histogram):
    return {"seed": seed, "precision": precision, "dev_accuracy": accuracy, "prediction_histogram": histogram}


def test_a_run_that_predicts_one_class_is_summarized_apart():
    runs = [_run(1, "off", 0.80, {"0": 400, "1": 472}), _run(1, "bf16", 0.79, {"0": 410, "1": 462}),
            _run(2, "off", 0.509, {"1": 872}), _run(2, "bf16", 0.74, {"0": 439, "1": 433}),
            _run(3, "off", 0.81, {"0": 420, "1": 452}), _run(3, "bf16", 0.80, {"0": 0, "1": 872}),
            _run(4, "off", 0.78, {"0": 430, "1": 442}), _run(4, "bf16", 0.78, {"0": 431, "1": 441})]
    summaries = acceptance.accuracy_summaries(runs, [1, 2, 3, 4])
    assert summaries["collapsed_seeds"] == {2: ["off"], 3: ["bf16"]}
    assert summaries["accuracy"]["bf16_minus_fp32"]["seeds"] == 4
    kept = summaries["accuracy_without_collapsed"]["bf16_minus_fp32"]
    assert kept["seeds"] == 2 and kept["differences_points"] == pytest.approx([-1.0, 0.0])


def test_no_collapse_no_second_summary():
    runs = [_run(1, "off", 0.80, {"0": 400, "1": 472}), _run(1, "bf16", 0.79, {"0": 410, "1": 462})]
    assert set(acceptance.accuracy_summaries(runs, [1])) == {"accuracy"}
