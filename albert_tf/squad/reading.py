"""SQuAD-format json (v1.1, v2.0, CMRC2018) → `SquadExample`s, every question checked first.

Errors name the file, the question id and the field; problems a run can live with are counted and
reported once. Evaluation and prediction only need the answer texts, so an `answer_start` that is -1,
past the context or not at its text (193 of the 9,657 answers of the public CMRC2018 dev file, never
a first answer) is counted, not refused. Training needs each question's first answer in the context:
a wrong start is moved to the text's nearest occurrence (counted); a file where some first answers
cannot be found at all is refused, with their count.
"""

import dataclasses
import json
from typing import Dict, List, Optional, Tuple

from absl import logging

from albert_tf import filesystem
from albert_tf.finetuning.examples import DataError

VERSIONS = ("1.1", "2.0")
_MAX_LISTED = 5


@dataclasses.dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset into the context


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question over one context.

    Args:
        qas_id: the question id (the key of predictions.json).
        question: question text.
        context: the paragraph, exactly as in the file (answers are sliced out of it).
        answers: gold answers; the training target is the first one.
        is_impossible: v2.0 unanswerable question (answers is then empty).
    """

    qas_id: str
    question: str
    context: str
    answers: Tuple[Answer, ...]
    is_impossible: bool = False

    @property
    def answer_texts(self) -> List[str]:
        return [a.text for a in self.answers]


@dataclasses.dataclass
class ReadReport:
    """What reading found that is not fatal."""

    num_questions: int = 0
    num_impossible: int = 0
    misaligned: List[str] = dataclasses.field(default_factory=list)  # question ids with an unusable start
    relocated: List[str] = dataclasses.field(default_factory=list)   # training target moved to the text
    unusable_starts: List[str] = dataclasses.field(default_factory=list)  # "qid answers[n]": -1 or not at the text
    empty_questions: List[str] = dataclasses.field(default_factory=list)  # kept: the context alone is asked

    def warnings(self, path: str) -> List[str]:
        out = []
        for ids, what in ((self.unusable_starts, "answer(s) with an unusable answer_start (-1, outside the context "
                                                 "or not at the answer text; scoring uses only the texts)"),
                          (self.empty_questions, "question(s) with an empty 'question' field (kept: answered "
                                                 "from the context alone)"),
                          (self.relocated, "training question(s) whose first answer was moved to the nearest "
                                           "occurrence of its text")):
            if ids:
                listed = ", ".join(ids[:_MAX_LISTED]) + (" ..." if len(ids) > _MAX_LISTED else "")
                out.append(f"{path}: {len(ids)} {what}: {listed}")
        return out


def _fail(path, where, message):
    raise DataError(f"{path}: {where}: {message}")


def _field(obj, name, kind, path, where, required=True):
    if name not in obj:
        if required:
            _fail(path, where, f"missing field '{name}'")
        return None
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        _fail(path, where, f"field '{name}' must be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def load_json(path: str) -> Dict:
    try:
        if not filesystem.isfile(path):
            raise FileNotFoundError(path)
        text = filesystem.read_text(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: invalid UTF-8 at byte {error.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}:{error.colno}: malformed JSON: {error.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: not a SQuAD file: expected an object with a 'data' list of articles")
    return data


def check_version(path: str, data: Dict, version: str, has_impossible_field: bool, num_impossible: int):
    """The data must be what `--version` says: a v1.1 run cannot see unanswerable questions."""
    declared = str(data.get("version", "")).lstrip("v")
    if version == "1.1":
        if num_impossible or declared.startswith("2"):
            raise DataError(f"{path}: --version=1.1 but the file is SQuAD 2.0 data (version field "
                            f"{data.get('version')!r}, {num_impossible} unanswerable questions); use --version=2.0")
    elif not has_impossible_field and declared.startswith("1"):
        raise DataError(f"{path}: --version=2.0 but the file is SQuAD {data.get('version')} data (no question has "
                        "'is_impossible'); use --version=1.1")


def _points_at_text(context: str, answer: Answer) -> bool:
    return answer.start >= 0 and context[answer.start:answer.start + len(answer.text)] == answer.text


def _nearest_occurrence(context: str, text: str, start: int) -> Optional[int]:
    best = None
    found = context.find(text)
    while found >= 0:
        if best is None or abs(found - start) < abs(best - start):
            best = found
        found = context.find(text, found + 1)
    return best


def read_squad(path: str, version: str, training: bool) -> Tuple[List[SquadExample], ReadReport]:
    """All questions of a SQuAD-format file, validated before anything is tokenized.

    Training examples need a first answer present in the context; a misaligned `answer_start` is
    moved to the nearest occurrence of the answer text (counted); a first answer whose text is absent
    refuses the file, with the count of such questions. Evaluation keeps every question and every
    answer whatever its `answer_start` (counted in `unusable_starts`): only the texts are scored.
    """
    if version not in VERSIONS:
        raise ValueError(f"--version={version}: must be one of {', '.join(VERSIONS)}")
    data = load_json(path)
    report = ReadReport()
    examples, seen, unlocatable = [], {}, []
    has_impossible_field = False
    for a, article in enumerate(data["data"]):
        where_article = f"article {a}"
        if not isinstance(article, dict):
            _fail(path, where_article, "must be an object")
        paragraphs = _field(article, "paragraphs", list, path, where_article)
        for p, paragraph in enumerate(paragraphs):
            where_paragraph = f"{where_article} paragraph {p}"
            if not isinstance(paragraph, dict):
                _fail(path, where_paragraph, "must be an object")
            context = _field(paragraph, "context", str, path, where_paragraph)
            for q, qa in enumerate(_field(paragraph, "qas", list, path, where_paragraph)):
                if not isinstance(qa, dict):
                    _fail(path, f"{where_paragraph} question {q}", "must be an object")
                qid = qa.get("id")
                if not isinstance(qid, (str, int)) or isinstance(qid, bool):
                    _fail(path, f"{where_paragraph} question {q}", "missing or non-string field 'id'")
                qid = str(qid)
                where = f"question id {qid}"
                if qid in seen:
                    _fail(path, where, f"duplicate id (also in {seen[qid]})")
                seen[qid] = where_paragraph
                question = _field(qa, "question", str, path, where)
                if not question.strip():  # two in the CMRC2018 trial file: still scored, so kept
                    report.empty_questions.append(qid)
                impossible = _field(qa, "is_impossible", bool, path, where, required=False)
                has_impossible_field |= impossible is not None
                impossible = bool(impossible)
                answers = []
                for n, answer in enumerate(_field(qa, "answers", list, path, where)):
                    where_answer = f"{where} answers[{n}]"
                    if not isinstance(answer, dict):
                        _fail(path, where_answer, "must be an object")
                    text = _field(answer, "text", str, path, where_answer)
                    start = _field(answer, "answer_start", int, path, where_answer)
                    answers.append(Answer(text, start))
                    if not _points_at_text(context, answers[-1]):
                        report.unusable_starts.append(f"{qid} answers[{n}]")
                if impossible and answers:
                    _fail(path, where, "is_impossible is true but 'answers' is not empty")
                if not impossible and not answers:
                    _fail(path, where, "no answers (and not marked is_impossible)")
                report.num_questions += 1
                report.num_impossible += impossible
                if any(not _points_at_text(context, x) for x in answers):
                    report.misaligned.append(qid)
                if training and answers and not _points_at_text(context, answers[0]):
                    first = answers[0]
                    moved = _nearest_occurrence(context, first.text, first.start) if first.text.strip() else None
                    if moved is None:
                        unlocatable.append(qid)
                        continue
                    report.relocated.append(qid)
                    answers[0] = Answer(first.text, moved)
                examples.append(SquadExample(qid, question, context, tuple(answers), impossible))
    check_version(path, data, version, has_impossible_field, report.num_impossible)
    if unlocatable:
        listed = ", ".join(unlocatable[:_MAX_LISTED]) + (" ..." if len(unlocatable) > _MAX_LISTED else "")
        raise DataError(f"{path}: {len(unlocatable)} training question(s) whose first answer cannot be located: "
                        f"answers[0].text is not in the context and answers[0].answer_start does not point at it "
                        f"(question ids {listed}); fix or remove them (evaluation reads such files)")
    if not examples:
        raise DataError(f"{path}: no usable questions")
    for message in report.warnings(path):
        logging.warning("%s", message)
    return examples, report
