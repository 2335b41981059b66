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
"""

import dataclasses
from typing import List, Tuple

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


def num_to_predict(num_tokens: int, settings: MaskingSettings) -> int:
    return min(settings.max_predictions_per_seq, max(1, int(round(num_tokens * settings.masked_lm_prob))))


class UniformStream:
    """Uniform [0, 1) floats drawn in large blocks from a seeded generator (per-call cost matters)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng = rng
        self._block = block
        self._buffer = rng.random(block)
        self._pos = 0

    def take(self, n: int) -> np.ndarray:
        if self._pos + n > len(self._buffer):
            rest = self._buffer[self._pos:]
            self._buffer = np.concatenate([rest, self._rng.random(max(self._block, n))])
            self._pos = 0
        out = self._buffer[self._pos:self._pos + n]
        self._pos += n
        return out


@dataclasses.dataclass
class MaskedInstance:
    input_ids: np.ndarray
    positions: List[int]
    labels: List[int]
    span_lengths_drawn: List[int]
    span_lengths_used: List[int]
    replaced_with_mask: int
    kept: int
    randomized: int


class Masker:
    """Applies the rules above to one packed sequence at a time."""

    def __init__(self, settings: MaskingSettings, vocab_size: int, mask_id: int, stream: UniformStream):
        self.settings = settings
        self.vocab_size = vocab_size
        self.mask_id = mask_id
        self.stream = stream
        cdf = np.cumsum(ngram_probabilities(settings.ngram, settings.favor_shorter_ngram))
        cdf[-1] = 1.0  # a draw just below 1 must not fall past the last length
        self._cdf = cdf

    def units(self, is_start: np.ndarray, candidate: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Candidate positions and the index (into them) where each unit begins."""
        positions = np.flatnonzero(candidate)
        if self.settings.do_whole_word_mask and len(positions):
            begins = np.flatnonzero(is_start[positions])
            if not len(begins) or begins[0] != 0:
                begins = np.concatenate([[0], begins])
        else:
            begins = np.arange(len(positions))
        return positions, begins

    def mask(self, input_ids: np.ndarray, is_start: np.ndarray, special: np.ndarray) -> MaskedInstance:
        settings = self.settings
        positions, begins = self.units(is_start, ~special)
        num_units = len(begins)
        budget = num_to_predict(len(input_ids), settings)
        bounds = np.append(begins, len(positions)).tolist()  # unit u = positions[bounds[u]:bounds[u+1]]

        draws = self.stream.take(2 * num_units) if num_units else np.zeros(0)
        order = np.argsort(draws[:num_units], kind="stable").tolist()
        drawn_all = (np.searchsorted(self._cdf, draws[num_units:], side="right") + 1).tolist()

        covered = bytearray(num_units)
        drawn: List[int] = []
        used: List[int] = []
        count = 0
        for unit in order:
            if count >= budget:
                break
            n = drawn_all[unit]
            drawn.append(n)
            n = min(n, num_units - unit)  # the span stops at the last unit
            size = bounds[unit + n] - bounds[unit]
            while n > 1 and count + size > budget:
                n -= 1
                size = bounds[unit + n] - bounds[unit]
            if count + size > budget or any(covered[unit:unit + n]):
                continue
            covered[unit:unit + n] = b"\x01" * n
            used.append(n)
            count += size

        unit_sizes = np.diff(bounds)
        chosen_array = positions[np.repeat(np.frombuffer(bytes(covered), np.uint8), unit_sizes) == 1]
        chosen = chosen_array.tolist()
        output = input_ids.copy()
        labels = input_ids[chosen_array].tolist()
        k = len(chosen)
        masked = kept = randomized = 0
        if k:
            replace = self.stream.take(3 * k)
            as_mask = replace[:k] < 0.8
            keep = ~as_mask & (replace[k:2 * k] < 0.5)
            randomize = ~as_mask & ~keep
            random_ids = np.minimum((replace[2 * k:] * self.vocab_size).astype(np.int64), self.vocab_size - 1)
            output[chosen_array[as_mask]] = self.mask_id
            output[chosen_array[randomize]] = random_ids[randomize]
            masked, kept, randomized = int(as_mask.sum()), int(keep.sum()), int(randomize.sum())
        return MaskedInstance(output, chosen, labels, drawn, used, masked, kept, randomized)
