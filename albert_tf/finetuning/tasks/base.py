"""What every task is: where its files are, how rows become Examples, its labels and metrics.

A task is one small subclass registered with `@register`; `run_classifier.py --task_name=help`
lists the registry.
"""

import collections
import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from albert_tf.finetuning import metrics as metrics_lib
from albert_tf.finetuning import readers
from albert_tf.finetuning.examples import DataError, Example
from albert_tf.finetuning.tasks import columns, plugins

GLUE_TSV, CLUE_JSON, CHOICE_TSV = "glue_tsv", "clue_json", "choice_tsv"

_REGISTRY: Dict[str, type] = {}


def register(cls):
    """Class decorator: makes the task available as `--task_name=<cls.name>` (case-insensitive)."""
    where = f"task class {cls.__module__}.{cls.__qualname__}"
    if not cls.name:
        raise ValueError(f"{where}: set `name` (the --task_name it answers to)")
    if not (cls.labels or cls.is_regression or cls.is_multiple_choice):
        raise ValueError(f"{where}: set `labels` (label strings in id order), or is_regression / is_multiple_choice")
    stray = sorted(set(cls.label_aliases.values()) - set(cls.labels))
    if stray:
        raise ValueError(f"{where}: label_aliases map to {stray}, which are not in labels {list(cls.labels)}")
    key = cls.name.lower()
    if key in _REGISTRY:
        raise ValueError(f"task {cls.name!r} registered twice ({_REGISTRY[key].__module__} and {cls.__module__})")
    _REGISTRY[key] = cls
    return cls


def task_names() -> List[str]:
    plugins.load_entry_points()
    return sorted((cls.name for cls in _REGISTRY.values()), key=str.lower)


def get_task(name: str) -> "Task":
    cls = _REGISTRY.get((name or "").lower())
    if cls is None:
        known = ", ".join(task_names())  # loads the installed entry points first
        cls = _REGISTRY.get((name or "").lower())
        if cls is None:
            raise ValueError(f"--task_name={name!r} is not a known task; known tasks: {known} (a task of your own: "
                             "--task_module=<module or .py file> that registers it)")
    return cls()


def describe_tasks() -> str:
    """One line per task: name, label count, metrics, files (for --task_name=help)."""
    lines = []
    for name in task_names():
        task = get_task(name)
        kind = ("regression" if task.is_regression else
                f"{task.num_choices}-way multiple choice" if task.is_multiple_choice else
                f"{len(task.labels)} labels")
        splits = ", ".join(f"{s}={task.split_files.get(s, '-')}" for s in
                           dict.fromkeys((task.train_split, *task.eval_splits, *task.predict_splits.values())) if s)
        lines.append(f"  {name:<12} {kind:<24} metrics: {', '.join(task.metric_names):<26} files: {splits}")
    return "\n".join(lines)


class Task:
    """Base class. Subclasses set the class attributes and implement `read_file`.

    Attributes:
        name: registry name (GLUE/CLUE spelling).
        language: "en" or "zh" (which tokenizer the reference models use).
        labels: label strings in id order ((), for regression and multiple choice).
        is_regression: one float output trained with MSE (STS-B).
        is_multiple_choice / num_choices: score each choice with one output, softmax over choices.
        metric_names: reported metrics; `main_metric` selects the best checkpoint.
        split_files: split name → file (or directory) name inside `--data_dir`.
        train_split, eval_splits: labelled splits; the first eval split picks the best checkpoint.
        predict_splits: submission name → unlabelled split written by `--do_predict`.
        submission_format: GLUE tsv, CLUE json-lines or the multiple-choice tsv.
    """

    name = ""
    language = "en"
    labels: Tuple[str, ...] = ()
    is_regression = False
    is_multiple_choice = False
    num_choices = 0
    metric_names: Tuple[str, ...] = (metrics_lib.ACCURACY,)
    main_metric = metrics_lib.ACCURACY
    split_files: Dict[str, str] = {}
    train_split: Optional[str] = "train"
    eval_splits: Tuple[str, ...] = ("dev",)
    predict_splits: Dict[str, str] = {}
    submission_format = GLUE_TSV
    # Label spellings of other exports → the task's labels (e.g. the Hugging Face datasets numbering
    # {"0": "entailment", "1": "not_entailment"} for RTE); only values that are not labels are mapped.
    label_aliases: Dict[str, str] = {}

    def __init__(self):
        # file → {label value: rows skipped on purpose}, filled by the readers (see `report_skipped`).
        self.skipped_rows: Dict[str, Dict[str, int]] = {}

    # --- files -----------------------------------------------------------------------------

    def split_path(self, data_dir: str, split: str) -> str:
        if split not in self.split_files:
            raise DataError(f"task {self.name} has no split {split!r}; it has {sorted(self.split_files)}")
        return os.path.join(data_dir, self.split_files[split])

    def read_split(self, data_dir: str, split: str, labelled: bool) -> List[Example]:
        return self.read(self.split_path(data_dir, split), labelled)

    def read(self, path: str, labelled: Optional[bool]) -> List[Example]:
        """The examples of one file, checked: not empty, ids unique and free of spaces.

        `labelled=None` reads a file as what it is (labelled when it has labels), for batch prediction.
        """
        if labelled is None:
            labelled = self.file_has_labels(path)
        examples = self.read_file(path, labelled)
        if not examples:
            raise DataError(f"{path}: no examples")
        check_ids(examples)
        return examples

    def read_file(self, path: str, labelled: bool) -> List[Example]:
        """Subclasses: every row of the file as an Example (labels when `labelled`)."""
        raise NotImplementedError

    def file_has_labels(self, path: str) -> bool:  # pylint: disable=unused-argument
        """Whether the file carries labels (subclasses that can tell override this)."""
        return False

    def report_skipped(self, path: str, skipped: Dict[str, int]):
        """Counts and logs the rows a reader skipped on purpose (e.g. CMNLI label "-")."""
        if skipped:
            self.skipped_rows[path] = dict(skipped)
            logging.info("%s: skipped %d rows on purpose (%s)", path, sum(skipped.values()),
                         ", ".join(f"{count} labelled {value!r}" for value, count in sorted(skipped.items())))

    # --- labels ----------------------------------------------------------------------------

    @property
    def num_outputs(self) -> int:
        """Width of the classifier layer (1 for regression and per-choice scores)."""
        return 1 if self.is_regression or self.is_multiple_choice else len(self.labels)

    @property
    def num_classes(self) -> int:
        """Classes the softmax runs over (for the collapse check and ln(C) loss check)."""
        return self.num_choices if self.is_multiple_choice else len(self.labels)

    def check_label(self, value, source: str, field: str = "label") -> str:
        value = str(value).strip()
        if value not in self.labels:
            if value in self.label_aliases:
                return self.label_aliases[value]
            aliases = f" (or {list(self.label_aliases)})" if self.label_aliases else ""
            raise DataError(f"{source}: unknown {field} {value!r} for {self.name}; expected one of "
                            f"{list(self.labels)}{aliases}")
        return value

    def label_id(self, label):
        """The model target: class index, float score, or choice index."""
        if self.is_regression:
            return float(label)
        if self.is_multiple_choice:
            return int(label)
        return self.labels.index(label)

    # --- metrics and predictions -----------------------------------------------------------

    def compute_metrics(self, outputs, label_ids, weights=None) -> Dict[str, float]:
        """Metrics on the real rows (weight > 0) of model outputs vs targets."""
        outputs, label_ids = metrics_lib.real_rows(outputs, label_ids, weights)
        if self.is_regression:
            return metrics_lib.regression_metrics(metrics_lib.regression_scores(outputs), label_ids)
        return metrics_lib.classification_metrics(metrics_lib.predicted_classes(outputs),
                                                  label_ids.astype(np.int64), self.metric_names)

    def prediction_strings(self, outputs) -> List[str]:
        """What the submission file says for each row."""
        if self.is_regression:
            # The GLUE server expects scores in the label range.
            return [f"{min(max(s, 0.0), 5.0):.3f}" for s in metrics_lib.regression_scores(outputs)]
        classes = metrics_lib.predicted_classes(outputs)
        if self.is_multiple_choice:
            return ["ABCDEFGH"[c] for c in classes]
        return [self.labels[c] for c in classes]

    def class_histogram(self, outputs) -> Dict[str, int]:
        if self.is_regression:
            return {}
        return dict(collections.Counter(self.prediction_strings(outputs)))


def check_ids(examples: Sequence[Example]):
    """Submission ids must identify rows: unique, no spaces (a text or label column is not an id column)."""
    seen = {}
    for example in examples:
        if not example.guid or any(ch.isspace() for ch in example.guid):
            raise DataError(f"{example.source}: id {example.guid!r} is not an id (empty or with spaces): the id "
                            "column holds text")
        if example.guid in seen:
            raise DataError(f"{example.source}: id {example.guid!r} repeats the id of {seen[example.guid]}: ids "
                            "must be unique (is the id column a label or text column?)")
        seen[example.guid] = example.source


def nonempty(text, source: str, field: str) -> str:
    """The text stripped, or a DataError naming the field."""
    if text is None or not str(text).strip():
        raise DataError(f"{source}: empty text in {field}")
    return str(text).strip()


class TsvTask(Task):
    """GLUE-style tab-separated files.

    A file with a header is read by column NAME (`text_names`, `label_names`, `id_names`;
    `other_names` are known columns that are ignored): any column order works, and a header that does
    not fit is refused with what was expected and what was found. A file without a header is read by
    the column positions below (0-based; `label_column` may be negative, -1: last) and must have
    exactly the columns they imply. Set `header_by_name = False` to read a header file by position.

    Ids for submissions come from the id column when the header names one (or `test_id_column`
    for headerless test files); otherwise they are the row numbers. Ids are checked to be unique
    and free of spaces, so a label or text column used as ids is refused.
    """

    has_header = True
    num_columns: Optional[int] = None          # fixed count for files without a header
    text_columns: Sequence[int] = (0,)
    label_column = -1
    test_has_header = True
    test_num_columns: Optional[int] = None
    test_text_columns: Optional[Sequence[int]] = None
    test_id_column: Optional[int] = None       # headerless test files: id column (default: row numbers)
    id_column: Optional[int] = None            # headerless labelled files: id column (default: row numbers)
    # A headerless test file whose published format carries labels (LCQMC): do not refuse them.
    test_file_has_labels = False
    header_by_name = True
    # Accepted header names, one tuple per text (in order), matched case-insensitively.
    text_names: Sequence[Sequence[str]] = (("text_a", "sentence", "sentence1", "text", "question", "premise"),
                                           ("text_b", "sentence2", "hypothesis"))
    label_names: Sequence[str] = ("label",)
    id_names: Sequence[str] = ("index", "idx", "id")
    other_names: Sequence[str] = ()
    split_files = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}

    def file_has_labels(self, path: str) -> bool:
        readers.require_file(path, f"{self.name} file")
        fields = readers.first_fields(path)
        if self._has_header(fields, True) and self.header_by_name:
            names = [columns.normalized(f) for f in fields]
            return any(columns.normalized(n) in names for n in self.label_names)
        return len(fields) == columns.roles_from_positions(self, True, self.num_columns, self.text_columns,
                                                           self.id_column).count

    def _has_header(self, fields, labelled: bool) -> bool:
        declared = self.has_header if labelled else self.test_has_header
        # A headerless format given with a header line of the task's own names (e.g. an export with names).
        return declared or columns.looks_like_header(self, fields)

    def _roles(self, path, header, labelled) -> columns.ColumnRoles:
        text_columns = self.text_columns if labelled or self.test_text_columns is None else self.test_text_columns
        if header is not None and self.header_by_name:
            return columns.roles_from_header(self, header, path, len(text_columns), labelled)
        if labelled:
            roles = columns.roles_from_positions(self, True, self.num_columns, text_columns, self.id_column)
        else:
            roles = columns.roles_from_positions(self, False, self.test_num_columns, text_columns, self.test_id_column)
        if header is not None:
            roles = dataclasses.replace(roles, count=len(header), header=list(header))
        return roles

    def read_file(self, path: str, labelled: bool) -> List[Example]:
        readers.require_file(path, f"{self.name} {'labelled' if labelled else 'test'} file")
        fields = readers.first_fields(path)
        if not fields:
            raise DataError(f"{path}: empty file")
        has_header = self._has_header(fields, labelled)
        header = fields if has_header else None
        roles = self._roles(path, header, labelled)
        hint = " (an unlabelled test file where labelled data is needed?)" if labelled and not has_header else ""
        _, rows = readers.read_tsv(path, has_header, roles.count, hint=hint)
        examples, skipped, aliased = [], collections.Counter(), collections.Counter()
        for lineno, row in rows:
            source = f"{path}:{lineno}"
            texts = [nonempty(row[c], source, roles.name(c)) for c in roles.text]
            label = None
            if labelled:
                raw = row[roles.label].strip()
                label = self.parse_label(raw, source)
                if label is None:
                    skipped[raw] += 1
                    continue
                if raw != label and raw in self.label_aliases:
                    aliased[raw] += 1
            else:
                columns.check_no_label(self, roles, row, source)
                if header is None and not self.test_file_has_labels:
                    position = columns.label_in_unread_column(self, row, roles)
                    if position is not None:
                        raise DataError(f"{source}: column {position} holds the label {row[position].strip()!r} "
                                        f"(where {self.name}'s labelled files have it), but this is the test split, "
                                        "which is predicted: give the unlabelled test file, or set the task's "
                                        "test_text_columns / test_num_columns to its real layout")
            guid = row[roles.id].strip() if roles.id is not None else str(len(examples))
            examples.append(Example(guid=guid, text_a=texts[0], text_b=texts[1] if len(texts) > 1 else None,
                                    label=label, source=source))
        if aliased:
            logging.info("%s: labels %s read as %s (the numbering of the Hugging Face datasets library)", path,
                         sorted(aliased), [self.label_aliases[k] for k in sorted(aliased)])
        self.report_skipped(path, skipped)
        return examples

    def parse_label(self, raw: str, source: str):
        """The label of a row; None skips the row."""
        if self.is_regression:
            try:
                return float(raw)
            except ValueError:
                raise DataError(f"{source}: label {raw!r} is not a number") from None
        return self.check_label(raw, source)
