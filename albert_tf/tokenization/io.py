"""Reading text files line by line with invalid UTF-8 reported where it is.

A stray Latin-1 byte in a 10 GB corpus must not surface as a `UnicodeDecodeError` from deep inside
a tokenizer hours later: by default we stop at once naming `file:line` and the byte offset; with
`errors="replace"` the bad bytes become U+FFFD (and tokenize as such) by explicit choice.
"""

import os
from typing import Iterator, List

from albert_tf import filesystem

_BOM = b"\xef\xbb\xbf"


def iter_lines(path, errors: str = "strict", keep_newlines: bool = False) -> Iterator[str]:
    """Yields the lines of a UTF-8 file (a leading BOM is dropped, line endings stripped).

    Args:
        path: file to read.
        errors: "strict" raises `ValueError("path:line: ...")` on invalid UTF-8; "replace"
            substitutes U+FFFD for invalid bytes.
        keep_newlines: keep the trailing "\\n" / "\\r\\n" on each line.
    """
    if errors not in ("strict", "replace"):
        raise ValueError(f"errors must be 'strict' or 'replace', got {errors!r}")
    path = os.fspath(path)
    with filesystem.open_file(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            try:
                line = raw.decode("utf-8", errors=errors)
            except UnicodeDecodeError as e:
                bad = raw[e.start:e.end + 3]
                raise ValueError(
                    f"{path}:{lineno}: invalid UTF-8 at byte {e.start} of the line ({bad!r}); "
                    "fix the file or read it with errors='replace'") from None
            if not keep_newlines:
                line = line.rstrip("\r\n")
            yield line


def read_lines(path, errors: str = "strict") -> List[str]:
    """All lines of `path`; see `iter_lines`."""
    return list(iter_lines(path, errors=errors))
