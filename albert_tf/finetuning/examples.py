"""The unit every task reader produces, and the error every reader raises."""

import dataclasses
from typing import Optional, Sequence, Union


class DataError(ValueError):
    """A task file that cannot be used; the message starts with `file:line` when a row is at fault."""


@dataclasses.dataclass(frozen=True)
class Example:
    """One labelled (or, for test files, unlabelled) example.

    Args:
        guid: the id written to submission files (the file's own index/id column when it has one).
        text_a: first segment.
        text_b: second segment, or None for single-sentence tasks.
        label: the label string (classification), a float (regression), an int choice index
            (multiple choice), or None for unlabelled test rows.
        source: "file:line" of the row, for error messages.
        choices: multiple choice only: the `text_b` of every choice (text_b is then None).
        group: optional sub-population name reported separately (e.g. RACE "high"/"middle").
    """

    guid: str
    text_a: str
    text_b: Optional[str] = None
    label: Union[str, float, int, None] = None
    source: str = ""
    choices: Optional[Sequence[str]] = None
    group: Optional[str] = None
