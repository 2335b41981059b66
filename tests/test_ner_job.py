"""run_ner.py end to end on a tiny model: CoNLL and CLUENER files made here, a few steps each; outputs,
seqeval-equal scores, the model directory, and bad files refused naming file:line before any work."""

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import keras
import pytest
import tensorflow as tf

from albert_tf import model_directory
from albert_tf.export import ner_serving, read_export_info
from albert_tf.jobs import ner as job
from albert_tf.jobs import runner
from albert_tf.jobs.settings import NerSettings
from albert_tf.ner import reading
from conftest import REALDATA

import tokenization_testlib as testlib

REPO = Path(__file__).resolve().parents[1]
TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
FILLER = "the quick brown fox jumps over lazy dog price rose to dollars in year people live".split()
ENTITIES = {"LOC": ["north city", "south river"], "PER": ["model", "token piece"], "ORG": ["album song"]}
ZH_FILLER = "我们今天天气很好喜欢学习数据问题怎么办什么时候可以"
ZH_ENTITIES = {"address": ["北京", "上海"], "name": ["中国"], "organization": ["模型训练"]}


def _conll_sentence(rng):
    rows = []
    for _ in range(rng.randint(2, 6)):
        rows += [(word, "O") for word in rng.sample(FILLER, rng.randint(1, 3))]
        kind = rng.choice(sorted(ENTITIES))
        words = rng.choice(ENTITIES[kind]).split()
        rows += [(word, ("B-" if i == 0 else "I-") + kind) for i, word in enumerate(words)]
    return rows


def write_conll(path, n, seed):
    rng = random.Random(seed)
    sentences = ["\n".join(f"{word} X {tag}" for word, tag in _conll_sentence(rng)) for _ in range(n)]
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    return str(path)


def write_cluener(path, n, seed, labelled=True):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        text, label = "", {}
        for _ in range(rng.randint(1, 3)):
            text += "".join(rng.choice(ZH_FILLER) for _ in range(rng.randint(1, 4)))
            kind = rng.choice(sorted(ZH_ENTITIES))
            entity = rng.choice(ZH_ENTITIES[kind])
            label.setdefault(kind, {}).setdefault(entity, []).append([len(text), len(text) + len(entity) - 1])
            text += entity
        record = {"id": i, "text": text}
        if labelled:
            record["label"] = label
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("ner")
    config = base / "albert_config.json"
    config.write_text(json.dumps(TINY))
    zh = base / "zh"
    zh.mkdir()
    return {"base": base, "spm": str(testlib.build_spm_model(base)), "vocab": str(testlib.build_vocab(zh)),
            "config": str(config), "train": write_conll(base / "train.txt", 96, 0),
            "dev": write_conll(base / "dev.txt", 24, 1), "zh_train": write_cluener(base / "zh_train.json", 96, 2),
            "zh_dev": write_cluener(base / "zh_dev.json", 24, 3),
            "zh_test": write_cluener(base / "zh_test.json", 10, 4, labelled=False)}


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def settings(workspace, output_dir, **overrides):
    values = dict(train_file=workspace["train"], eval_file=workspace["dev"], predict_file=workspace["dev"],
                  output_dir=str(output_dir), albert_config_file=workspace["config"], vocab_file=workspace["spm"],
                  max_seq_length=32, doc_stride=8, train_batch_size=16, predict_batch_size=16,
                  learning_rate=5e-3, train_steps=30, warmup_steps=0, eval_every_steps=15, do_train=True,
                  do_eval=True, do_predict=True, seed=3, save_checkpoints_steps=0, log_every_steps=10)
    values.update(overrides)
    return NerSettings(**values)


@pytest.fixture(scope="module")
def conll_run(workspace):
    out = workspace["base"] / "conll_run"
    result = job.run(settings(workspace, out))["runs"][0]
    return out, result


def test_conll_run_writes_scores_predictions_and_a_model_directory(workspace, conll_run):
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2
    out, result = conll_run
    assert sorted(os.listdir(out / "eval_results")) == ["step_0000015.json", "step_0000030.json"]
    results = json.loads((out / "eval_results.json").read_text())
    assert results == result["eval"]
    # The scores are seqeval's on the written predictions (word, gold, predicted).
    rows = [line.split() for line in (out / job.EVAL_PREDICTIONS).read_text(encoding="utf-8").split("\n")]
    gold, predicted, g, p = [], [], [], []
    for row in rows + [[]]:
        if row:
            g.append(row[-2])
            p.append(row[-1])
        elif g:
            gold.append(g)
            predicted.append(p)
            g, p = [], []
    assert gold == [s.tags for s in reading.read_ner_file(workspace["dev"])]
    kwargs = dict(mode="strict", scheme=IOB2)
    assert abs(results["f1"] - f1_score(gold, predicted, **kwargs)) < 1e-9
    assert abs(results["precision"] - precision_score(gold, predicted, **kwargs)) < 1e-9
    assert abs(results["recall"] - recall_score(gold, predicted, **kwargs)) < 1e-9
    assert set(results["per_type"]) <= {"LOC", "PER", "ORG"}
    assert results["f1"] > 0.5  # 30 steps on this regular data learn most entities
    assert (out / job.PREDICTIONS).exists() and not (out / job.CLUENER_SUBMISSION).exists()
    saved = model_directory.read_model_directory(str(out / job.MODEL_DIR))
    assert saved.kind == "token_classification" and saved.labels[0] == "O"
    assert sorted(saved.labels) == sorted(["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"])
    best = json.loads((out / "best_checkpoint.json").read_text())
    assert results["best_checkpoint"] == best and best["metric"] == "f1"


def test_saved_model_directory_evaluates_to_the_same_scores(workspace, conll_run, tmp_path):
    out, result = conll_run
    again = job.run(settings(workspace, tmp_path / "again", init_checkpoint=str(out / job.MODEL_DIR),
                             albert_config_file=None, vocab_file=None, train_file=None, do_train=False,
                             eval_every_steps=0))["runs"][0]
    assert abs(again["eval"]["f1"] - result["eval"]["f1"]) < 1e-9
    assert (tmp_path / "again" / job.PREDICTIONS).read_text() == (out / job.PREDICTIONS).read_text()


def test_cluener_run_writes_span_scores_and_the_submission(workspace, tmp_path):
    out = tmp_path / "zh"
    texts = [json.loads(line)["text"] for line in Path(workspace["zh_test"]).read_text(encoding="utf-8").splitlines()]
    result = job.run(settings(workspace, out, train_file=workspace["zh_train"], eval_file=workspace["zh_dev"],
                              predict_file=workspace["zh_test"], vocab_file=workspace["vocab"],
                              eval_every_steps=0, export_dir=str(tmp_path / "export")))["runs"][0]
    # The run's export of a Chinese WordPiece model passed its fresh-process check (entities equal to the host
    # pipeline's, offsets slicing the texts as sent) on these sentences and the samples.
    info = read_export_info(str(tmp_path / "export"))
    assert info["labels"] == model_directory.read_model_directory(str(out / job.MODEL_DIR)).labels
    assert info["doc_stride"] == 8  # the run's own stride, not the export's half-window default (15)
    assert result["export_dir"] == str(tmp_path / "export")
    served = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"](
        text=tf.constant(texts[:4] + ["我们 在 北京。"]))
    served = {k: v.numpy() for k, v in served.items()}
    for i, text in enumerate(texts[:4] + ["我们 在 北京。"]):
        assert all(text[e["start"]:e["end"]] == e["text"] for e in ner_serving.entity_record(served, i)["entities"])
    results = result["eval"]
    # On character words the entity-level and CLUENER span scores count the same entities.
    assert abs(results["cluener_span"]["f1"] - results["f1"]) < 1e-9
    lines = [json.loads(line) for line in (out / job.CLUENER_SUBMISSION).read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == list(range(10))
    for line, text in zip(lines, texts):
        for kind, mentions in line["label"].items():
            for mention, spans in mentions.items():
                assert all(text[s:e + 1] == mention for s, e in spans)


def test_albert_export_reads_the_ner_model_directory(conll_run, tmp_path):
    out, _ = conll_run
    # In a process of its own: the command modules define absl flags of the same names.
    done = subprocess.run([sys.executable, "-m", "albert_tf.cli.export", f"--checkpoint={out / job.MODEL_DIR}",
                           f"--export_dir={tmp_path / 'export'}", "--noself_check"], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    info = read_export_info(str(tmp_path / "export"))
    assert info["kind"] == "ner" and info["max_seq_length"] == 32
    import tensorflow as tf
    texts = ["the north city and the album song", "model  token piece rose"]
    served = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"](text=tf.constant(texts))
    served = {k: v.numpy() for k, v in served.items()}
    entities = [ner_serving.entity_record(served, i)["entities"] for i in range(len(texts))]
    assert any(entities)
    for text, row in zip(texts, entities):
        assert all(text[e["start"]:e["end"]] == e["text"] for e in row)


def _bad(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("flag,content,message,scheme", [
    ("train_file", "EU B-ORG\nrejects O\n\nGerman I-MISC\ncall O\n", r"bad\.txt:4", "IOB2"),
    ("train_file", "EU B-ORG\nrejects O\nGerman\n", r"bad\.txt:3", "auto"),
    ("eval_file", '{"text": "北京", "label": {"address": {"上海": [[0, 1]]}}}\n', r"bad\.txt:1.*label\.address",
     "auto"),
    ("eval_file", "North B-GPE\n", r"bad\.txt:1.*'B-GPE'.*labels", "auto"),
])
def test_bad_files_are_refused_naming_file_and_line_before_any_work(workspace, tmp_path, flag, content, message,
                                                                    scheme):
    bad = _bad(tmp_path, "bad.txt", content)
    out = tmp_path / "refused"
    with pytest.raises(ValueError, match=message):
        job.run(settings(workspace, out, label_scheme=scheme, **{flag: bad}))
    assert not out.exists()  # refused before the output directory (and its lock) was made


def test_eval_only_without_a_ner_model_is_refused(workspace, tmp_path):
    with pytest.raises(ValueError, match="--init_checkpoint.*label list"):
        job.run(settings(workspace, tmp_path / "x", do_train=False, train_file=None, eval_every_steps=0))


def test_run_ner_script_refuses_missing_files_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "run_ner.py"), f"--output_dir={tmp_path / 'o'}",
                           "--do_train", "--preset=albert_base_v2", f"--train_file={tmp_path / 'nope.txt'}"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 1
    assert "run_ner.py: error: --train_file=" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.realdata
def test_realdata_slice_of_conll2003_trains_and_scores(workspace, tmp_path):
    conll = REALDATA / "ner" / "conll2003"
    spm = REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"
    if not (conll / "train.txt").exists() or not spm.exists():
        pytest.skip(f"real data not available: {conll} and {spm} (set ALBERT_TF_REALDATA)")
    lines = (conll / "train.txt").read_text(encoding="utf-8").split("\n\n")
    train = _bad(tmp_path, "train.txt", "\n\n".join(lines[:64]) + "\n")
    dev = _bad(tmp_path, "dev.txt", "\n\n".join((conll / "dev.txt").read_text(encoding="utf-8").split("\n\n")[:32])
               + "\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(dict(TINY, vocab_size=30000)))
    result = job.run(settings(workspace, tmp_path / "run", train_file=train, eval_file=dev, predict_file=dev,
                              vocab_file=str(spm), albert_config_file=str(config), max_seq_length=64,
                              doc_stride=32, train_steps=4, eval_every_steps=0))["runs"][0]
    assert result["eval"]["gold_entities"] > 0 and 0.0 <= result["eval"]["f1"] <= 1.0
    assert sum(1 for line in (tmp_path / "run" / job.PREDICTIONS).read_text().splitlines() if line) == sum(
        1 for line in Path(dev).read_text().splitlines() if line.strip())


def test_nested_cluener_spans_are_refused_unless_the_outer_one_is_kept(workspace, tmp_path):
    nested = _bad(tmp_path, "nested.json", json.dumps(
        {"text": "北京上海", "label": {"address": {"北京上海": [[0, 3]]}, "name": {"上海": [[2, 3]]}}},
        ensure_ascii=False) + "\n")
    zh = dict(train_file=nested, eval_file=None, vocab_file=workspace["vocab"], do_eval=False, eval_every_steps=0,
              do_predict=False)
    with pytest.raises(ValueError, match=r"nested\.json:1.*overlap"):
        job.run(settings(workspace, tmp_path / "refused", **zh))
    family = runner.prepare(job.NerFamily(settings(workspace, tmp_path / "kept", nested_entities="outer", **zh)))
    assert family.splits["train"].sentences[0].tags == ["B-address", "I-address", "I-address", "I-address"]


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lexicon_baseline_tags_the_longest_training_entity(tmp_path):
    baseline = _load_tool("ner_lexicon_baseline")
    train = _bad(tmp_path, "train.txt", "north B-PER\nrose O\n\nnorth B-LOC\ncity I-LOC\n\nnorth B-LOC\ncity I-LOC\n")
    dev = _bad(tmp_path, "dev.txt", "the O\nnorth B-LOC\ncity I-LOC\nand O\nnorth B-PER\n")
    result = baseline.baseline(train, dev)
    assert result["lexicon_entries"] == 2
    # "north city" is matched whole (LOC, correct); the lone "north" is PER in the lexicon (correct too).
    assert (result["correct"], result["predicted_entities"], result["gold_entities"]) == (2, 2, 2)
    lexicon = baseline.build_lexicon(reading.read_ner_file(train))
    assert baseline.tag_longest_match("north city north".split(), lexicon, 2) == ["B-LOC", "I-LOC", "B-PER"]
