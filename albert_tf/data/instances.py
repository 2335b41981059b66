"""Sentence pairs from documents: segment accumulation, SOP/NSP labels, truncation, packing.

The algorithm of the original generator, per document:
- target length = max_seq_length - 3, or with probability `short_seq_prob` a random length in
  [2, max_seq_length - 3];
- segments (lines) accumulate until the target is reached or the document ends; A is the first
  `randint(1, n - 1)` of them (all of one), B the rest;
- SOP (default): a chunk of one segment takes B from a random other document (label 1); otherwise
  A and B are swapped with probability 0.5 (label 1) or kept in order (label 0).
  NSP (`random_next_sentence`): B comes from a random document with probability 0.5 (label 1) and
  the unused segments are put back;
- the pair is cut to `max_seq_length - 3` by removing tokens from the longer side, from its front or
  back at random.
"""

import dataclasses
import random
from typing import List, NamedTuple, Sequence, Tuple

import numpy as np

Segment = Tuple[np.ndarray, np.ndarray]  # (token ids int32, word-start flags uint8)
Document = List[Segment]


@dataclasses.dataclass(frozen=True)
class PairSettings:
    max_seq_length: int = 512
    short_seq_prob: float = 0.1
    random_next_sentence: bool = False


@dataclasses.dataclass
class Instance:
    """One unmasked example: `[CLS] A [SEP] B [SEP]` (A and B already truncated)."""

    a: Segment
    b: Segment
    label: int                 # 1 = swapped (SOP) or random next (NSP)
    truncated: bool
    b_from_other_document: bool
    cls_id: int
    sep_id: int

    # One instance's arrays (tests, small jobs); `pack_instances` builds many at once.
    @property
    def input_ids(self) -> np.ndarray:
        return np.concatenate([[self.cls_id], self.a[0], [self.sep_id], self.b[0], [self.sep_id]]).astype(np.int32)

    @property
    def is_start(self) -> np.ndarray:  # 1 on [CLS]/[SEP]
        return np.concatenate([[1], self.a[1], [1], self.b[1], [1]]).astype(np.uint8)

    @property
    def special(self) -> np.ndarray:
        special = np.zeros(len(self.a[0]) + len(self.b[0]) + 3, bool)
        special[[0, len(self.a[0]) + 1, -1]] = True
        return special

    @property
    def segment_ids(self) -> np.ndarray:
        return (np.arange(len(self.a[0]) + len(self.b[0]) + 3) >= len(self.a[0]) + 2).astype(np.int32)


class PackedInstances(NamedTuple):
    """Instances laid out as `[N, width]` arrays, zero padded."""
    input_ids: np.ndarray    # int32
    is_start: np.ndarray     # bool
    special: np.ndarray      # bool
    segment_ids: np.ndarray  # uint8
    lengths: np.ndarray      # int64 [N]


def pack_instances(instances: Sequence[Instance], width: int) -> PackedInstances:
    """All instances at once: one concatenation per field instead of several per instance."""
    num = len(instances)
    len_a = np.array([len(i.a[0]) for i in instances], np.int64)
    len_b = np.array([len(i.b[0]) for i in instances], np.int64)
    lengths = len_a + len_b + 3
    columns = np.arange(width)[None, :]
    real = columns < lengths[:, None]
    input_ids = np.zeros((num, width), np.int32)
    is_start = np.zeros((num, width), bool)
    if num:
        cls, sep = np.array([instances[0].cls_id], np.int32), np.array([instances[0].sep_id], np.int32)
        one = np.ones(1, np.uint8)
        input_ids[real] = np.concatenate([part for i in instances for part in (cls, i.a[0], sep, i.b[0], sep)])
        is_start[real] = np.concatenate([part for i in instances for part in (one, i.a[1], one, i.b[1], one)])
    special = real & ((columns == 0) | (columns == len_a[:, None] + 1) | (columns == lengths[:, None] - 1))
    segment_ids = (real & (columns >= len_a[:, None] + 2)).astype(np.uint8)
    return PackedInstances(input_ids, is_start, special, segment_ids, lengths)


def _concat(segments: Sequence[Segment]) -> Segment:
    if len(segments) == 1:
        return segments[0]
    return (np.concatenate([s[0] for s in segments]), np.concatenate([s[1] for s in segments]))


def tokens_to_remove(len_a: int, len_b: int, max_tokens: int):
    """How many tokens the original's loop removes from A and from B.

    The loop removes one token at a time from the longer side (B on ties) until the pair fits;
    which side loses each token depends only on the lengths, so the totals have a closed form.
    """
    excess = max(len_a + len_b - max_tokens, 0)
    from_a = from_b = 0
    if excess and len_a != len_b:
        step = min(excess, abs(len_a - len_b))
        if len_a > len_b:
            from_a, len_a = step, len_a - step
        else:
            from_b, len_b = step, len_b - step
        excess -= step
    # Equal lengths from here on: B, A, B, A, ...
    from_b += (excess + 1) // 2
    from_a += excess // 2
    return from_a, from_b


def truncate_pair(len_a: int, len_b: int, max_tokens: int, rng: np.random.Generator):
    """Tokens to drop as (a_front, a_back, b_front, b_back).

    Each removed token comes from the front or the back with probability 0.5, independently, as
    in the original; the front counts are therefore binomial draws.
    """
    from_a, from_b = tokens_to_remove(len_a, len_b, max_tokens)
    a_front = int(rng.binomial(from_a, 0.5)) if from_a else 0
    b_front = int(rng.binomial(from_b, 0.5)) if from_b else 0
    return a_front, from_a - a_front, b_front, from_b - b_front


def _random_other_document(documents: Sequence[Document], index: int, rng: random.Random) -> int:
    choice = index
    for _ in range(10):
        choice = rng.randint(0, len(documents) - 1)
        if choice != index:
            break
    return choice


class PairBuilder:
    """Creates `Instance`s from the documents of one work unit."""

    def __init__(self, settings: PairSettings, cls_id: int, sep_id: int, rng: random.Random,
                 numpy_rng: np.random.Generator):
        self.settings = settings
        self.rng = rng
        self.numpy_rng = numpy_rng
        self.cls_id = cls_id
        self.sep_id = sep_id

    def from_document(self, documents: Sequence[Document], index: int) -> List[Instance]:
        rng, settings = self.rng, self.settings
        document = documents[index]
        max_tokens = settings.max_seq_length - 3
        target = max_tokens
        if rng.random() < settings.short_seq_prob:
            target = rng.randint(2, max_tokens)

        instances: List[Instance] = []
        chunk: List[Segment] = []
        length = 0
        i = 0
        while i < len(document):
            chunk.append(document[i])
            length += len(document[i][0])
            if i == len(document) - 1 or length >= target:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a_parts, b_parts = chunk[:a_end], []
                from_other = len(chunk) == 1 or (settings.random_next_sentence and rng.random() < 0.5)
                if from_other:
                    label = 1
                    b_target = target - sum(len(s[0]) for s in a_parts)
                    other = documents[_random_other_document(documents, index, rng)]
                    start = rng.randint(0, len(other) - 1)
                    b_length = 0
                    for segment in other[start:]:
                        b_parts.append(segment)
                        b_length += len(segment[0])
                        if b_length >= b_target:
                            break
                    i -= len(chunk) - a_end  # unused segments go back into the document
                elif not settings.random_next_sentence and rng.random() < 0.5:
                    label = 1
                    a_parts, b_parts = chunk[a_end:], a_parts
                else:
                    label = 0
                    b_parts = chunk[a_end:]
                instances.append(self._pack(_concat(a_parts), _concat(b_parts), label, max_tokens, from_other))
                chunk, length = [], 0
            i += 1
        return instances

    def _pack(self, a: Segment, b: Segment, label: int, max_tokens: int, from_other: bool) -> Instance:
        a_front, a_back, b_front, b_back = truncate_pair(len(a[0]), len(b[0]), max_tokens, self.numpy_rng)
        a = (a[0][a_front:len(a[0]) - a_back], a[1][a_front:len(a[1]) - a_back])
        b = (b[0][b_front:len(b[0]) - b_back], b[1][b_front:len(b[1]) - b_back])
        return Instance(a, b, label, bool(a_front + a_back + b_front + b_back), from_other,
                        self.cls_id, self.sep_id)
