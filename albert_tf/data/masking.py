"""Masked-LM selection of the original ALBERT generator: whole words, n-gram spans, 80/10/10.

Rules (the in-graph twin in `dynamic_masking` follows the same ones):
1. Candidates are all positions but [CLS]/[SEP]. With whole-word masking a candidate that does not
   start a word joins the unit before it; otherwise every candidate is its own unit.
2. `num_to_predict = min(max_predictions_per_seq, max(1, round(len(tokens) * masked_lm_prob)))`,
   counting [CLS]/[SEP] in `len(tokens)` as the original does (round half to even, Python's round).
3. Units are visited in a random order. At unit i a span length n in 1..ngram is drawn with
   p(n) ∝ 1/n (reversed when `favor_shorter_ngram` is off) over all of 1..ngram, as the original
   does; a span that would run past the last unit is cut there (with 2 units left the span
   covers both with p 3/11 + 2/11 = 5/11).
   If the span would pass the budget, n shrinks one at a time; if even one unit passes it, or a
   span unit is already covered, the candidate is skipped. Selection stops at the budget.
4. Each selected position: 80% [MASK], 10% kept, 10% a uniformly random id in [0, vocab_size).
The original draws n from an unseeded NumPy call; here every draw comes from the unit's seeded
generator, so output is reproducible.

Rule 3 is a greedy walk that is sequential within a row, so it is vectorized across rows: step k
tries the k-th unit of every row still under budget at once. A dupe pass of a work unit (thousands
of rows) is masked in one call; per-row Python work would cost more than everything else together.
"""

import dataclasses
from typing import List, NamedTuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class MaskingSettings:
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True


def ngram_probabilities(ngram: int, favor_shorter: bool) -> np.ndarray:
    p = 1.0 / np.arange(1, ngram + 1)
    p /= p.sum()
    return p if favor_shorter else p[::-1].copy()


def num_to_predict(num_tokens, settings: MaskingSettings):
    """Rule 2 for an int or an int array (np.round rounds half to even, as Python's round)."""
    wanted = np.maximum(1, np.round(np.asarray(num_tokens) * settings.masked_lm_prob).astype(np.int64))
    budget = np.minimum(settings.max_predictions_per_seq, wanted)
    return int(budget) if budget.ndim == 0 else budget


class PaddedRows(NamedTuple):
    """Packed sequences padded to `[N, S]`; `lengths[i]` real tokens in row i."""
    input_ids: np.ndarray  # int32
    is_start: np.ndarray   # bool: the token starts a word
    special: np.ndarray    # bool: [CLS]/[SEP]
    lengths: np.ndarray    # int64 [N]


class WordUnits(NamedTuple):
    unit_id: np.ndarray    # int64 [N, S]: the unit of each candidate token, -1 elsewhere
    unit_sizes: np.ndarray  # int64 [N, S]: tokens per unit, 0 past the row's last unit
    num_units: np.ndarray  # int64 [N]


class SpanSelection(NamedTuple):
    covered_units: np.ndarray  # bool [N, S]
    ngram_drawn: np.ndarray    # int64 [ngram + 1]: how often each n was drawn
    ngram_used: np.ndarray     # int64 [ngram + 1]: span lengths actually masked


@dataclasses.dataclass
class MaskedRows:
    input_ids: np.ndarray        # int32 [N, S] after replacement
    positions: np.ndarray        # int32 [N, P] ascending, zero padded
    labels: np.ndarray           # int32 [N, P] original ids, zero padded
    num_predictions: np.ndarray  # int64 [N]
    ngram_drawn: np.ndarray
    ngram_used: np.ndarray
    replaced_with_mask: int
    kept: int
    randomized: int


def word_units(rows: PaddedRows, whole_word: bool) -> WordUnits:
    """Rule 1: a candidate opens a unit if it starts a word (or is the row's first candidate)."""
    num_rows, width = rows.input_ids.shape
    candidate = ~rows.special & (np.arange(width)[None, :] < rows.lengths[:, None])
    if whole_word:
        first_candidate = candidate & (np.cumsum(candidate, axis=1) == 1)
        opens_unit = candidate & (rows.is_start | first_candidate)
    else:
        opens_unit = candidate
    unit_index = np.cumsum(opens_unit, axis=1) - 1
    unit_id = np.where(candidate, unit_index, -1)
    flat = (np.arange(num_rows)[:, None] * width + unit_id)[candidate]
    unit_sizes = np.bincount(flat, minlength=num_rows * width).reshape(num_rows, width)
    return WordUnits(unit_id, unit_sizes, opens_unit.sum(axis=1))


def select_spans(units: WordUnits, budget: np.ndarray, unit_order: np.ndarray,
                 ngram_lengths: np.ndarray, ngram: int) -> SpanSelection:
    """Rule 3, given the random choices.

    `unit_order[i, :num_units[i]]` is the order row i's units are tried in; `ngram_lengths[i, u]`
    is the n drawn for unit u (1..ngram, before cutting at the row's end).
    """
    num_rows, width = units.unit_sizes.shape
    # span_end_offset[i, u + n] - span_end_offset[i, u] = tokens in units u .. u+n-1.
    offsets = np.zeros((num_rows, width + ngram + 1), np.int64)
    np.cumsum(units.unit_sizes, axis=1, out=offsets[:, 1:width + 1])
    offsets[:, width + 1:] = offsets[:, width:width + 1]
    covered = np.zeros((num_rows, width + ngram), bool)
    count = np.zeros(num_rows, np.int64)
    drawn_hist = np.zeros(ngram + 1, np.int64)
    used_hist = np.zeros(ngram + 1, np.int64)
    active = np.flatnonzero(units.num_units > 0)
    for rank in range(width):
        active = active[(count[active] < budget[active]) & (rank < units.num_units[active])]
        if not active.size:
            break
        unit = unit_order[active, rank]
        drawn = ngram_lengths[active, unit]
        drawn_hist += np.bincount(drawn, minlength=ngram + 1)
        longest = np.minimum(drawn, units.num_units[active] - unit)  # cut at the last unit
        room = budget[active] - count[active]
        start = offsets[active, unit]
        # The longest n' <= n whose span fits the budget (span sizes grow with n').
        length = np.zeros(active.size, np.int64)
        for n in range(1, ngram + 1):
            fits = (n <= longest) & (offsets[active, unit + n] - start <= room)
            length = np.where(fits, n, length)
        overlaps = np.zeros(active.size, bool)
        for step in range(ngram):
            overlaps |= (step < length) & covered[active, unit + step]
        take = (length > 0) & ~overlaps
        rows, unit, length = active[take], unit[take], length[take]
        for step in range(ngram):
            extends = step < length
            covered[rows[extends], unit[extends] + step] = True
        count[rows] += offsets[rows, unit + length] - offsets[rows, unit]
        used_hist += np.bincount(length, minlength=ngram + 1)
    return SpanSelection(covered[:, :width], drawn_hist, used_hist)


class Masker:
    """Applies the rules above to batches of packed sequences, drawing from one seeded generator."""

    def __init__(self, settings: MaskingSettings, vocab_size: int, mask_id: int, rng: np.random.Generator):
        self.settings = settings
        self.vocab_size = vocab_size
        self.mask_id = mask_id
        self.rng = rng
        cdf = np.cumsum(ngram_probabilities(settings.ngram, settings.favor_shorter_ngram))
        cdf[-1] = 1.0  # a draw just below 1 must not fall past the last length
        self._cdf = cdf

    def mask_rows(self, rows: PaddedRows) -> MaskedRows:
        settings = self.settings
        num_rows, width = rows.input_ids.shape
        units = word_units(rows, settings.do_whole_word_mask)
        budget = num_to_predict(rows.lengths, settings)
        budget = np.atleast_1d(budget)

        # Sorting iid scores gives each row a uniformly random order; missing units sort last.
        scores = self.rng.random((num_rows, width))
        scores[np.arange(width)[None, :] >= units.num_units[:, None]] = 2.0
        unit_order = np.argsort(scores, axis=1, kind="stable")
        ngram_lengths = np.searchsorted(self._cdf, self.rng.random((num_rows, width)), side="right") + 1
        selection = select_spans(units, budget, unit_order, ngram_lengths, settings.ngram)

        row_index = np.arange(num_rows)[:, None]
        chosen = (units.unit_id >= 0) & selection.covered_units[row_index, np.maximum(units.unit_id, 0)]
        chosen_rows, chosen_cols = np.nonzero(chosen)  # row-major: ascending positions per row
        num_predictions = chosen.sum(axis=1)
        slot = (np.cumsum(chosen, axis=1) - 1)[chosen_rows, chosen_cols]
        positions = np.zeros((num_rows, settings.max_predictions_per_seq), np.int32)
        labels = np.zeros_like(positions)
        positions[chosen_rows, slot] = chosen_cols
        labels[chosen_rows, slot] = rows.input_ids[chosen_rows, chosen_cols]

        output = rows.input_ids.copy()
        k = chosen_rows.size
        draws = self.rng.random((3, k))
        as_mask = draws[0] < 0.8
        keep = ~as_mask & (draws[1] < 0.5)
        randomize = ~as_mask & ~keep
        random_ids = np.minimum((draws[2] * self.vocab_size).astype(np.int64), self.vocab_size - 1)
        output[chosen_rows[as_mask], chosen_cols[as_mask]] = self.mask_id
        output[chosen_rows[randomize], chosen_cols[randomize]] = random_ids[randomize]
        return MaskedRows(output, positions, labels, num_predictions, selection.ngram_drawn,
                          selection.ngram_used, int(as_mask.sum()), int(keep.sum()), int(randomize.sum()))


def pad_to_width(arrays: List[np.ndarray], lengths: np.ndarray, width: int, dtype) -> np.ndarray:
    """1-D arrays of `lengths` -> `[N, width]`, zero padded."""
    out = np.zeros((len(arrays), width), dtype)
    if arrays:
        out[np.arange(width)[None, :] < lengths[:, None]] = np.concatenate(arrays)
    return out


def pad_rows(sequences: List[tuple], width: int) -> PaddedRows:
    """`(input_ids, is_start, special)` triples of equal-length 1-D arrays -> `PaddedRows`."""
    lengths = np.array([len(ids) for ids, _, _ in sequences], np.int64)
    return PaddedRows(pad_to_width([s[0] for s in sequences], lengths, width, np.int32),
                      pad_to_width([s[1] for s in sequences], lengths, width, bool),
                      pad_to_width([s[2] for s in sequences], lengths, width, bool), lengths)
