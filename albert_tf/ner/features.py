"""Sentences of tagged words → fixed-width windows of pieces, and window predictions → word tags.

Each word is tokenized on its own with the tokenizer's character offsets, shifted to the sentence
text; a piece belongs to the word its first character lies in, and the tag goes on each word's first
piece (IGNORE on the other pieces, on [CLS]/[SEP] and on padding). For words separated by spaces
(CoNLL) this gives exactly the pieces of the whole text (both tokenizers split at whitespace: the
same ids and offsets for all 3,250 CoNLL-2003 dev sentences); for CLUENER characters it keeps every entity boundary between
two pieces, where tokenizing the whole text puts 4 of the 3,072 dev boundaries inside a WordPiece
word ("vsac米兰"). A server must therefore split Chinese text into characters before tokenizing.
`pieces_from="text"` (whole text) is kept to measure that difference. A sentence with more pieces than a window holds is split into
overlapping windows every `stride` pieces, each piece marked in the window where it has the most
context (the SQuAD rule, shared with `squad.features`), and `merge_windows` reads every word from
exactly that window: nothing is cut.

Words that get no piece of their own are handled explicitly and counted in `stats`:
- "inside" words lie inside a piece begun by an earlier word (a Chinese character in the middle of a
  WordPiece word such as "riddick"): they continue that word's entity;
- "empty" words have no piece at all (whitespace in CLUENER text, a control character): they are
  inside an entity when the words on both sides are (`I-X` follows), else `O`.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from albert_tf.finetuning.examples import DataError
from albert_tf.ner import schemes
from albert_tf.squad.features import doc_windows, max_context_owner
from albert_tf.tokenization.offsets import Encoding

IGNORE = -100
_EXAMPLES_KEPT = 20


@dataclasses.dataclass
class NerWindow:
    """One model input row of one sentence.

    Args:
        sentence_index: index of the sentence in the list given to `make_windows`.
        input_ids, input_mask, segment_ids: the model inputs (`max_seq_length` each).
        label_ids: the tag id on each word's first piece, IGNORE on other pieces, specials, padding.
        word_index: for each position, the word whose first piece it is, else -1.
        is_max_context: True where the piece has more context here than in any other window.
        labels: the label list the ids index.
        inside_words: words of the sentence lying inside a piece begun by an earlier word.
    """

    sentence_index: int
    input_ids: List[int]
    input_mask: List[int]
    segment_ids: List[int]
    label_ids: List[int]
    word_index: List[int]
    is_max_context: List[bool]
    labels: Tuple[str, ...] = ()
    inside_words: Tuple[int, ...] = ()


class WindowList(list):
    """The windows, plus `stats`: counts of split sentences, inside and empty words."""

    stats: Dict


def label_list(sentences: Sequence) -> List[str]:
    """"O" first, then B-/I- per entity type, types sorted."""
    kinds = set()
    labelled = False
    for sentence in sentences:
        if sentence.tags is None:
            continue
        labelled = True
        kinds.update(schemes.parse_tag(t)[1] for t in sentence.tags if t != "O")
    if not labelled:
        raise DataError("no labelled sentences to take the label list from")
    return ["O"] + [f"{prefix}-{kind}" for kind in sorted(kinds) for prefix in "BI"]


def _piece_words(sentence, offsets) -> Tuple[List[int], int]:
    """The word each piece belongs to (-1: none) and how many pieces reach into a later word."""
    text_length = len(sentence.text)
    char_word = np.full(text_length + 1, -1, dtype=np.int64)
    for w, word in enumerate(sentence.words):
        start = sentence.word_starts[w]
        char_word[start:start + len(word)] = w
    owner, across = [], 0
    for start, end in offsets:
        # A piece made only of inserted whitespace (a lone "▁") has an empty span at the next word.
        word = int(char_word[min(start, text_length)])
        if word < 0 and end > start:
            inside = char_word[start:end]
            word = int(inside[inside >= 0][0]) if (inside >= 0).any() else -1
        if end > start and np.any((char_word[start:end] != word) & (char_word[start:end] >= 0)):
            across += 1
        owner.append(word)
    return owner, across


def _encode(sentence, tokenizer, pieces_from: str, cache: Dict) -> Encoding:
    """Pieces of the sentence with character spans in `sentence.text`.

    "words": each word tokenized on its own (pieces never cross a word boundary); "text": the text
    tokenized as a whole.
    """
    if pieces_from == "text":
        return tokenizer.encode_with_offsets(sentence.text)
    ids, tokens, offsets = [], [], []
    for word, start in zip(sentence.words, sentence.word_starts):
        encoded = cache.get(word)
        if encoded is None:
            encoded = cache[word] = tokenizer.encode_with_offsets(word)
        ids.extend(encoded.ids)
        tokens.extend(encoded.tokens)
        offsets.extend((start + s, start + e) for s, e in encoded.offsets)
    return Encoding(ids=ids, tokens=tokens, offsets=offsets)


def make_windows(sentences: Sequence, tokenizer, labels: Sequence[str], max_seq_length: int,
                 stride: int, pieces_from: str = "words") -> WindowList:
    """Windows of every sentence (see the module docstring).

    Args:
        sentences: `reading.NerSentence`s; unlabelled ones get IGNORE everywhere.
        tokenizer: a project tokenizer with `encode_with_offsets`.
        labels: the label list (`label_list` of the training data); a gold tag outside it is refused.
        max_seq_length: window width including [CLS] and [SEP].
        stride: pieces between the starts of two windows of one sentence.
        pieces_from: "words" tokenizes word by word (the default: for words separated by spaces it
            gives the pieces of the whole text, and a CLUENER character never shares a piece with
            its neighbour); "text" tokenizes the text as a whole (measured by `tools/ner_roundtrip.py`).
    """
    if pieces_from not in ("words", "text"):
        raise ValueError(f"pieces_from={pieces_from!r}: expected 'words' or 'text'")
    cache: Dict = {}
    if max_seq_length < 3:
        raise ValueError(f"--max_seq_length={max_seq_length}: a window needs [CLS], one piece and [SEP]")
    if stride < 1:
        raise ValueError(f"stride={stride}: must be >= 1")
    labels = tuple(labels)
    label_ids = {label: i for i, label in enumerate(labels)}
    cls_id, sep_id, pad_id = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
    windows = WindowList()
    stats = {"sentences": len(sentences), "words": 0, "pieces": 0, "split_sentences": 0,
             "inside_words": 0, "empty_words": 0, "pieces_across_words": 0, "empty_word_examples": []}
    for index, sentence in enumerate(sentences):
        tag_ids = None
        if sentence.tags is not None:
            tag_ids = []
            for w, tag in enumerate(sentence.tags):
                if tag not in label_ids:
                    raise DataError(f"{sentence.source}: word {w} {sentence.words[w]!r}: tag {tag!r} is not one of "
                                    f"the model's labels {list(labels)}")
                tag_ids.append(label_ids[tag])
        encoding = _encode(sentence, tokenizer, pieces_from, cache)
        owner, across = _piece_words(sentence, encoding.offsets)
        first_piece = {}
        for k, word in enumerate(owner):
            if word >= 0 and word not in first_piece:
                first_piece[word] = k
        inside, empty = _pieceless_words(sentence, encoding.offsets, first_piece)
        stats["words"] += len(sentence.words)
        stats["pieces"] += len(encoding.ids)
        stats["inside_words"] += len(inside)
        stats["empty_words"] += len(empty)
        stats["pieces_across_words"] += across
        for w in empty:
            if len(stats["empty_word_examples"]) < _EXAMPLES_KEPT:
                stats["empty_word_examples"].append(f"{sentence.source}: word {w} {sentence.words[w]!r}")
        piece_first_of = {k: w for w, k in first_piece.items()}
        spans, best = piece_windows(len(encoding.ids), max_seq_length, stride)
        stats["split_sentences"] += len(spans) > 1
        for number, (start, length) in enumerate(spans):
            ids = [cls_id] + encoding.ids[start:start + length] + [sep_id]
            padding = max_seq_length - len(ids)
            row_labels = [IGNORE] * max_seq_length
            row_words = [-1] * max_seq_length
            row_context = [False] * max_seq_length
            for position in range(1, length + 1):
                k = start + position - 1
                row_context[position] = bool(best[k] == number)
                word = piece_first_of.get(k)
                if word is not None:
                    row_words[position] = word
                    if tag_ids is not None:
                        row_labels[position] = tag_ids[word]
            windows.append(NerWindow(
                sentence_index=index, input_ids=ids + [pad_id] * padding,
                input_mask=[1] * len(ids) + [0] * padding, segment_ids=[0] * max_seq_length,
                label_ids=row_labels, word_index=row_words, is_max_context=row_context, labels=labels,
                inside_words=tuple(inside)))
    windows.stats = stats
    return windows


def piece_windows(num_pieces: int, max_seq_length: int, stride: int):
    """(windows, owner): the `(start, length)` windows over a sentence's pieces, `stride` pieces apart
    (`max_seq_length - 2` pieces each, the last one shorter), and for each piece the window where it has
    the most context (ties: the earlier window). The one rule of training, evaluation and serving
    (`export.ner_serving` computes it in the graph too)."""
    windows = doc_windows(num_pieces, max_seq_length - 2, stride)
    return windows, max_context_owner(num_pieces, windows)[:num_pieces]


def _pieceless_words(sentence, offsets, first_piece) -> Tuple[List[int], List[int]]:
    """(inside, empty): words without a first piece, inside another word's piece or with no piece at all."""
    covered = np.zeros(len(sentence.text) + 1, bool)
    for start, end in offsets:
        covered[start:end] = True
    inside, empty = [], []
    for w in range(len(sentence.words)):
        if w in first_piece:
            continue
        start, end = sentence.word_span(w)
        (inside if end > start and covered[start:end].any() else empty).append(w)
    return inside, empty


def windows_to_arrays(windows: Sequence[NerWindow]) -> Dict[str, np.ndarray]:
    """The windows column-wise: int32 `[N, S]` arrays (bool for `is_max_context`)."""
    names = ("input_ids", "input_mask", "segment_ids", "label_ids", "word_index")
    arrays = {name: np.asarray([getattr(w, name) for w in windows], dtype=np.int32) for name in names}
    arrays["is_max_context"] = np.asarray([w.is_max_context for w in windows], dtype=bool)
    arrays["sentence_index"] = np.asarray([w.sentence_index for w in windows], dtype=np.int32)
    return arrays


def one_hot_logits(windows: Sequence[NerWindow], num_labels: int) -> np.ndarray:
    """Logits that pick each gold label (0 where ignored): what a perfect model would output."""
    label_ids = np.asarray([w.label_ids for w in windows], dtype=np.int64)
    logits = np.zeros(label_ids.shape + (num_labels,), np.float32)
    rows, cols = np.nonzero(label_ids != IGNORE)
    logits[rows, cols, label_ids[rows, cols]] = 10.0
    return logits


def _softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def merge_windows(sentences: Sequence, windows: Sequence[NerWindow], logits,
                  labels: Optional[Sequence[str]] = None) -> List[List[Tuple[str, float]]]:
    """Per sentence, per word: (IOB2 tag, probability) from the window where its first piece has most context.

    Args:
        logits: `[len(windows), max_seq_length, num_labels]` scores.
        labels: the label list; defaults to the one the windows carry.
    """
    labels = list(labels if labels is not None else (windows[0].labels if windows else ()))
    logits = np.asarray(logits, dtype=np.float64)
    if len(windows) and logits.shape[:2] != (len(windows), len(windows[0].input_ids)):
        raise ValueError(f"logits of shape {logits.shape} for {len(windows)} windows of "
                         f"{len(windows[0].input_ids)} positions")
    if len(windows) and logits.shape[-1] != len(labels):
        raise ValueError(f"logits have {logits.shape[-1]} labels, the label list {len(labels)}")
    decided: List[Dict[int, Tuple[str, float]]] = [{} for _ in sentences]
    inside: List[Tuple[int, ...]] = [() for _ in sentences]
    for n, window in enumerate(windows):
        inside[window.sentence_index] = window.inside_words
        positions = [p for p, w in enumerate(window.word_index) if w >= 0 and window.is_max_context[p]]
        if not positions:
            continue
        probs = _softmax(logits[n, positions])
        best = probs.argmax(axis=-1)
        for p, b, row in zip(positions, best, probs):
            decided[window.sentence_index][window.word_index[p]] = (labels[int(b)], float(row[b]))
    return [_fill_pieceless(sentence, decided[i], set(inside[i])) for i, sentence in enumerate(sentences)]


def _continues(tag: str) -> str:
    """The tag a word continuing `tag`'s entity gets: I-X after B-X/I-X, else O."""
    return "O" if tag == "O" else "I-" + schemes.parse_tag(tag)[1]


def _fill_pieceless(sentence, decided: Dict[int, Tuple[str, float]], inside: set) -> List[Tuple[str, float]]:
    words = len(sentence.words)
    out: List[Optional[Tuple[str, float]]] = [decided.get(w) for w in range(words)]
    for w in range(words):  # inside a piece: continue the word the piece began in
        if out[w] is None and w in inside:
            previous = out[w - 1] if w else ("O", 1.0)
            out[w] = (_continues(previous[0]), previous[1])
    for w in range(words):  # no piece at all: inside an entity only when the next word continues it
        if out[w] is not None:
            continue
        previous = out[w - 1] if w else ("O", 1.0)
        following = next((out[v] for v in range(w + 1, words) if out[v] is not None), None)
        tag = _continues(previous[0])
        if tag != "O" and following is not None and following[0] == tag:
            out[w] = (tag, previous[1])
        else:
            out[w] = ("O", 1.0)
    return out


def gold_round_trip(sentences: Sequence, tokenizer, max_seq_length: int, stride: int,
                    pieces_from: str = "words") -> Dict:
    """Gold tags → windows → one-hot logits → `merge_windows` → entities, against the gold entities.

    What is lost here is lost by tokenization or windowing, never by a model. Returns `total`,
    `recovered`, the window `stats` and `misses`: one line per gold entity not recovered, saying why.
    """
    labels = label_list(sentences)
    windows = make_windows(sentences, tokenizer, labels, max_seq_length, stride, pieces_from=pieces_from)
    merged = merge_windows(sentences, windows, one_hot_logits(windows, len(labels)))
    inside: Dict[int, set] = {}
    with_piece: Dict[int, set] = {}
    for window in windows:
        inside[window.sentence_index] = set(window.inside_words)
        with_piece.setdefault(window.sentence_index, set()).update(w for w in window.word_index if w >= 0)
    total = recovered = 0
    misses = []
    for index, (sentence, words) in enumerate(zip(sentences, merged)):
        gold = schemes.entities(sentence.tags)
        found = set(schemes.entities([tag for tag, _ in words]))
        total += len(gold)
        for entity in gold:
            if entity in found:
                recovered += 1
                continue
            misses.append(_why_missed(sentence, entity, inside.get(index, set()), with_piece.get(index, set()),
                                      tokenizer, pieces_from))
    return {"total": total, "recovered": recovered, "misses": misses, "stats": windows.stats}


def _why_missed(sentence, entity, inside: set, with_piece: set, tokenizer, pieces_from: str) -> str:
    kind, first, end = entity
    start, stop = sentence.word_starts[first], sentence.word_span(end - 1)[1]
    what = f"{sentence.source}: {kind} {sentence.text[start:stop]!r} (words {first}-{end - 1})"
    if first in inside or end in inside:
        encoding = _encode(sentence, tokenizer, pieces_from, {})
        pieces = [encoding.tokens[k] for k, (s, e) in enumerate(encoding.offsets)
                  if s < stop + 1 and e > start - 1 and e > s]
        return f"{what}: a boundary falls inside a piece ({' '.join(pieces)}), so the piece carries one tag"
    empty = [sentence.words[w] for w in range(first, end) if w not in with_piece and w not in inside]
    if empty:
        return f"{what}: word(s) {empty} have no piece (the tokenizer drops them)"
    return f"{what}: windowing or merge"
