"""Examples → fixed-width windows `[CLS] question [SEP] doc_span [SEP]` with max-context bookkeeping.

A context is tokenized once with character offsets into the ORIGINAL text (SentencePiece or
WordPiece, so English SQuAD and Chinese CMRC2018 work the same way); windows of at most
`max_seq_length - len(question) - 3` context tokens start every `doc_stride` tokens. Each window
records, per token, whether it is the window where that token has the most context
(`min(left, right) + 0.01 * window length`, ties to the earlier window) so that every answer is
decoded from exactly one window. Everything is stored column-wise in numpy arrays: cheap to cache,
cheap to feed to tf.data, and enough to map a predicted token back to characters.
"""

import dataclasses
from typing import Dict, List, Sequence

import numpy as np
from absl import logging

from albert_tf.tokenization.offsets import char_span_to_token_span

CLS_INDEX = 0  # the label of a window without the answer, and of an unanswerable question
ARRAY_FIELDS = ("input_ids", "length", "query_length", "doc_start", "doc_length", "example_index",
                "start_position", "end_position", "is_impossible", "max_context", "offsets", "offsets_splits")


@dataclasses.dataclass
class FeatureSet:
    """All windows of a list of examples.

    Per window (N rows): `input_ids` [N, S] (right-padded with the pad id), `length` (real tokens),
    `query_length` (question tokens after truncation), `doc_start` / `doc_length` (which context
    tokens the window holds), `example_index`, `start_position` / `end_position` (input positions
    of the gold span; `CLS_INDEX` when the window does not contain it or the question is
    unanswerable), `is_impossible` (1 when the window's label is [CLS]), `max_context` [N, S] (True
    at doc tokens whose best window is this one).
    Per example (E rows): `offsets` [T, 2] character spans of all context tokens, concatenated,
    `offsets_splits` [E + 1] row boundaries.
    """

    input_ids: np.ndarray
    length: np.ndarray
    query_length: np.ndarray
    doc_start: np.ndarray
    doc_length: np.ndarray
    example_index: np.ndarray
    start_position: np.ndarray
    end_position: np.ndarray
    is_impossible: np.ndarray
    max_context: np.ndarray
    offsets: np.ndarray
    offsets_splits: np.ndarray
    stats: Dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return int(self.input_ids.shape[0])

    @property
    def max_seq_length(self) -> int:
        return int(self.input_ids.shape[1])

    def doc_offset(self, i: int) -> int:
        """Input position of the window's first context token ([CLS] + question + [SEP])."""
        return int(self.query_length[i]) + 2

    def context_offsets(self, example_index: int) -> np.ndarray:
        return self.offsets[self.offsets_splits[example_index]:self.offsets_splits[example_index + 1]]

    def segment_ids(self) -> np.ndarray:
        positions = np.arange(self.max_seq_length)[None, :]
        return ((positions >= (self.query_length + 2)[:, None]) & (positions < self.length[:, None])).astype(np.int32)

    def input_mask(self) -> np.ndarray:
        return (np.arange(self.max_seq_length)[None, :] < self.length[:, None]).astype(np.int32)

    def p_mask(self) -> np.ndarray:
        """1 where an answer cannot start or end: question, [SEP]s, padding ([CLS] stays 0: "no answer")."""
        positions = np.arange(self.max_seq_length)[None, :]
        doc_from = (self.query_length + 2)[:, None]
        in_doc = (positions >= doc_from) & (positions < doc_from + self.doc_length[:, None])
        return (~in_doc & (positions != CLS_INDEX)).astype(np.int32)

    def arrays(self) -> Dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAY_FIELDS}


def doc_windows(num_tokens: int, max_tokens: int, stride: int) -> List[tuple]:
    """(start, length) of the sliding windows over `num_tokens` context tokens."""
    windows, start = [], 0
    while True:
        length = min(num_tokens - start, max_tokens)
        windows.append((start, length))
        if start + length >= num_tokens:
            return windows
        start += min(length, stride)


def max_context_owner(num_tokens: int, windows: Sequence[tuple]) -> np.ndarray:
    """For each context token, the index of the window where it has the most context."""
    scores = np.full((len(windows), max(num_tokens, 1)), -np.inf)
    for w, (start, length) in enumerate(windows):
        positions = np.arange(start, start + length)
        scores[w, start:start + length] = (np.minimum(positions - start, start + length - 1 - positions)
                                           + 0.01 * length)
    return np.argmax(scores, axis=0)  # first maximum: ties go to the earlier window, as in the reference


def gold_token_span(example, offsets):
    """Inclusive context-token span of the first answer, or None (unanswerable / no token covers it)."""
    if example.is_impossible or not example.answers:
        return None
    answer = example.answers[0]
    return char_span_to_token_span(offsets, answer.start, answer.start + len(answer.text))


def convert_examples(examples: Sequence, tokenizer, max_seq_length: int, doc_stride: int,
                     max_query_length: int) -> FeatureSet:
    """Tokenize and window every example (labels come from the first answer when there is one)."""
    check_lengths(max_seq_length, doc_stride, max_query_length)
    cls_id, sep_id, pad_id = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
    rows = {name: [] for name in ("input_ids", "length", "query_length", "doc_start", "doc_length", "example_index",
                                  "start_position", "end_position", "is_impossible", "max_context")}
    offsets_all, splits = [], [0]
    truncated_questions, no_token_answers, answer_outside = [], [], 0
    for index, example in enumerate(examples):
        query = tokenizer.encode(example.question)
        if len(query) > max_query_length:
            truncated_questions.append(example.qas_id)
            query = query[:max_query_length]
        encoding = tokenizer.encode_with_offsets(example.context)
        offsets = encoding.offsets
        offsets_all.extend(offsets)
        splits.append(len(offsets_all))
        gold = gold_token_span(example, offsets)
        if gold is None and not example.is_impossible and example.answers:
            no_token_answers.append(example.qas_id)
        max_doc = max_seq_length - len(query) - 3
        windows = doc_windows(len(encoding.ids), max_doc, doc_stride)
        owner = max_context_owner(len(encoding.ids), windows)
        doc_offset = len(query) + 2
        head = [cls_id] + query + [sep_id]
        for w, (start, length) in enumerate(windows):
            ids = head + encoding.ids[start:start + length] + [sep_id]
            row_max_context = np.zeros(max_seq_length, bool)
            row_max_context[doc_offset:doc_offset + length] = owner[start:start + length] == w
            if gold is not None and start <= gold[0] and gold[1] < start + length:
                span = (gold[0] - start + doc_offset, gold[1] - start + doc_offset)
            else:
                answer_outside += gold is not None
                span = (CLS_INDEX, CLS_INDEX)
            rows["input_ids"].append(ids + [pad_id] * (max_seq_length - len(ids)))
            for name, value in (("length", len(ids)), ("query_length", len(query)), ("doc_start", start),
                                ("doc_length", length), ("example_index", index), ("start_position", span[0]),
                                ("end_position", span[1]), ("is_impossible", int(span[0] == CLS_INDEX)),
                                ("max_context", row_max_context)):
                rows[name].append(value)
    stats = {"examples": len(examples), "features": len(rows["length"]),
             "truncated_questions": len(truncated_questions), "truncated_question_ids": truncated_questions[:20],
             "answers_without_tokens": len(no_token_answers), "answer_outside_window_features": answer_outside}
    if truncated_questions:
        logging.warning("%d question(s) longer than max_query_length=%d tokens were truncated (e.g. %s)",
                        len(truncated_questions), max_query_length, ", ".join(truncated_questions[:5]))
    if no_token_answers:
        logging.warning("%d answer(s) cover no token (whitespace-only or past the context end; e.g. %s): labelled "
                        "as [CLS]", len(no_token_answers), ", ".join(no_token_answers[:5]))
    int32 = lambda name: np.asarray(rows[name], dtype=np.int32)  # noqa: E731
    return FeatureSet(
        input_ids=np.asarray(rows["input_ids"], dtype=np.int32).reshape(-1, max_seq_length),
        length=int32("length"), query_length=int32("query_length"), doc_start=int32("doc_start"),
        doc_length=int32("doc_length"), example_index=int32("example_index"),
        start_position=int32("start_position"), end_position=int32("end_position"),
        is_impossible=int32("is_impossible"),
        max_context=np.asarray(rows["max_context"], dtype=bool).reshape(-1, max_seq_length),
        offsets=np.asarray(offsets_all, dtype=np.int32).reshape(-1, 2),
        offsets_splits=np.asarray(splits, dtype=np.int64), stats=stats)


def check_lengths(max_seq_length: int, doc_stride: int, max_query_length: int):
    """Windows must hold at least one context token after [CLS] question [SEP] ... [SEP]."""
    if max_query_length < 1:
        raise ValueError(f"--max_query_length={max_query_length}: must be >= 1")
    if max_seq_length <= max_query_length + 3:
        raise ValueError(f"--max_seq_length={max_seq_length} must exceed --max_query_length + 3 = "
                         f"{max_query_length + 3} ([CLS] question [SEP] context [SEP] leaves no room for context)")
    if doc_stride < 1:
        raise ValueError(f"--doc_stride={doc_stride}: must be >= 1")
