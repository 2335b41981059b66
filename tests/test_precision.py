"""Compute precision: `--mixed_precision=auto` from the CPU flags and accelerators, a tiny model fine-tuning
under bf16 with float32 variables, logits and loss, and the bf16 classifier export checked against float32."""

import json
import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import export
from albert_tf.config import AlbertConfig
from albert_tf.export import self_check
from albert_tf.modeling import AlbertClassifier, AlbertEncoder
from albert_tf.optimization import create_optimizer
from albert_tf.tokenization import SentencePieceTokenizer
from albert_tf.training import cpu_features, runtime

import cli_testlib
import tokenization_testlib as testlib

# /proc/cpuinfo excerpts (first processor; other lines trimmed).
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C
flags\t\t: fpu vme sse2 avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_fp16
"""
ZEN4 = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni avx512_bf16
"""
AVX2_ONLY = """processor\t: 0
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
flags\t\t: fpu sse2 avx avx2 fma
"""
ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics bf16
"""


def _machine(text="", **accelerators):
    return cpu_features.Machine(cpu_features.cpu_flags_from_text(text), **accelerators)


@pytest.mark.parametrize("text, chosen, named", [
    (SAPPHIRE_RAPIDS, "bf16", "amx_bf16"),
    (ZEN4, "bf16", "avx512_bf16"),
    (AVX2_ONLY, "off", "avx2"),
    (ARM, "off", "none known"),  # no oneDNN bf16 matrix path known there: float32
    ("", "off", "none known"),   # macOS / Windows: no /proc/cpuinfo
])
def test_auto_precision_on_cpus(text, chosen, named):
    precision, reason = cpu_features.auto_precision(_machine(text))
    assert precision == chosen and named in reason
    assert ("--mixed_precision=off to force float32" in reason) == (chosen == "bf16")


def test_auto_precision_on_accelerators():
    assert cpu_features.auto_precision(_machine(AVX2_ONLY, tpus=8))[0] == "bf16"
    assert cpu_features.auto_precision(_machine(AVX2_ONLY), strategy="tpu")[0] == "bf16"
    assert cpu_features.auto_precision(_machine(AVX2_ONLY, gpu_capabilities=((9, 0),)))[0] == "bf16"
    # One older GPU among newer ones: float32 (bf16 would be emulated there); a CPU's bf16 does not matter.
    precision, reason = cpu_features.auto_precision(_machine(SAPPHIRE_RAPIDS, gpu_capabilities=((8, 0), (7, 5))))
    assert precision == "off" and "7.5" in reason and "--mixed_precision=fp16" in reason


def test_cpu_flags_of_a_missing_file_are_empty(tmp_path):
    assert cpu_features.cpu_flags(str(tmp_path / "no-cpuinfo")) == frozenset()
    assert cpu_features.describe_cpu(cpu_features.cpu_flags_from_text(SAPPHIRE_RAPIDS)) == \
        "amx_bf16 amx_tile avx512_bf16 avx512f avx2"


def test_resolve_precision_logs_the_choice_and_keeps_forced_ones(caplog):
    # absl's logger keeps its own level (an earlier test may have raised it): set it, not only the root's.
    with caplog.at_level(logging.INFO, logger="absl"):
        assert runtime.resolve_precision("auto", machine=_machine(ZEN4)) == "bf16"
    assert "--mixed_precision=auto: CPU has avx512_bf16: computing in bfloat16" in caplog.text
    assert runtime.resolve_precision("off", machine=_machine(ZEN4)) == "off"
    assert runtime.resolve_precision("bf16", machine=_machine(AVX2_ONLY)) == "bf16"
    with pytest.raises(ValueError, match="--mixed_precision=fp8: must be one of auto, bf16, fp16, off"):
        runtime.resolve_precision("fp8")


@pytest.fixture
def float32_afterwards():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _tiny_config(vocab_size=100):
    return AlbertConfig(vocab_size=vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)


def test_tiny_classifier_fine_tunes_under_auto_bf16(monkeypatch, float32_afterwards):
    monkeypatch.setattr(runtime, "this_machine", lambda: _machine(SAPPHIRE_RAPIDS))
    assert runtime.configure_runtime(0, "auto") == "bf16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    model = AlbertClassifier(AlbertEncoder(_tiny_config()), 2)
    model.compile(optimizer=create_optimizer("adamw", 1e-3, 10, 1, weight_decay_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    inputs = {"input_word_ids": rng.integers(5, 100, (8, 12), dtype=np.int32),
              "input_mask": np.ones((8, 12), np.int32), "input_type_ids": np.zeros((8, 12), np.int32)}
    labels = np.asarray([0, 1] * 4, np.int32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    losses = [float(model.train_on_batch(inputs, labels)) for _ in range(4)]
    assert np.all(np.isfinite(losses))
    # The matrix products run in bfloat16 ...
    assert model.encoder(inputs)["sequence_output"].dtype == tf.bfloat16
    # ... while the variables, the optimizer's slots, the logits and the loss stay float32.
    assert {w.dtype for w in model.weights} == {"float32"}
    assert {v.dtype for v in model.optimizer.variables if v.dtype != "int64"} == {"float32"}
    logits = model(inputs, training=False)
    assert logits.dtype == tf.float32
    assert model.compute_loss(inputs, labels, logits).dtype == tf.float32
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))


def test_reduced_precision_comparison_allows_the_tolerance_not_more():
    want = {"logits": np.asarray([[2.0, -1.0], [0.01, 0.0]], np.float32), "label_id": np.asarray([0, 0])}
    decided = self_check.clear_decisions(want["logits"])
    assert decided.tolist() == [True, False]  # the second row's call is within the bf16 tolerance
    close = {"logits": want["logits"] + 0.04, "label_id": np.asarray([0, 1])}  # row 1 flips: allowed
    assert self_check.compare_reduced_precision(want, close, "x", decided=decided) == pytest.approx(0.04)
    with pytest.raises(self_check.ExportCheckError, match=r"'logits' differs from float32 by 0.3 \(row 0"):
        self_check.compare_reduced_precision(want, {**close, "logits": want["logits"] + 0.3}, "x", decided=decided)
    with pytest.raises(self_check.ExportCheckError, match="'label_id' disagrees with float32 on row 0"):
        self_check.compare_reduced_precision(want, {**close, "label_id": np.asarray([1, 1])}, "x", decided=decided)


@pytest.fixture(scope="module")
def bf16_export(tmp_path_factory):
    """A tiny classifier trained a little on a toy task (odd or even word count), so that most calls are
    clear (a random model's two logits are nearly equal for every text), and its checked bf16 export."""
    tmp_path = tmp_path_factory.mktemp("bf16_export")
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(tmp_path)))
    texts = testlib.corpus_lines(200, seed=1)
    packed = tokenizer.pack_batch(texts, max_seq_length=32)
    inputs = {"input_word_ids": packed.input_ids, "input_mask": packed.input_mask,
              "input_type_ids": packed.segment_ids}
    keras.utils.set_random_seed(5)
    classifier = AlbertClassifier(AlbertEncoder(_tiny_config(tokenizer.vocab_size)), 2, dropout_rate=0.0)
    classifier.compile(optimizer=keras.optimizers.Adam(3e-3),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(inputs, np.asarray([len(t.split()) % 2 for t in texts], np.int32), batch_size=32, epochs=10,
                   verbose=0)
    target = tmp_path / "bf16"
    info = export.export_classifier(classifier, tokenizer, str(target), max_seq_length=32, labels=["even", "odd"],
                                    text_fields=("text_a",), precision="bf16", check_texts=[(t,) for t in texts[:8]],
                                    ids_export=False)  # the ids twin is checked by the same comparison
    return {"classifier": classifier, "texts": texts, "inputs": inputs, "dir": target, "info": info}


def test_bf16_export_passes_its_check_and_agrees_with_float32(bf16_export):
    target, info, classifier, texts = (bf16_export[k] for k in ("dir", "info", "classifier", "texts"))
    assert info["precision"] == "bf16" and 0 < info["max_abs_difference"] <= 0.1
    assert info["labels_agreeing_with_fp32"] >= 0.9
    assert json.loads((target / export.EXTRA_DIR / "export.json").read_text())["precision"] == "bf16"

    served = tf.saved_model.load(str(target)).signatures["serving_default"](text_a=tf.constant(texts))
    assert served["logits"].dtype == tf.float32 and served["probabilities"].dtype == tf.float32
    want = np.asarray(classifier(bf16_export["inputs"], training=False))
    clear = self_check.clear_decisions(want)
    assert clear.mean() >= 0.5
    np.testing.assert_array_equal(served["label_id"].numpy()[clear], want.argmax(-1)[clear])
    np.testing.assert_allclose(served["logits"].numpy(), want, atol=0.05, rtol=0.05)


def _ops_on_variable_reads(saved_model_dir, op_type, dtype=None):
    """The `op_type` ops (with `dtype=`: casts to it) that take a variable read directly, over every function
    of the SavedModel."""
    from tensorflow.core.protobuf import saved_model_pb2
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    casts = []
    for function in saved.meta_graphs[0].graph_def.library.function:
        nodes = {node.name: node for node in function.node_def}
        for node in function.node_def:
            source = nodes.get(node.input[0].split(":")[0]) if node.input else None
            if (node.op == op_type and (dtype is None or node.attr["DstT"].type == dtype.as_datatype_enum) and
                    source is not None and source.op == "ReadVariableOp"):
                casts.append(node.name)
    return casts


def test_bf16_export_stores_its_matrix_weights_in_bfloat16(bf16_export):
    """Rounded once at export: the graph casts no weight per call, and the variables take half the bytes;
    LayerNorm's parameters and the classifier head (the logits) stay float32."""
    target, classifier = bf16_export["dir"], bf16_export["classifier"]
    reader = tf.train.load_checkpoint(str(target / "variables" / "variables"))
    dtypes = {name: dtype for name, dtype in reader.get_variable_to_dtype_map().items() if name.startswith("model/")}
    assert dtypes and all(dtype == (tf.float32 if "layer_norm/" in name or name.startswith("model/head/") else
                                    tf.bfloat16) for name, dtype in dtypes.items()), dtypes
    assert sum("layer_norm/" in name for name in dtypes) == 6  # gamma and beta of the embedding and block norms
    assert _ops_on_variable_reads(target, "Cast", tf.bfloat16) == []
    assert _ops_on_variable_reads(target, "ConcatV2") == []  # q, k, v kernels are not joined per call either
    shapes = reader.get_variable_to_shape_map()
    stored_bytes = sum(int(np.prod(shapes[name])) * dtype.size for name, dtype in dtypes.items())
    assert stored_bytes < 0.55 * sum(4 * int(np.prod(w.shape)) for w in classifier.weights)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_attention_projects_the_same_in_training_and_inference(policy, float32_afterwards):
    """Training joins the q, k, v kernels into one product; inference takes the three as stored."""
    from albert_tf.modeling.transformer import AlbertSelfAttention, attention_bias_from_mask
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(2)
    attention = AlbertSelfAttention(32, 2, dropout_rate=0.0)
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 7, 32)).astype(np.float32))
    bias = attention_bias_from_mask(np.asarray([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5]))
    trained = tf.cast(attention(x, bias, training=True), tf.float32).numpy()
    served = tf.cast(attention(x, bias, training=False), tf.float32).numpy()
    np.testing.assert_allclose(served, trained, atol=1e-6 if policy == "float32" else 2e-2)


def test_a_bf16_serving_copy_refuses_a_layer_norm_it_does_not_keep_in_float32(float32_afterwards):
    from albert_tf.export import saved_model
    assert saved_model.serving_classifier(AlbertClassifier(AlbertEncoder(_tiny_config()), 2), "bf16")  # passes
    with saved_model._ServingPolicy("bf16"):  # pylint: disable=protected-access
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.LayerNormalization(name="norm")(keras.layers.Dense(4)(inputs)))
    with pytest.raises(ValueError, match=r"bf16 serving copy: layer norm \(LayerNormalization\) holds bfloat16 "
                                         "weights, expected float32"):
        saved_model._check_serving_dtypes(model, "bf16")  # pylint: disable=protected-access
    with pytest.raises(ValueError, match="precision 'fp16': must be one of fp32, bf16"):
        saved_model.serving_dtype_policy("fp16")


def test_bf16_squad_export_passes_its_check_against_float32(tmp_path, float32_afterwards):
    from albert_tf.squad.modeling import build_squad_model
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(tmp_path)))
    keras.utils.set_random_seed(3)
    model = build_squad_model(_tiny_config(tokenizer.vocab_size), "cls_null")
    target = tmp_path / "squad_bf16"
    info = export.export_squad(model, tokenizer, str(target), max_seq_length=64, max_query_length=16,
                               head="cls_null", version="2.0", null_threshold=0.0, precision="bf16", ids_export=False)
    # Logits checked against the float32 model within the bf16 tolerance: they moved, but not by much.
    assert info["precision"] == "bf16" and 0 < info["max_abs_difference"] <= 0.1
    dtypes = tf.train.load_checkpoint(str(target / "variables" / "variables")).get_variable_to_dtype_map()
    encoder = {dtype for name, dtype in dtypes.items() if name.startswith("model/encoder/") and "layer_norm" not in name}
    heads = {dtype for name, dtype in dtypes.items() if name.startswith("model/") and "encoder" not in name}
    assert encoder == {tf.bfloat16} and heads == {tf.float32}
    out = tf.saved_model.load(str(target)).signatures["serving_default"](
        question=tf.constant(["where is the river"]), context=tf.constant(["The city sits on the river"]))
    assert out["start_logits"].dtype == tf.float32 and out["answer"].dtype == tf.string


def test_export_precision_flag_choices(monkeypatch):
    export_cli = cli_testlib.command("export")
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda path=None: cpu_features.cpu_flags_from_text(ZEN4))
    assert export_cli.export_precision("auto") == "bf16"
    assert export_cli.export_precision("auto", tflite=True) == "fp32"
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda path=None: cpu_features.cpu_flags_from_text(AVX2_ONLY))
    assert export_cli.export_precision("auto") == "fp32"
    with pytest.raises(ValueError, match="--tflite with --precision=bf16"):
        export_cli.export_precision("bf16", tflite=True)


def test_bf16_refused_for_exports_without_a_bf16_variant(tmp_path):
    export_cli = cli_testlib.command("export")
    checkpoint = tmp_path / "model.ckpt"  # refused before it is read
    with pytest.raises(ValueError, match="--precision=bf16: only classifier and SQuAD exports have a bf16 variant "
                                         r"\(encoder exports are float32\)"):
        export_cli.export_checkpoint("encoder", str(checkpoint), str(tmp_path / "out"), precision="bf16")
    assert not Path(tmp_path / "out").exists()
    with pytest.raises(ValueError, match=r"\(ner exports are float32\)"):
        export_cli._check_precision_for("ner", "bf16")  # pylint: disable=protected-access
    export_cli._check_precision_for("squad", "bf16")  # pylint: disable=protected-access
    with pytest.raises(Exception) as raised:  # a classifier gets past the precision check, to the missing file
        export_cli.export_checkpoint("classifier", str(checkpoint), str(tmp_path / "out"), labels=["a", "b"],
                                     precision="bf16")
    assert "model.ckpt" in str(raised.value) and "precision" not in str(raised.value)


def test_albert_predict_checkpoint_mode_serves_in_bf16(tmp_path, float32_afterwards):
    from albert_tf import model_directory
    predict = cli_testlib.command("predict")
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(tmp_path)))
    keras.utils.set_random_seed(7)
    classifier = AlbertClassifier(AlbertEncoder(_tiny_config(tokenizer.vocab_size)), 2)
    model_directory.save_model_directory(str(tmp_path / "best"), classifier, tokenizer,
                                         {"kind": "classification", "task_name": "SST-2", "labels": ["0", "1"],
                                          "max_seq_length": 32})
    texts = testlib.corpus_lines(6, seed=2)
    rows = tmp_path / "rows.tsv"
    rows.write_text("id\tsentence\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(texts)))
    outputs = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / f"{precision}.jsonl"
        predict.predict_file(str(tmp_path / "best"), str(rows), str(out), inputs=["sentence"], id_spec="id",
                             precision=precision)
        outputs[precision] = np.asarray([json.loads(line)["logits"] for line in out.read_text().splitlines()])
    difference = np.abs(outputs["bf16"] - outputs["fp32"])
    assert 0 < difference.max() <= 0.05  # computed in bf16, within its tolerance of float32

    export_dir = tmp_path / "export"  # an export's precision is fixed: a contradicting flag is refused
    (export_dir / export.EXTRA_DIR).mkdir(parents=True)
    (export_dir / "saved_model.pb").write_bytes(b"")
    (export_dir / export.EXTRA_DIR / "export.json").write_text(json.dumps({"kind": "classifier"}))
    with pytest.raises(predict.InputError, match="--precision=bf16: .* is a fp32 export"):
        predict.load_predictor(str(export_dir), precision="bf16")


def test_bf16_with_xla_on_a_cpu_is_warned_about(monkeypatch, caplog, float32_afterwards):
    monkeypatch.setattr(runtime, "this_machine", lambda: _machine(ZEN4))
    with caplog.at_level(logging.WARNING, logger="absl"):
        runtime.configure_runtime(0, "auto", jit_compile=False)
        assert "XLA" not in caplog.text
        runtime.configure_runtime(0, "auto", jit_compile=True)
    assert "--jit_compile with bf16 on a CPU" in caplog.text
    caplog.clear()
    monkeypatch.setattr(runtime, "this_machine", lambda: _machine(ZEN4, gpu_capabilities=((9, 0),)))
    with caplog.at_level(logging.WARNING, logger="absl"):
        runtime.configure_runtime(0, "bf16", jit_compile=True)  # XLA is the fast path on a GPU
    assert "XLA" not in caplog.text


def test_layer_norm_under_mixed_bfloat16_computes_its_statistics_in_float32(float32_afterwards):
    # Inputs far from zero with small spread: statistics taken in bfloat16 (8 significant bits) would lose
    # the spread entirely; Keras 3 upcasts inside ops.layer_normalization, which the encoder relies on.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = keras.layers.LayerNormalization(epsilon=1e-12)
    x = (100.0 + np.random.default_rng(0).normal(size=(4, 64))).astype(np.float32)
    x_bf16 = tf.cast(tf.cast(x, tf.bfloat16), tf.float32).numpy()  # what the layer receives
    got = layer(tf.cast(x_bf16, tf.bfloat16))
    assert got.dtype == tf.bfloat16 and {w.dtype for w in layer.weights} == {"float32"}
    want = (x_bf16 - x_bf16.mean(-1, keepdims=True)) / x_bf16.std(-1, keepdims=True)
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), want, atol=0.05)
