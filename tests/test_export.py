"""SavedModel export: raw text and id signatures equal the Python pipeline, the reload check refuses a
drifting export, bad serving input, SQuAD answers, the TF Hub text API, and the two CLIs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import REALDATA
from albert_tf import export
from albert_tf.config import AlbertConfig
from albert_tf.export import saved_model, self_check
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer

import tokenization_testlib as testlib

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _config(vocab_size, **overrides):
    values = dict(vocab_size=vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    values.update(overrides)
    return AlbertConfig(**values)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(base)))
    keras.utils.set_random_seed(3)
    return {"base": base, "tokenizer": tokenizer, "config": _config(tokenizer.vocab_size)}


def _python_logits(classifier, tokenizer, texts_a, texts_b, max_seq_length):
    packed = tokenizer.pack_batch(texts_a, texts_b, max_seq_length=max_seq_length)
    return np.asarray(classifier({"input_word_ids": packed.input_ids, "input_mask": packed.input_mask,
                                  "input_type_ids": packed.segment_ids}, training=False))


def _strings(values):
    return [v.decode("utf-8") for v in values.numpy()]


def test_classifier_pair_export_equals_python_pipeline(workspace, tmp_path):
    tokenizer, config = workspace["tokenizer"], workspace["config"]
    classifier = AlbertClassifier(AlbertEncoder(config), 3)
    target = str(tmp_path / "clf")
    info = export.export_classifier(classifier, tokenizer, target, max_seq_length=40,
                                    labels=["contradiction", "entailment", "neutral"], task_name="MNLI", tflite=True)
    assert info["max_abs_difference"] <= 1e-5
    assert info["tflite_max_abs_difference"] <= 1e-4 and info["tflite_bytes"] > 0
    assert (Path(target) / "model.tflite").exists()
    extra = Path(target) / export.EXTRA_DIR
    assert sorted(os.listdir(extra)) == ["albert_config.json", "export.json", "labels.txt", "tiny.model",
                                         "tokenizer_config.json"]
    assert (extra / "labels.txt").read_text().split() == ["contradiction", "entailment", "neutral"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
    # export.json is written after the fresh-process check and keeps its figures.
    recorded = export.read_export_info(target)
    assert recorded["max_abs_difference"] == info["max_abs_difference"]
    assert recorded["tflite_max_abs_difference"] == info["tflite_max_abs_difference"]  # set during the check
    check = recorded["reload_check"]
    assert check["passed"] and {(r["model"], r["signature"]) for r in check["requests"]} == {
        (".", "serving_default"), (".", "serving_ids"), (saved_model.IDS_EXPORT_DIR, "serving_default")}
    assert all(r["rows"] == len(saved_model.SAMPLE_PAIRS) for r in check["requests"])
    comparisons = check["comparisons"]
    assert set(comparisons) >= {"serving_default", "serving_ids", f"{saved_model.IDS_EXPORT_DIR} serving_default",
                                "model.tflite"}
    assert max(c["max_abs_difference"] for c in comparisons.values() if c["atol"] < 1e-4) == \
        recorded["max_abs_difference"]
    rows = len(saved_model.SAMPLE_PAIRS)
    assert comparisons["serving_default"]["rows_agreeing"]["label"] == [rows, rows]

    # Texts the export check never saw, loaded here independently.
    rng = np.random.default_rng(0)
    a = [" ".join(rng.choice(testlib.corpus_lines(50), 2)) for _ in range(9)]
    b = [line.upper() for line in testlib.corpus_lines(9, seed=4)]
    served = tf.saved_model.load(target).signatures["serving_default"](text_a=tf.constant(a), text_b=tf.constant(b))
    want = _python_logits(classifier, tokenizer, a, b, 40)
    np.testing.assert_allclose(served["logits"].numpy(), want, atol=1e-5)
    exp = np.exp(want - want.max(-1, keepdims=True))
    np.testing.assert_allclose(served["probabilities"].numpy(), exp / exp.sum(-1, keepdims=True), atol=1e-6)
    assert _strings(served["label"]) == [["contradiction", "entailment", "neutral"][i] for i in want.argmax(-1)]
    assert served["label_id"].dtype == tf.int32


def test_bad_serving_input(workspace, tmp_path):
    tokenizer, config = workspace["tokenizer"], workspace["config"]
    classifier = AlbertClassifier(AlbertEncoder(config), 2)
    target = str(tmp_path / "single")
    export.export_classifier(classifier, tokenizer, target, max_seq_length=32, labels=["0", "1"],
                             text_fields=("text_a",), check=False)
    serve = tf.saved_model.load(target).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["text_a"]
    # A batch of size 0 returns empty outputs of the right ranks.
    empty = serve(text_a=tf.constant([], tf.string))
    assert empty["logits"].shape == (0, 2) and empty["label"].shape == (0,)
    # Empty strings, very long strings (truncated to the model length) and invalid UTF-8, which is
    # served as U+FFFD (the Python tokenizer given the same replacement gives the same logits).
    texts = ["", "word " * 20000, "caf\xe9 ok", "bad \ufffd bytes"]
    raw = [t.encode("utf-8") for t in texts[:3]] + [b"bad \xff bytes"]
    out = serve(text_a=tf.constant(raw))
    np.testing.assert_allclose(out["logits"].numpy(), _python_logits(classifier, tokenizer, texts, None, 32),
                               atol=1e-5)


def test_regression_export_has_a_score(workspace, tmp_path):
    classifier = AlbertClassifier(AlbertEncoder(workspace["config"]), 1)
    target = str(tmp_path / "stsb")
    export.export_classifier(classifier, workspace["tokenizer"], target, max_seq_length=32, labels=(), check=False)
    out = tf.saved_model.load(target).signatures["serving_default"](text_a=tf.constant(["a b"]),
                                                                     text_b=tf.constant(["c"]))
    assert set(out) == {"logits", "score"} and out["score"].shape == (1,)


def test_export_refused_when_served_tokenizer_differs(workspace, tmp_path, monkeypatch):
    """A cased in-graph tokenizer for an uncased model (REFERENCE §8.2) must not be exported."""
    tokenizer = workspace["tokenizer"]
    cased = SentencePieceTokenizer(model_proto=tokenizer.model_proto, do_lower_case=False)
    from albert_tf.tokenization import layers
    monkeypatch.setattr(saved_model, "layer_for", lambda tok: layers.layer_for(cased))
    classifier = AlbertClassifier(AlbertEncoder(workspace["config"]), 2)
    target = tmp_path / "refused"
    with pytest.raises(export.ExportCheckError, match="differs"):
        export.export_classifier(classifier, tokenizer, str(target), max_seq_length=32, labels=["0", "1"],
                                 check_texts=[("The Film Was GREAT", "Loud Words HERE")])
    # Nothing published: no graph and no export.json (it is written only after a passing check).
    assert not target.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_compare_names_the_output():
    with pytest.raises(self_check.ExportCheckError, match="'logits' differs by 0.1"):
        self_check.compare({"logits": np.zeros((2, 2))}, {"logits": np.full((2, 2), 0.1)}, where="x")
    with pytest.raises(self_check.ExportCheckError, match="'label' differs"):
        self_check.compare({"label": np.asarray(["a"])}, {"label": np.asarray(["b"])}, where="x")


@pytest.mark.parametrize("head,version", [("span", "1.1"), ("cls_null", "2.0"), ("xlnet", "2.0")])
def test_squad_export_answers(workspace, tmp_path, head, version):
    from albert_tf.squad.modeling import build_squad_model
    tokenizer = workspace["tokenizer"]
    model = build_squad_model(workspace["config"], head)
    target = str(tmp_path / head)
    info = export.export_squad(model, tokenizer, target, max_seq_length=64, max_query_length=16, head=head,
                               version=version, null_threshold=0.5 if version == "2.0" else None,
                               check=head != "span")  # the span head's logits are checked with cls_null's
    assert head == "span" or info["max_abs_difference"] <= 1e-5
    question, context = "where is the river", "The City of Lima sits on the Rímac River and the river is wide"
    out = tf.saved_model.load(target).signatures["serving_default"](question=tf.constant([question]),
                                                                     context=tf.constant([context]))
    start, end = int(out["answer_start"][0]), int(out["answer_end"][0])
    ids = out["input_word_ids"].numpy()[0]
    q_len = len(tokenizer.encode(question))
    doc = range(q_len + 2, q_len + 2 + len(tokenizer.encode(context)))
    assert start in doc and end in doc and start <= end < start + 30
    if head != "xlnet":  # the span is the best-scoring valid (start, end) pair
        s, e = out["start_logits"].numpy()[0], out["end_logits"].numpy()[0]
        best = max((s[i] + e[j], i, j) for i in doc for j in doc if i <= j < i + 30)
        assert (best[1], best[2]) == (start, end)
    answer = out["answer"].numpy()[0].decode("utf-8")
    offsets = tokenizer.encode_with_offsets(context).offsets  # the original substring, case and accents kept
    expected = context[offsets[start - doc.start][0]:offsets[end - doc.start][1]].strip()
    null = version == "2.0" and float(out["null_odds"][0]) > 0.5
    assert answer == ("" if null else expected)


def test_chinese_wordpiece_squad_export_passes_the_self_check_with_original_answers(workspace, tmp_path):
    from albert_tf.squad.modeling import build_squad_model
    tokenizer = WordPieceTokenizer(str(testlib.build_vocab(tmp_path)))
    model = build_squad_model(_config(tokenizer.vocab_size), "span")
    target = str(tmp_path / "zh")
    # The self-check compares every served answer with the host tokenizer's offsets of the chosen span.
    info = export.export_squad(model, tokenizer, target, max_seq_length=64, max_query_length=16, head="span")
    assert info["max_abs_difference"] <= 1e-5
    context = "秘鲁的首都是利马（Lima），Café 人口约1000万。"
    out = tf.saved_model.load(target).signatures["serving_default"](question=tf.constant(["首都是哪里？"]),
                                                                     context=tf.constant([context]))
    answer = out["answer"].numpy()[0].decode("utf-8")
    assert answer and answer in context


def test_squad_export_refused_when_served_answers_are_not_the_original_text(workspace, tmp_path, monkeypatch):
    from albert_tf.export import text_inputs
    from albert_tf.squad.modeling import build_squad_model
    cut = text_inputs.original_answers
    monkeypatch.setattr(text_inputs, "original_answers", lambda *args: tf.strings.join([cut(*args), "!"]))
    model = build_squad_model(workspace["config"], "span")
    with pytest.raises(self_check.ExportCheckError, match="original-text answers.*'answer' differs"):
        export.export_squad(model, workspace["tokenizer"], str(tmp_path / "altered"), max_seq_length=64,
                            max_query_length=16, head="span")
    assert not (tmp_path / "altered").exists()


class WholeContextModel(keras.Model):
    """A stand-in SQuAD model whose best span is the whole context: start logits peak on the first
    context token, end logits on the last (type-1 tokens are the context and the final [SEP])."""

    def call(self, inputs, training=False):
        context = tf.cast(inputs["input_type_ids"] * inputs["input_mask"], tf.float32)
        rank = tf.cumsum(context, axis=1)
        count = tf.reduce_sum(context, axis=1, keepdims=True)
        return {"start_logits": 10.0 * context * tf.cast(tf.equal(rank, 1.0), tf.float32),
                "end_logits": 10.0 * context * tf.cast(tf.equal(rank, count - 1.0), tf.float32)}


def test_served_answers_are_the_original_text_for_sentencepiece_and_wordpiece(workspace, tmp_path):
    """The raw-text signature returns the context's own characters ("Lima", not "lima"), reloaded in a fresh
    process with only tensorflow + tensorflow_text, for an English SentencePiece and a Chinese WordPiece model."""
    from albert_tf.export.serving import SquadServer
    from albert_tf.tokenization.layers import layer_for
    contexts = ["Lima", "  Café in Lima,  Perú — ﬁne 1,250,000 ", "利马（Lima）是秘鲁的首都。", ""]
    wanted = ["Lima", "Café in Lima,  Perú — ﬁne 1,250,000", "利马（Lima）是秘鲁的首都。", ""]
    tokenizers = {"sentencepiece": workspace["tokenizer"],
                  "wordpiece": WordPieceTokenizer(str(testlib.build_vocab(tmp_path)))}
    for name, tokenizer in tokenizers.items():
        layer = layer_for(tokenizer)
        server = SquadServer(WholeContextModel(), layer, saved_model.detokenizer_for(layer),
                             saved_model.special_ids(tokenizer), 64, max_query_length=8, max_answer_length=64)
        target = str(tmp_path / name)
        tf.saved_model.save(server, target, signatures=server.signatures())
        got, = self_check.reload_outputs(target, [{"signature": "serving_default",
                                                   "inputs": {"question": ["Where?"] * 4, "context": contexts}}])
        assert got["answer"].tolist() == wanted, name
        lowered = [tokenizer.decode(row[s:e + 1].tolist()) for row, s, e in
                   zip(got["input_word_ids"], got["answer_start"], got["answer_end"])]
        assert lowered[0] == "lima"  # the id signature's detokenized answer, for contrast


def test_encoder_and_preprocessor_follow_the_hub_text_api(workspace, tmp_path):
    tokenizer, config = workspace["tokenizer"], workspace["config"]
    pretrainer = AlbertPretrainer(AlbertEncoder(config))
    target = tmp_path / "hub"
    info = export.export_encoder(pretrainer, tokenizer, str(target), max_seq_length=48)
    assert info["mlm"] and sorted(os.listdir(target)) == ["encoder", "preprocessor"]
    encoder = tf.saved_model.load(str(target / "encoder"))
    preprocessor = tf.saved_model.load(str(target / "preprocessor"))
    a, b = ["the quick brown fox", ""], ["jumps over", "the lazy dog " * 30]
    tokens = [preprocessor.tokenize(tf.constant(a)), preprocessor.tokenize(tf.constant(b))]
    assert tokens[0].to_list() == tokenizer.encode_batch(a)
    packed = preprocessor.bert_pack_inputs(tokens, seq_length=24)
    want = tokenizer.pack_batch(a, b, max_seq_length=24)
    np.testing.assert_array_equal(packed["input_word_ids"].numpy(), want.input_ids)
    np.testing.assert_array_equal(packed["input_type_ids"].numpy(), want.segment_ids)
    assert preprocessor(tf.constant(a))["input_mask"].shape == (2, 48)

    outputs = encoder(packed, training=False)
    reference = pretrainer.encoder({k: packed[k].numpy() for k in packed})
    np.testing.assert_allclose(outputs["pooled_output"].numpy(), np.asarray(reference["pooled_output"]), atol=1e-5)
    assert len(outputs["encoder_outputs"]) == config.num_hidden_layers
    assert len(encoder.trainable_variables) == len(pretrainer.encoder.trainable_variables)
    positions = tf.constant([[1, 2], [1, 3]])
    mlm = encoder.mlm({**packed, "masked_lm_positions": positions})
    want_mlm = pretrainer({**{k: packed[k].numpy() for k in packed}, "masked_lm_positions": positions.numpy()})
    np.testing.assert_allclose(mlm["mlm_logits"].numpy(), np.asarray(want_mlm["mlm_logits"]), atol=1e-4)
    # Gradients flow through the restored encoder (what hub.KerasLayer(trainable=True) needs).
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(encoder(packed, training=True)["pooled_output"])
    grads = tape.gradient(loss, encoder.trainable_variables)
    assert all(g is not None for g in grads)


def test_saved_model_cli_lists_the_signatures(workspace, tmp_path):
    target = str(tmp_path / "cli_show")
    export.export_classifier(AlbertClassifier(AlbertEncoder(workspace["config"]), 2), workspace["tokenizer"],
                             target, max_seq_length=32, labels=["0", "1"], check=False)
    shown = subprocess.run([str(BIN / "saved_model_cli"), "show", "--dir", target, "--all"], capture_output=True,
                           text=True, check=True).stdout
    for expected in ("signature_def['serving_default']", "signature_def['serving_ids']",
                     "inputs['text_a'] tensor_info:\n        dtype: DT_STRING",
                     "inputs['input_word_ids'] tensor_info:\n        dtype: DT_INT32",
                     "outputs['probabilities'] tensor_info:\n        dtype: DT_FLOAT",
                     "outputs['label'] tensor_info:\n        dtype: DT_STRING"):
        assert expected in shown


def _run(args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, check=False)


def test_export_and_predict_clis(workspace, tmp_path):
    from albert_tf.checkpoints import save_tf1
    from albert_tf.tokenization import save_tokenizer_assets
    tokenizer = workspace["tokenizer"]
    classifier = AlbertClassifier(AlbertEncoder(workspace["config"]), 2)
    checkpoint = tmp_path / "best_checkpoint"
    save_tf1(classifier, str(checkpoint / "model.ckpt"), global_step=7)
    save_tokenizer_assets(tokenizer, str(checkpoint))

    # Wrong task name and missing checkpoint fail before any model is built.
    bad = _run([str(BIN / "albert-export"), "--kind=classifier", f"--checkpoint={checkpoint}/model.ckpt",
                "--task_name=NOPE", f"--export_dir={tmp_path / 'x'}"], tmp_path)
    assert bad.returncode != 0 and "not a known task" in bad.stderr
    missing = _run([str(BIN / "albert-export"), "--kind=encoder", f"--checkpoint={tmp_path / 'none.ckpt'}",
                    f"--export_dir={tmp_path / 'x'}"], tmp_path)
    assert missing.returncode != 0 and "none.ckpt" in missing.stderr and not (tmp_path / "x").exists()

    done = _run([str(BIN / "albert-export"), "--kind=classifier", f"--checkpoint={checkpoint}/model.ckpt",
                 "--task_name=MRPC", "--max_seq_length=32", f"--export_dir={tmp_path / 'mrpc'}"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "serving_default" in done.stdout

    rows = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(
        f"1\t{i}\t{i + 100}\tthe fox number {i}\tthe dog {i}\n" for i in range(7))
    (tmp_path / "dev.tsv").write_text(rows)
    out = tmp_path / "pred.jsonl"
    ran = _run([str(BIN / "albert-predict"), f"--model={tmp_path / 'mrpc'}", f"--input_file={tmp_path / 'dev.tsv'}",
                "--inputs=#1 String,#2 String", "--id=#1 ID", "--batch_size=3", f"--output_file={out}"], tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [str(i) for i in range(7)]
    want = _python_logits(classifier, tokenizer, [f"the fox number {i}" for i in range(7)],
                          [f"the dog {i}" for i in range(7)], 32)
    np.testing.assert_allclose([r["logits"] for r in records], want, atol=1e-5)
    assert all(r["label"] in ("0", "1") for r in records)

    # Without --inputs a model exported for MRPC reads MRPC's own test format (ids from its index column).
    (tmp_path / "test.tsv").write_text("index\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(
        f"{i + 50}\t{i}\t{i + 100}\tthe fox number {i}\tthe dog {i}\n" for i in range(7)))
    ran = _run([str(BIN / "albert-predict"), f"--model={tmp_path / 'mrpc'}", f"--input_file={tmp_path / 'test.tsv'}",
                f"--output_file={tmp_path / 'test.jsonl'}"], tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    test_records = [json.loads(line) for line in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert [r["id"] for r in test_records] == [str(i + 50) for i in range(7)]
    np.testing.assert_allclose([r["logits"] for r in test_records], want, atol=1e-5)

    # The checkpoint itself serves the same predictions (tsv output: id and label).
    tsv = tmp_path / "pred.tsv"
    ran = _run([str(BIN / "albert-predict"), f"--model={checkpoint}/model.ckpt", "--task_name=MRPC",
                "--max_seq_length=32", f"--input_file={tmp_path / 'dev.tsv'}", "--inputs=3,4",
                f"--output_file={tsv}"], tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    lines = tsv.read_text().splitlines()
    assert lines[0] == "id\tprediction" and [line.split("\t")[1] for line in lines[1:]] == \
        [r["label"] for r in records]

    # A malformed row is reported with file:line, and nothing is written.
    (tmp_path / "bad.tsv").write_text(rows + "1\tonly three\tcolumns\n")
    failed = _run([str(BIN / "albert-predict"), f"--model={tmp_path / 'mrpc'}", f"--input_file={tmp_path / 'bad.tsv'}",
                   f"--output_file={tmp_path / 'never.jsonl'}"], tmp_path)
    assert failed.returncode != 0 and "bad.tsv:9" in failed.stderr
    assert not (tmp_path / "never.jsonl").exists()


def test_hub_keras_layer_fine_tunes(workspace, tmp_path):
    pytest.importorskip("tensorflow_hub", reason="the optional hub extra (tensorflow-hub + tf-keras) is absent")
    pytest.importorskip("tf_keras", reason="the optional hub extra (tensorflow-hub + tf-keras) is absent")
    target = tmp_path / "hub"
    export.export_encoder(AlbertPretrainer(AlbertEncoder(workspace["config"])), workspace["tokenizer"],
                          str(target), max_seq_length=32, check=False)
    script = f"""
import numpy as np, tensorflow as tf, tensorflow_hub as hub, tf_keras
import tensorflow_text  # registers SentencepieceOp before the preprocessor loads
text = tf_keras.Input(shape=(), dtype=tf.string)
inputs = hub.KerasLayer({str(target / 'preprocessor')!r})(text)
pooled = hub.KerasLayer({str(target / 'encoder')!r}, trainable=True)(inputs)["pooled_output"]
model = tf_keras.Model(text, tf_keras.layers.Dense(2)(pooled))
model.compile(tf_keras.optimizers.Adam(1e-3),
              tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = tf.constant(["good film", "bad film", "great", "awful"] * 4); y = np.array([1, 0, 1, 0] * 4)
before = [v.numpy().copy() for v in model.trainable_variables]
history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
moved = sum(not np.allclose(a, b.numpy()) for a, b in zip(before, model.trainable_variables))
print("TRAINABLE", len(model.trainable_variables), "MOVED", moved, "LOSS", history.history["loss"])
print("STILL", [v.name for a, v in zip(before, model.trainable_variables) if np.allclose(a, v.numpy())])
"""
    ran = _run([sys.executable, "-c", script], tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    words = ran.stdout.split()
    trainable = int(words[words.index("TRAINABLE") + 1])
    still = eval(ran.stdout.split("STILL", 1)[1].strip())  # noqa: S307  a printed list of names
    # Every encoder weight was fine-tuned, not only the head, except the attention key bias: it adds the
    # same q.b to every score of a query, which softmax ignores, so its gradient is exactly zero.
    assert trainable > 2 and len(still) == 1 and still[0].endswith("/key/bias:0"), ran.stdout


@pytest.mark.realdata
def test_realdata_sst2_and_lcqmc_raw_text_equal_python_pipeline(tmp_path):
    spm = REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"
    sst2 = REALDATA / "glue" / "SST-2" / "dev.tsv"
    lcqmc = REALDATA / "lcqmc" / "dev.txt"
    vocab_zh = next(iter(sorted((REALDATA / "assets").glob("**/vocab*.txt"))), None)
    if not (spm.exists() and sst2.exists() and lcqmc.exists() and vocab_zh):
        pytest.skip(f"real data not found under {REALDATA}")
    english = SentencePieceTokenizer(str(spm))
    sentences = [line.split("\t")[0] for line in sst2.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(sentences) == 872
    info = export.export_classifier(AlbertClassifier(AlbertEncoder(_config(english.vocab_size)), 2), english,
                                    str(tmp_path / "sst2"), max_seq_length=128, labels=["0", "1"],
                                    text_fields=("text_a",), check_texts=[(s,) for s in sentences])
    assert info["max_abs_difference"] <= 1e-5

    chinese = WordPieceTokenizer(str(vocab_zh))
    pairs = [tuple(line.split("\t")[:2]) for line in lcqmc.read_text(encoding="utf-8").splitlines()[:1000]]
    info = export.export_classifier(AlbertClassifier(AlbertEncoder(_config(chinese.vocab_size)), 2), chinese,
                                    str(tmp_path / "lcqmc"), max_seq_length=128, labels=["0", "1"],
                                    check_texts=pairs)
    assert info["max_abs_difference"] <= 1e-5


@pytest.mark.parametrize("rows", [0, 1, 5, 37])
def test_length_chunks_keep_row_order(rows):
    from albert_tf.export.serving import in_length_chunks
    rng = np.random.default_rng(rows)
    lengths = rng.integers(2, 30, size=rows)
    mask = (np.arange(30)[None, :] < lengths[:, None]).astype(np.int32)
    ids = (rng.integers(5, 50, size=(rows, 30)) * mask).astype(np.int32)
    inputs = {"input_word_ids": tf.constant(ids.reshape(rows, 30)), "input_mask": tf.constant(mask.reshape(rows, 30)),
              "input_type_ids": tf.zeros((rows, 30), tf.int32)}

    def per_row(part):  # the row's id sum and its chunk's width: any mix-up of rows changes the sum
        return tf.cast(tf.stack([tf.reduce_sum(part["input_word_ids"], 1), tf.shape(part["input_mask"])[1] +
                                 0 * tf.reduce_sum(part["input_mask"], 1)], 1), tf.float32)

    out = tf.function(lambda x: in_length_chunks(per_row, x, 2))(inputs).numpy()
    assert out.shape == (rows, 2)
    np.testing.assert_array_equal(out[:, 0], ids.sum(1))
    if rows == 37:  # sorted chunks are trimmed to their own longest row, not the batch's
        assert out[:, 1].min() < lengths.max()
        assert all(out[i, 1] >= lengths[i] for i in range(rows))


# --- the export directory: only an earlier export is replaced ----------------------------------


def test_export_refuses_a_directory_that_is_not_an_earlier_export(workspace, tmp_path):
    from albert_tf.export.destination import ExportDestinationError
    classifier = AlbertClassifier(AlbertEncoder(workspace["config"]), 2)
    notes = tmp_path / "run" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("my notes")
    with pytest.raises(ExportDestinationError, match=rf"{tmp_path / 'run'} is a non-empty directory that is not "
                                                     "an earlier export"):
        export.export_classifier(classifier, workspace["tokenizer"], str(tmp_path / "run"), max_seq_length=16,
                                 labels=["0", "1"], check=False)
    (tmp_path / "model").write_text("a file")
    with pytest.raises(ExportDestinationError, match="is a file"):
        export.export_classifier(classifier, workspace["tokenizer"], str(tmp_path / "model"), max_seq_length=16,
                                 labels=["0", "1"], check=False)
    assert notes.read_text() == "my notes" and (tmp_path / "model").read_text() == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "run"]  # no temporary left behind


def test_export_replaces_its_own_earlier_export_and_cleans_stale_temporaries(workspace, tmp_path):
    from albert_tf import atomic_files
    classifier = AlbertClassifier(AlbertEncoder(workspace["config"]), 2)
    target = tmp_path / "clf"  # an earlier export: its marker and an old graph
    (target / export.EXTRA_DIR).mkdir(parents=True)
    (target / export.EXTRA_DIR / export.EXPORT_INFO).write_text('{"kind": "classifier", "labels": ["0", "1"]}')
    (target / "saved_model.pb").write_bytes(b"old graph")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".tmp-clf~{dead.pid}@{atomic_files.host_name()}~killed"  # an export killed with -9
    (stale / "variables").mkdir(parents=True)
    previous = os.umask(0o022)
    try:
        export.export_classifier(classifier, workspace["tokenizer"], str(target), max_seq_length=16,
                                 labels=["neg", "pos"], check=False)
    finally:
        os.umask(previous)
    assert export.read_export_info(str(target))["labels"] == ["neg", "pos"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf"]
    # Readable by other users (mkdtemp's 0700 would keep a serving account out).
    assert os.stat(target).st_mode & 0o777 == 0o755
    assert os.stat(target / export.EXTRA_DIR / "tokenizer_config.json").st_mode & 0o777 == 0o644


def test_export_never_replaces_a_directory_holding_the_checkpoint(tmp_path):
    from albert_tf.export.destination import ExportDestinationError, check_export_dir
    run = tmp_path / "run"
    (run / "best_checkpoint").mkdir(parents=True)
    (run / "assets.extra").mkdir()
    (run / "assets.extra" / "export.json").write_text("{}")  # even when it looks like an export
    for target in (run, run / "best_checkpoint"):
        with pytest.raises(ExportDestinationError, match="holds .*model.ckpt, which this run reads or writes"):
            check_export_dir(str(target), protected=[str(run / "best_checkpoint" / "model.ckpt")])
    check_export_dir(str(run), protected=[str(tmp_path / "elsewhere" / "model.ckpt")])  # an export: replaceable
    check_export_dir(str(tmp_path / "new"))


def test_export_cli_refuses_the_checkpoint_directory_before_reading_it(workspace, tmp_path):
    from albert_tf.checkpoints import save_tf1
    from albert_tf.tokenization import save_tokenizer_assets
    run = tmp_path / "mrpc"  # a fine-tuning output directory: checkpoint, results, a user's notes
    save_tf1(AlbertClassifier(AlbertEncoder(workspace["config"]), 2), str(run / "best_checkpoint" / "model.ckpt"))
    save_tokenizer_assets(workspace["tokenizer"], str(run / "best_checkpoint"))
    (run / "notes.txt").write_text("keep me")
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    done = _run([str(BIN / "albert-export"), "--kind=classifier", "--task_name=MRPC",
                 f"--checkpoint={run}/best_checkpoint/model.ckpt", f"--export_dir={run}"], tmp_path)
    assert done.returncode != 0 and f"--export_dir={run} holds" in done.stderr, done.stderr[-2000:]
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before
