"""RACE: reading comprehension, 4 options per question, one json file per article.

Layout: data_dir/{train,dev,test}/{high,middle}/*.txt, each file
`{"id", "article", "questions": [...], "options": [[4 strings], ...], "answers": ["A", ...]}`.
Each option is scored as `[CLS] article [SEP] question+option [SEP]`; the option replaces "_"
in cloze-style questions.
"""

import json
import os
from typing import List

from albert_tf import filesystem
from albert_tf.finetuning.examples import DataError, Example
from albert_tf.finetuning.tasks.base import CHOICE_TSV, Task, nonempty, register

ANSWER_LETTERS = "ABCD"


def question_with_option(question: str, option: str) -> str:
    if "_" in question:
        return question.replace("_", option)
    return f"{question} {option}".strip()


@register
class RACE(Task):
    name = "RACE"
    is_multiple_choice = True
    num_choices = 4
    submission_format = CHOICE_TSV
    split_files = {"train": "train", "dev": "dev", "test": "test"}
    eval_splits = ("dev",)
    predict_splits = {"RACE": "test"}

    def read_file(self, path: str, labelled: bool) -> List[Example]:
        if not filesystem.isdir(path):
            raise DataError(f"{path}: RACE split directory not found (expected {path}/high and {path}/middle)")
        files = [filesystem.join(path, *name.split("/")) for name in filesystem.files_under(path)
                 if name.endswith((".txt", ".json"))]
        examples = []
        for file in files:
            group = filesystem.basename(filesystem.dirname(file))
            try:
                doc = json.loads(filesystem.read_text(file))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise DataError(f"{file}:1: not a RACE json document ({error})") from None
            examples += self._questions(doc, file, group, labelled)
        return examples

    def _questions(self, doc, file, group, labelled):
        source = f"{file}:1"
        for key in ("article", "questions", "options") + (("answers",) if labelled else ()):
            if key not in doc:
                raise DataError(f"{source}: missing field {key!r} (fields: {sorted(doc)})")
        article = nonempty(doc["article"], source, "field 'article'")
        questions, options = doc["questions"], doc["options"]
        answers = doc.get("answers") if labelled else None
        if len(options) != len(questions) or (answers is not None and len(answers) != len(questions)):
            raise DataError(f"{source}: {len(questions)} questions but {len(options)} option lists and "
                            f"{len(answers or [])} answers")
        doc_id = str(doc.get("id", os.path.basename(file)))
        out = []
        for q, question in enumerate(questions):
            where = f"{source} (question {q})"
            if len(options[q]) != self.num_choices:
                raise DataError(f"{where}: field 'options' has {len(options[q])} options, expected {self.num_choices}")
            label = None
            if answers is not None:
                if answers[q] not in ANSWER_LETTERS:
                    raise DataError(f"{where}: unknown answer {answers[q]!r}; expected one of {list(ANSWER_LETTERS)}")
                label = ANSWER_LETTERS.index(answers[q])
            choices = [nonempty(question_with_option(question, str(option)), where, f"option {i}")
                       for i, option in enumerate(options[q])]
            out.append(Example(guid=f"{doc_id}-{q}", text_a=article, label=label, source=where, choices=choices,
                               group=group))
        return out
