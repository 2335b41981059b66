"""Row readers for the published task formats, with `file:line` in every error.

GLUE files are tab-separated without quoting: a `"` inside a sentence is text, not a quote
(MRPC and QQP have unbalanced quotes, so the csv module would merge rows). CLUE files hold one
json object per line.
"""

import json
from typing import Iterator, List, Optional, Tuple

from albert_tf import filesystem
from albert_tf.finetuning.examples import DataError
from albert_tf.tokenization.io import iter_lines


def require_file(path: str, what: str) -> str:
    if not filesystem.isfile(path):
        directory = filesystem.dirname(path) or "."
        listing = filesystem.listdir(directory) if filesystem.isdir(directory) else None
        hint = f"; {directory} holds {listing}" if listing is not None else f"; {directory} does not exist"
        raise DataError(f"{path}: {what} not found{hint}")
    return path


def _lines(path: str) -> Iterator[Tuple[int, str]]:
    try:
        for lineno, line in enumerate(iter_lines(path), start=1):
            yield lineno, line
    except ValueError as error:  # invalid UTF-8, already located by iter_lines
        raise DataError(str(error)) from None


def first_fields(path: str) -> List[str]:
    """The tab-separated fields of the first line ([] for an empty file)."""
    lines = _lines(path)
    try:
        first = next(lines, None)
    finally:
        lines.close()
    return first[1].split("\t") if first is not None else []


def read_tsv(path: str, has_header: bool, num_columns: Optional[int] = None, hint: str = ""
             ) -> Tuple[Optional[List[str]], Iterator[Tuple[int, List[str]]]]:
    """(header, rows): rows are (line number, columns); empty lines are skipped.

    Every row must have `num_columns` columns, or as many as the header when `num_columns` is None;
    `hint` is appended to that error.
    """
    lines = _lines(path)
    header = None
    if has_header:
        first = next(lines, None)
        if first is None:
            raise DataError(f"{path}: empty file (expected a header line)")
        header = first[1].split("\t")
    expected = num_columns if num_columns is not None else (len(header) if header else None)

    def rows():
        for lineno, line in lines:
            if not line.strip():
                continue
            columns = line.split("\t")
            if expected is not None and len(columns) != expected:
                described = f" ({', '.join(header)})" if header and len(header) == expected else ""
                raise DataError(f"{path}:{lineno}: expected {expected} tab-separated columns{described}, "
                                f"got {len(columns)}{hint}")
            yield lineno, columns
    return header, rows()


def read_jsonl(path: str) -> Iterator[Tuple[int, dict]]:
    """(line number, object) for every non-empty line of a json-lines file."""
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{lineno}: not a json object ({error.msg} at column {error.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a json object, got {type(obj).__name__}")
        yield lineno, obj
