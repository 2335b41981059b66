"""NER prediction files: CoNLL columns (word, gold, predicted) and the CLUENER submission json lines.

Both are written whole to an owned temporary name and renamed into place (through tf.io.gfile, so a
`gs://` output directory works): a reader never sees half a file.
"""

import json
from typing import Dict, List, Optional, Sequence

import tensorflow as tf

from albert_tf.ner import metrics, schemes
from albert_tf.output_errors import OutputError
from albert_tf.training.artifacts import atomic_write_text


def _write_text(path: str, text: str):
    try:
        atomic_write_text(path, text)
    except (OSError, tf.errors.OpError) as error:
        raise OutputError(path, error) from None


def _check(sentences, predicted_tags):
    if len(sentences) != len(predicted_tags):
        raise ValueError(f"{len(sentences)} sentences but {len(predicted_tags)} predicted tag lists")
    for sentence, tags in zip(sentences, predicted_tags):
        if len(tags) != len(sentence.words):
            raise ValueError(f"{sentence.source}: {len(sentence.words)} words but {len(tags)} predicted tags")


def _tag(item) -> str:
    """A tag given alone or as merge_windows' (tag, probability)."""
    return item[0] if isinstance(item, (tuple, list)) else item


def _conll_word(word: str) -> str:
    """The word as one column: whitespace inside it (a CLUENER space character) written as \\uXXXX."""
    if not any(c.isspace() for c in word):
        return word
    return "".join(f"\\u{ord(c):04x}" if c.isspace() else c for c in word)


def write_conll_predictions(path: str, sentences: Sequence, predicted_tags: Sequence[Sequence]):
    """One `word gold predicted` line per word (`word predicted` when unlabelled), blank line between sentences.

    Columns are separated by one space; whitespace inside a word is written as `\\uXXXX` so that
    every line keeps its columns.
    """
    _check(sentences, predicted_tags)
    blocks = []
    for sentence, tags in zip(sentences, predicted_tags):
        rows = []
        for w, word in enumerate(sentence.words):
            columns = [_conll_word(word)] + ([] if sentence.tags is None else [sentence.tags[w]])
            rows.append(" ".join(columns + [_tag(tags[w])]))
        blocks.append("\n".join(rows) + "\n")
    _write_text(path, "\n".join(blocks))


def entities_in_text(sentence, tags: Sequence, probs: Optional[Sequence[float]] = None) -> List[Dict]:
    """Entities of IOB2 `tags` as `{"type", "text", "start", "end" (exclusive), "score"}` over `sentence.text`.

    The score is the mean probability of the entity's words (1.0 when `probs` is None); `text` is
    exactly `sentence.text[start:end]`.
    """
    if probs is None:
        probs = [t[1] if isinstance(t, (tuple, list)) else 1.0 for t in tags]
    tags = [_tag(t) for t in tags]
    out = []
    for kind, first, end in schemes.entities(tags):
        start = sentence.word_starts[first]
        stop = sentence.word_span(end - 1)[1]
        out.append({"type": kind, "text": sentence.text[start:stop], "start": start, "end": stop,
                    "score": float(sum(probs[first:end]) / (end - first))})
    return out


def cluener_label(sentence, tags: Sequence) -> Dict[str, Dict[str, List[List[int]]]]:
    """CLUENER's `label` field of predicted tags: {type: {entity text: [[start, inclusive end], ...]}}."""
    label: Dict[str, Dict[str, List[List[int]]]] = {}
    for kind, start, last in metrics.char_spans(sentence, [_tag(t) for t in tags]):
        label.setdefault(kind, {}).setdefault(sentence.text[start:last + 1], []).append([start, last])
    return label


def write_cluener_submission(path: str, sentences: Sequence, predicted_tags: Sequence[Sequence]):
    """The leaderboard file: one `{"id": ..., "label": {...}}` line per sentence, ids as read (else the index)."""
    _check(sentences, predicted_tags)
    lines = []
    for index, (sentence, tags) in enumerate(zip(sentences, predicted_tags)):
        record_id = sentence.record_id if sentence.record_id is not None else index
        lines.append(json.dumps({"id": record_id, "label": cluener_label(sentence, tags)}, ensure_ascii=False))
    _write_text(path, "\n".join(lines) + ("\n" if lines else ""))
