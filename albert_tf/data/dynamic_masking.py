"""Whole-word n-gram masked-LM masking inside a tf.data pipeline ("dynamic masking").

Pretraining records can be stored unmasked (`input_ids`, `input_mask`, `segment_ids`,
`token_boundary`, `next_sentence_labels`); the reader masks each batch on the fly, so every epoch
sees new masks. The rules are those of ALBERT's `create_pretraining_data.py` (`masking.py` holds
the NumPy twin used when masks are written into the records):

1. Candidates are real (`input_mask == 1`) tokens that are not special ([CLS]/[SEP]). A candidate
   with `token_boundary == 1` starts a new word unit; any other joins the unit before it (or
   starts the first one). Without whole-word masking every candidate is its own unit.
2. `num_to_predict = min(max_predictions_per_seq, max(1, round(num_tokens * masked_lm_prob)))`,
   counting every real token, specials included, and rounding half to even.
3. Units are visited in a uniformly random order. For unit `i` a length `n` is drawn from
   `p(n) ∝ 1/n` (reversed when `favor_shorter_ngram` is False) over all of 1..ngram; a span that
   would run past the row's last unit is cut there, as in the original. The span is units
   `i .. i+n-1`. If it does not fit the remaining budget, `n-1`,
   `n-2`, ... are tried; if nothing fits, or the span touches an already covered token, the unit
   is skipped. Otherwise all the span's tokens are covered, until the budget is reached.
4. Each covered token becomes [MASK] with p 0.8, stays with p 0.1, becomes a random id with p 0.1.

Everything is vectorized over the batch (apply after `.batch()`), uses stateless random ops only
(same seed -> same masks, so a resumed run sees the masks it would have seen) and keeps static
shapes `[batch, seq_length]` / `[batch, max_predictions_per_seq]`.

Example:
    >>> config = MaskingConfig(max_predictions_per_seq=20, vocab_size=30000, mask_id=4,
    ...                        special_ids=(2, 3))
    >>> dataset = (records.repeat().batch(32, drop_remainder=True)
    ...            .enumerate().map(dynamic_masking_fn(config, base_seed=1234)))
"""

import dataclasses
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from albert_tf.model_inputs import (INPUT_MASK, MASKED_LM_IDS, MASKED_LM_POSITIONS, MASKED_LM_WEIGHTS, RECORD_INPUT_IDS,
                                    TOKEN_BOUNDARY)

# ALBERT's replacement rule for a covered token.
_MASK_PROB = 0.8
_KEEP_PROB_WHEN_NOT_MASKED = 0.5

_READ_AS_INT32 = (RECORD_INPUT_IDS, INPUT_MASK, TOKEN_BOUNDARY)


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """What `mask_batch` needs; the defaults are ALBERT's pretraining settings.

    Args:
        max_predictions_per_seq: P, the width of the `masked_lm_*` outputs and the largest budget.
        vocab_size: random replacements are drawn uniformly from `[0, vocab_size)`.
        mask_id: id of [MASK].
        special_ids: ids never masked (normally [CLS] and [SEP]).
        masked_lm_prob: fraction of real tokens to predict.
        ngram: longest span, in word units.
        favor_shorter_ngram: `p(n) ∝ 1/n` when True, the reverse order when False.
        do_whole_word_mask: mask whole words (units from `token_boundary`) instead of pieces.
    """

    max_predictions_per_seq: int
    vocab_size: int
    mask_id: int
    special_ids: tuple
    masked_lm_prob: float = 0.15
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True

    def __post_init__(self):
        # A tuple keeps the config hashable, so tf.function can key its traces on it.
        object.__setattr__(self, "special_ids", tuple(int(i) for i in self.special_ids))
        if self.max_predictions_per_seq < 1:
            raise ValueError(
                f"max_predictions_per_seq must be >= 1, got {self.max_predictions_per_seq}")
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {self.vocab_size}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram}")
        if not 0.0 <= self.masked_lm_prob <= 1.0:
            raise ValueError(f"masked_lm_prob must be in [0, 1], got {self.masked_lm_prob}")


class WordUnits(NamedTuple):
    """Word units of a batch `[B, S]`.

    is_candidate: bool, real non-special tokens.
    unit_id: int32, index of the token's unit within its row, -1 off candidates.
    num_units: int32 `[B]`.
    """

    is_candidate: tf.Tensor
    unit_id: tf.Tensor
    num_units: tf.Tensor


class SpanChoices(NamedTuple):
    """The random choices behind the span selection of a batch.

    unit_order: int32 `[B, S]`; ranks `0 .. num_units-1` hold a permutation of the row's units
        (the order they are tried in); later ranks are padding.
    ngram_lengths: int32 `[B, S]`; the span length drawn for each unit (indexed by unit, not by
        rank), already cut at the row's last unit; 0 past `num_units`.
    """

    unit_order: tf.Tensor
    ngram_lengths: tf.Tensor


# === Public API ===
def mask_batch(features: dict, seed, config: MaskingConfig) -> dict:
    """Masks a batch of unmasked pretraining features.

    Args:
        features: `[B, S]` `input_ids`, `input_mask`, `token_boundary` (int32 or int64); any other
            entries are passed through unchanged.
        seed: shape `[2]` int32/int64 seed for the stateless random ops.
        config: a `MaskingConfig`.

    Returns:
        A new dict: the input features with `input_ids` masked (int32), plus `masked_lm_positions`
        and `masked_lm_ids` (int32 `[B, P]`, ascending positions, original ids) and
        `masked_lm_weights` (float32 `[B, P]`, 1.0 on predictions, zero padding).
    """
    input_ids, input_mask, token_boundary = (_as_int32(features[name]) for name in _READ_AS_INT32)
    seq_length = _static_seq_length(input_ids)
    selection_seed, replacement_seed = _masking_seeds(seed)

    units = _word_units(input_ids, input_mask, token_boundary, config)
    choices = _draw_span_choices(selection_seed, units.num_units, seq_length, config)
    covered = _select_spans(units, _num_to_predict(input_mask, config), choices, config)

    outputs = dict(features)
    outputs[RECORD_INPUT_IDS] = _replace_tokens(replacement_seed, input_ids, covered, config)
    positions, ids, weights = _gather_predictions(input_ids, covered,
                                                  config.max_predictions_per_seq)
    outputs.update({MASKED_LM_POSITIONS: positions, MASKED_LM_IDS: ids, MASKED_LM_WEIGHTS: weights})
    return outputs


def dynamic_masking_fn(config: MaskingConfig, base_seed: int):
    """A `(batch_index, features) -> features` function for `Dataset.enumerate().map(...)`.

    Each batch's seed is derived from `(base_seed, batch_index)`, so masks are reproducible and a
    resumed run can continue them with `enumerate(start=step)`. Put `.repeat()` before
    `.enumerate()`: otherwise the index restarts every epoch and so would the masks.
    """
    base = tf.constant([int(base_seed), 0], dtype=tf.int64)

    def mask(batch_index, features):
        seed = tf.random.experimental.stateless_fold_in(base, tf.cast(batch_index, tf.int64))
        return mask_batch(features, seed, config)

    return mask


# === Rules 1 and 2: candidates, word units, budget ===
def _word_units(input_ids, input_mask, token_boundary, config: MaskingConfig) -> WordUnits:
    is_candidate = tf.equal(input_mask, 1) & ~_is_special(input_ids, config.special_ids)
    if config.do_whole_word_mask:
        starts_word = tf.equal(token_boundary, 1)
    else:
        starts_word = tf.ones_like(is_candidate)
    # A continuation piece with no unit before it (e.g. right after [CLS]) starts one, as in the
    # reference; one after [SEP] joins the last unit of the first segment.
    candidates_before = tf.cumsum(tf.cast(is_candidate, tf.int32), axis=1, exclusive=True)
    starts_unit = is_candidate & (starts_word | tf.equal(candidates_before, 0))
    unit_index = tf.cumsum(tf.cast(starts_unit, tf.int32), axis=1) - 1
    return WordUnits(is_candidate=is_candidate,
                     unit_id=tf.where(is_candidate, unit_index, -1),
                     num_units=tf.reduce_sum(tf.cast(starts_unit, tf.int32), axis=1))


def _is_special(input_ids, special_ids):
    if not special_ids:
        return tf.zeros_like(input_ids, dtype=tf.bool)
    specials = tf.constant(special_ids, dtype=input_ids.dtype)
    return tf.reduce_any(tf.equal(input_ids[..., None], specials), axis=-1)


def _num_to_predict(input_mask, config: MaskingConfig):
    """int32 `[B]` budget. float64 so the product rounds exactly as Python's does."""
    num_tokens = tf.reduce_sum(tf.cast(tf.equal(input_mask, 1), tf.float64), axis=1)
    wanted = tf.cast(tf.round(num_tokens * config.masked_lm_prob), tf.int32)  # half to even
    return tf.minimum(config.max_predictions_per_seq, tf.maximum(1, wanted))


# === Rule 3: random order, n-gram lengths, span selection ===
def _ngram_probabilities(ngram: int, favor_shorter_ngram: bool) -> np.ndarray:
    """p(n) for n = 1..ngram."""
    weights = 1.0 / np.arange(1, ngram + 1)
    if not favor_shorter_ngram:
        weights = weights[::-1]
    return weights / weights.sum()


def _draw_span_choices(seed, num_units, max_units: int, config: MaskingConfig) -> SpanChoices:
    order_seed, length_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    return SpanChoices(unit_order=_random_unit_order(order_seed, num_units, max_units),
                       ngram_lengths=_draw_ngram_lengths(length_seed, num_units, max_units, config))


def _random_unit_order(seed, num_units, max_units: int):
    """Sorting iid uniform scores gives a uniformly random permutation of each row's units."""
    scores = tf.random.stateless_uniform([tf.shape(num_units)[0], max_units], seed)
    # Units that do not exist score above every real one, so they take the last ranks.
    is_real_unit = tf.range(max_units)[None, :] < num_units[:, None]
    scores = tf.where(is_real_unit, scores, 2.0)
    return tf.argsort(scores, axis=1, stable=True)


def _draw_ngram_lengths(seed, num_units, max_units: int, config: MaskingConfig):
    """Inverse-CDF draw of n per unit over all of 1..ngram, then cut at the row's last unit.

    Cutting (rather than renormalizing over the lengths that fit) is what the original does, so
    the spans near a row's end have the same length distribution as in its records.
    """
    cumulative = np.cumsum(_ngram_probabilities(config.ngram, config.favor_shorter_ngram))
    units_left = num_units[:, None] - tf.range(max_units)[None, :]
    longest = tf.clip_by_value(units_left, 0, config.ngram)  # [B, U]
    target = tf.random.stateless_uniform(tf.shape(longest), seed)
    # n = 1 + how many of the cumulative thresholds C_1 .. C_{ngram-1} the target has passed.
    thresholds = tf.constant(cumulative[:-1], tf.float32)
    drawn = 1 + tf.reduce_sum(tf.cast(target[..., None] >= thresholds, tf.int32), axis=-1)
    return tf.minimum(drawn, longest)


def _select_spans(units: WordUnits, num_to_predict, choices: SpanChoices, config: MaskingConfig):
    """Bool `[B, S]`: the tokens rule 3 covers, given the random choices.

    Step k of a `tf.while_loop` tries the rank-k unit of every row at once; coverage is tracked
    per unit, which is exact because spans always cover whole units. The loop stops as soon as
    every row has used its budget or run out of units.
    """
    max_units = _static_seq_length(units.unit_id)
    batch = tf.shape(units.num_units)[0]
    starts, drawn, sizes = _spans_by_rank(units, choices, config.ngram, max_units)
    lengths = tf.range(1, config.ngram + 1)
    unit_range = tf.range(max_units)

    def keep_going(rank, covered_units, num_covered):
        del covered_units
        return tf.reduce_any((rank < units.num_units) & (num_covered < num_to_predict))

    def try_rank(rank, covered_units, num_covered):
        start, drawn_here, sizes_here = (tf.gather(t, rank, axis=1) for t in (starts, drawn, sizes))
        # The drawn n, else the longest shorter one within budget: sizes grow with n, so the
        # lengths that fit are a prefix. 0 when nothing fits, the budget is used up or the rank is
        # past the row's units (drawn 0).
        fits = ((lengths <= drawn_here[:, None])
                & (sizes_here <= (num_to_predict - num_covered)[:, None]))
        length = tf.reduce_sum(tf.cast(fits, tf.int32), axis=1)
        size = tf.reduce_max(tf.where(fits, sizes_here, 0), axis=1)
        in_span = (unit_range >= start[:, None]) & (unit_range < (start + length)[:, None])
        # A span touching covered units is skipped, not shortened (as in the reference).
        accept = (length > 0) & ~tf.reduce_any(in_span & covered_units, axis=1)
        return (rank + 1, covered_units | (in_span & accept[:, None]),
                num_covered + tf.where(accept, size, 0))

    _, covered_units, _ = tf.while_loop(
        keep_going, try_rank,
        (tf.constant(0), tf.zeros([batch, max_units], tf.bool), tf.zeros([batch], tf.int32)),
        maximum_iterations=max_units)
    covered_token_units = tf.gather(covered_units, tf.maximum(units.unit_id, 0), batch_dims=1)
    return units.is_candidate & covered_token_units


def _spans_by_rank(units: WordUnits, choices: SpanChoices, ngram: int, max_units: int):
    """What the loop reads at each rank k (axis 1), computed once before it.

    Returns the unit tried (`[B, U]`), its drawn n (`[B, U]`, 0 past the row's units) and the
    token sizes of its 1..ngram-unit spans (`[B, U, ngram]`).
    """
    tokens_before_unit = _tokens_before_unit(units, max_units)  # [B, U+1]
    unit_order = choices.unit_order
    is_real_rank = tf.range(max_units)[None, :] < units.num_units[:, None]
    drawn = tf.where(is_real_rank, tf.gather(choices.ngram_lengths, unit_order, batch_dims=1), 0)
    span_ends = tf.minimum(unit_order[..., None] + tf.range(1, ngram + 1), max_units)
    sizes = (tf.gather(tokens_before_unit, span_ends, batch_dims=1)
             - tf.gather(tokens_before_unit, unit_order, batch_dims=1)[..., None])
    return unit_order, drawn, sizes


def _tokens_before_unit(units: WordUnits, max_units: int):
    """int32 `[B, U+1]`: candidate tokens in units `0 .. u-1`, so a span's size is a difference."""
    batch = tf.shape(units.unit_id)[0]
    row_offset = tf.range(batch)[:, None] * max_units
    # Non-candidates go to one extra segment that is dropped.
    segment = tf.where(units.is_candidate, units.unit_id + row_offset, batch * max_units)
    sizes = tf.math.unsorted_segment_sum(tf.ones_like(segment), segment, batch * max_units + 1)
    sizes = tf.reshape(sizes[:-1], [batch, max_units])
    return tf.pad(tf.cumsum(sizes, axis=1), [[0, 0], [1, 0]])


# === Rules 4 and 5: replacement and outputs ===
def _replace_tokens(seed, input_ids, covered, config: MaskingConfig):
    mask_seed, keep_seed, random_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.shape(input_ids)
    use_mask = tf.random.stateless_uniform(shape, mask_seed) < _MASK_PROB
    keep = tf.random.stateless_uniform(shape, keep_seed) < _KEEP_PROB_WHEN_NOT_MASKED
    random_ids = tf.random.stateless_uniform(shape, random_seed, minval=0,
                                             maxval=config.vocab_size, dtype=tf.int32)
    replacement = tf.where(use_mask, config.mask_id, tf.where(keep, input_ids, random_ids))
    return tf.where(covered, replacement, input_ids)


def _gather_predictions(input_ids, covered, max_predictions: int):
    """Ascending covered positions, their original ids and weights, zero-padded to P."""
    batch, seq_length = tf.shape(covered)[0], _static_seq_length(covered)
    positions = tf.broadcast_to(tf.range(seq_length), tf.shape(covered))
    # The j-th covered token goes to slot j; the others to an extra slot that is dropped. The
    # budget is at most P, so slots 0..P-1 hold every covered token.
    slot = tf.cumsum(tf.cast(covered, tf.int32), axis=1, exclusive=True)
    slot = tf.where(covered, tf.minimum(slot, max_predictions), max_predictions)
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(covered))
    # Positions are stored plus one so that 0 marks an empty slot.
    stored = tf.scatter_nd(tf.stack([rows, slot], axis=-1), tf.where(covered, positions + 1, 0),
                           [batch, max_predictions + 1])[:, :max_predictions]
    is_prediction = stored > 0
    masked_positions = tf.maximum(stored - 1, 0)
    masked_ids = tf.where(is_prediction, tf.gather(input_ids, masked_positions, batch_dims=1), 0)
    return masked_positions, masked_ids, tf.cast(is_prediction, tf.float32)


# === Helpers ===
def _masking_seeds(seed):
    """(selection seed, replacement seed) from the caller's seed."""
    seed = tf.convert_to_tensor(seed)
    if seed.dtype not in (tf.int32, tf.int64):
        seed = tf.cast(seed, tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(seed, 2))


def _as_int32(tensor):
    tensor = tf.convert_to_tensor(tensor)
    return tensor if tensor.dtype == tf.int32 else tf.cast(tensor, tf.int32)


def _static_seq_length(tensor) -> int:
    seq_length = tensor.shape[1]
    if seq_length is None:
        raise ValueError(
            f"dynamic masking needs a static sequence length, got shape {tensor.shape}")
    return int(seq_length)
