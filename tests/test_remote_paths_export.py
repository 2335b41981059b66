"""albert-convert, albert-export and albert-predict with every path on `ram://`: TensorFlow's in-memory
file system, which like `gs://` is not the local disk and has no directory rename, so a stray `open()`,
`os.path.exists` or `os.rename` on a user's path fails here. The commands' library entry points are
called in this process (a child process would not see this process's ram://)."""

import json
import uuid

import keras
import numpy as np
import pytest

from albert_tf import filesystem as fs
from albert_tf import model_directory
from albert_tf.checkpoints import load_weights
from albert_tf.config import AlbertConfig
from albert_tf.export.destination import ExportDestinationError
from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS
from albert_tf.modeling import AlbertClassifier, AlbertEncoder
from cli_testlib import command
from ram_guard import local_calls_refused

convert, export_cli, predict = command("convert"), command("export"), command("predict")

LABELS = ["0", "1"]  # SST-2's: a registered single-sentence task
MAX_SEQ_LENGTH = 24
TEXTS = ["the quick brown fox", "a dog sat on the mat", "", "hello world again and again"]


@pytest.fixture(scope="module", autouse=True)
def _local_calls_refused_on_ram(tmp_path_factory):
    """Python's own file calls refuse ram:// paths for the whole module (tests/ram_guard.py)."""
    with local_calls_refused(tmp_path_factory.mktemp("cwd")):
        yield


def _ram(name: str) -> str:
    """A fresh ram:// directory (the file system lives as long as the test process)."""
    return f"ram://{name}-{uuid.uuid4().hex[:8]}"


def _no_temporaries(root: str):
    leftovers = [name for name in fs.files_under(root) if any(part.startswith(".tmp-") for part in name.split("/"))]
    assert not leftovers, leftovers


def _logits(classifier, tokenizer, texts):
    packed = tokenizer.pack_batch(texts, max_seq_length=MAX_SEQ_LENGTH)
    return np.asarray(classifier({INPUT_WORD_IDS: packed.input_ids, INPUT_MASK: packed.input_mask,
                                  INPUT_TYPE_IDS: packed.segment_ids}, training=False))


@pytest.fixture(scope="module")
def saved(spm_tokenizer):
    """A tiny classifier saved as a model directory on ram://."""
    keras.utils.set_random_seed(5)
    config = AlbertConfig(vocab_size=spm_tokenizer.vocab_size, embedding_size=8, hidden_size=16,
                          num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                          max_position_embeddings=32)
    classifier = AlbertClassifier(AlbertEncoder(config), len(LABELS))
    _logits(classifier, spm_tokenizer, TEXTS[:1])  # builds it
    root = _ram("remote-export")
    directory = fs.join(root, "best_checkpoint")
    model_directory.save_model_directory(directory, classifier, spm_tokenizer, {
        "kind": model_directory.CLASSIFICATION, "task_name": "SST-2", "labels": LABELS,
        "max_seq_length": MAX_SEQ_LENGTH})
    return {"root": root, "directory": directory, "classifier": classifier, "tokenizer": spm_tokenizer,
            "config": config}


def test_a_model_directory_is_saved_and_read_on_ram(saved):
    names = fs.listdir(saved["directory"])
    for name in ("model.ckpt.index", "albert_config.json", "tokenizer_config.json", "task.json"):
        assert name in names, names
    _no_temporaries(saved["root"])
    read = model_directory.read_model_directory(saved["directory"])
    assert read.labels == LABELS and read.config == saved["config"]
    # Found from its checkpoint prefix too: ram:// calls any prefix of a file name a directory.
    assert model_directory.model_directory_of(fs.join(saved["directory"], "model.ckpt")) == saved["directory"]


def test_convert_model_directory_to_hf_keras_model_directory_and_tf1_on_ram(saved):
    hf = fs.join(saved["root"], "hf")
    report = convert.convert(saved["directory"], hf, "hf")
    assert not report.missing
    hf_config = json.loads(fs.read_text(fs.join(hf, "config.json")))
    assert hf_config["architectures"] == ["AlbertForSequenceClassification"]
    assert {"model.safetensors", "spiece.model", "tokenizer_config.json"} <= set(fs.listdir(hf))

    keras_file = fs.join(saved["root"], "keras", "model.keras")
    convert.convert(hf, keras_file, "keras")
    assert fs.isfile(keras_file)

    back = fs.join(saved["root"], "from_hf")
    convert.convert(hf, back, "model_dir")
    read = model_directory.read_model_directory(back)
    assert read.labels == LABELS and read.kind == model_directory.CLASSIFICATION

    tf1_prefix = fs.join(saved["root"], "tf1", "model.ckpt")
    convert.convert(back, tf1_prefix, "tf1", global_step=3)  # a model directory keeps its head
    assert {"model.ckpt.index", "albert_config.json"} <= set(fs.listdir(fs.dirname(tf1_prefix)))
    # A bare TF1 prefix (ram:// calls it a directory, as GCS would not) with the config found beside it.
    hf_again = fs.join(saved["root"], "hf_again")
    assert not convert.convert(tf1_prefix, hf_again, "hf", model_kind="encoder").missing
    _no_temporaries(saved["root"])

    want = _logits(saved["classifier"], saved["tokenizer"], TEXTS)
    for source in (fs.join(back, "model.ckpt"), keras_file, tf1_prefix, hf):
        twin = AlbertClassifier(AlbertEncoder(saved["config"]), len(LABELS))
        load_weights(twin, source, verbose=False)
        np.testing.assert_allclose(_logits(twin, saved["tokenizer"], TEXTS), want, atol=1e-5, err_msg=source)


def test_keras_hub_preset_on_ram(saved):
    pytest.importorskip("keras_hub", reason="keras-hub is not installed")
    preset = fs.join(saved["root"], "keras_hub")
    convert.convert(saved["directory"], preset, "keras_hub")
    assert "metadata.json" in fs.listdir(preset)
    back = fs.join(saved["root"], "from_keras_hub")
    convert.convert(preset, back, "model_dir")
    assert model_directory.read_model_directory(back).labels == LABELS


@pytest.fixture(scope="module")
def exported(saved):
    """albert-export of the ram:// model directory to a ram:// export, with the fresh-process check, over
    an earlier export there that holds a file the new one lacks."""
    export_dir = fs.join(saved["root"], "exports", "sst2")
    fs.makedirs(fs.join(export_dir, "assets.extra"))
    fs.write_text(fs.join(export_dir, "assets.extra", "export.json"), "{}\n")
    fs.write_text(fs.join(export_dir, "stale.txt"), "from an older export\n")
    info = export_cli.export_checkpoint(None, saved["directory"], export_dir, check=True)
    return {"dir": export_dir, "info": info}


def test_export_from_ram_to_ram_passes_its_reload_check(exported):
    assert exported["info"]["kind"] == "classifier" and exported["info"]["labels"] == LABELS
    assert exported["info"]["max_abs_difference"] is not None  # the fresh process reloaded it
    files = fs.files_under(exported["dir"])
    for name in ("saved_model.pb", "assets.extra/export.json", "assets.extra/tokenizer_config.json",
                 "ids/1/saved_model.pb"):
        assert name in files, files
    assert "stale.txt" not in files  # the earlier export was replaced whole
    assert json.loads(fs.read_text(fs.join(exported["dir"], "assets.extra", "export.json")))["labels"] == LABELS
    _no_temporaries(fs.dirname(exported["dir"]))


def test_export_to_ram_refuses_a_directory_that_is_not_an_earlier_export(saved):
    occupied = fs.join(saved["root"], "notes")
    fs.makedirs(occupied)
    fs.write_text(fs.join(occupied, "todo.txt"), "keep me\n")
    with pytest.raises(ExportDestinationError, match="not an earlier export"):
        export_cli.export_checkpoint(None, saved["directory"], occupied, check=False)
    with pytest.raises(ExportDestinationError, match="holds"):
        export_cli.export_checkpoint(None, saved["directory"], saved["root"], check=False)
    assert fs.read_text(fs.join(occupied, "todo.txt")) == "keep me\n"


@pytest.mark.parametrize("model", ["export", "model_directory"])
def test_predict_reads_and_writes_ram(saved, exported, model):
    inputs = fs.join(saved["root"], "inputs", f"{model}.jsonl")
    fs.makedirs(fs.dirname(inputs))
    fs.write_text(inputs, "".join(json.dumps({"id": f"r{i}", "text_a": text}) + "\n" for i, text in enumerate(TEXTS)))
    output = fs.join(saved["root"], "predictions", model, "out.jsonl")
    source = exported["dir"] if model == "export" else saved["directory"]
    count = predict.predict_file(source, inputs, output, inputs=["text_a"], id_spec="id", batch_size=3)
    assert count == len(TEXTS)
    records = [json.loads(line) for line in fs.read_text(output).splitlines()]
    assert [r["id"] for r in records] == [f"r{i}" for i in range(len(TEXTS))]
    np.testing.assert_allclose([r["logits"] for r in records],
                               _logits(saved["classifier"], saved["tokenizer"], TEXTS), atol=1e-5)
    assert fs.listdir(fs.dirname(output)) == ["out.jsonl"]
