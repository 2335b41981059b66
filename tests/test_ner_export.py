"""The raw-text NER export: reloaded in a fresh process (checked against the host pipeline), entities whose
character offsets slice the text as sent (accents, double spaces, Chinese), bad input, albert-predict."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import model_directory
from albert_tf.config import AlbertConfig
from albert_tf.export import ner_serving, read_export_info
from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier
from albert_tf.ner import features, outputs as ner_outputs
from albert_tf.ner.reading import NerSentence
from albert_tf.tokenization import SentencePieceTokenizer

import tokenization_testlib as testlib

REPO = Path(__file__).resolve().parents[1]
LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
TEXTS = ["Zoë  Müller flew to São Paulo,  then Paris.", "北京 的 张三 去了 上海。", "",
         "a  b   c" + " d" * 300]


def _tagger(vocab_size, seed):
    """A random tagger whose head favours entity tags, so that texts have entities to check."""
    tf.keras.utils.set_random_seed(seed)
    config = AlbertConfig(vocab_size=vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    model = AlbertTokenClassifier(AlbertEncoder(config), num_labels=len(LABELS), dropout_rate=0.0)
    model({"input_word_ids": np.zeros((1, 4), np.int32), "input_mask": np.ones((1, 4), np.int32),
           "input_type_ids": np.zeros((1, 4), np.int32)})
    kernel = np.random.default_rng(seed).normal(0, 1.0, model.classifier.kernel.shape)
    model.classifier.kernel.assign(kernel.astype(np.float32))
    return model


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    base = tmp_path_factory.mktemp("ner_export_en")
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(base)))
    model = _tagger(tokenizer.vocab_size, 1)
    info = ner_serving.export_ner(model, tokenizer, str(base / "export"), labels=LABELS, max_seq_length=32,
                                  check_texts=TEXTS)
    return {"dir": str(base / "export"), "info": info, "model": model, "tokenizer": tokenizer}


def _serve(export_dir, texts):
    signature = tf.saved_model.load(export_dir).signatures["serving_default"]
    return {k: v.numpy() for k, v in signature(text=tf.constant(texts)).items()}


def test_export_reloads_and_entities_slice_the_text_as_sent(english):
    """(A Chinese WordPiece model's export is checked the same way by tests/test_ner_job.py's CLUENER run.)"""
    export = english
    assert export["info"]["max_abs_difference"] < 1e-5  # the fresh-process check ran and agreed
    info = read_export_info(export["dir"])
    assert info["kind"] == "ner" and info["labels"] == LABELS
    outputs = _serve(export["dir"], TEXTS)
    found = 0
    for i, text in enumerate(TEXTS):
        record = ner_serving.entity_record(outputs, i)
        for entity in record["entities"]:
            found += 1
            assert text[entity["start"]:entity["end"]] == entity["text"] and entity["text"].strip() == entity["text"]
            assert entity["type"] in ("LOC", "PER") and 0 < entity["score"] <= 1
        assert len(record["piece_tags"]) == outputs["num_pieces"][i]  # every piece tagged, however long
    assert found > 0  # the test would pass vacuously without entities
    assert ner_serving.entity_record(outputs, 2) == {"entities": [], "piece_tags": []}
    assert outputs["num_pieces"][3] > 3 * 30 and all(ner_serving.entity_record(outputs, 3)["piece_tags"])
    # export.json, written after the fresh-process check, keeps what it ran and measured.
    check = info["reload_check"]
    assert check["passed"] and info["max_abs_difference"] == export["info"]["max_abs_difference"]
    assert {(r["model"], r["signature"]) for r in check["requests"]} == {
        (".", "serving_default"), (".", "serving_ids"), ("ids/1", "serving_default")}
    assert check["comparisons"]["serving_default"]["rows_agreeing"]["entity_type"] == [len(TEXTS) + 7] * 2


def test_served_entities_equal_the_host_pipeline(english):
    """The same texts through the host tokenizer, the Keras model and the IOB2 reading of ner.outputs."""
    outputs = _serve(english["dir"], TEXTS)
    host = ner_serving.tag_texts(english["model"], english["tokenizer"], LABELS, TEXTS, 32)
    for i, result in enumerate(host):
        served = ner_serving.entity_record(outputs, i)["entities"]
        assert [(e["type"], e["start"], e["end"], e["text"]) for e in served] == [
            (e["type"], e["start"], e["end"], e["text"]) for e in result["entities"]]
        np.testing.assert_allclose([e["score"] for e in served], [e["score"] for e in result["entities"]],
                                   atol=1e-5)


def _words_text(tokenizer, pieces, seed):
    """Lowercase words joined by single spaces, no punctuation or CJK (so serving's words are exactly these),
    of about `pieces` pieces."""
    words = [w for line in testlib.corpus_lines(400, seed=seed) for w in line.lower().split()
             if w.isalpha() and all(ord(c) < 0x2E80 for c in w)]
    for end in range(1, len(words)):
        if len(tokenizer.encode(" ".join(words[:end]))) >= pieces:
            return words[:end]
    raise AssertionError("corpus too short")


def _sentence(words):
    starts, at = [], 0
    for word in words:
        starts.append(at)
        at += len(word) + 1
    return NerSentence(guid="0", text=" ".join(words), words=list(words), word_starts=starts, tags=None,
                       source="text 0")


def _evaluated_entities(model, tokenizer, words, max_seq_length, stride):
    """The features path run_ner.py evaluates with: windows, the model over each, merge_windows, entities."""
    sentence = _sentence(words)
    windows = features.make_windows([sentence], tokenizer, LABELS, max_seq_length, stride)
    arrays = features.windows_to_arrays(windows)
    logits = np.asarray(model({"input_word_ids": arrays["input_ids"], "input_mask": arrays["input_mask"],
                               "input_type_ids": arrays["segment_ids"]}, training=False))
    merged = features.merge_windows([sentence], windows, logits, LABELS)[0]
    return sentence.text, len(windows), ner_outputs.entities_in_text(sentence, merged)


def test_a_text_longer_than_a_window_is_tagged_as_evaluation_tags_it(english):
    """Every window is run and each word read from the window where it has most context, as in evaluation."""
    tokenizer = english["tokenizer"]
    words = _words_text(tokenizer, 100, seed=11)  # about 4 windows of 30 pieces
    stride = english["info"]["doc_stride"]
    text, windows, want = _evaluated_entities(english["model"], tokenizer, words, 32, stride)
    assert windows >= 4
    got = ner_serving.entity_record(_serve(english["dir"], [text]), 0)["entities"]
    assert [(e["type"], e["start"], e["end"], e["text"]) for e in got] == [
        (e["type"], e["start"], e["end"], e["text"]) for e in want]
    np.testing.assert_allclose([e["score"] for e in got], [e["score"] for e in want], atol=1e-5)
    first_window_end = tokenizer.encode_with_offsets(text).offsets[29][1]
    assert any(e["start"] > first_window_end for e in got)  # entities past the first window are found
    assert all(text[e["start"]:e["end"]] == e["text"] for e in got)


def test_a_text_of_exactly_one_window_is_tagged_from_that_window_alone(english):
    tokenizer, model = english["tokenizer"], english["model"]
    for seed in range(20):
        words = _words_text(tokenizer, 30, seed=seed)
        encoding = tokenizer.encode_with_offsets(" ".join(words))
        if len(encoding.ids) == 30:
            break
    else:
        raise AssertionError("no text of exactly 30 pieces")
    text = " ".join(words)
    served = _serve(english["dir"], [text])
    ids = np.asarray([[tokenizer.cls_id] + list(encoding.ids) + [tokenizer.sep_id]], np.int32)
    logits = np.asarray(model({"input_word_ids": ids, "input_mask": np.ones_like(ids),
                               "input_type_ids": np.zeros_like(ids)}, training=False))
    np.testing.assert_allclose(served["logits"][0], logits[0, 1:-1], atol=1e-5)
    assert _evaluated_entities(model, tokenizer, words, 32, english["info"]["doc_stride"])[1] == 1
    want = _evaluated_entities(model, tokenizer, words, 32, english["info"]["doc_stride"])[2]
    assert [(e["type"], e["start"], e["end"]) for e in ner_serving.entity_record(served, 0)["entities"]] == [
        (e["type"], e["start"], e["end"]) for e in want]


def test_word_rule_groups_pieces_by_whitespace_punctuation_and_chinese_characters():
    text = "São Paulo, 北京"
    offsets = [(0, 1), (1, 3), (4, 9), (9, 10), (11, 12), (12, 13)]  # S|ão Paulo , 北 京
    assert ner_serving.words_of_pieces(text, offsets) == [0, 2, 3, 4, 5]
    # A lone "▁" (empty span) starts the word it stands before, and holds none of its text.
    text = "的 张三 去"
    offsets = [(0, 1), (2, 2), (2, 4), (5, 5), (5, 6)]
    starts = ner_serving.words_of_pieces(text, offsets)
    assert starts == [0, 1, 3]
    assert ner_serving.word_spans(offsets, starts) == [(0, 1), (2, 4), (5, 6)]


def test_bad_input_is_served_like_the_classifier_export(english):
    outputs = _serve(english["dir"], [b"caf\xc3", "", "x" * 100000])
    assert outputs["num_entities"].shape == (3,)
    record = ner_serving.entity_record(outputs, 0)
    for entity in record["entities"]:  # offsets into the repaired text: "caf" + U+FFFD
        assert "caf\ufffd"[entity["start"]:entity["end"]] == entity["text"]
    assert ner_serving.entity_record(outputs, 1)["entities"] == []
    assert len(ner_serving.entity_record(outputs, 2)["piece_tags"]) == outputs["num_pieces"][2] > 30


def test_albert_predict_writes_entities_per_line(english, tmp_path):
    rows = tmp_path / "texts.jsonl"
    rows.write_text("".join(json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(TEXTS)), encoding="utf-8")
    out = tmp_path / "entities.jsonl"
    # In a process of its own: the command modules define absl flags of the same names.
    done = subprocess.run([sys.executable, "-m", "albert_tf.cli.predict", f"--model={english['dir']}",
                           f"--input_file={rows}", f"--output_file={out}", "--id=id", "--batch_size=3"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [f"r{i}" for i in range(len(TEXTS))]
    served = _serve(english["dir"], TEXTS)
    for i, record in enumerate(records):
        assert record["entities"] == ner_serving.entity_record(served, i)["entities"]


def _ner_model_dir(english, path, **task):
    record = {"kind": "token_classification", "task_name": "ner", "labels": LABELS, "max_seq_length": 32,
              "doc_stride": english["info"]["doc_stride"], **task}
    model_directory.save_model_directory(str(path), english["model"], english["tokenizer"], record)
    return str(path)


def test_albert_predict_serves_a_ner_model_directory_as_its_export(english, tmp_path):
    """Checkpoint mode: run_ner.py's ner_model/ through the export's own server; the records of the export."""
    model_dir = _ner_model_dir(english, tmp_path / "ner_model")
    rows = tmp_path / "texts.jsonl"
    rows.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in TEXTS), encoding="utf-8")
    written = {}
    for name, model in (("directory", model_dir), ("export", english["dir"])):  # without --id: line numbers
        out = tmp_path / f"{name}.jsonl"
        done = subprocess.run([sys.executable, "-m", "albert_tf.cli.predict", f"--model={model}",
                               f"--input_file={rows}", f"--output_file={out}", "--batch_size=3"],
                              capture_output=True, text=True, timeout=600, cwd=REPO)
        assert done.returncode == 0, done.stderr[-3000:]
        written[name] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    records = written["directory"]
    assert [r["id"] for r in records] == [r["id"] for r in written["export"]] == list(range(1, len(TEXTS) + 1))
    found = 0
    for record, want in zip(records, written["export"]):
        assert record["piece_tags"] == want["piece_tags"]
        assert [(e["type"], e["start"], e["end"], e["text"]) for e in record["entities"]] == [
            (e["type"], e["start"], e["end"], e["text"]) for e in want["entities"]]
        np.testing.assert_allclose([e["score"] for e in record["entities"]], [e["score"] for e in want["entities"]],
                                   atol=1e-5)
        found += len(record["entities"])
    assert found > 0


def test_a_ner_model_directory_with_a_bad_stride_is_refused_naming_the_field(english, tmp_path):
    model_dir = _ner_model_dir(english, tmp_path / "ner_model")
    task = json.loads((tmp_path / "ner_model" / "task.json").read_text())
    (tmp_path / "ner_model" / "task.json").write_text(json.dumps({**task, "doc_stride": 0}))
    with pytest.raises(model_directory.ModelDirectoryError, match=r"task.json: field 'doc_stride' is 0"):
        model_directory.read_model_directory(model_dir)


def test_albert_export_of_a_ner_model_directory_windows_with_its_stride(english, tmp_path):
    from albert_tf.cli.export import export_checkpoint
    model_dir = _ner_model_dir(english, tmp_path / "ner_model", doc_stride=7)
    info = export_checkpoint(None, model_dir, str(tmp_path / "export"), check=False)
    assert info["doc_stride"] == read_export_info(str(tmp_path / "export"))["doc_stride"] == 7
    assert info["reload_check"] is None  # skipped, and export.json says so
    text = TEXTS[3]
    served = _serve(str(tmp_path / "export"), [text])
    host = ner_serving.tag_texts(english["model"], english["tokenizer"], LABELS, [text], 32, 7)[0]
    np.testing.assert_allclose(served["logits"][0], host["logits"], atol=1e-5)
    default = ner_serving.tag_texts(english["model"], english["tokenizer"], LABELS, [text], 32)[0]
    assert np.abs(default["logits"] - host["logits"]).max() > 1e-3  # the stride matters for this text
