"""keras-hub presets both ways: our model → preset → keras-hub's from_preset, and a keras-hub model → preset →
our loaders (convert and --init_checkpoint's load_weights), outputs within 1e-5 and tokenizer ids equal."""

import json

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub", reason="keras-hub is not installed (pip install 'albert-tf[kerashub]')")

import cli_testlib  # noqa: E402
from albert_tf import model_directory  # noqa: E402
from albert_tf.checkpoints import keras_hub as presets  # noqa: E402
from albert_tf.checkpoints import load_config_for, load_weights  # noqa: E402
from albert_tf.checkpoints.loader import export_weights  # noqa: E402
convert = cli_testlib.command("convert")  # beside the other commands' modules (flags of the same name)
from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.modeling import AlbertClassifier, AlbertEncoder  # noqa: E402

SENTENCES = ["the film is a charming, funny ride", "hello world", "a b c", "it 's not bad at all",
             # keras-hub tokenizes raw text: casing and accents must be folded into the exported model.
             "The Film Is A CHARMING Ride", "Amélie, naïveté and a café crème", "ＦＵＬＬ width"]
TOL = 1e-5


def tiny(**overrides):
    fields = dict(vocab_size=64, embedding_size=8, hidden_size=16, num_hidden_layers=4, num_hidden_groups=2,
                  inner_group_num=2, num_attention_heads=2, intermediate_size=24, max_position_embeddings=32)
    fields.update(overrides)
    return AlbertConfig(**fields)


def ours_inputs(batch):
    return {"input_word_ids": batch["token_ids"], "input_mask": batch["padding_mask"],
            "input_type_ids": batch["segment_ids"]}


def hub_batch(vocab_size, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(3, 12)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 8:] = 0
    mask[2, 5:] = 0
    types = np.zeros_like(ids)
    types[:, 6:] = 1
    return {"token_ids": ids * mask, "segment_ids": types * mask, "padding_mask": mask}


def built_classifier(config, classes=3, seed=1):
    import keras

    keras.utils.set_random_seed(seed)
    model = AlbertClassifier(AlbertEncoder(config), classes)
    batch = hub_batch(config.vocab_size)
    model(ours_inputs(batch))
    # Nonzero biases and LayerNorm offsets, so a mapping error cannot hide behind zeros.
    for variable in model.weights:
        variable.assign(variable.numpy() + np.random.default_rng(seed).normal(0, 0.05, variable.shape))
    return model


@pytest.fixture(scope="module")
def classifier_directory(tmp_path_factory, spm_tokenizer):
    config = tiny(vocab_size=spm_tokenizer.vocab_size)
    model = built_classifier(config)
    directory = str(tmp_path_factory.mktemp("kh") / "model")
    task = {"kind": "classification", "task_name": "sst-2", "labels": ["neg", "pos", "mixed"],
            "max_seq_length": 16}
    model_directory.save_model_directory(directory, model, spm_tokenizer, task)
    return directory, model


@pytest.fixture(scope="module")
def exported_preset(classifier_directory, tmp_path_factory):
    directory, _ = classifier_directory
    out = str(tmp_path_factory.mktemp("kh_out") / "preset")
    convert.convert(directory, out, "keras_hub")
    return out


def test_our_classifier_preset_loads_in_keras_hub_with_same_outputs(classifier_directory, exported_preset):
    _, model = classifier_directory
    batch = hub_batch(model.encoder.albert_config.vocab_size)
    backbone = keras_hub.models.AlbertBackbone.from_preset(exported_preset)
    theirs = backbone(batch)
    ours = model.encoder(ours_inputs(batch))
    mask = batch["padding_mask"][..., None].astype(bool)
    diff = np.abs(np.asarray(theirs["sequence_output"]) - np.asarray(ours["sequence_output"])) * mask
    assert diff.max() < TOL
    np.testing.assert_allclose(theirs["pooled_output"], ours["pooled_output"], atol=TOL)
    # The preset's classifier has its text preprocessor; ids go in without it.
    logits = keras_hub.models.AlbertTextClassifier.from_preset(exported_preset, preprocessor=None).predict(
        batch, verbose=0)
    np.testing.assert_allclose(logits, model(ours_inputs(batch), training=False), atol=TOL)


def test_preset_tokenizer_ids_equal_ours(classifier_directory, exported_preset, spm_tokenizer):
    tokenizer = keras_hub.models.AlbertTokenizer.from_preset(exported_preset)
    for text in SENTENCES:
        assert [int(i) for i in tokenizer(text)] == spm_tokenizer.encode(text), text
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor.from_preset(exported_preset)
    packed = preprocessor(SENTENCES[0])
    ids = [int(i) for i, m in zip(packed["token_ids"], packed["padding_mask"]) if m]
    assert ids == spm_tokenizer.pack(SENTENCES[0], max_seq_length=16).input_ids[:len(ids)]


def test_preset_reads_back_as_the_same_model_directory(classifier_directory, exported_preset, tmp_path):
    _, model = classifier_directory
    out = str(tmp_path / "back")
    convert.convert(exported_preset, out, "model_dir")
    saved = model_directory.read_model_directory(out)
    assert saved.labels == ["neg", "pos", "mixed"]
    reloaded = model_directory.build_model(saved.config, saved.task)
    model_directory.load_model_weights(reloaded, saved)
    batch = ours_inputs(hub_batch(model.encoder.albert_config.vocab_size))
    np.testing.assert_allclose(reloaded(batch, training=False), model(batch, training=False), atol=TOL)


def test_keras_hub_backbone_preset_loads_into_our_encoder(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.AlbertBackbone(vocabulary_size=40, num_layers=4, num_heads=2, embedding_dim=8,
                                               hidden_dim=16, intermediate_dim=24, num_groups=2,
                                               num_inner_repetitions=2, max_sequence_length=20)
    for variable in backbone.weights:
        variable.assign(variable.numpy() + np.random.default_rng(4).normal(0, 0.05, variable.shape))
    preset = str(tmp_path / "hub_preset")
    backbone.save_to_preset(preset)
    config = load_config_for(preset)  # --init_checkpoint=<preset dir> finds its config like this
    assert (config.num_hidden_groups, config.inner_group_num, config.max_position_embeddings) == (2, 2, 20)
    encoder = AlbertEncoder(config)
    batch = hub_batch(40, seed=5)
    encoder(ours_inputs(batch))
    report = load_weights(encoder, preset)
    assert not report.missing and not report.unused
    ours, theirs = encoder(ours_inputs(batch)), backbone(batch)
    mask = batch["padding_mask"][..., None].astype(bool)
    assert (np.abs(np.asarray(ours["sequence_output"]) - np.asarray(theirs["sequence_output"])) * mask).max() < TOL
    np.testing.assert_allclose(ours["pooled_output"], theirs["pooled_output"], atol=TOL)


def test_keras_hub_classifier_preset_gets_numbered_labels_and_same_logits(tmp_path, spm_model_file):
    backbone = keras_hub.models.AlbertBackbone(vocabulary_size=50, num_layers=2, num_heads=2, embedding_dim=8,
                                               hidden_dim=16, intermediate_dim=24, max_sequence_length=20)
    tokenizer = keras_hub.models.AlbertTokenizer(proto=spm_model_file)
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer, sequence_length=12)
    classifier = keras_hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    preset = str(tmp_path / "hub_classifier")
    classifier.save_to_preset(preset)
    out = str(tmp_path / "ours")
    convert.convert(preset, out, "model_dir")
    saved = model_directory.read_model_directory(out)
    assert saved.labels == ["0", "1"] and saved.max_seq_length == 12
    ours = model_directory.build_model(saved.config, saved.task)
    model_directory.load_model_weights(ours, saved)
    batch = hub_batch(50, seed=6)
    plain = keras_hub.models.AlbertTextClassifier.from_preset(preset, preprocessor=None)
    np.testing.assert_allclose(ours(ours_inputs(batch), training=False), plain.predict(batch, verbose=0), atol=TOL)
    # keras-hub's tokenizer is the SentencePiece model on raw text: read back as such.
    from albert_tf.tokenization import load_tokenizer

    text = "Hello World"
    assert load_tokenizer(out).encode(text) == [int(i) for i in tokenizer(text)]


@pytest.mark.parametrize("overrides, field", [
    (dict(embedding_layout="project_first", num_hidden_groups=1, inner_group_num=1), "embedding_layout"),
    (dict(ln_type="preln"), "ln_type"),
    (dict(num_hidden_layers=3), "num_hidden_groups"),
    (dict(hidden_act="gelu_erf"), "hidden_act"),
    (dict(hidden_act="relu"), "hidden_act"),
])
def test_what_keras_hub_cannot_express_is_refused(overrides, field):
    with pytest.raises(presets.KerasHubUnsupportedError, match=f"config field '{field}'"):
        presets.check_expressible(tiny(**overrides))


def test_heads_and_vocabularies_keras_hub_lacks_are_refused(classifier_directory, wordpiece_vocab_file, tmp_path):
    from albert_tf.tokenization import WordPieceTokenizer

    with pytest.raises(presets.KerasHubUnsupportedError, match="squad model"):
        presets.check_expressible(tiny(), {"kind": "squad"})
    with pytest.raises(presets.KerasHubUnsupportedError, match="WordPiece"):
        presets.check_expressible(tiny(), None, WordPieceTokenizer(wordpiece_vocab_file))
    # The refusal comes before anything is written.
    out = tmp_path / "never"
    config = tiny(hidden_act="gelu_erf")
    encoder = AlbertEncoder(config)
    encoder(ours_inputs(hub_batch(64)))
    with pytest.raises(presets.KerasHubUnsupportedError):
        presets.save_preset(export_weights(encoder), config, str(out))
    assert not out.exists()


def test_preset_files_that_do_not_fit_are_refused_naming_file_and_field(tmp_path):
    preset = tmp_path / "p"
    preset.mkdir()
    (preset / "config.json").write_text(json.dumps({"module": "keras_hub.src.models.albert.albert_backbone",
                                                    "class_name": "AlbertBackbone", "config": {}}))
    (preset / "metadata.json").write_text("{}")
    (preset / "task.json").write_text(json.dumps({"class_name": "AlbertMaskedLM", "config": {}}))
    assert presets.is_preset(str(preset))
    with pytest.raises(ValueError, match="config.json: field 'config' lacks vocabulary_size"):
        presets.read_preset_config(str(preset))
    assert presets.read_preset_task(str(preset)) is None  # another task's head is left out, the backbone read
    (preset / "task.json").write_text(json.dumps({"class_name": "AlbertTextClassifier", "config": {}}))
    with pytest.raises(ValueError, match="task.json: field 'num_classes' is None"):
        presets.read_preset_task(str(preset))


def test_preset_is_an_init_checkpoint(classifier_directory, exported_preset, spm_tokenizer):
    """--init_checkpoint=<preset dir>: the flag check, the config and the recorded tokenizer are found."""
    from albert_tf.tokenization.assets import tokenizer_for_model
    from albert_tf.training import settings_checks

    _, model = classifier_directory
    settings_checks.checkpoint("init_checkpoint", exported_preset)
    assert load_config_for(exported_preset).to_official_dict() == model.encoder.albert_config.to_official_dict()
    recorded = tokenizer_for_model(None, exported_preset)
    assert recorded.settings == spm_tokenizer.settings


def test_masked_lm_preset_gives_its_backbone(tmp_path):
    backbone = keras_hub.models.AlbertBackbone(vocabulary_size=40, num_layers=2, num_heads=2, embedding_dim=8,
                                               hidden_dim=16, intermediate_dim=24, max_sequence_length=20)
    preset = str(tmp_path / "mlm")
    keras_hub.models.AlbertMaskedLM(backbone, preprocessor=None).save_to_preset(preset)
    encoder = AlbertEncoder(load_config_for(preset))
    batch = hub_batch(40, seed=7)
    encoder(ours_inputs(batch))
    report = load_weights(encoder, preset)
    assert not report.missing and not report.unused
    np.testing.assert_allclose(encoder(ours_inputs(batch))["pooled_output"], backbone(batch)["pooled_output"],
                               atol=TOL)


def test_missing_keras_hub_is_one_clear_line_before_any_work(classifier_directory, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_keras_hub(name, *args, **kwargs):
        if name == "keras_hub":
            raise ImportError("No module named 'keras_hub'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_keras_hub)
    monkeypatch.setattr(model_directory, "build_model", lambda *a, **k: pytest.fail("built a model first"))
    with pytest.raises(ImportError, match=r"pip install 'albert-tf\[kerashub\]'"):
        convert.convert(classifier_directory[0], str(tmp_path / "out"), "keras_hub")
    assert not (tmp_path / "out").exists()
