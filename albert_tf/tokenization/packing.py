"""`[CLS] A [SEP] (B [SEP])` packing shared by both tokenizers (Python side).

The in-graph twin (`layers.PackInputs`) uses tensorflow-text's `RoundRobinTrimmer`, which for
two segments leaves exactly the lengths of BERT's longest-first `_truncate_seq_pair`; the tests
check that equivalence on random lengths.
"""

import dataclasses
from typing import List, Optional, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class PackedInputs:
    """Model inputs for one example (lists) or a batch (int32 arrays `[batch, max_seq_length]`).

    Args:
        input_ids: `[CLS] A [SEP] B [SEP]` ids, right-padded with the pad id.
        input_mask: 1 on real tokens (specials included), 0 on padding.
        segment_ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`, 0 on padding.
    """

    input_ids: object
    input_mask: object
    segment_ids: object


def truncate_longest_first(a: List, b: Optional[List], max_tokens: int):
    """Drops tokens from the end of the currently longer list until `len(a)+len(b) <= max_tokens`.

    Ties remove from `b`, as BERT/ALBERT's `_truncate_seq_pair` does. Returns truncated copies.
    """
    if b is None:
        return list(a[:max_tokens]), None
    la, lb = len(a), len(b)
    if la + lb > max_tokens:
        # Closed form of the pop loop: the longer side shrinks to the shorter, then they alternate.
        keep_a = min(la, max((max_tokens + 1) // 2, max_tokens - lb))
        keep_a = max(keep_a, 0)
        keep_b = max(max_tokens - keep_a, 0)
        la, lb = keep_a, min(lb, keep_b)
    return list(a[:la]), list(b[:lb])


def num_special_tokens(pair: bool) -> int:
    return 3 if pair else 2


def pack(ids_a: Sequence[int], ids_b: Optional[Sequence[int]] = None, *, max_seq_length: int,
         cls_id: int, sep_id: int, pad_id: int) -> PackedInputs:
    """Truncates (longest first), adds specials, pads right to `max_seq_length`."""
    budget = max_seq_length - num_special_tokens(ids_b is not None)
    if budget < 0:
        raise ValueError(f"max_seq_length={max_seq_length} leaves no room for the special tokens")
    a, b = truncate_longest_first(list(ids_a), None if ids_b is None else list(ids_b), budget)
    ids = [cls_id] + a + [sep_id]
    segments = [0] * len(ids)
    if b is not None:
        ids += b + [sep_id]
        segments += [1] * (len(b) + 1)
    pad = max_seq_length - len(ids)
    return PackedInputs(input_ids=ids + [pad_id] * pad,
                        input_mask=[1] * len(ids) + [0] * pad,
                        segment_ids=segments + [0] * pad)


def stack(packed: Sequence[PackedInputs]) -> PackedInputs:
    """Stacks single examples into int32 arrays."""
    return PackedInputs(
        input_ids=np.asarray([p.input_ids for p in packed], dtype=np.int32),
        input_mask=np.asarray([p.input_mask for p in packed], dtype=np.int32),
        segment_ids=np.asarray([p.segment_ids for p in packed], dtype=np.int32))
