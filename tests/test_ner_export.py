"""The raw-text NER export: reloaded in a fresh process (checked against the host pipeline), entities whose
character offsets slice the text as sent (accents, double spaces, Chinese), bad input, albert-predict."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.export import ner_serving, read_export_info
from albert_tf.modeling import AlbertEncoder, AlbertTokenClassifier
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
        assert len(record["piece_tags"]) == min(outputs["num_pieces"][i], 30)
    assert found > 0  # the test would pass vacuously without entities
    assert ner_serving.entity_record(outputs, 2) == {"entities": [], "piece_tags": [], "truncated": False}
    assert ner_serving.entity_record(outputs, 3)["truncated"]


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
    assert len(ner_serving.entity_record(outputs, 2)["piece_tags"]) <= 30


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
