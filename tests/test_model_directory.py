"""The one model directory: written whole, read back typed, refused when incomplete, old SQuAD layout read."""

import json
import logging
import os

import numpy as np
import pytest

from albert_tf import model_directory as md
from albert_tf.checkpoints.names import model_slots
from albert_tf.config import AlbertConfig
from albert_tf.modeling import AlbertClassifier, AlbertEncoder
from albert_tf.squad.modeling import build_squad_model
from albert_tf.tokenization import SentencePieceTokenizer
from conftest import FIXTURES

SPM = FIXTURES / "direct_use" / "en" / "tiny.model"
SQUAD_TASK = md.squad_task(version="2.0", head="span", max_seq_length=32, doc_stride=8, max_query_length=8,
                           start_n_top=3, end_n_top=3, null_threshold=-1.5)
MNLI = {"kind": "classification", "task_name": "MNLI", "labels": ["contradiction", "entailment", "neutral"],
        "max_seq_length": 32}


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer(str(SPM))


@pytest.fixture(scope="module")
def config(tokenizer):
    return AlbertConfig(vocab_size=tokenizer.vocab_size, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=24, max_position_embeddings=32)


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for slot in model_slots(model):
        slot.variable.assign(rng.normal(size=tuple(slot.variable.shape)).astype("float32"))
    return model


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("head", ["span", "xlnet"])
def test_squad_model_round_trips_with_its_task(tmp_path, config, tokenizer, head):
    model = _randomize(build_squad_model(config, head, None, 3, 3), seed=1)
    task = dict(SQUAD_TASK, head=head)
    prefix = md.save_model_directory(str(tmp_path / "squad_model"), model, tokenizer, task, global_step=5)
    assert prefix == str(tmp_path / "squad_model" / "model.ckpt")
    saved = md.read_model_directory(str(tmp_path / "squad_model"))
    assert saved.kind == "squad" and saved.task["head"] == head and saved.task["null_threshold"] == -1.5
    assert saved.config.to_official_dict() == config.to_official_dict() and not saved.legacy
    assert sorted(os.listdir(tmp_path)) == ["squad_model"]  # no temporary left next to it
    again = build_squad_model(saved.config, head, None, 3, 3)
    report = md.load_model_weights(again, saved)
    assert not report.missing and not report.newly_initialized and _same_weights(model, again)


def test_checkpoint_prefix_inside_a_model_directory_names_it(tmp_path, config, tokenizer):
    md.save_model_directory(str(tmp_path / "best"), AlbertClassifier(AlbertEncoder(config), 3), tokenizer, MNLI)
    assert md.model_directory_of(str(tmp_path / "best" / "model.ckpt")) == str(tmp_path / "best")
    assert md.read_model_directory(str(tmp_path / "best" / "model.ckpt")).labels == MNLI["labels"]
    assert md.model_directory_of(str(tmp_path)) is None


@pytest.mark.parametrize("missing", ["albert_config.json", "model.ckpt.index", "model.ckpt.data-00000-of-00001",
                                     "tokenizer_config.json", "tiny.model", "task.json"])
def test_an_incomplete_directory_is_refused_naming_the_missing_file(tmp_path, config, tokenizer, missing):
    directory = tmp_path / "best"
    md.save_model_directory(str(directory), AlbertClassifier(AlbertEncoder(config), 3), tokenizer, MNLI)
    (directory / missing).unlink()
    named = "model.ckpt.data-*" if missing.startswith("model.ckpt.data") else missing
    with pytest.raises(md.ModelDirectoryError, match=named.replace(".", r"\.").replace("*", r"\*")):
        md.read_model_directory(str(directory))


@pytest.mark.parametrize("change, message", [
    ({"kind": "ner"}, r"field 'kind' is 'ner'; expected one of pretraining, classification"),
    ({"labels": []}, r"field 'labels' is required \(non-empty\) for kind classification"),
    ({"max_seq_length": None}, r"field 'max_seq_length' is required for kind classification"),
    ({"labels": "abc"}, r"field 'labels' is 'abc'; expected a list"),
])
def test_a_task_file_that_does_not_describe_a_model_is_refused_naming_the_field(tmp_path, config, tokenizer,
                                                                                change, message):
    directory = tmp_path / "best"
    md.save_model_directory(str(directory), AlbertClassifier(AlbertEncoder(config), 3), tokenizer, MNLI)
    task = json.loads((directory / "task.json").read_text())
    (directory / "task.json").write_text(json.dumps({**task, **change}))
    with pytest.raises(md.ModelDirectoryError, match=rf"task\.json: {message}"):
        md.read_model_directory(str(directory))
    (directory / "task.json").write_text('{"kind": "classification",\n "labels": [1,]}')
    with pytest.raises(md.ModelDirectoryError, match=r"task\.json:2: not valid json"):
        md.read_model_directory(str(directory))


def test_a_task_that_does_not_validate_is_refused_before_anything_is_written(tmp_path, config, tokenizer):
    with pytest.raises(md.ModelDirectoryError, match="field 'version'"):
        md.save_model_directory(str(tmp_path / "squad_model"), build_squad_model(config, "span"), tokenizer,
                                {**SQUAD_TASK, "version": None})
    assert not os.listdir(tmp_path)


def test_the_head_is_restored_only_for_the_same_task(tmp_path, config, tokenizer):
    trained = _randomize(AlbertClassifier(AlbertEncoder(config), 3), seed=2)
    md.save_model_directory(str(tmp_path / "best"), trained, tokenizer, MNLI)
    saved = md.read_model_directory(str(tmp_path / "best"))

    same = AlbertClassifier(AlbertEncoder(config), 3)
    report, reason = md.load_for_task(same, saved, dict(MNLI))
    assert reason is None and not report.newly_initialized and _same_weights(trained, same)

    other = AlbertClassifier(AlbertEncoder(config), 2)  # another task: its own head, the encoder reused
    report, reason = md.load_for_task(other, saved, {"kind": "classification", "labels": ["0", "1"]})
    assert "its labels are ['contradiction', 'entailment', 'neutral'], this run's are ['0', '1']" == reason
    assert report.newly_initialized == ["output_weights", "output_bias"] and not report.missing
    assert _same_weights(trained.encoder, other.encoder)

    squad = build_squad_model(config, "span")
    report, reason = md.load_for_task(squad, saved, SQUAD_TASK)
    assert reason == "it was trained for classification, this run is squad"
    assert report.newly_initialized == ["cls/squad/output_weights", "cls/squad/output_bias"]


def test_the_earlier_squad_layout_is_still_read(tmp_path, config, tokenizer, caplog):
    model = _randomize(build_squad_model(config, "span", None, 3, 3), seed=3)
    directory = tmp_path / "squad_model"
    directory.mkdir()
    model.save_weights(str(directory / md.LEGACY_SQUAD_WEIGHTS))
    config.to_json_file(str(directory / "albert_config.json"))
    from albert_tf.tokenization import save_tokenizer_assets
    save_tokenizer_assets(tokenizer, str(directory))
    head = {key: SQUAD_TASK[key] for key in ("version", "head", "start_n_top", "end_n_top", "max_seq_length",
                                             "doc_stride", "max_query_length", "null_threshold")}
    (directory / md.LEGACY_SQUAD_HEAD).write_text(json.dumps(head))
    caplog.set_level(logging.INFO, logger="albert_tf")
    saved = md.read_model_directory(str(directory))
    assert saved.legacy and saved.task["null_threshold"] == -1.5 and "earlier layout" in caplog.text
    again = build_squad_model(config, "span", None, 3, 3)
    md.load_model_weights(again, saved)
    assert _same_weights(model, again)


# --- the commands that read a model directory ---------------------------------------------------

_EXPORT_CHECKS = """
import sys
from albert_tf import model_directory
from albert_tf.cli import export
best, target = sys.argv[1], sys.argv[2]
print(export._settings_of(model_directory.read_model_directory(best), None, None, None, None, None))
for kind, flags in [("squad", {}), (None, {"task_name": "SST-2"}), (None, {"max_seq_length": 64}),
                    (None, {"labels": ["0", "1"]})]:
    try:
        export.export_checkpoint(kind, best, target, **flags)
    except ValueError as error:
        print("refused:", error)
"""


def test_albert_export_takes_its_settings_from_task_json_and_refuses_contradicting_flags(tmp_path, config,
                                                                                         tokenizer):
    import subprocess
    import sys
    # In a process of its own: the command modules define absl flags of the same names.
    md.save_model_directory(str(tmp_path / "best"), AlbertClassifier(AlbertEncoder(config), 3), tokenizer, MNLI)
    done = subprocess.run([sys.executable, "-c", _EXPORT_CHECKS, str(tmp_path / "best"), str(tmp_path / "export")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == str(("classifier", "MNLI", MNLI["labels"], False, 32))
    assert "--kind=squad contradicts" in lines[1] and "task.json (kind classification)" in lines[1]
    assert "--task_name=SST-2 contradicts" in lines[2]
    assert "--max_seq_length=64 contradicts" in lines[3] and "(max_seq_length 32)" in lines[3]
    assert "--labels=['0', '1'] contradicts" in lines[4]
    assert not (tmp_path / "export").exists()


def test_albert_predict_serves_a_classifier_model_directory_with_its_labels(tmp_path, config, tokenizer):
    import subprocess
    import sys
    classifier = _randomize(AlbertClassifier(AlbertEncoder(config), 3), seed=4)
    md.save_model_directory(str(tmp_path / "best"), classifier, tokenizer, MNLI)
    rows = tmp_path / "rows.tsv"
    rows.write_text("id\ta\tb\n1\tthe model\tlearns tokens\n2\ta person\ttrains a model\n")

    def predict(*flags):
        return subprocess.run([sys.executable, "-m", "albert_tf.cli.predict", f"--model={tmp_path / 'best'}",
                               f"--input_file={rows}", "--inputs=a,b", "--id=id", *flags],
                              capture_output=True, text=True)
    done = predict(f"--output_file={tmp_path / 'out.jsonl'}")
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["1", "2"] and all(r["label"] in MNLI["labels"] for r in records)
    packed = tokenizer.pack_batch(["the model", "a person"], ["learns tokens", "trains a model"], max_seq_length=32)
    want = classifier({"input_word_ids": packed.input_ids, "input_mask": packed.input_mask,
                       "input_type_ids": packed.segment_ids})
    np.testing.assert_allclose([r["logits"] for r in records], np.asarray(want), atol=1e-5)
    refused = predict(f"--output_file={tmp_path / 'never.jsonl'}", "--max_seq_length=64")
    assert refused.returncode != 0 and "--max_seq_length=64 contradicts" in refused.stderr
    assert not (tmp_path / "never.jsonl").exists()


def test_a_pretrained_directory_with_earlier_exports_names_its_latest_checkpoint(tmp_path, config, tokenizer):
    from albert_tf.checkpoints import save_tf1
    from albert_tf.modeling import AlbertPretrainer
    directory = tmp_path / "pretrained"
    old, new = (_randomize(AlbertPretrainer(AlbertEncoder(config)), seed) for seed in (5, 6))
    save_tf1(old, str(directory / "model.ckpt-10"), global_step=10)
    save_tf1(new, str(directory / "model.ckpt-20"), global_step=20)
    md.write_task_file(str(directory), {"kind": "pretraining"}, checkpoint_name="model.ckpt-20")
    saved = md.read_model_directory(str(directory))  # a pretraining directory may lack the tokenizer
    assert saved.kind == "pretraining" and saved.checkpoint_prefix == str(directory / "model.ckpt-20")
    classifier = AlbertClassifier(AlbertEncoder(config), 2)
    report, reason = md.load_for_task(classifier, saved, MNLI)
    assert reason == "it was trained for pretraining, this run is classification"
    assert report.newly_initialized == ["output_weights", "output_bias"] and not report.missing
    assert _same_weights(new.encoder, classifier.encoder)
