"""Which column of a tab-separated file holds what: found by header name, or by position.

A header that names its columns is matched by NAME against the task's accepted names (case does
not matter), so a file in another column order or another naming (e.g. the Hugging Face datasets
export `sentence1 sentence2 label idx`) is read correctly, and a header that does not fit is
refused with what was expected and what was found. Files without a header are read by the task's
column positions, with the column count fixed.
"""

import dataclasses
from typing import List, Optional, Sequence, Tuple

from albert_tf.finetuning.examples import DataError

# The label the Hugging Face datasets library writes on every row of an unlabelled test split.
NO_LABEL_MARKERS = ("-1", "")


@dataclasses.dataclass(frozen=True)
class ColumnRoles:
    """0-based column indexes: the text columns in order, the label (None: absent), the id (None: row number)."""

    text: Tuple[int, ...]
    label: Optional[int]
    id: Optional[int]
    count: int                           # exact number of columns every row must have
    header: Optional[List[str]] = None   # the header's names when the roles came from it

    def name(self, index: int) -> str:
        """`column 3 (#1 String)`: how errors refer to a column."""
        if self.header and 0 <= index < len(self.header):
            return f"column {index} ({self.header[index]})"
        return f"column {index}"


def normalized(name: str) -> str:
    return name.strip().lower()


def _first_match(names: List[str], accepted: Sequence[str], taken) -> Optional[int]:
    """The column of the first accepted name present (the task's order of preference)."""
    for wanted in accepted:
        for index, name in enumerate(names):
            if name == normalized(wanted) and index not in taken:
                return index
    return None


def known_names(task) -> set:
    """Every header name the task recognizes, normalized."""
    names = {n for slot in task.text_names for n in slot} | set(task.label_names) | set(task.id_names)
    return {normalized(n) for n in names | set(task.other_names)}


def looks_like_header(task, fields: List[str]) -> bool:
    """True when every field of a line is a column name the task knows (a header in a headerless format)."""
    names = known_names(task)
    return bool(fields) and all(normalized(f) in names for f in fields)


def expected_names(task, num_texts: int, labelled: bool) -> str:
    """What a fitting header holds, in words, for error messages."""
    parts = [f"text {i + 1}: one of {list(slot)}" for i, slot in enumerate(task.text_names[:num_texts])]
    parts.append(f"label: one of {list(task.label_names)}" if labelled else "no label column")
    parts.append(f"id (optional): one of {list(task.id_names)}")
    if task.other_names:
        parts.append(f"ignored: {list(task.other_names)}")
    return "; ".join(parts)


def roles_from_header(task, header: List[str], path: str, num_texts: int, labelled: bool) -> ColumnRoles:
    """The columns named by `header`; a DataError when a needed name is missing or a name is unknown.

    In a test file (`labelled=False`) a label column is allowed only so that `check_no_label` can
    refuse its values row by row (the Hugging Face datasets export writes -1 there, which is fine).
    """
    names = [normalized(h) for h in header]
    if len(task.text_names) < num_texts:
        raise DataError(f"{path}:1: task {task.name} names {len(task.text_names)} text columns in text_names but "
                        f"reads {num_texts} texts: give text_names one tuple of accepted names per text")
    taken = set()
    text = []
    for slot in task.text_names[:num_texts]:
        index = _first_match(names, slot, taken)
        text.append(index)
        if index is not None:
            taken.add(index)
    label = _first_match(names, task.label_names, taken)
    taken.add(label)
    ident = _first_match(names, task.id_names, taken)
    taken.add(ident)
    others = {normalized(n) for n in task.other_names}
    unknown = [h for i, h in enumerate(header) if i not in taken and names[i] not in others]
    missing = [f"text {i + 1} (one of {list(slot)})" for i, (slot, index)
               in enumerate(zip(task.text_names, text)) if index is None]
    kind = "labelled" if labelled else "test"
    if not missing and not unknown and labelled and label is None:
        raise DataError(f"{path}:1: header {header} has no label column (expected one of {list(task.label_names)}): "
                        "an unlabelled test file cannot be used for training or evaluation")
    if missing or unknown:
        found = "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                            f"unknown columns {unknown}" if unknown else "") if part)
        raise DataError(f"{path}:1: header {header} does not fit a {task.name} {kind} file: {found}. Expected "
                        f"{expected_names(task, num_texts, labelled)}")
    return ColumnRoles(tuple(text), label, ident, len(header), list(header))


def roles_from_positions(task, labelled: bool, num_columns: Optional[int], text_columns: Sequence[int],
                         id_column: Optional[int]) -> ColumnRoles:
    """The task's fixed columns for a headerless file; the count is exact (too few or too many is refused)."""
    label = task.label_column if labelled else None
    used = [c for c in (*text_columns, id_column) if c is not None and c >= 0]
    if label is not None and label >= 0:
        used.append(label)
    count = num_columns or max(used) + 1 + (-label if label is not None and label < 0 else 0)
    if label is not None and label < 0:
        label += count
    return ColumnRoles(tuple(text_columns), label, id_column, count)


def check_no_label(task, roles: ColumnRoles, columns: List[str], source: str):
    """A test row must not carry a label: the file would be a labelled one given as the file to predict."""
    if roles.label is None:
        return
    value = columns[roles.label].strip()
    if value not in NO_LABEL_MARKERS:
        raise DataError(f"{source}: {roles.name(roles.label)} holds the label {value!r}, but this is the test "
                        f"split, which is predicted: a labelled file was given where the unlabelled test file "
                        f"belongs (use it with --do_eval, or give the test file)")


def label_in_unread_column(task, columns: List[str], roles: ColumnRoles) -> Optional[int]:
    """For headerless test files: the labelled layout's label column, when it holds a label and is not read."""
    position = task.label_column if task.label_column >= 0 else len(columns) + task.label_column
    if not 0 <= position < len(columns) or position in roles.text or position == roles.id:
        return None
    value = columns[position].strip()
    if task.is_regression or task.is_multiple_choice:
        return None
    return position if value in task.labels or value in task.label_aliases else None
