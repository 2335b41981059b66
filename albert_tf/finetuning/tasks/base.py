"""What every task is: where its files are, how rows become Examples, its labels and metrics.

A task is one small subclass registered with `@register`; `run_classifier.py --task_name=help`
lists the registry.
"""

import collections
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from albert_tf.finetuning import metrics as metrics_lib
from albert_tf.finetuning.examples import DataError, Example

GLUE_TSV, CLUE_JSON, CHOICE_TSV = "glue_tsv", "clue_json", "choice_tsv"

_REGISTRY: Dict[str, type] = {}


def register(cls):
    """Class decorator: makes the task available as `--task_name=<cls.name>` (case-insensitive)."""
    key = cls.name.lower()
    if key in _REGISTRY:
        raise ValueError(f"task {cls.name!r} registered twice")
    _REGISTRY[key] = cls
    return cls


def task_names() -> List[str]:
    return sorted((cls.name for cls in _REGISTRY.values()), key=str.lower)


def get_task(name: str) -> "Task":
    cls = _REGISTRY.get((name or "").lower())
    if cls is None:
        raise ValueError(f"--task_name={name!r} is not a known task; known tasks: {', '.join(task_names())}")
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
    # Which splits carry labels even though they are also predicted (LCQMC's test.txt).
    labelled_predict_splits: Tuple[str, ...] = ()

    # --- files -----------------------------------------------------------------------------

    def split_path(self, data_dir: str, split: str) -> str:
        if split not in self.split_files:
            raise DataError(f"task {self.name} has no split {split!r}; it has {sorted(self.split_files)}")
        return os.path.join(data_dir, self.split_files[split])

    def read_split(self, data_dir: str, split: str, labelled: bool) -> List[Example]:
        path = self.split_path(data_dir, split)
        examples = self.read_file(path, labelled)
        if not examples:
            raise DataError(f"{path}: no examples")
        return examples

    def read_file(self, path: str, labelled: bool) -> List[Example]:
        raise NotImplementedError

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
            raise DataError(f"{source}: unknown {field} {value!r} for {self.name}; expected one of "
                            f"{list(self.labels)}")
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


def nonempty(text, source: str, field: str) -> str:
    """The text stripped, or a DataError naming the field."""
    if text is None or not str(text).strip():
        raise DataError(f"{source}: empty text in {field}")
    return str(text).strip()


class TsvTask(Task):
    """GLUE-style tab-separated files.

    Column numbers are 0-based; `label_column` may be negative (-1: last). Files with a header are
    checked to have the header's column count on every row; `label_header` guards against an
    unlabelled test file given where labels are needed.
    """

    has_header = True
    num_columns: Optional[int] = None          # fixed count for files without a header
    text_columns: Sequence[int] = (0,)
    label_column = -1
    label_header: Optional[str] = None
    test_has_header = True
    test_num_columns: Optional[int] = None
    test_text_columns: Optional[Sequence[int]] = None
    test_id_column: Optional[int] = 0
    id_column: Optional[int] = None            # guid column in labelled files (default: line number)
    split_files = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}

    def _column(self, columns, index, source, what):
        try:
            return columns[index]
        except IndexError:
            raise DataError(f"{source}: row has {len(columns)} columns, {what} is column {index}") from None

    def read_file(self, path: str, labelled: bool) -> List[Example]:
        from albert_tf.finetuning.readers import read_tsv, require_file  # pylint: disable=import-outside-toplevel
        require_file(path, f"{self.name} {'labelled' if labelled else 'test'} file")
        has_header = self.has_header if labelled else self.test_has_header
        count = self.num_columns if labelled else self.test_num_columns
        hint = " (an unlabelled test file where labelled data is needed?)" if labelled and not has_header else ""
        header, rows = read_tsv(path, has_header, count, hint=hint)
        text_columns = self.text_columns if labelled or self.test_text_columns is None else self.test_text_columns
        if labelled and header is not None and self.label_header is not None:
            found = header[self.label_column].strip() if len(header) > abs(self.label_column) else None
            if found is None or found.lower() != self.label_header.lower():
                raise DataError(f"{path}:1: header {header} has no {self.label_header!r} label column: an "
                                f"unlabelled test file cannot be used for training or evaluation")
        examples = []
        id_column = self.id_column if labelled else self.test_id_column
        for lineno, columns in rows:
            source = f"{path}:{lineno}"
            texts = [nonempty(self._column(columns, c, source, "text"), source,
                              f"column {c}" + (f" ({header[c]})" if header and c < len(header) else ""))
                     for c in text_columns]
            label = None
            if labelled:
                label = self.parse_label(self._column(columns, self.label_column, source, "the label"), source)
                if label is None:
                    continue
            guid = (self._column(columns, id_column, source, "the id").strip() if id_column is not None
                    else str(len(examples)))
            examples.append(Example(guid=guid, text_a=texts[0], text_b=texts[1] if len(texts) > 1 else None,
                                    label=label, source=source))
        return examples

    def parse_label(self, raw: str, source: str):
        """The label of a row; None skips the row."""
        if self.is_regression:
            try:
                return float(raw)
            except ValueError:
                raise DataError(f"{source}: label {raw!r} is not a number") from None
        return self.check_label(raw, source)
