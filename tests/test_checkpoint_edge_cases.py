"""Checkpoint edge cases met when loading files other tools wrote: each case is provoked here.

Hugging Face files are made from this project's own `save_hf` output, then reshaped the way
transformers writes them (decoder-only MLM bias, no pooler, shards), so no torch is needed; the
activation goldens come from `tools/make_hf_activation_fixtures.py` (transformers' ACT2FN).
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from albert_tf.checkpoints import CheckpointMismatchError, export_weights, load_weights, save_hf, save_tf1
from albert_tf.checkpoints.huggingface import CheckpointFormatError
from albert_tf.config import ACTIVATION_OF_HF, ACTIVATIONS, HF_ACTIVATION_OF, AlbertConfig, ConfigError
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from albert_tf.modeling.activations import get_activation
from conftest import FIXTURES, padded_batch

CONFIG = dict(vocab_size=60, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=24, max_position_embeddings=16)


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign((0.2 * rng.standard_normal(variable.shape)).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def pretrainer():
    return _randomize(AlbertPretrainer(AlbertEncoder(AlbertConfig(**CONFIG))), seed=3)


@pytest.fixture(scope="module")
def hf_state(pretrainer, tmp_path_factory):
    directory = tmp_path_factory.mktemp("hf")
    save_hf(pretrainer, str(directory))
    return directory, load_file(str(directory / "model.safetensors"))


def _hf_dir(tmp_path, hf_state, state):
    source, _ = hf_state
    (tmp_path / "config.json").write_text((source / "config.json").read_text())
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    return tmp_path


def _fresh():
    return AlbertPretrainer(AlbertEncoder(AlbertConfig(**CONFIG)))


def test_mlm_bias_stored_only_under_the_decoder_name_is_loaded(tmp_path, pretrainer, hf_state):
    state = dict(hf_state[1])
    state.pop("predictions.bias")
    assert "predictions.decoder.bias" in state
    model = _fresh()
    report = load_weights(model, str(_hf_dir(tmp_path, hf_state, state)))
    assert report.clean and "cls/predictions/output_bias" in report.matched
    assert "cls/predictions/output_bias" not in report.newly_initialized
    np.testing.assert_array_equal(export_weights(model)["cls/predictions/output_bias"],
                                  export_weights(pretrainer)["cls/predictions/output_bias"])
    batch = padded_batch(vocab_size=60, seq=8)
    np.testing.assert_allclose(np.asarray(model(batch)["mlm_logits"]), np.asarray(pretrainer(batch)["mlm_logits"]),
                               atol=1e-6)


def test_masked_lm_file_without_pooler_loads_with_the_pooler_newly_initialized(tmp_path, hf_state):
    # transformers' AlbertForMaskedLM has no pooler and no SOP head (add_pooling_layer=False).
    state = {k: v for k, v in hf_state[1].items() if not k.startswith(("albert.pooler.", "sop_classifier."))}
    (tmp_path / "mlm").mkdir()
    directory = _hf_dir(tmp_path / "mlm", hf_state, state)
    report = load_weights(_fresh(), str(directory))
    assert not report.missing and report.clean
    assert {"bert/pooler/dense/kernel", "bert/pooler/dense/bias"} <= set(report.newly_initialized)
    assert "newly initialized (task head): bert/pooler/dense/kernel" in report.summary()
    encoder_only = load_weights(AlbertEncoder(AlbertConfig(**CONFIG)), str(directory))
    assert encoder_only.newly_initialized == ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"]
    converted = subprocess.run([sys.executable, "-m", "albert_tf.cli.convert", "--input", str(directory),
                                "--model=encoder", "--output_format", "tf1", "--output", str(tmp_path / "tf1" / "m")],
                               capture_output=True, text=True)
    assert converted.returncode == 0, converted.stderr
    assert "newly initialized (task head): bert/pooler/dense/kernel" in converted.stdout


def test_a_missing_encoder_weight_other_than_the_pooler_is_still_refused(tmp_path, hf_state):
    state = {k: v for k, v in hf_state[1].items() if not k.startswith("albert.pooler.weight")}
    (tmp_path / "one").mkdir()
    with pytest.raises(CheckpointMismatchError, match="missing from checkpoint: bert/pooler/dense/kernel"):
        load_weights(_fresh(), str(_hf_dir(tmp_path / "one", hf_state, state)))


def test_sharded_safetensors_load(tmp_path, pretrainer, hf_state):
    source, state = hf_state
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(tmp_path / shard), metadata={"format": "pt"})
    index = {"metadata": {}, "weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "config.json").write_text((source / "config.json").read_text())
    for path in (tmp_path, tmp_path / "model.safetensors.index.json"):
        model = _fresh()
        report = load_weights(model, str(path))
        assert report.clean and report.source.endswith("model.safetensors.index.json")
        for name, value in export_weights(pretrainer).items():
            np.testing.assert_array_equal(export_weights(model)[name], value, err_msg=name)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointFormatError, match="names shard 'model-00002-of-00002.safetensors'"):
        load_weights(_fresh(), str(tmp_path))


def test_keras_input_to_convert_uses_the_config_inside_the_file(tmp_path, pretrainer):
    other = dict(CONFIG, hidden_size=24, intermediate_size=32)
    model = _randomize(AlbertPretrainer(AlbertEncoder(AlbertConfig(**other))), seed=5)
    model.save(str(tmp_path / "model.keras"))
    # A json next to the file that describes another model must not be used instead.
    AlbertConfig(**CONFIG).to_json_file(str(tmp_path / "albert_config.json"))
    result = subprocess.run([sys.executable, "-m", "albert_tf.cli.convert", "--input", str(tmp_path / "model.keras"),
                             "--output_format", "tf1", "--output", str(tmp_path / "out" / "model.ckpt")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out" / "albert_config.json").read_text())
    assert written["hidden_size"] == 24 and written["intermediate_size"] == 32


OFFICIAL_KEYS = {"vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                 "inner_group_num", "num_attention_heads", "intermediate_size", "hidden_act", "hidden_dropout_prob",
                 "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size", "initializer_range"}


def test_google_layout_tf1_config_holds_only_the_official_keys(tmp_path, pretrainer):
    # Written twice: a config read back from a written one must not gain keys either.
    save_tf1(pretrainer, str(tmp_path / "a" / "model.ckpt"))
    again = AlbertPretrainer(AlbertEncoder(AlbertConfig.from_json_file(str(tmp_path / "a" / "albert_config.json"))))
    load_weights(again, str(tmp_path / "a" / "model.ckpt"))
    save_tf1(again, str(tmp_path / "b" / "model.ckpt"))
    for run in ("a", "b"):
        assert set(json.loads((tmp_path / run / "albert_config.json").read_text())) == OFFICIAL_KEYS


@pytest.mark.parametrize("layout, ln_type", [("project_first", "postln"), ("project_first", "preln"),
                                             ("factorized", "preln")])
def test_other_layouts_keep_the_keys_that_say_so_and_read_back_the_same(tmp_path, layout, ln_type):
    config = AlbertConfig(**CONFIG, embedding_layout=layout, ln_type=ln_type)
    config.to_json_file(str(tmp_path / "c.json"))
    assert AlbertConfig.from_json_file(str(tmp_path / "c.json")) == config


def test_bert_config_is_refused_naming_the_missing_field(tmp_path):
    bert = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
            "max_position_embeddings": 512, "num_attention_heads": 12, "num_hidden_layers": 12,
            "type_vocab_size": 2, "vocab_size": 30522}
    (tmp_path / "bert_config.json").write_text(json.dumps(bert))
    with pytest.raises(ConfigError, match=r"bert_config.json: config field 'embedding_size' is missing: "
                                          r"this looks like a BERT config"):
        AlbertConfig.from_json_file(str(tmp_path / "bert_config.json"))
    with pytest.raises(ConfigError, match="'model_type' is 'bert'"):
        AlbertConfig.from_hf_dict({**bert, "model_type": "bert"}, source="config.json")
    with pytest.raises(ConfigError, match="'embedding_size' is missing"):
        AlbertConfig.from_hf_dict({**bert, "model_type": "albert"}, source="config.json")


def test_classifier_head_mismatch_names_the_label_count(tmp_path):
    three = _randomize(AlbertClassifier(AlbertEncoder(AlbertConfig(**CONFIG)), num_classes=3))
    save_tf1(three, str(tmp_path / "model.ckpt"))
    two = AlbertClassifier(AlbertEncoder(AlbertConfig(**CONFIG)), num_classes=2)
    with pytest.raises(CheckpointMismatchError) as raised:
        load_weights(two, str(tmp_path / "model.ckpt"))
    message = str(raised.value)
    assert "output_weights: checkpoint [3, 16] vs model [2, 16] (check config field 'num_classes" in message
    assert "output_bias: checkpoint [3] vs model [2] (check config field 'num_classes" in message
    assert "hidden_size" not in message


def test_attention_kernel_mismatch_names_hidden_size(tmp_path, pretrainer):
    save_tf1(pretrainer, str(tmp_path / "model.ckpt"))
    wider = AlbertPretrainer(AlbertEncoder(AlbertConfig(**dict(CONFIG, hidden_size=20))))
    report = load_weights(wider, str(tmp_path / "model.ckpt"), allow_partial=True)
    blamed = {name: field for name, _, _, field in report.shape_mismatches}
    name = "bert/encoder/transformer/group_0/inner_group_0/attention_1/output/dense/kernel"
    assert blamed[name] == "hidden_size"
    longer = AlbertPretrainer(AlbertEncoder(AlbertConfig(**dict(CONFIG, intermediate_size=28))))
    report = load_weights(longer, str(tmp_path / "model.ckpt"), allow_partial=True)
    blamed = {name: field for name, _, _, field in report.shape_mismatches}
    assert set(blamed.values()) == {"intermediate_size"} and name not in blamed


# --- activations: the same function under each side's name ---------------------------------

GOLDEN = json.loads((FIXTURES / "hf_activations.json").read_text())


def test_every_activation_is_written_under_a_name_transformers_has():
    for ours in ACTIVATIONS:
        assert HF_ACTIVATION_OF[ours] in GOLDEN["act2fn_names"], ours
    erf = AlbertConfig(**CONFIG, hidden_act="gelu_erf").to_hf_dict()
    assert erf["hidden_act"] == "gelu"  # transformers' "gelu" is the exact erf one
    assert AlbertConfig(**CONFIG).to_hf_dict()["hidden_act"] == "gelu_new"  # ALBERT's "gelu" is the tanh one


@pytest.mark.parametrize("ours", ACTIVATIONS)
def test_written_activation_computes_what_ours_computes(ours):
    x = np.asarray(GOLDEN["x"], np.float32)
    np.testing.assert_allclose(np.asarray(get_activation(ours)(x)), GOLDEN["values"][HF_ACTIVATION_OF[ours]],
                               atol=2e-6, err_msg=f"{ours} -> {HF_ACTIVATION_OF[ours]}")


@pytest.mark.parametrize("theirs", sorted(ACTIVATION_OF_HF))
def test_read_activation_computes_what_transformers_computes(theirs):
    x = np.asarray(GOLDEN["x"], np.float32)
    ours = AlbertConfig.from_hf_dict({**CONFIG, "hidden_act": theirs, "model_type": "albert"}).hidden_act
    assert ours == ACTIVATION_OF_HF[theirs]
    np.testing.assert_allclose(np.asarray(get_activation(ours)(x)), GOLDEN["values"][theirs], atol=2e-6,
                               err_msg=f"{theirs} -> {ours}")


def test_an_activation_without_an_equivalent_is_refused():
    with pytest.raises(ConfigError, match="'hidden_act' is 'quick_gelu'"):
        AlbertConfig.from_hf_dict({**CONFIG, "hidden_act": "quick_gelu"}, source="config.json")


@pytest.mark.oracle
@pytest.mark.parametrize("ours", ACTIVATIONS)
def test_live_transformers_builds_the_written_config_with_the_same_activation(request, ours):
    if "oracle" not in (request.config.option.markexpr or ""):
        pytest.skip("live oracle check: run `make parity` (pytest -m oracle)")
    torch = pytest.importorskip("torch", reason="the oracle extra (torch) is not installed; run `make parity`")
    transformers = pytest.importorskip("transformers", reason="the oracle extra (transformers<5) is not installed")
    hf_config = transformers.AlbertConfig(**AlbertConfig(**CONFIG, hidden_act=ours).to_hf_dict())
    model = transformers.AlbertModel(hf_config)
    x = torch.linspace(-6, 6, 49)
    theirs = model.encoder.albert_layer_groups[0].albert_layers[0].activation(x).detach().numpy()
    np.testing.assert_allclose(np.asarray(get_activation(ours)(x.numpy())), theirs, atol=2e-6)


# --- acceptance: converted directories in transformers (`make hf-acceptance` prints the numbers) ---------

@pytest.fixture(scope="module")
def acceptance(request, tmp_path_factory):
    if "oracle" not in (request.config.option.markexpr or ""):
        pytest.skip("live oracle check: run `make parity` (pytest -m oracle) or `make hf-acceptance`")
    pytest.importorskip("torch", reason="the oracle extra (torch) is not installed; run `make parity`")
    pytest.importorskip("transformers", reason="the oracle extra (transformers<5) is not installed")
    import hf_acceptance

    absent = hf_acceptance.missing_realdata()
    if absent:
        pytest.skip(f"realdata absent: {', '.join(absent)} (see ../shared/realdata/README.md)")
    return hf_acceptance.run(work=str(tmp_path_factory.mktemp("hf_acceptance")))


@pytest.mark.oracle
@pytest.mark.realdata
def test_live_auto_tokenizer_and_pipelines_on_converted_directories(acceptance):
    chinese = acceptance["lcqmc_zh"]
    assert chinese["tokenizer_class"] == "BertTokenizerFast" and chinese["identical"] == chinese["rows"] == 1000
    # transformers' Python AlbertTokenizer: identical except where it rewrites `` and '' to a double quote.
    english = acceptance["sst2_en_python_tokenizer"]
    assert english["identical"] + english["differing_with_latex_quotes"] == english["rows"] == 1000
    pipelines = acceptance["pipelines"]
    assert pipelines["fill-mask"]["predictions"] == 5
    assert isinstance(pipelines["question-answering"]["answer"], str)
    assert pipelines["token-classification"]["labels_known"]


@pytest.mark.oracle
@pytest.mark.realdata
def test_live_auto_tokenizer_english_fast_ids_match(acceptance):
    # AutoTokenizer loads AlbertTokenizerFast, which runs the tokenizer.json albert-convert writes.
    english = acceptance["sst2_en"]
    assert english["tokenizer_class"] == "AlbertTokenizerFast"
    assert english["identical"] == english["rows"] == 1000, english["first_differences"]
