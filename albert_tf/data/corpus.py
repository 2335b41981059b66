"""Input text: file resolution, an up-front UTF-8 check, and the split into work units.

Format (as in the original tool): one sentence per line, a blank (whitespace-only) line between
documents. The corpus is cut into *work units*: byte ranges of a file that start and end at document
boundaries and hold about `unit_bytes` of text. Units are defined by the input alone, never by the
number of workers, so the output does not depend on how many processes produced it, and a worker
only ever holds one unit in memory.
"""

import codecs
import dataclasses
import os
from typing import Iterator, List, Sequence

from albert_tf import filesystem

_SCAN_BLOCK = 1 << 22


class CorpusError(ValueError):
    """Unusable input text; the message names the file (and line) at fault."""


@dataclasses.dataclass(frozen=True)
class WorkUnit:
    """Bytes `[start, end)` of `path`; `index` numbers units across the whole corpus."""

    index: int
    path: str
    start: int
    end: int

    @property
    def num_bytes(self) -> int:
        return self.end - self.start


def resolve_input_files(patterns: str) -> List[str]:
    """Comma-separated globs -> sorted, de-duplicated file list; every pattern must match."""
    files = []
    for pattern in [p.strip() for p in patterns.split(",") if p.strip()]:
        matches = filesystem.glob(os.path.expanduser(pattern) if filesystem.is_local(pattern) else pattern)
        matches = [m for m in matches if filesystem.isfile(m)]
        if not matches:
            raise CorpusError(f"--input_file pattern {pattern!r} matches no file")
        files.extend(matches)
    if not files:
        raise CorpusError("--input_file is empty")
    seen = set()
    return [f for f in files if not (f in seen or seen.add(f))]


def line_number_at(path, offset: int) -> int:
    """1-based number of the line containing byte `offset`."""
    count = 0
    with filesystem.open_file(path, "rb") as f:
        remaining = offset
        while remaining > 0:
            block = f.read(min(_SCAN_BLOCK, remaining))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
    return count + 1


def check_utf8(path) -> None:
    """Raise `CorpusError` naming file, line and byte for the first invalid UTF-8 sequence."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with filesystem.open_file(path, "rb") as f:
        while True:
            block = f.read(_SCAN_BLOCK)
            final = not block
            pending = len(decoder.getstate()[0])  # bytes of a split character from the last block
            try:
                decoder.decode(block, final=final)
            except UnicodeDecodeError as error:
                bad = offset - pending + error.start
                raise CorpusError(
                    f"{path}:{line_number_at(path, bad)}: invalid UTF-8 at byte {bad} ({error.reason}); "
                    "fix the file or pass --invalid_utf8=skip to drop such lines") from None
            if final:
                return
            offset += len(block)


def _next_document_boundary(f, offset: int, size: int) -> int:
    """First offset >= `offset` that starts a line following a blank line (or `size`)."""
    f.seek(offset)
    if offset > 0:
        f.seek(offset - 1)
        if f.read(1) != b"\n":
            f.readline()  # finish the line `offset` falls in
    while True:
        line = f.readline()
        if not line:
            return size
        if not line.strip():
            return f.tell()


def plan_units(files: Sequence[str], unit_bytes: int) -> List[WorkUnit]:
    """Split every file at document boundaries into units of about `unit_bytes`."""
    units = []
    for path in files:
        size = filesystem.size(path)
        if size == 0:
            continue
        start = 0
        with filesystem.open_file(path, "rb") as f:
            while start < size:
                end = _next_document_boundary(f, start + unit_bytes, size) if start + unit_bytes < size else size
                units.append(WorkUnit(len(units), path, start, end))
                start = end
    return units


@dataclasses.dataclass
class ReadCounters:
    lines: int = 0
    skipped_long_lines: int = 0
    skipped_invalid_lines: int = 0


def iter_documents(unit: WorkUnit, counters: ReadCounters, *, max_line_chars: int,
                   invalid_utf8: str = "error", warn=None) -> Iterator[List[str]]:
    """Documents (lists of non-blank lines) of one unit.

    Lines longer than `max_line_chars` are skipped and counted (a minified or binary file would
    otherwise produce one giant "sentence"); `warn(message)` is told about the first few.
    """
    document = []
    line_base = None
    with filesystem.open_file(unit.path, "rb") as f:
        f.seek(unit.start)
        position = unit.start
        index_in_unit = 0
        while position < unit.end:
            raw = f.readline()
            if not raw:
                break
            position += len(raw)
            index_in_unit += 1
            counters.lines += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                if invalid_utf8 != "skip":
                    if line_base is None:
                        line_base = line_number_at(unit.path, unit.start)
                    raise CorpusError(f"{unit.path}:{line_base + index_in_unit - 1}: invalid UTF-8") from None
                counters.skipped_invalid_lines += 1
                continue
            if len(line) > max_line_chars:
                counters.skipped_long_lines += 1
                if warn is not None and counters.skipped_long_lines <= 3:
                    if line_base is None:
                        line_base = line_number_at(unit.path, unit.start)
                    warn(f"{unit.path}:{line_base + index_in_unit - 1}: skipped a line of {len(line):,} "
                         f"characters (limit --max_line_chars={max_line_chars:,})")
                continue
            line = line.strip()
            if line:
                document.append(line)
            elif document:
                yield document
                document = []
    if document:
        yield document
