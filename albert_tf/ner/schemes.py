"""Tag schemes of NER files: detection, validation and conversion to IOB2, the one scheme used inside.

A tag is `O` or `<prefix>-<TYPE>`. What each scheme allows (previous = the tag of the word before,
`O` at a sentence start):

- IOB2: `B-X` begins an entity; `I-X` continues one and is legal only after `B-X` or `I-X`.
- IOB1 (the original CoNLL-2003 files): `I-X` begins an entity unless the previous tag is `B-X` or
  `I-X`, in which case it continues it; `B-X` is legal only after `B-X` or `I-X` (it separates two
  adjacent entities of the same type). So `I-PER` after `B-LOC` is a legal IOB1 start of a PER
  entity but breaks IOB2, and `B-PER` after `O` is legal IOB2 but breaks IOB1.
- BIOES: `S-X` is a one-word entity; `B-X` opens one that `I-X`* and then `E-X` must close.
- BILOU: BIOES with `U` for `S` and `L` for `E`.

"auto" picks BIOES / BILOU when their prefixes occur, else IOB1 when some entity starts with `I-`,
else IOB2; a file whose tags fit none of these is refused at the first tag that breaks the scheme.
"""

from typing import Callable, List, Optional, Sequence, Tuple

SCHEMES = ("IOB1", "IOB2", "BIOES", "BILOU")
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES", "BILOU": "BILU"}

Entity = Tuple[str, int, int]  # (type, first word, last word + 1)


class TagSchemeError(ValueError):
    """A tag that is malformed or breaks the file's scheme; the message names where."""


def parse_tag(tag: str) -> Tuple[str, str]:
    """(prefix, type) of a tag; ("O", "") for `O`."""
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if not dash or len(prefix) != 1 or prefix not in "BIESLU" or not kind or any(c.isspace() for c in kind):
        raise TagSchemeError(f"tag {tag!r} is not O or <B|I|E|S|L|U>-<TYPE>")
    return prefix, kind


def is_tag(text: str) -> bool:
    try:
        parse_tag(text)
    except TagSchemeError:
        return False
    return True


def first_inside_start(tags: Sequence[str]) -> Optional[int]:
    """Index of the first `I-X` that does not continue an `X` entity (an IOB1-style start), else None."""
    previous = ("O", "")
    for i, tag in enumerate(tags):
        prefix, kind = parse_tag(tag)
        if prefix == "I" and previous[1] != kind:
            return i
        previous = (prefix, kind)
    return None


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """The scheme of a whole file's tag sequences (see the module docstring); checks tag syntax only."""
    used = set()
    iob1_start = False
    for tags in sentences:
        for tag in tags:
            used.add(parse_tag(tag)[0])
        iob1_start = iob1_start or first_inside_start(tags) is not None
    if used & set("ES") and used & set("LU"):
        raise TagSchemeError(f"tags mix BIOES (E-/S-) and BILOU (L-/U-) prefixes: {sorted(used - {'O'})}")
    if used & set("ES"):
        return "BIOES"
    if used & set("LU"):
        return "BILOU"
    return "IOB1" if iob1_start else "IOB2"


def _fail(where: Callable[[int], str], i: int, tag: str, previous: str, scheme: str, why: str):
    raise TagSchemeError(f"{where(i)}: tag {tag!r} after {previous!r} breaks {scheme}: {why}")


def to_iob2(tags: Sequence[str], scheme: str, where: Optional[Callable[[int], str]] = None) -> List[str]:
    """`tags` validated against `scheme` and rewritten as IOB2.

    Args:
        tags: one sentence's tags.
        scheme: one of `SCHEMES`.
        where: word index -> location for errors ("file:line"); defaults to "word <i>".
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; known: {', '.join(SCHEMES)} or auto")
    where = where or (lambda i: f"word {i}")
    allowed = _PREFIXES[scheme]
    parsed = []
    for i, tag in enumerate(tags):
        try:
            prefix, kind = parse_tag(tag)
        except TagSchemeError as error:
            raise TagSchemeError(f"{where(i)}: {error}") from None
        if prefix != "O" and prefix not in allowed:
            _fail(where, i, tag, tags[i - 1] if i else "O", scheme, f"{scheme} has no {prefix}- prefix")
        parsed.append((prefix, kind))
    if scheme in ("IOB1", "IOB2"):
        return _from_iob(tags, parsed, scheme, where)
    return _from_bioes(tags, parsed, scheme, where)


def _from_iob(tags, parsed, scheme, where):
    out = []
    previous = ("O", "")
    for i, (prefix, kind) in enumerate(parsed):
        continues = previous[0] in "BI" and previous[1] == kind
        before = tags[i - 1] if i else "O"
        if prefix == "O":
            out.append("O")
        elif prefix == "I":
            if not continues and scheme == "IOB2":
                _fail(where, i, tags[i], before, scheme, f"I-{kind} must follow B-{kind} or I-{kind}")
            out.append(f"I-{kind}" if continues else f"B-{kind}")
        else:  # B
            if not continues and scheme == "IOB1":
                _fail(where, i, tags[i], before, scheme,
                      f"B-{kind} only separates two adjacent {kind} entities (entities start with I-)")
            out.append(f"B-{kind}")
        previous = (prefix, kind)
    return out


def _from_bioes(tags, parsed, scheme, where):
    single, last = ("S", "E") if scheme == "BIOES" else ("U", "L")
    out = []
    open_kind = None  # type of the entity a B- opened and no E-/L- closed yet
    for i, (prefix, kind) in enumerate(parsed):
        before = tags[i - 1] if i else "O"
        if prefix in ("I", last):
            if open_kind != kind:
                _fail(where, i, tags[i], before, scheme, f"{prefix}-{kind} must follow B-{kind} or I-{kind}")
            out.append(f"I-{kind}")
            open_kind = kind if prefix == "I" else None
            continue
        if open_kind is not None:
            _fail(where, i, tags[i], before, scheme, f"the {open_kind} entity opened before is not closed by "
                  f"{last}-{open_kind}")
        if prefix == "O":
            out.append("O")
        elif prefix == single:
            out.append(f"B-{kind}")
        else:  # B
            out.append(f"B-{kind}")
            open_kind = kind
    if open_kind is not None:
        _fail(where, len(parsed), "end of sentence", tags[-1], scheme,
              f"the {open_kind} entity is not closed by {last}-{open_kind}")
    return out


def entities(tags: Sequence[str]) -> List[Entity]:
    """Entities of IOB2 tags, as seqeval's strict IOB2 mode reads them.

    An entity is `B-X` followed by any `I-X`; an `I-X` that continues nothing is no entity (a model's
    prediction may contain one; gold files are validated by `to_iob2` first).
    """
    found = []
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, tag_kind = ("O", "") if tag == "O" else parse_tag(tag)
        if start is not None and not (prefix == "I" and tag_kind == kind):
            found.append((kind, start, i))
            start, kind = None, None
        if prefix == "B":
            start, kind = i, tag_kind
    return found


def tags_for(num_words: int, spans: Sequence[Entity]) -> List[str]:
    """IOB2 tags of `num_words` words holding `spans` (type, first, last + 1); overlaps are refused."""
    tags = ["O"] * num_words
    for kind, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if not 0 <= start < end <= num_words:
            raise ValueError(f"entity {kind} [{start}, {end}) is outside the {num_words} words")
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"entity {kind} [{start}, {end}) overlaps another entity")
        tags[start] = f"B-{kind}"
        tags[start + 1:end] = [f"I-{kind}"] * (end - start - 1)
    return tags
