"""Task files in other layouts: header names matched, files that do not fit their split refused, user tasks."""

import logging
import textwrap

import pytest

import cli_testlib
from conftest import REALDATA
from albert_tf.finetuning import DataError, get_task
from albert_tf.finetuning.tasks import load_task_modules, plugins


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- header matching by name -------------------------------------------------------------------

HF_RTE = "sentence1\tsentence2\tlabel\tidx\nA man sleeps.\tA man rests.\t0\t0\nA cat.\tA dog.\t1\t1\n"


def test_hugging_face_rte_layout_is_read_by_name(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    examples = get_task("RTE").read(_file(tmp_path, "dev.tsv", HF_RTE), labelled=True)
    assert [(e.guid, e.text_a, e.text_b, e.label) for e in examples] == [
        ("0", "A man sleeps.", "A man rests.", "entailment"), ("1", "A cat.", "A dog.", "not_entailment")]
    assert "read as ['entailment', 'not_entailment'] (the numbering of the Hugging Face datasets library)" \
        in caplog.text


def test_hugging_face_mnli_numbering_maps_to_the_glue_names(tmp_path):
    text = "premise\thypothesis\tlabel\tidx\np\th\t0\t5\np\th\t1\t6\np\th\t2\t7\n"
    labels = [e.label for e in get_task("MNLI").read(_file(tmp_path, "dev.tsv", text), labelled=True)]
    assert labels == ["entailment", "neutral", "contradiction"]


def test_columns_in_another_order_are_matched_by_name(tmp_path):
    text = "label\tsentence\tidx\n1\tgood film\t10\n0\tbad film\t11\n"
    examples = get_task("SST-2").read(_file(tmp_path, "train.tsv", text), labelled=True)
    assert [(e.guid, e.text_a, e.label) for e in examples] == [("10", "good film", "1"), ("11", "bad film", "0")]


def test_header_that_does_not_fit_says_what_was_expected_and_found(tmp_path):
    path = _file(tmp_path, "dev.tsv", "premise\tclaim\tlabel\n a\tb\t0\n")
    with pytest.raises(DataError, match=r"dev.tsv:1: header \['premise', 'claim', 'label'\] does not fit a RTE "
                                        r"labelled file: missing text 1 \(one of \['sentence1'\]\), text 2 .*unknown "
                                        r"columns \['premise', 'claim'\]\. Expected text 1: one of \['sentence1'\]"):
        get_task("RTE").read(path, labelled=True)


def test_eval_mode_message_no_longer_contradicts_itself(tmp_path):
    # The HF layout has a label column; it must be found, not reported missing.
    examples = get_task("RTE").read(_file(tmp_path, "dev.tsv", HF_RTE), labelled=True)
    assert len(examples) == 2
    with pytest.raises(DataError, match=r"header \['idx', 'sentence1', 'sentence2'\] has no label column"):
        get_task("RTE").read(_file(tmp_path, "x.tsv", "idx\tsentence1\tsentence2\n0\ta\tb\n"), labelled=True)


# --- files whose columns do not fit the split --------------------------------------------------

def test_labelled_file_given_as_the_test_file_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"test.tsv:2: column 2 \(label\) holds the label '0', but this is the "
                                        r"test split, which is predicted"):
        get_task("RTE").read(_file(tmp_path, "test.tsv", HF_RTE), labelled=False)


def test_hugging_face_test_split_with_minus_one_labels_is_a_test_file(tmp_path):
    text = "sentence1\tsentence2\tlabel\tidx\na\tb\t-1\t0\nc\td\t-1\t1\n"
    examples = get_task("RTE").read(_file(tmp_path, "test.tsv", text), labelled=False)
    assert [(e.guid, e.text_a, e.label) for e in examples] == [("0", "a", None), ("1", "c", None)]


def test_text_in_the_id_column_is_refused(tmp_path):
    class _Shifted(get_task("RTE").__class__):  # an id column that is really the first sentence
        id_names = ("sentence1",)
        text_names = (("sentence2",), ("premise",))
    text = "premise\tsentence1\tsentence2\nx\tA man sleeps.\tA man rests.\n"
    with pytest.raises(DataError, match=r"test.tsv:2: id 'A man sleeps.' is not an id .*the id column holds text"):
        _Shifted().read(_file(tmp_path, "test.tsv", text), labelled=False)


def test_label_column_as_ids_is_refused(tmp_path):
    class _LabelIds(get_task("SST-2").__class__):
        id_names = ("label",)
        label_names = ("gold",)
    text = "sentence\tlabel\na\t1\nb\t1\n"
    with pytest.raises(DataError, match=r"test.tsv:3: id '1' repeats the id of .*test.tsv:2: ids must be unique"):
        _LabelIds().read(_file(tmp_path, "test.tsv", text), labelled=False)


@pytest.mark.parametrize("row,count", [("0\tonly one\n", 2), ("0\ta\tb\tentailment\textra\n", 5)])
def test_too_few_or_too_many_columns(tmp_path, row, count):
    path = _file(tmp_path, "dev.tsv", "index\tsentence1\tsentence2\tlabel\n" + row)
    with pytest.raises(DataError, match=rf"dev.tsv:2: expected 4 tab-separated columns .*got {count}"):
        get_task("RTE").read(path, labelled=True)


def test_headerless_test_file_with_labels_is_refused(tmp_path):
    # CoLA's test file has a header; a labelled CoLA train file given as the test file must not be read.
    path = _file(tmp_path, "test.tsv", "gj04\t1\t\tThe sailors rode the breeze.\n")
    with pytest.raises(DataError, match=r"test.tsv:1: header .* does not fit a CoLA test file"):
        get_task("CoLA").read(path, labelled=False)


def test_headerless_format_given_with_a_header_of_its_names(tmp_path):
    examples = get_task("LCQMC").read(_file(tmp_path, "dev.txt", "text_a\ttext_b\tlabel\n你好\t您好\t1\n"), True)
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [("你好", "您好", "1")]


def test_prediction_reads_a_labelled_file_as_labelled(tmp_path):
    # albert-predict's reader: the labels of a dev file are labels, never model input or ids.
    examples = get_task("RTE").read(_file(tmp_path, "dev.tsv", HF_RTE), labelled=None)
    assert [(e.guid, e.text_a, e.text_b) for e in examples] == [("0", "A man sleeps.", "A man rests."),
                                                               ("1", "A cat.", "A dog.")]
    glue_test = get_task("RTE").read(_file(tmp_path, "test.tsv", "index\tsentence1\tsentence2\n7\ta\tb\n"), None)
    assert glue_test[0].guid == "7" and glue_test[0].label is None


def test_predict_cli_reader_refuses_a_wide_file_without_input_names(tmp_path):
    predict = cli_testlib.command("predict")  # beside the other commands' modules (flags of the same name)
    path = _file(tmp_path, "rows.tsv", "label\tsentence\tidx\n1\tgood\t0\n")
    with pytest.raises(predict.InputError, match=r"rows.tsv:1: header \['label', 'sentence', 'idx'\] does not name "
                                                 r"the model's text inputs \(text_a\); name the columns with --inputs"):
        predict.read_rows(path, ["text_a"])
    rows = predict.read_task_rows("RTE", _file(tmp_path, "dev.tsv", HF_RTE), ["text_a", "text_b"])
    assert rows == [("0", ["A man sleeps.", "A man rests."]), ("1", ["A cat.", "A dog."])]


def test_real_glue_test_files_still_read():
    data = REALDATA / "glue"
    if not data.exists():
        pytest.skip(f"real data not found at {data} (set ALBERT_TF_REALDATA to the shared realdata directory)")
    mrpc = get_task("MRPC").read(str(data / "MRPC" / "test.tsv"), labelled=None)
    assert len(mrpc) == 1725 and mrpc[0].label is None and mrpc[0].guid == "0"
    assert get_task("MRPC").read(str(data / "MRPC" / "dev.tsv"), labelled=None)[0].label == "1"


# --- rows skipped on purpose -------------------------------------------------------------------

def test_skipped_rows_are_counted_and_logged_per_file(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    rows = ['{"sentence1": "a", "sentence2": "b", "label": "neutral"}',
            '{"sentence1": "a", "sentence2": "b", "label": "-"}',
            '{"sentence1": "c", "sentence2": "d", "label": "-"}']
    path = _file(tmp_path, "dev.json", "\n".join(rows) + "\n")
    task = get_task("OCNLI")
    assert len(task.read(path, labelled=True)) == 1
    assert task.skipped_rows == {path: {"-": 2}}
    assert f"{path}: skipped 2 rows on purpose (2 labelled '-')" in caplog.text


# --- tasks from a user module ------------------------------------------------------------------

USER_TASKS = '''
from albert_tf.finetuning.tasks import TsvTask, register


@register
class {name}(TsvTask):
    """A naive task: label then text, no header; the test file has only the text."""
    name = "{name}"
    labels = ("neg", "pos")
    has_header = False
    text_columns = (1,)
    label_column = 0
    test_has_header = False
    test_text_columns = (0,)
    predict_splits = {{"{name}": "test"}}
'''


def _user_module(tmp_path, name):
    module = tmp_path / f"{name.lower()}_tasks.py"
    module.write_text(USER_TASKS.format(name=name))
    return str(module)


def test_user_module_registers_a_task_without_touching_the_package(tmp_path):
    with pytest.raises(ValueError, match="not a known task.*--task_module"):
        get_task("Sentiment1")
    load_task_modules([_user_module(tmp_path, "Sentiment1")])
    load_task_modules([_user_module(tmp_path, "Sentiment1")])  # loading twice is harmless
    task = get_task("sentiment1")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("pos\tlovely\nneg\tawful\n")
    (data / "test.tsv").write_text("lovely\nawful\nfine\n")
    assert [(e.text_a, e.label) for e in task.read_split(str(data), "train", True)] == [("lovely", "pos"),
                                                                                         ("awful", "neg")]
    # No id column: the submission ids are the row numbers, never the labels.
    assert [e.guid for e in task.read_split(str(data), "test", False)] == ["0", "1", "2"]
    # The labelled file given as the test file is refused, not predicted with the label as text.
    (data / "test.tsv").write_text("pos\tlovely\nneg\tawful\n")
    with pytest.raises(DataError, match=r"test.tsv:1: expected 1 tab-separated columns, got 2"):
        task.read_split(str(data), "test", False)


def test_user_module_errors_name_the_flag(tmp_path):
    with pytest.raises(ValueError, match=r"--task_module=no_such_tasks_module: cannot import it"):
        load_task_modules(["no_such_tasks_module"])
    with pytest.raises(ValueError, match=r"--task_module=.*missing.py: file not found"):
        load_task_modules([str(tmp_path / "missing.py")])
    bad = tmp_path / "bad_tasks.py"
    bad.write_text(textwrap.dedent('''
        from albert_tf.finetuning.tasks import TsvTask, register
        @register
        class NoLabels(TsvTask):
            name = "NoLabels"
    '''))
    with pytest.raises(ValueError, match=r"NoLabels: set `labels`"):
        load_task_modules([str(bad)])
    assert plugins.ENTRY_POINT_GROUP == "albert_tf.tasks"


def test_language_and_tokenizer_kind_disagreeing_is_warned_even_with_few_unknowns(caplog):
    from albert_tf.finetuning import vocabulary_check

    class _Tokenizer:  # a multilingual SentencePiece model that knows Chinese
        class settings:  # pylint: disable=invalid-name
            type, vocab_file = "sentencepiece", "multi.model"
        vocab_size = 250000
    caplog.set_level(logging.WARNING, logger="absl")
    meta = {"unknown_tokens": 0, "text_tokens": 1000}
    assert vocabulary_check.check_unknown_rate(get_task("LCQMC"), _Tokenizer(), "dev.txt", meta, 0.1) == 0.0
    assert "dev.txt: 0.00% of the tokens are unknown to the tokenizer: LCQMC is a Chinese task" in caplog.text
    with pytest.raises(DataError, match=r"dev.txt: 50.0% of the tokens \(500 of 1000\) .*--max_unknown_rate=0.55"):
        vocabulary_check.check_unknown_rate(get_task("LCQMC"), _Tokenizer(), "dev.txt",
                                            {"unknown_tokens": 500, "text_tokens": 1000}, 0.1)


def test_labelled_json_lines_given_as_the_test_file_are_refused(tmp_path):
    path = _file(tmp_path, "test.json", '{"id": 0, "sentence1": "a", "sentence2": "b", "label": "1"}\n')
    with pytest.raises(DataError, match=r"test.json:1: field 'label' = '1' in the test split, which is predicted"):
        get_task("AFQMC").read(path, labelled=False)
    assert get_task("AFQMC").read(path, labelled=None)[0].label == "1"  # albert-predict reads it as labelled
