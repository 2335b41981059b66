"""Checkpoint layouts, round trips, reports and bad input."""

import json
import os
import shutil

import numpy as np
import pytest

import numpy_reference as ref
from albert_tf.checkpoints import (CheckpointFormatError, CheckpointMismatchError, export_weights, load_weights,
                                   read_checkpoint, save_hf, save_tf1)
from albert_tf.checkpoints.tf1 import write_tf1_checkpoint
from albert_tf.config import AlbertConfig
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from conftest import FIXTURES, padded_batch

OFFICIAL = FIXTURES / "parity" / "tf1_official"
ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _randomize(model, seed=0):
    """Distinct random values in every variable, so a swapped or skipped weight shows."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign((0.2 * rng.standard_normal(variable.shape)).astype(np.float32))


def _outputs(model, batch):
    out = model(batch)
    return {k: np.asarray(v) for k, v in out.items()}


def _brightmart_config(ln_type):
    return dict(vocab_size=50, embedding_size=8, hidden_size=24, num_hidden_layers=3, num_attention_heads=4,
                intermediate_size=40, max_position_embeddings=20, hidden_act="gelu", ln_type=ln_type)


@pytest.mark.parametrize("ln_type", ["postln", "preln"])
def test_brightmart_checkpoint_gives_outputs_its_math_defines(tmp_path, ln_type):
    cfg = _brightmart_config(ln_type)
    weights = ref.random_weights(ref.brightmart_shapes(cfg), seed=3)
    for name in list(weights):  # the original saves Adam slots next to each variable
        weights[name + "/adam_m"] = np.zeros_like(weights[name])
    write_tf1_checkpoint(weights, str(tmp_path / "model.ckpt"), global_step=10)
    (tmp_path / "albert_config.json").write_text(json.dumps(dict(cfg, type_vocab_size=2, initializer_range=0.02)))

    config = AlbertConfig.from_json_file(str(tmp_path / "albert_config.json"))
    assert config.embedding_layout == "project_first"  # inferred from brightmart's `ln_type` key
    model = AlbertPretrainer(AlbertEncoder(config))
    report = load_weights(model, str(tmp_path))
    assert report.clean and report.layout == "tf1/brightmart", report.summary()

    batch = padded_batch(vocab_size=cfg["vocab_size"], seq=9)
    got = _outputs(model, batch)
    encoded = model.encoder({k: batch[k] for k in ENCODER_INPUTS})
    seq, pooled, mlm, sop = ref.brightmart_forward(weights, cfg, batch["input_word_ids"], batch["input_mask"],
                                                   batch["input_type_ids"], batch["masked_lm_positions"])
    np.testing.assert_allclose(encoded["sequence_output"], seq, atol=1e-4)
    np.testing.assert_allclose(encoded["pooled_output"], pooled, atol=1e-4)
    np.testing.assert_allclose(got["mlm_logits"], mlm, atol=1e-4)
    np.testing.assert_allclose(got["sop_logits"], sop, atol=1e-4)


def test_preln_weights_in_postln_model_differ(tmp_path):
    """Names cannot reveal ln_type; the config must, and it changes the outputs."""
    cfg = _brightmart_config("preln")
    weights = ref.random_weights(ref.brightmart_shapes(cfg), seed=4)
    write_tf1_checkpoint(weights, str(tmp_path / "model.ckpt"))
    pre = AlbertEncoder(AlbertConfig(**dict(cfg, embedding_layout="project_first")))
    post = AlbertEncoder(AlbertConfig(**dict(cfg, embedding_layout="project_first", ln_type="postln")))
    load_weights(pre, str(tmp_path / "model.ckpt"))
    load_weights(post, str(tmp_path / "model.ckpt"))
    batch = {k: v for k, v in padded_batch(vocab_size=50).items() if k in ENCODER_INPUTS}
    assert np.abs(np.asarray(pre(batch)["sequence_output"]) - np.asarray(post(batch)["sequence_output"])).max() > 0.1


def test_more_groups_than_layers_uses_groups_like_the_original(tmp_path):
    config = AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=4, num_hidden_groups=12,
                          num_attention_heads=2, intermediate_size=20, max_position_embeddings=16)
    assert [config.group_of_layer(l) for l in range(4)] == [0, 3, 6, 9]
    encoder = AlbertEncoder(config)
    _randomize(encoder, seed=5)
    weights = export_weights(encoder)
    batch = {k: v for k, v in padded_batch(vocab_size=40, seq=8).items() if k in ENCODER_INPUTS}
    seq, pooled = ref.google_forward(weights, config.to_dict(), *(batch[k] for k in ENCODER_INPUTS))
    out = encoder(batch)
    np.testing.assert_allclose(out["sequence_output"], seq, atol=1e-4)
    np.testing.assert_allclose(out["pooled_output"], pooled, atol=1e-4)


def test_tfhub_module_prefix_is_stripped(tmp_path):
    _, weights, _ = __import__("albert_tf.checkpoints.tf1", fromlist=["x"]).read_tf1_checkpoint(
        str(OFFICIAL / "model.ckpt-125000"))
    write_tf1_checkpoint({f"module/{k}": v for k, v in weights.items()}, str(tmp_path / "variables"))
    shutil.copy(OFFICIAL / "albert_config.json", tmp_path / "albert_config.json")
    from albert_tf.checkpoints import load_config_for
    model = AlbertEncoder(load_config_for(str(tmp_path)))
    report = load_weights(model, str(tmp_path / "variables"))
    assert report.clean and len(report.matched) == len(model.weights)


@pytest.fixture
def pretrainer():
    config = AlbertConfig(vocab_size=60, embedding_size=8, hidden_size=16, num_hidden_layers=4, num_hidden_groups=2,
                          inner_group_num=2, num_attention_heads=2, intermediate_size=24, max_position_embeddings=16)
    model = AlbertPretrainer(AlbertEncoder(config))
    _randomize(model, seed=1)
    return model


def test_round_trip_through_tf1_is_exact(tmp_path, pretrainer):
    save_tf1(pretrainer, str(tmp_path / "model.ckpt-7"), global_step=7)
    assert sorted(os.listdir(tmp_path)) == ["albert_config.json", "model.ckpt-7.data-00000-of-00001",
                                            "model.ckpt-7.index"]
    again = AlbertPretrainer(AlbertEncoder(AlbertConfig.from_json_file(str(tmp_path / "albert_config.json"))))
    report = load_weights(again, str(tmp_path / "model.ckpt-7.index"))  # an .index path is accepted
    assert report.clean and report.skipped == ["global_step"]
    for name, value in export_weights(pretrainer).items():
        np.testing.assert_array_equal(export_weights(again)[name], value, err_msg=name)


def test_round_trip_through_huggingface_is_exact(tmp_path, pretrainer):
    save_hf(pretrainer, str(tmp_path / "hf"))
    hf_config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf_config["hidden_act"] == "gelu_new" and hf_config["model_type"] == "albert"
    again = AlbertPretrainer(AlbertEncoder(pretrainer.encoder.albert_config))
    report = load_weights(again, str(tmp_path / "hf"))
    assert report.clean and not report.unused
    batch = padded_batch(vocab_size=60)
    for key, value in _outputs(pretrainer, batch).items():
        np.testing.assert_array_equal(_outputs(again, batch)[key], value)


def test_keras_file_is_a_checkpoint_source(tmp_path, pretrainer):
    pretrainer.save(str(tmp_path / "model.keras"))
    classifier = AlbertClassifier(AlbertEncoder(pretrainer.encoder.albert_config), num_classes=3)
    report = load_weights(classifier, str(tmp_path / "model.keras"))
    assert report.newly_initialized == ["output_weights", "output_bias"]
    assert not report.missing and report.layout == "keras/google"
    assert "cls/predictions/output_bias" in report.unused


def test_classifier_from_pretrained_reports_new_head(pretrainer, tmp_path):
    save_tf1(pretrainer, str(tmp_path / "ckpt"))
    classifier = AlbertClassifier(AlbertEncoder(pretrainer.encoder.albert_config), num_classes=2)
    report = load_weights(classifier, str(tmp_path / "ckpt"))
    assert report.clean
    assert report.newly_initialized == ["output_weights", "output_bias"]
    assert "newly initialized (task head): output_weights" in report.summary()


# --- bad input ---------------------------------------------------------------------------

def _official_config(**changes):
    data = json.loads((OFFICIAL / "albert_config.json").read_text())
    data.update(changes)
    return AlbertConfig.from_dict(data)


@pytest.mark.parametrize("changes, field", [
    (dict(vocab_size=21128), "vocab_size"),
    (dict(hidden_size=48), "hidden_size"),
    (dict(intermediate_size=64), "intermediate_size"),
    (dict(embedding_size=32), "embedding_size"),
    (dict(max_position_embeddings=512), "max_position_embeddings"),
])
def test_wrong_config_names_the_field(changes, field):
    model = AlbertEncoder(_official_config(**changes))
    with pytest.raises(CheckpointMismatchError, match=f"'{field}'"):
        load_weights(model, str(OFFICIAL / "model.ckpt-125000"))


def test_missing_groups_is_an_error_unless_partial_allowed():
    model = AlbertEncoder(_official_config(num_hidden_groups=2))
    before = export_weights(model)
    with pytest.raises(CheckpointMismatchError, match="num_hidden_groups"):
        load_weights(model, str(OFFICIAL / "model.ckpt-125000"))
    # a refused load assigns nothing
    np.testing.assert_array_equal(export_weights(model)["bert/pooler/dense/kernel"],
                                  before["bert/pooler/dense/kernel"])
    report = load_weights(model, str(OFFICIAL / "model.ckpt-125000"), allow_partial=True)
    assert report.missing and all("group_1" in n for n in report.missing)


def test_brightmart_checkpoint_into_google_model_is_refused(tmp_path):
    cfg = _brightmart_config("postln")
    write_tf1_checkpoint(ref.random_weights(ref.brightmart_shapes(cfg), seed=0), str(tmp_path / "ckpt"))
    model = AlbertEncoder(AlbertConfig(**cfg).replace(embedding_layout="factorized"))
    with pytest.raises(CheckpointMismatchError, match="embedding_layout"):
        load_weights(model, str(tmp_path / "ckpt"))


def test_google_fast_layout_is_refused(tmp_path):
    weights = {"bert/embeddings/word_embeddings": np.zeros((10, 4), np.float32),
               "bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/dense/kernel":
                   np.zeros((2, 4, 16), np.float32)}
    write_tf1_checkpoint(weights, str(tmp_path / "ckpt"))
    with pytest.raises(CheckpointFormatError, match="google_fast"):
        read_checkpoint(str(tmp_path / "ckpt"))


def test_bert_checkpoint_is_not_mistaken_for_albert(tmp_path):
    write_tf1_checkpoint({"bert/encoder/layer_0/attention/self/query/kernel": np.zeros((4, 4), np.float32)},
                         str(tmp_path / "ckpt"))
    with pytest.raises(CheckpointFormatError, match="BERT checkpoint"):
        read_checkpoint(str(tmp_path / "ckpt"))


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        read_checkpoint(str(tmp_path / "nothing_here"))
    with pytest.raises(FileNotFoundError, match="no TF checkpoint"):
        read_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        read_checkpoint(str(tmp_path / "model.safetensors"))


@pytest.mark.parametrize("victim", ["data", "index"])
def test_truncated_checkpoint_is_reported(tmp_path, victim):
    for f in OFFICIAL.iterdir():
        shutil.copy(f, tmp_path / f.name)
    path = next(p for p in tmp_path.iterdir() if p.name.startswith("model.ckpt") and victim in p.name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointFormatError, match="truncated or corrupt"):
        read_checkpoint(str(tmp_path / "model.ckpt-125000"))


def test_corrupt_safetensors_is_reported(tmp_path):
    data = (FIXTURES / "parity" / "relu" / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointFormatError, match="truncated or corrupt"):
        read_checkpoint(str(tmp_path))


def test_writes_are_atomic_and_leave_no_temporaries(tmp_path, pretrainer):
    save_tf1(pretrainer, str(tmp_path / "a" / "model.ckpt"))
    save_hf(pretrainer, str(tmp_path / "b"))
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_files_are_recognised_by_content_not_name(tmp_path, pretrainer):
    (tmp_path / "model.keras").write_text("these are my notes, not a model\n")
    with pytest.raises(CheckpointFormatError, match=r"model.keras is a text file, expected a Keras .keras archive"):
        read_checkpoint(str(tmp_path / "model.keras"))
    (tmp_path / "pytorch_model.bin").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CheckpointFormatError,
                       match=r"pytorch_model.bin is unrecognised binary data, expected a PyTorch checkpoint"):
        read_checkpoint(str(tmp_path / "pytorch_model.bin"))
    save_hf(pretrainer, str(tmp_path / "hf"))
    (tmp_path / "model.bin").write_bytes((tmp_path / "hf" / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointFormatError, match=r"model.bin is a safetensors file, expected a PyTorch"):
        read_checkpoint(str(tmp_path / "model.bin"))
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    with pytest.raises(CheckpointFormatError, match=r"weights.h5 is a Keras .weights.h5 file, which holds weights "
                                                    r"without their model"):
        read_checkpoint(str(tmp_path / "weights.h5"))


def test_task_heads_have_the_official_tf1_names_and_hugging_face_names(tiny_config):
    from albert_tf.checkpoints.huggingface import tf1_to_hf_name
    from albert_tf.checkpoints.names import model_slots
    from albert_tf.squad.modeling import build_squad_model

    span = {s.name: s for s in model_slots(build_squad_model(tiny_config, "span")) if s.is_head}
    assert sorted(span) == ["cls/squad/output_bias", "cls/squad/output_weights"]
    assert span["cls/squad/output_weights"].transposed and tuple(span["cls/squad/output_weights"].variable.shape) == (
        tiny_config.hidden_size, 2)  # stored [2, H] like BERT's run_squad.py
    assert tf1_to_hf_name("cls/squad/output_weights") == "qa_outputs.weight"
    assert tf1_to_hf_name("cls/squad/output_bias") == "qa_outputs.bias"
    assert sorted(s.name for s in model_slots(build_squad_model(tiny_config, "cls_null")) if s.is_head) == sorted(span)
    # ALBERT's run_squad_v2 (squad_utils.create_v2_model) scopes; its answer_class/dense_1 has no bias.
    xlnet = sorted(s.name for s in model_slots(build_squad_model(tiny_config, "xlnet")) if s.is_head)
    assert xlnet == ["answer_class/dense_0/bias", "answer_class/dense_0/kernel", "answer_class/dense_1/kernel",
                     "end_logits/LayerNorm/beta", "end_logits/LayerNorm/gamma", "end_logits/dense_0/bias",
                     "end_logits/dense_0/kernel", "end_logits/dense_1/bias", "end_logits/dense_1/kernel",
                     "start_logits/dense/bias", "start_logits/dense/kernel"]
    assert all(tf1_to_hf_name(name) is None for name in xlnet)
    # Multiple choice (RACE): the per-choice classifier's output_weights [1, H].
    from albert_tf.finetuning.modeling import build_model
    from albert_tf.finetuning.tasks import get_task
    scorer, classifier = build_model(get_task("RACE"), tiny_config, 16)
    assert [s.name for s in model_slots(scorer)] == [s.name for s in model_slots(classifier)]
    assert [s.name for s in model_slots(scorer) if s.is_head] == ["output_weights", "output_bias"]
    assert tf1_to_hf_name("output_weights") == "classifier.weight"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_transformers_tokenizer_files_read_back_as_the_same_tokenizer(tmp_path, language):
    from albert_tf.checkpoints import huggingface
    from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer, load_tokenizer
    from albert_tf.tokenization.checkpoint_match import check_matches_checkpoint
    from conftest import FIXTURES
    if language == "en":
        tokenizer = SentencePieceTokenizer(str(FIXTURES / "direct_use" / "en" / "tiny.model"), do_lower_case=False,
                                           keep_accents=True)
        text, kind = "Straße Model TRAINING, 1,000 tokens", "AlbertTokenizer"
    else:
        tokenizer = WordPieceTokenizer(str(FIXTURES / "direct_use" / "zh" / "vocab.txt"))
        text, kind = "今天天气很好 model", "BertTokenizer"
    huggingface.write_hf_tokenizer(tokenizer, str(tmp_path), max_length=48)
    record = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert record["tokenizer_class"] == kind and record["model_max_length"] == 48
    assert record["do_lower_case"] == tokenizer.settings.do_lower_case
    assert json.loads((tmp_path / "special_tokens_map.json").read_text())["cls_token"] == "[CLS]"
    again = load_tokenizer(str(tmp_path))  # what --init_checkpoint / albert-export read next to the weights
    assert type(again) is type(tokenizer) and again.encode(text) == tokenizer.encode(text)
    assert again.settings.vocab_sha256 == tokenizer.settings.vocab_sha256
    check_matches_checkpoint(tokenizer, str(tmp_path), "--vocab_file=x", "--init_checkpoint")
