"""Task readers: real GLUE/LCQMC files (row counts), published formats (fixtures), bad input."""

import json
import os

import pytest

from conftest import FIXTURES, REALDATA
from albert_tf.finetuning import DataError, get_task, task_names
from albert_tf.finetuning.tasks import describe_tasks

CLASSIFIER = FIXTURES / "classifier"
GLUE = REALDATA / "glue"


def _real(path):
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set ALBERT_TF_REALDATA to the shared realdata directory)")
    return str(path)


@pytest.mark.parametrize("task,directory,counts", [
    ("CoLA", "glue/CoLA", {"train": 8551, "dev": 1043}),
    ("SST-2", "glue/SST-2", {"train": 67349, "dev": 872}),
    ("MRPC", "glue/MRPC", {"train": 3668, "dev": 408}),
    ("STS-B", "glue/STS-B", {"train": 5749, "dev": 1500}),
    ("LCQMC", "lcqmc", {"dev": 8802, "test": 12500}),
])
def test_real_files_have_the_published_row_counts(task, directory, counts):
    data_dir = _real(REALDATA / directory)
    reader = get_task(task)
    for split, count in counts.items():
        examples = reader.read_split(data_dir, split, labelled=True)
        assert len(examples) == count, (task, split)
        assert all(e.text_a and e.label is not None for e in examples)
        if reader.is_regression:
            assert all(0.0 <= e.label <= 5.0 for e in examples)
        else:
            assert {e.label for e in examples} == set(reader.labels)


def test_real_file_details():
    mrpc = get_task("MRPC").read_split(_real(GLUE / "MRPC"), "dev", True)
    # A leading quote is text, not csv quoting (the csv module would merge rows here).
    assert mrpc[0].text_b.startswith('"The foodservice pie business')
    assert mrpc[0].label == "1" and mrpc[1].label == "0"
    cola = get_task("CoLA").read_split(str(GLUE / "CoLA"), "dev", True)
    assert cola[-1].text_a == "John talked to Bill about himself."  # last line has no newline
    sst_test = get_task("SST-2").read_split(str(GLUE / "SST-2"), "test", False)
    assert len(sst_test) == 1821 and sst_test[0].guid == "0" and sst_test[0].label is None
    mrpc_test = get_task("MRPC").read_split(str(GLUE / "MRPC"), "test", False)
    assert len(mrpc_test) == 1725 and mrpc_test[-1].guid == "1724"
    stsb = get_task("STS-B").read_split(str(GLUE / "STS-B"), "test", False)
    assert len(stsb) == 1379 and stsb[0].text_b == "A girl is brushing her hair."


@pytest.mark.parametrize("task,train,dev,labels", [
    ("QQP", 3, 2, {"0", "1"}),
    ("MNLI", 5, 3, {"neutral", "entailment", "contradiction"}),
    ("QNLI", 3, 2, {"entailment", "not_entailment"}),
    ("RTE", 2, 2, {"entailment", "not_entailment"}),
    ("WNLI", 2, 2, {"0", "1"}),
    ("AFQMC", 3, 2, {"0", "1"}),
    ("TNEWS", 3, 2, {"102", "110", "116", "108", "104"}),
    ("IFLYTEK", 2, 2, {"0", "11", "107", "118"}),
    ("CMNLI", 3, 2, {"neutral", "entailment", "contradiction"}),   # the "-" row is skipped
    ("OCNLI", 3, 2, {"neutral", "entailment", "contradiction"}),
    ("CSL", 2, 2, {"0", "1"}),
    ("CLUEWSC2020", 2, 1, {"true", "false"}),
    ("RACE", 3, 3, {0, 2, 3}),
])
def test_fixture_formats(task, train, dev, labels):
    reader = get_task(task)
    data_dir = str(CLASSIFIER / task)
    got_train = reader.read_split(data_dir, "train", True)
    got_dev = [e for split in reader.eval_splits for e in reader.read_split(data_dir, split, True)]
    assert len(got_train) == train
    assert len(got_dev) == dev * len(reader.eval_splits)
    assert {e.label for e in got_train + got_dev} == labels
    for submission, split in reader.predict_splits.items():
        test = reader.read_split(data_dir, split, False)
        assert len(test) >= 1 and all(e.label is None for e in test)
        # Submission ids come from the file (id/index field), in file order.
        assert test[0].guid == ("high2.txt-0" if task == "RACE" else "0")


def test_field_mapping_of_the_formats():
    mnli = get_task("MNLI")
    dev = mnli.read_split(str(CLASSIFIER / "MNLI"), "dev_mismatched", True)
    assert dev[0].text_a == "The new rights are nice enough" and dev[0].label == "neutral"
    test = mnli.read_split(str(CLASSIFIER / "MNLI"), "test_matched", False)
    assert test[1].text_b == "Tenants could be influenced by the structure of the account program."
    assert mnli.predict_splits == {"MNLI-m": "test_matched", "MNLI-mm": "test_mismatched"}
    qqp_test = get_task("QQP").read_split(str(CLASSIFIER / "QQP"), "test", False)
    assert qqp_test[1].text_a == "What are the top ten Consumer-to-Consumer E-commerce online?"
    ax = get_task("AX")
    assert ax.train_split is None and ax.labels == mnli.labels
    assert len(ax.read_split(str(CLASSIFIER / "AX"), "diagnostic", False)) == 3
    csl = get_task("CSL").read_split(str(CLASSIFIER / "CSL"), "dev", True)
    assert csl[0].text_a == "无线传感器网络 定位" and csl[0].text_b.startswith("研究了")
    wsc = get_task("CLUEWSC2020").read_split(str(CLASSIFIER / "CLUEWSC2020"), "train", True)
    assert "_手机_" in wsc[1].text_a and "[它]" in wsc[1].text_a and wsc[1].label == "true"
    tnews = get_task("TNEWS")
    assert len(tnews.labels) == 15 and "105" not in tnews.labels and len(get_task("IFLYTEK").labels) == 119
    race = get_task("RACE").read_split(str(CLASSIFIER / "RACE"), "dev", True)
    cloze = next(e for e in race if e.guid == "middle1.txt-0")
    assert cloze.choices == ["Tom has a cat .", "Tom has a dog .", "Tom has a bird .", "Tom has a fish ."]
    assert cloze.label == 2 and cloze.group == "middle"
    question = next(e for e in race if e.guid == "high2.txt-0")
    assert question.choices[3] == "When did the library open? In 2010." and question.group == "high"


def test_registry_lists_every_task():
    names = task_names()
    for name in ("CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI", "QNLI", "RTE", "WNLI", "AX", "LCQMC", "AFQMC",
                 "TNEWS", "IFLYTEK", "CMNLI", "OCNLI", "CSL", "CLUEWSC2020", "RACE"):
        assert name in names and name in describe_tasks()
    assert get_task("sst-2").name == "SST-2"
    with pytest.raises(ValueError, match="known tasks: AFQMC, AX, .*SST-2"):
        get_task("SST2")


# --- bad input --------------------------------------------------------------------------------

def _write(tmp_path, task_dir, name, text):
    directory = tmp_path / task_dir
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return str(directory)


def test_wrong_column_count_names_file_and_line(tmp_path):
    data_dir = _write(tmp_path, "RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta b\n")
    with pytest.raises(DataError, match=r"RTE/dev.tsv:3: expected 4 tab-separated columns .*got 2"):
        get_task("RTE").read_split(data_dir, "dev", True)


def test_unknown_label_names_file_line_and_labels(tmp_path):
    data_dir = _write(tmp_path, "SST-2", "train.tsv", "sentence\tlabel\ngood movie\t1\nbad movie\t2\n")
    with pytest.raises(DataError, match=r"SST-2/train.tsv:3: unknown label '2' for SST-2; expected one of \['0', '1'\]"):
        get_task("SST-2").read_split(data_dir, "train", True)


def test_empty_text_names_file_line_and_column(tmp_path):
    data_dir = _write(tmp_path, "MRPC", "dev.tsv", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                      "1\t1\t2\tA sentence.\t  \n")
    with pytest.raises(DataError, match=r"MRPC/dev.tsv:2: empty text in column 4 \(#2 String\)"):
        get_task("MRPC").read_split(data_dir, "dev", True)


def test_bad_score_and_bad_json(tmp_path):
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    data_dir = _write(tmp_path, "STS-B", "train.tsv", header + "0\tg\tf\ty\to\ts\ts\tA.\tB.\tfive\n")
    with pytest.raises(DataError, match=r"STS-B/train.tsv:2: label 'five' is not a number"):
        get_task("STS-B").read_split(data_dir, "train", True)
    data_dir = _write(tmp_path, "AFQMC", "train.json", '{"sentence1": "a", "sentence2": "b", "label": "1"}\n{oops\n')
    with pytest.raises(DataError, match=r"AFQMC/train.json:2: not a json object"):
        get_task("AFQMC").read_split(data_dir, "train", True)


@pytest.mark.parametrize("task,name,text,pattern", [
    # A GLUE test file (no label column) where labelled dev data is needed.
    ("SST-2", "dev.tsv", "index\tsentence\n0\ta film\n", r"dev.tsv:1: header \['index', 'sentence'\] has no label column \(expected one of \['label'\]\)"),
    ("LCQMC", "dev.txt", "问题一\t问题二\n", r"dev.txt:1: expected 3 tab-separated columns, got 2 \(an unlabelled test"),
    ("CMNLI", "dev.json", '{"id": 0, "sentence1": "a", "sentence2": "b"}\n', r"dev.json:1: no 'label' field"),
])
def test_unlabelled_test_file_in_eval_mode(tmp_path, task, name, text, pattern):
    data_dir = _write(tmp_path, task, name, text)
    with pytest.raises(DataError, match=pattern):
        get_task(task).read_split(data_dir, "dev", True)


def test_missing_file_and_bad_race_document(tmp_path):
    data_dir = _write(tmp_path, "QNLI", "dev.tsv", "index\tquestion\tsentence\tlabel\n")
    with pytest.raises(DataError, match=r"QNLI/train.tsv: QNLI labelled file not found; .* holds \['dev.tsv'\]"):
        get_task("QNLI").read_split(data_dir, "train", True)
    race_dir = tmp_path / "RACE" / "dev" / "high"
    race_dir.mkdir(parents=True)
    (race_dir / "1.txt").write_text(json.dumps({"article": "x", "questions": ["q"], "options": [["a", "b", "c"]],
                                                "answers": ["A"]}))
    with pytest.raises(DataError, match=r"1.txt:1 \(question 0\): field 'options' has 3 options, expected 4"):
        get_task("RACE").read_split(str(tmp_path / "RACE"), "dev", True)


def test_wsc_span_index_must_point_at_the_span(tmp_path):
    row = {"target": {"span1_index": 0, "span1_text": "猫", "span2_index": 3, "span2_text": "它"}, "label": "true",
           "text": "小狗说它饿了"}
    data_dir = _write(tmp_path, "CLUEWSC2020", "dev.json", json.dumps(row, ensure_ascii=False) + "\n")
    with pytest.raises(DataError, match=r"dev.json:1: target.span1_index=0 does not point at span1_text='猫'"):
        get_task("CLUEWSC2020").read_split(data_dir, "dev", True)
