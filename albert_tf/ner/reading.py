"""NER files → sentences of words with IOB2 tags; every error names `file:line` and the field.

Two formats, told apart by content (`read_ner_file`), never by the file name:

- CoNLL column files: one word a line, the word in the first column and the tag in the last
  (space- or tab-separated, every row with the same number of columns), a blank line between
  sentences, `-DOCSTART-` lines skipped. A file whose rows all have one column is a file to predict
  (no tags); a file mixing one-column rows with tagged rows is refused. Tags are validated against
  the scheme (given or detected for the whole file, see `schemes`) and converted to IOB2.
- CLUENER json lines: `{"id"?, "text", "label"?: {type: {entity text: [[start, end], ...]}}}` with
  inclusive character ends. Each span must slice its text, spans may not overlap, other fields are
  refused. The words are the characters of `text`: every CLUENER entity boundary falls between two
  characters, while 4 of the 3,072 dev entities cut through a WordPiece word of the whole text
  ("vsac米兰", "魔兽争霸31.25"; measured by `tools/ner_roundtrip.py`), so characters lose nothing.
"""

import dataclasses
import json
from typing import Callable, Iterator, List, Optional, Tuple

from absl import logging

from albert_tf import filesystem
from albert_tf.finetuning.examples import DataError
from albert_tf.ner import schemes

DOCSTART = "-DOCSTART-"
CLUENER_FIELDS = ("id", "text", "label")


@dataclasses.dataclass
class NerSentence:
    """One sentence: the units tags attach to, their place in `text`, and IOB2 tags when labelled.

    Args:
        guid: "file:line" of the sentence start (CoNLL), the json id or "file:line" (CLUENER).
        text: CoNLL words joined by " "; CLUENER the "text" field as given.
        words: CoNLL words; CLUENER characters.
        word_starts: character offset of each word in `text`.
        tags: IOB2 tag per word, None when the file has no tags.
        source: "file:line" for messages.
        record_id: the CLUENER "id" field as given (the submission echoes it), else None.
    """

    guid: str
    text: str
    words: List[str]
    word_starts: List[int]
    tags: Optional[List[str]]
    source: str
    record_id: object = None

    def word_span(self, index: int) -> Tuple[int, int]:
        """Half-open character span of word `index` in `text`."""
        start = self.word_starts[index]
        return start, start + len(self.words[index])


def _lines(path: str) -> Iterator[Tuple[int, str]]:
    """(line number, text) of a UTF-8 file read through the file-system layer; invalid UTF-8 names file:line."""
    if not filesystem.exists(path):
        raise DataError(f"{path}: file not found")
    with filesystem.open_file(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{lineno}: invalid UTF-8 at byte {error.start} of the line "
                                f"({raw[error.start:error.end + 3]!r})") from None
            yield lineno, line.rstrip("\r\n")


def _first_content_line(path: str) -> Optional[Tuple[int, str]]:
    lines = _lines(path)
    try:
        for lineno, line in lines:
            if line.strip():
                return lineno, line
    finally:
        lines.close()
    return None


def read_ner_file(path: str, scheme: str = "auto", labelled: Optional[bool] = None,
                  nested: str = "refuse") -> List[NerSentence]:
    """CoNLL or CLUENER by content: a first line that is a json object means CLUENER (`nested`: see there)."""
    first = _first_content_line(path)
    if first is None:
        raise DataError(f"{path}: empty file (expected CoNLL columns or CLUENER json lines)")
    if _is_json_object(first[1]):
        return read_cluener(path, labelled=labelled, nested=nested)
    return read_conll(path, scheme=scheme, labelled=labelled)


def _is_json_object(line: str) -> bool:
    """Whether a line is a whole json object (a CLUENER record), not a CoNLL row whose word is "{"."""
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


# === CoNLL ===

def _split_row(path, lineno, line, separator):
    columns = line.split("\t") if separator == "\t" else line.split()
    if separator == "\t" and any(not c.strip() or c != c.strip() for c in columns):
        raise DataError(f"{path}:{lineno}: empty or padded column in a tab-separated row {line!r}")
    return columns


def read_conll(path: str, scheme: str = "auto", labelled: Optional[bool] = None) -> List[NerSentence]:
    """Sentences of a CoNLL column file, tags converted to IOB2 (see the module docstring).

    Args:
        path: the file.
        scheme: "auto" or one of `schemes.SCHEMES`.
        labelled: True requires tags, False reads only the words (a predict file may still carry
            tags), None decides by the file: tags unless every row has one column.
    """
    if scheme != "auto" and scheme not in schemes.SCHEMES:
        raise DataError(f"unknown tag scheme {scheme!r}; known: auto, {', '.join(schemes.SCHEMES)}")
    separator, width, width_line = None, None, None
    rows: List[List[Tuple[int, List[str]]]] = [[]]
    for lineno, line in _lines(path):
        if not line.strip():
            if rows[-1]:
                rows.append([])
            continue
        if width is None and _is_json_object(line):
            raise DataError(f"{path}:{lineno}: a json object, not CoNLL columns (a CLUENER file? read it as "
                            "CLUENER)")
        if separator is None:
            separator = "\t" if "\t" in line else " "
        columns = _split_row(path, lineno, line, separator)
        if columns[0] == DOCSTART:
            if rows[-1]:
                rows.append([])
            continue
        if width is None:
            width, width_line = len(columns), lineno
        elif len(columns) != width:
            raise DataError(f"{path}:{lineno}: {len(columns)} column(s) where line {width_line} has {width}; "
                            "every row of a CoNLL file has the same columns (word first, tag last)")
        rows[-1].append((lineno, columns))
    if rows[-1] == []:
        rows.pop()
    if not rows:
        raise DataError(f"{path}: no words (expected CoNLL rows: word first, tag last)")
    has_tags = width > 1
    if labelled and not has_tags:
        raise DataError(f"{path}:{width_line}: one column (a word without a tag); a labelled CoNLL file has "
                        "the tag in the last column")
    if has_tags:
        for sentence in rows:
            for lineno, columns in sentence:
                if not schemes.is_tag(columns[-1]):
                    raise DataError(
                        f"{path}:{lineno}: last column {columns[-1]!r} is not a tag (O or B-/I-/E-/S-/L-/U-TYPE); "
                        "a CoNLL NER file has the word first and the tag last (is this a classification tsv?)")
    use_tags = has_tags and labelled is not False
    converted = _convert_tags(path, rows, scheme) if use_tags else None
    sentences = []
    for s, sentence in enumerate(rows):
        words = [columns[0] for _, columns in sentence]
        starts, position = [], 0
        for word in words:
            starts.append(position)
            position += len(word) + 1
        where = f"{path}:{sentence[0][0]}"
        sentences.append(NerSentence(guid=where, text=" ".join(words), words=words, word_starts=starts,
                                     tags=converted[s] if converted is not None else None, source=where))
    return sentences


def _convert_tags(path, rows, scheme) -> List[List[str]]:
    all_tags = [[columns[-1] for _, columns in sentence] for sentence in rows]
    hint = ""
    if scheme == "auto":
        try:
            scheme = schemes.detect_scheme(all_tags)
        except schemes.TagSchemeError as error:
            raise DataError(f"{path}: {error}") from None
        if scheme == "IOB1":
            hint = _iob1_hint(path, rows, all_tags)
    out = []
    for sentence, tags in zip(rows, all_tags):
        where: Callable[[int], str] = (
            lambda i, sentence=sentence: f"{path}:{sentence[min(i, len(sentence) - 1)][0]}")
        try:
            out.append(schemes.to_iob2(tags, scheme, where))
        except schemes.TagSchemeError as error:
            raise DataError(f"{error}{hint}") from None
    return out


def _iob1_hint(path, rows, all_tags) -> str:
    """Why "auto" read the file as IOB1: the first entity that starts with I- (an IOB2 file's error)."""
    for sentence, tags in zip(rows, all_tags):
        index = schemes.first_inside_start(tags)
        if index is not None:
            return (f" (read as IOB1 because {path}:{sentence[index][0]} starts an entity with {tags[index]!r}; "
                    "in an IOB2 file that line is the error)")
    return ""


# === CLUENER ===

def read_cluener(path: str, labelled: Optional[bool] = None, nested: str = "refuse") -> List[NerSentence]:
    """Sentences of a CLUENER json-lines file; words are characters, spans become IOB2 tags.

    Args:
        labelled: True requires "label" on every line, False ignores labels, None decides by the
            first line and then requires every line to agree.
        nested: "refuse" (default) stops at a span inside another one; "outer" keeps the outer span,
            drops the inner one and logs each drop with its file:line (CLUENER train line 1507 nests
            a company inside a book title). Spans that cross without nesting are always refused.
    """
    if nested not in ("refuse", "outer"):
        raise ValueError(f"nested={nested!r}: expected 'refuse' or 'outer'")
    sentences = []
    dropped: List[str] = []
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not a json object ({error.msg} at column {error.colno}); "
                            "a CLUENER file has one json object per line") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a json object, got {type(record).__name__}")
        unknown = sorted(set(record) - set(CLUENER_FIELDS))
        if unknown:
            raise DataError(f"{where}: unknown field(s) {unknown}; a CLUENER line has {list(CLUENER_FIELDS)}")
        text = record.get("text")
        if not isinstance(text, str):
            raise DataError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
        if labelled is None:
            labelled = "label" in record
        elif labelled and "label" not in record:
            raise DataError(f"{where}: field 'label' missing (the lines before have labels)")
        tags = None
        if labelled:
            spans = cluener_spans(record["label"], text, where, nested=nested, dropped=dropped)
            tags = schemes.tags_for(len(text), [(kind, start, end + 1) for kind, start, end in spans])
        guid = str(record["id"]) if "id" in record else where
        sentences.append(NerSentence(guid=guid, text=text, words=list(text), word_starts=list(range(len(text))),
                                     tags=tags, source=where, record_id=record.get("id")))
    if not sentences:
        raise DataError(f"{path}: no json lines (expected CLUENER records)")
    for message in dropped:
        logging.warning("%s", message)
    return sentences


def cluener_spans(label, text: str, where: str, nested: str = "refuse",
                  dropped: Optional[List[str]] = None) -> List[Tuple[str, int, int]]:
    """(type, start, inclusive end) of a CLUENER `label` field, checked against `text` (`nested`: see read_cluener)."""
    if not isinstance(label, dict):
        raise DataError(f"{where}: field 'label' must be an object {{type: {{text: [[start, end]]}}}}")
    spans = []
    for kind, mentions in label.items():
        if not kind or not isinstance(mentions, dict) or any(c.isspace() or c == "-" for c in kind):
            raise DataError(f"{where}: field 'label', type {kind!r}: expected a type name without spaces or '-' "
                            "mapping entity texts to [[start, end], ...]")
        for mention, positions in mentions.items():
            if not isinstance(positions, list) or not positions:
                raise DataError(f"{where}: field 'label.{kind}.{mention}': expected a list of [start, end] pairs")
            for pair in positions:
                if (not isinstance(pair, list) or len(pair) != 2
                        or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
                    raise DataError(f"{where}: field 'label.{kind}.{mention}': {pair!r} is not a [start, end] pair "
                                    "of integers")
                start, end = pair
                if not 0 <= start <= end < len(text):
                    raise DataError(f"{where}: field 'label.{kind}.{mention}': span [{start}, {end}] is outside "
                                    f"the text of {len(text)} characters (ends are inclusive)")
                if text[start:end + 1] != mention:
                    raise DataError(f"{where}: field 'label.{kind}.{mention}': span [{start}, {end}] holds "
                                    f"{text[start:end + 1]!r}, not the entity text (ends are inclusive)")
                spans.append((kind, start, end))
    spans.sort(key=lambda s: (s[1], -s[2]))  # an outer span comes before the spans nested in it
    kept: List[Tuple[str, int, int]] = []
    for span in spans:
        before = kept[-1] if kept else None
        if before is None or span[1] > before[2]:
            kept.append(span)
            continue
        described = (f"{before[0]} [{before[1]}, {before[2]}] {text[before[1]:before[2] + 1]!r} and {span[0]} "
                     f"[{span[1]}, {span[2]}] {text[span[1]:span[2] + 1]!r}")
        if nested == "outer" and span[2] <= before[2]:
            if dropped is not None:
                dropped.append(f"{where}: nested span dropped, the outer one kept: {described}")
            continue
        hint = "; nested='outer' keeps the outer span" if span[2] <= before[2] else ""
        raise DataError(f"{where}: field 'label': spans overlap: {described}{hint}")
    return kept
