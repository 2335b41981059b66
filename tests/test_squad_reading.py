"""Bad SQuAD input: clear errors naming file, question id and field, or counted warnings."""

import json

import pytest

from conftest import FIXTURES
from albert_tf.finetuning.examples import DataError
from albert_tf.squad import reading

SQUAD = FIXTURES / "squad"


def _write(tmp_path, data, name="bad.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def _one(qa, context="The river Thames flows.", version="1.1"):
    return {"version": version, "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [qa]}]}]}


def test_fixtures_read_cleanly():
    examples, report = reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "1.1", training=True)
    assert len(examples) == 6 and not report.misaligned
    examples, report = reading.read_squad(str(SQUAD / "tiny-v2.0.json"), "2.0", training=True)
    assert report.num_impossible == 3 and sum(e.is_impossible for e in examples) == 3
    examples, _ = reading.read_squad(str(SQUAD / "cmrc-style-zh.json"), "1.1", training=True)
    assert examples[0].answers[0].text == "北京"


def test_malformed_json_names_line_and_column(tmp_path):
    path = _write(tmp_path, '{"version": "1.1", "data": [\n  {"title": "x",, }\n]}')
    with pytest.raises(DataError, match=r"bad\.json:2:\d+: malformed JSON"):
        reading.read_squad(path, "1.1", training=True)


def test_not_a_squad_file(tmp_path):
    with pytest.raises(DataError, match="'data' list"):
        reading.read_squad(_write(tmp_path, [1, 2]), "1.1", training=True)


@pytest.mark.parametrize("qa, message", [
    ({"id": "q9", "answers": [{"text": "Thames", "answer_start": 10}]}, "question id q9: missing field 'question'"),
    ({"id": "q9", "question": "Which?", "answers": [{"text": "Thames"}]},
     r"question id q9 answers\[0\]: missing field 'answer_start'"),
    ({"id": "q9", "question": "Which?", "answers": [{"text": "Thames", "answer_start": "10"}]},
     "field 'answer_start' must be int"),
    ({"id": "q9", "question": "Which?", "answers": [{"text": "Seine", "answer_start": 99}]},
     r"1 training question\(s\) whose first answer cannot be located: answers\[0\]\.text is not in the context"),
    ({"id": "q9", "question": "Which?", "answers": []}, "no answers"),
])
def test_bad_fields_name_file_question_and_field(tmp_path, qa, message):
    path = _write(tmp_path, _one(qa))
    with pytest.raises(DataError, match=message) as error:
        reading.read_squad(path, "1.1", training=True)
    assert str(error.value).startswith(path)


def test_duplicate_ids(tmp_path):
    qa = {"id": "q1", "question": "Which?", "answers": [{"text": "Thames", "answer_start": 10}]}
    data = _one(qa)
    data["data"][0]["paragraphs"][0]["qas"].append(dict(qa))
    with pytest.raises(DataError, match="question id q1: duplicate id"):
        reading.read_squad(_write(tmp_path, data), "1.1", training=False)


def test_misaligned_answer_start_is_counted_and_repaired_for_training(tmp_path):
    context = "The river Thames flows. Thames again."
    data = _one({"id": "ok", "question": "Which?", "answers": [{"text": "Thames", "answer_start": 10}]}, context)
    qas = data["data"][0]["paragraphs"][0]["qas"]
    qas.append({"id": "off", "question": "Which?", "answers": [{"text": "Thames", "answer_start": 12}]})
    qas.append({"id": "minus", "question": "Which?", "answers": [{"text": "Thames", "answer_start": -1}]})
    path = _write(tmp_path, data)
    examples, report = reading.read_squad(path, "1.1", training=True)
    assert report.misaligned == ["off", "minus"] and report.relocated == ["off", "minus"]
    assert [e.answers[0].start for e in examples] == [10, 10, 10]  # nearest occurrence of "Thames" to 12 and -1
    assert any("2 training question(s) whose first answer was moved" in w for w in report.warnings(path))


def test_evaluation_reads_unusable_starts_of_non_first_answers_and_counts_them(tmp_path):
    # The public CMRC2018 dev file: 193 non-first answers with answer_start -1 or a start not at the text.
    context = "长江是中国最长的河流。"
    data = _one({"id": "a", "question": "最长的河流？", "answers": [
        {"text": "长江", "answer_start": 0}, {"text": "长江", "answer_start": -1}, {"text": "长江", "answer_start": 5},
        {"text": "长江", "answer_start": 400}]}, context)
    data["data"][0]["paragraphs"][0]["qas"].append(
        {"id": "b", "question": "", "answers": [{"text": "河流", "answer_start": 8}]})
    path = _write(tmp_path, data)
    for training in (False, True):
        examples, report = reading.read_squad(path, "1.1", training=training)
        assert [e.qas_id for e in examples] == ["a", "b"] and examples[0].answer_texts == ["长江"] * 4
        assert report.unusable_starts == ["a answers[1]", "a answers[2]", "a answers[3]"]
        assert report.empty_questions == ["b"] and not report.relocated
        assert any("3 answer(s) with an unusable answer_start" in w for w in report.warnings(path))


def test_training_refuses_first_answers_that_cannot_be_located_with_their_count(tmp_path):
    context = "The river Thames flows."
    data = _one({"id": "ok", "question": "Which?", "answers": [{"text": "Thames", "answer_start": 10}]}, context)
    qas = data["data"][0]["paragraphs"][0]["qas"]
    for n in range(7):
        qas.append({"id": f"gone{n}", "question": "Which?", "answers": [{"text": "Seine", "answer_start": -1}]})
    path = _write(tmp_path, data)
    with pytest.raises(DataError, match=r"bad\.json: 7 training question\(s\) whose first answer cannot be "
                                        r"located: .*\(question ids gone0, gone1, gone2, gone3, gone4 \.\.\.\)"):
        reading.read_squad(path, "1.1", training=True)
    examples, report = reading.read_squad(path, "1.1", training=False)  # evaluation keeps every question
    assert len(examples) == 8 and len(report.unusable_starts) == 7


def test_version_mismatch(tmp_path):
    with pytest.raises(DataError, match="--version=1.1 but the file is SQuAD 2.0 data"):
        reading.read_squad(str(SQUAD / "tiny-v2.0.json"), "1.1", training=False)
    with pytest.raises(DataError, match="--version=2.0 but the file is SQuAD 1.1 data"):
        reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "2.0", training=False)
    with pytest.raises(ValueError, match="--version=3"):
        reading.read_squad(str(SQUAD / "tiny-v1.1.json"), "3", training=False)
    impossible = _one({"id": "q", "question": "Which?", "answers": [{"text": "x", "answer_start": 0}],
                       "is_impossible": True}, version="v2.0")
    with pytest.raises(DataError, match="is_impossible is true but 'answers' is not empty"):
        reading.read_squad(_write(tmp_path, impossible), "2.0", training=False)
