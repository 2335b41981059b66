"""Task metrics vs scikit-learn/scipy on the same predictions; padding rows; warnings; submission files."""

import json
import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk

from albert_tf.finetuning import evaluation, get_task, predictions
from albert_tf.finetuning.tasks import CLUE_JSON, GLUE_TSV


def _outputs(rng, n, width, pad):
    """Model outputs for n real rows followed by `pad` weight-0 rows holding garbage."""
    outputs = rng.normal(size=(n + pad, width))
    weights = np.concatenate([np.ones(n), np.zeros(pad)])
    return outputs, weights


@pytest.mark.parametrize("task_name", ["CoLA", "MRPC", "QQP", "SST-2", "MNLI", "TNEWS"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_equal_sklearn(task_name, seed):
    task = get_task(task_name)
    rng = np.random.default_rng(seed)
    n, pad = 257, 31
    outputs, weights = _outputs(rng, n, len(task.labels), pad)
    labels = np.concatenate([rng.integers(0, len(task.labels), n), rng.integers(0, len(task.labels), pad)])
    got = task.compute_metrics(outputs, labels, weights)
    predicted = outputs[:n].argmax(-1)
    expected = {"accuracy": lambda: sk.accuracy_score(labels[:n], predicted),
                "f1": lambda: sk.f1_score(labels[:n], predicted),
                "mcc": lambda: sk.matthews_corrcoef(labels[:n], predicted)}
    assert set(got) == set(task.metric_names)
    for name in task.metric_names:
        assert got[name] == pytest.approx(expected[name](), abs=1e-6), name
    # The padding rows really are excluded: counting them changes the accuracy.
    with_padding = task.compute_metrics(outputs, labels)
    assert with_padding["accuracy"] == pytest.approx(sk.accuracy_score(labels, outputs.argmax(-1)), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_equal_scipy(seed):
    task = get_task("STS-B")
    rng = np.random.default_rng(seed)
    n, pad = 300, 20
    outputs, weights = _outputs(rng, n, 1, pad)
    labels = np.round(rng.uniform(0, 5, n + pad) * 5) / 5  # ties, as in STS-B
    outputs[:n, 0] = labels[:n] + rng.normal(scale=1.5, size=n)
    got = task.compute_metrics(outputs, labels, weights)
    assert got["pearson"] == pytest.approx(stats.pearsonr(outputs[:n, 0], labels[:n])[0], abs=1e-6)
    assert got["spearman"] == pytest.approx(stats.spearmanr(outputs[:n, 0], labels[:n])[0], abs=1e-6)
    assert got["mse"] == pytest.approx(np.mean((outputs[:n, 0] - labels[:n]) ** 2), abs=1e-6)


def test_multiple_choice_accuracy_and_prediction_letters():
    task = get_task("RACE")
    rng = np.random.default_rng(3)
    outputs = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, 50)
    assert task.compute_metrics(outputs, labels)["accuracy"] == pytest.approx(
        sk.accuracy_score(labels, outputs.argmax(-1)), abs=1e-6)
    assert task.prediction_strings(outputs) == ["ABCD"[i] for i in outputs.argmax(-1)]


def test_degenerate_predictions():
    cola = get_task("CoLA")
    labels = np.array([0, 1] * 20)
    constant = np.tile([0.0, 1.0], (40, 1))
    got = cola.compute_metrics(constant, labels)
    assert got["mcc"] == pytest.approx(sk.matthews_corrcoef(labels, np.ones(40)), abs=1e-6)  # 0.0
    assert "are '1'" in evaluation.collapse_warning(cola, constant, "CoLA dev")
    balanced = np.tile([[0.0, 1.0], [1.0, 0.0]], (20, 1))
    assert evaluation.collapse_warning(cola, balanced, "CoLA dev") is None
    sts = get_task("STS-B")
    flat = sts.compute_metrics(np.full((10, 1), 2.5), np.linspace(0, 5, 10))
    assert math.isnan(flat["pearson"]) and math.isnan(flat["spearman"])
    assert "collapsed" in evaluation.collapse_warning(sts, np.full((10, 1), 2.5), "STS-B dev")


def test_stuck_loss_warning_and_eval_loss():
    mnli = get_task("MNLI")
    assert "ln(3)" in evaluation.stuck_loss_warning(mnli, math.log(3) + 0.003, "MNLI")
    assert evaluation.stuck_loss_warning(mnli, 0.7, "MNLI") is None
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(64, 3)), rng.integers(0, 3, 64)
    assert evaluation.mean_loss(mnli, logits, labels) == pytest.approx(
        sk.log_loss(labels, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), labels=[0, 1, 2]), abs=1e-6)


def test_submission_files(tmp_path):
    mnli = get_task("MNLI")
    outputs = np.eye(3)[[1, 0, 2, 1]]
    path = predictions.write_predictions(str(tmp_path / "MNLI-m.tsv"), GLUE_TSV, ["0", "1", "2", "3"],
                                         mnli.prediction_strings(outputs))
    assert open(path).read().splitlines() == ["index\tprediction", "0\tentailment", "1\tcontradiction",
                                              "2\tneutral", "3\tentailment"]
    sts = get_task("STS-B").prediction_strings(np.array([[-0.3], [2.71828], [5.6]]))
    assert sts == ["0.000", "2.718", "5.000"]
    path = predictions.write_predictions(str(tmp_path / "afqmc_predict.json"), CLUE_JSON, ["0", "1"], ["1", "0"])
    assert [json.loads(line) for line in open(path)] == [{"id": 0, "label": "1"}, {"id": 1, "label": "0"}]
    with pytest.raises(ValueError, match="1 predictions for 2 examples"):
        predictions.write_predictions(str(tmp_path / "x.tsv"), GLUE_TSV, ["0", "1"], ["1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MNLI-m.tsv", "afqmc_predict.json"]


def test_collapse_warning_without_training_gives_no_training_advice():
    cola = get_task("CoLA")
    constant = np.tile([[0.0, 1.0]], (30, 1))
    assert "--learning_rate" in evaluation.collapse_warning(cola, constant, "CoLA dev")
    untrained = evaluation.collapse_warning(cola, constant, "CoLA dev", trained=False)
    assert "--learning_rate" not in untrained and "did not train" in untrained and "--init_checkpoint" in untrained
