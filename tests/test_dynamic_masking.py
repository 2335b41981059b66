"""In-graph whole-word n-gram masking: rules checked against a plain-Python reference."""

import dataclasses
import functools

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data import dynamic_masking as dm
from albert_tf.data.dynamic_masking import MaskingConfig, dynamic_masking_fn, mask_batch
from albert_tf.tokenization import SentencePieceTokenizer
from conftest import REALDATA

PAD, CLS, SEP, MASK = 0, 2, 3, 4
FIRST_WORD_ID = 5  # ids below are specials; word ids never collide with [MASK]
VOCAB = 30000

CONFIG = MaskingConfig(max_predictions_per_seq=20, vocab_size=VOCAB, mask_id=MASK,
                       special_ids=(CLS, SEP))


def config_with(**changes):
    return dataclasses.replace(CONFIG, **changes)


# === Plain-Python reference of rules 1-3 (one sequence) ===
def reference_units(ids, mask, boundary, special_ids, whole_word):
    """Word units as lists of positions, written the way create_pretraining_data builds them."""
    units = []
    for pos, (token, real, starts_word) in enumerate(zip(ids, mask, boundary)):
        if real != 1 or token in special_ids:
            continue
        if whole_word and units and not starts_word:
            units[-1].append(pos)
        else:
            units.append([pos])
    return units


def reference_num_to_predict(num_tokens, config):
    return min(config.max_predictions_per_seq, max(1, round(num_tokens * config.masked_lm_prob)))


def reference_covered(units, num_to_predict, unit_order, ngram_lengths):
    """Covered positions, given the order units are tried in and the n drawn for each unit."""
    covered = set()
    for start in unit_order[:len(units)]:
        if len(covered) >= num_to_predict:
            break
        for n in range(ngram_lengths[start], 0, -1):  # drawn n, then shorter until it fits
            span = [pos for unit in units[start:start + n] for pos in unit]
            if len(covered) + len(span) <= num_to_predict:
                break
        else:
            continue  # even one unit is over budget
        if covered.isdisjoint(span):
            covered.update(span)
    return sorted(covered)


def reference_units_and_budget(features, row, config):
    ids, mask, boundary = (np.asarray(features[k])[row].tolist()
                           for k in ("input_ids", "input_mask", "token_boundary"))
    units = reference_units(ids, mask, boundary, config.special_ids, config.do_whole_word_mask)
    return units, reference_num_to_predict(sum(mask), config)


# === Batches ===
def synthetic_features(seed, batch=64, seq_length=48, boundary_prob=0.7, min_length=3):
    """`[CLS] A [SEP] (B [SEP])` rows of random length and random word boundaries, padded."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((batch, seq_length), np.int32)
    mask = np.zeros_like(ids)
    boundary = np.zeros_like(ids)
    segments = np.zeros_like(ids)
    for row in range(batch):
        length = int(rng.integers(min_length, seq_length + 1))
        ids[row, :length] = rng.integers(FIRST_WORD_ID, VOCAB, length)
        ids[row, [0, length - 1]] = CLS, SEP
        if length >= 5 and rng.random() < 0.7:  # a pair: the middle [SEP] splits the units
            middle = int(rng.integers(2, length - 2))
            ids[row, middle] = SEP
            segments[row, middle + 1:length] = 1
        mask[row, :length] = 1
        # Continuation pieces right after [CLS] or [SEP] happen too: no special treatment.
        boundary[row, :length] = rng.random(length) < boundary_prob
        boundary[row, np.isin(ids[row], (CLS, SEP))] = 0
    return dict(input_ids=ids, input_mask=mask, token_boundary=boundary, segment_ids=segments,
                next_sentence_labels=rng.integers(0, 2, batch).astype(np.int32))


def numpy_dict(tensors):
    return {k: np.asarray(v) for k, v in tensors.items()}


@functools.lru_cache(maxsize=None)
def compiled_masker(config):
    return tf.function(lambda features, seed: mask_batch(features, seed, config))


def run_masker(features, seed, config=CONFIG):
    return numpy_dict(compiled_masker(config)(features, tf.cast(seed, tf.int64)))


@functools.lru_cache(maxsize=None)
def compiled_selection(config):
    """Rules 1-3 in graph, with the random choices fed in from outside."""

    @tf.function
    def select(input_ids, input_mask, token_boundary, unit_order, ngram_lengths):
        units = dm._word_units(input_ids, input_mask, token_boundary, config)
        choices = dm.SpanChoices(unit_order=unit_order, ngram_lengths=ngram_lengths)
        return dm._select_spans(units, dm._num_to_predict(input_mask, config), choices, config)

    return select


def check_outputs(features, outputs, config):
    """Asserts the invariants of rules 1-5 on every row; returns (predicted, budget, candidates)."""
    counts = []
    for row in range(len(features["input_ids"])):
        ids = features["input_ids"][row]
        units, budget = reference_units_and_budget(features, row, config)
        candidates = {pos for unit in units for pos in unit}
        weights = outputs["masked_lm_weights"][row]
        predicted = int(weights.sum())
        positions = outputs["masked_lm_positions"][row]
        assert set(np.unique(weights)) <= {0.0, 1.0}
        assert np.all(weights[:predicted] == 1.0), "predictions come first, then padding"
        assert np.all(positions[predicted:] == 0), "padding positions are 0"
        assert np.all(outputs["masked_lm_ids"][row, predicted:] == 0), "padding ids are 0"
        real = positions[:predicted]
        assert np.all(np.diff(real) > 0), "positions ascending and unique"
        assert set(real.tolist()) <= candidates, "only real, non-special tokens are masked"
        np.testing.assert_array_equal(outputs["masked_lm_ids"][row, :predicted], ids[real])
        changed = np.flatnonzero(outputs["input_ids"][row] != ids)
        assert set(changed.tolist()) <= set(real.tolist()), "only predicted tokens change"
        assert predicted <= budget <= config.max_predictions_per_seq
        if config.do_whole_word_mask:
            chosen = set(real.tolist())
            for unit in units:
                assert sum(pos in chosen for pos in unit) in (0, len(unit)), f"split word {unit}"
        counts.append((predicted, budget, len(candidates)))
    return counts


def check_selection_matches_reference(features, outputs, seed, config):
    """mask_batch's positions are the reference's, fed the random choices mask_batch drew."""
    units = dm._word_units(*(tf.constant(features[k]) for k in dm._READ_AS_INT32), config)
    choices = dm._draw_span_choices(dm._masking_seeds(tf.cast(seed, tf.int64))[0],
                                    units.num_units, features["input_ids"].shape[1], config)
    order, lengths = choices.unit_order.numpy(), choices.ngram_lengths.numpy()
    for row in range(len(features["input_ids"])):
        units, budget = reference_units_and_budget(features, row, config)
        predicted = int(outputs["masked_lm_weights"][row].sum())
        assert outputs["masked_lm_positions"][row, :predicted].tolist() == reference_covered(
            units, budget, order[row].tolist(), lengths[row].tolist()), f"row {row}"


# === Rules 1-3 against the reference ===
SELECTION_CONFIGS = [
    CONFIG,
    config_with(max_predictions_per_seq=5, masked_lm_prob=0.3),
    config_with(max_predictions_per_seq=8, masked_lm_prob=0.5, ngram=4),
    config_with(max_predictions_per_seq=6, masked_lm_prob=0.4, do_whole_word_mask=False),
    config_with(max_predictions_per_seq=3, masked_lm_prob=0.2, ngram=1),
    config_with(max_predictions_per_seq=10, masked_lm_prob=0.6, favor_shorter_ngram=False),
]


def random_choices(rng, num_units, seq_length, ngram):
    """A uniformly random unit order (padded with the unused indices) and valid n per unit."""
    order = np.empty((len(num_units), seq_length), np.int32)
    lengths = np.zeros((len(num_units), seq_length), np.int32)
    for row, count in enumerate(num_units):
        order[row] = np.concatenate([rng.permutation(count), np.arange(count, seq_length)])
        for unit in range(count):
            lengths[row, unit] = rng.integers(1, min(ngram, count - unit) + 1)
    return order, lengths


@pytest.mark.parametrize("config_index", range(len(SELECTION_CONFIGS)))
def test_selection_matches_python_reference(config_index):
    config = SELECTION_CONFIGS[config_index]
    rng = np.random.default_rng(config_index)
    for batch_seed in range(3):  # 3 x 64 sequences per config
        features = synthetic_features(100 * config_index + batch_seed, seq_length=32,
                                      boundary_prob=rng.choice([0.3, 0.7, 1.0]))
        rows = range(len(features["input_ids"]))
        units_and_budgets = [reference_units_and_budget(features, row, config) for row in rows]
        order, lengths = random_choices(rng, [len(u) for u, _ in units_and_budgets], 32,
                                        config.ngram)
        covered = compiled_selection(config)(
            features["input_ids"], features["input_mask"], features["token_boundary"], order,
            lengths).numpy()
        for row, (units, budget) in zip(rows, units_and_budgets):
            expected = reference_covered(units, budget, order[row].tolist(), lengths[row].tolist())
            assert np.flatnonzero(covered[row]).tolist() == expected, f"row {row}"


def test_mask_batch_selects_what_the_reference_selects_with_its_own_draws():
    """End to end: mask_batch's positions are the reference's, given mask_batch's own choices."""
    for seed in ([11, 12], [13, 14]):
        features = synthetic_features(seed[0], seq_length=40)
        check_selection_matches_reference(features, run_masker(features, seed), seed, CONFIG)


def test_num_to_predict_rounds_like_python():
    num_tokens = np.arange(0, 513)
    mask = (np.arange(512)[None, :] < num_tokens[:, None]).astype(np.int32)
    for prob in (0.15, 0.1, 0.05, 0.25, 0.5, 0.3):  # many exact .5 products: half to even
        config = config_with(max_predictions_per_seq=60, masked_lm_prob=prob)
        expected = [reference_num_to_predict(int(n), config) for n in num_tokens]
        assert dm._num_to_predict(tf.constant(mask), config).numpy().tolist() == expected


# === Output invariants ===
@pytest.mark.parametrize("config", [CONFIG, SELECTION_CONFIGS[2], SELECTION_CONFIGS[3]],
                         ids=["default", "ngram4", "no_whole_word"])
def test_outputs_follow_the_rules(config):
    counts = []
    for seed in range(4):
        features = synthetic_features(seed, batch=128, seq_length=64)
        counts += check_outputs(features, run_masker(features, [seed, 1], config), config)
    predicted, budget, candidates = np.asarray(counts).T
    enough = candidates >= budget
    # A row can end short of its budget even with enough candidates: the budget left may be
    # smaller than every unit left, or the last fitting spans touch covered ones (skipped, as in
    # the reference). It stays rare (about 2% of rows here).
    assert np.mean(predicted[enough] == budget[enough]) > 0.95
    assert np.all(predicted[~enough] <= candidates[~enough])


def test_single_token_units_always_fill_the_budget():
    """With one-token units and 1-grams nothing can stop short: exactly min(budget, candidates)."""
    config = config_with(max_predictions_per_seq=12, masked_lm_prob=0.4, ngram=1,
                         do_whole_word_mask=False)
    features = synthetic_features(3, batch=128, seq_length=40)
    counts = np.asarray(check_outputs(features, run_masker(features, [5, 5], config), config))
    np.testing.assert_array_equal(counts[:, 0], np.minimum(counts[:, 1], counts[:, 2]))


def test_budget_caps_and_tiny_rows():
    config = config_with(max_predictions_per_seq=4, masked_lm_prob=0.9)
    features = synthetic_features(4, batch=32, seq_length=24)
    # Row 0: one candidate; row 1: none ([CLS] [SEP]); row 2: all padding.
    for row, tokens in enumerate(([CLS, 77, SEP], [CLS, SEP], [])):
        for key in ("input_ids", "input_mask", "token_boundary"):
            features[key][row] = 0
        features["input_ids"][row, :len(tokens)] = tokens
        features["input_mask"][row, :len(tokens)] = 1
    features["token_boundary"][0, 1] = 0  # a continuation piece with no word before it
    for seed in range(5):
        outputs = run_masker(features, [seed, 0], config)
        counts = np.asarray(check_outputs(features, outputs, config))
        assert counts[:, 0].max() <= 4
        assert outputs["masked_lm_positions"][0, 0] == 1 and outputs["masked_lm_weights"][0, 0] == 1
        assert outputs["masked_lm_weights"][1:3].sum() == 0


def test_sequences_shorter_than_max_predictions_are_padded():
    config = config_with(masked_lm_prob=1.0)
    features = synthetic_features(5, batch=8, seq_length=8)
    outputs = run_masker(features, [1, 2], config)
    assert outputs["masked_lm_positions"].shape == (8, 20)
    check_outputs(features, outputs, config)


# === Rule 4: replacement ===
def test_replacement_is_80_10_10():
    config = config_with(max_predictions_per_seq=40, masked_lm_prob=0.3)
    masked = kept = replaced = 0
    for seed in range(4):
        features = synthetic_features(seed, batch=256, seq_length=128, min_length=40)
        outputs = run_masker(features, [seed, 9], config)
        weights = outputs["masked_lm_weights"] > 0
        now = np.take_along_axis(outputs["input_ids"], outputs["masked_lm_positions"], 1)[weights]
        before = outputs["masked_lm_ids"][weights]
        masked += np.sum(now == MASK)
        kept += np.sum(now == before)
        replaced += np.sum((now != MASK) & (now != before))
        assert np.all((now >= 0) & (now < VOCAB))
    total = masked + kept + replaced
    # ~25k draws: the standard error of a fraction is <= 0.003, so 0.015 is 5+ sigma.
    assert total > 20000
    np.testing.assert_allclose([masked / total, kept / total, replaced / total], [0.8, 0.1, 0.1],
                               atol=0.015)


# === Rule 3's random choices ===
def drawn_length_frequencies(config, num_rows=2000, num_units=64):
    """Frequencies of the drawn n, split by how many units are left from the unit to the end."""
    lengths = dm._draw_ngram_lengths(tf.constant([3, 4], tf.int64),
                                     tf.fill([num_rows], num_units), num_units, config).numpy()
    by_units_left = {}
    for left in (1, 2, config.ngram):
        columns = lengths[:, :num_units - left + 1] if left == config.ngram else lengths[:, [-left]]
        drawn = columns.ravel()
        by_units_left[left] = np.bincount(drawn, minlength=config.ngram + 1)[1:] / drawn.size
    return by_units_left


def test_drawn_ngram_lengths_favor_shorter():
    frequencies = drawn_length_frequencies(CONFIG)
    # ~124k draws away from the end: standard error <= 0.0015, 0.01 is 6+ sigma. 2000 draws
    # for each end column: standard error <= 0.011, 0.05 is 4.5+ sigma.
    np.testing.assert_allclose(frequencies[3], [6 / 11, 3 / 11, 2 / 11], atol=0.01)
    # Two units left: n = 3 is cut to 2, as in the original (p(2) = 3/11 + 2/11).
    np.testing.assert_allclose(frequencies[2], [6 / 11, 5 / 11, 0], atol=0.05)
    np.testing.assert_array_equal(frequencies[1], [1, 0, 0])


def test_drawn_ngram_lengths_reversed_when_not_favoring_shorter():
    config = config_with(favor_shorter_ngram=False)
    frequencies = drawn_length_frequencies(config)
    np.testing.assert_allclose(frequencies[3], [2 / 11, 3 / 11, 6 / 11], atol=0.01)
    np.testing.assert_allclose(frequencies[2], [2 / 11, 9 / 11, 0], atol=0.05)
    np.testing.assert_array_equal(frequencies[1], [1, 0, 0])


def test_drawn_lengths_are_zero_past_the_last_unit():
    lengths = dm._draw_ngram_lengths(tf.constant([1, 1], tf.int64), tf.constant([0, 1, 5]), 8,
                                     CONFIG).numpy()
    assert np.all(lengths[0] == 0) and lengths[1].tolist() == [1] + [0] * 7
    assert np.all(lengths[2, :5] >= 1) and np.all(lengths[2, 5:] == 0)


def test_unit_order_is_a_uniform_permutation():
    order = dm._random_unit_order(tf.constant([5, 6], tf.int64), tf.fill([24000], 4), 6).numpy()
    np.testing.assert_array_equal(np.sort(order[:, :4], axis=1), np.tile(np.arange(4), (24000, 1)))
    np.testing.assert_array_equal(order[:, 4:], np.tile([4, 5], (24000, 1)))
    _, counts = np.unique(order[:, :4], axis=0, return_counts=True)
    # 24 permutations, 1000 expected each, standard deviation ~31: 150 is ~5 sigma.
    assert len(counts) == 24 and np.all(np.abs(counts - 1000) < 150)


# === Reproducibility and tf.data ===
def test_same_seed_same_masks_other_seed_other_masks():
    features = synthetic_features(8, seq_length=64)
    first, again = run_masker(features, [1, 2]), run_masker(features, [1, 2])
    other = run_masker(features, [1, 3])
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["masked_lm_positions"], other["masked_lm_positions"])
    assert not np.array_equal(first["input_ids"], other["input_ids"])


def test_tf_data_pipeline_is_static_reproducible_and_resumable():
    features = synthetic_features(9, batch=48, seq_length=32)
    features = {**features, "input_ids": features["input_ids"].astype(np.int64)}  # as parsed
    dataset = (tf.data.Dataset.from_tensor_slices(features).batch(16, drop_remainder=True)
               .enumerate().map(dynamic_masking_fn(CONFIG, base_seed=1234)))
    spec = dataset.element_spec
    assert spec["input_ids"] == tf.TensorSpec([16, 32], tf.int32)
    assert spec["masked_lm_positions"] == tf.TensorSpec([16, 20], tf.int32)
    assert spec["masked_lm_ids"] == tf.TensorSpec([16, 20], tf.int32)
    assert spec["masked_lm_weights"] == tf.TensorSpec([16, 20], tf.float32)
    assert spec["segment_ids"] == tf.TensorSpec([16, 32], tf.int32)  # passed through
    first = [numpy_dict(batch) for batch in dataset]
    second = [numpy_dict(batch) for batch in dataset]
    for a, b in zip(first, second):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(first[0]["masked_lm_positions"], first[1]["masked_lm_positions"])
    # A run resumed at batch 2 (enumerate(start=...)) sees the masks batch 2 had.
    batch = {k: v[32:48] for k, v in features.items()}
    resumed_dataset = (tf.data.Dataset.from_tensor_slices(batch).batch(16).enumerate(start=2)
                       .map(dynamic_masking_fn(CONFIG, base_seed=1234)))
    resumed = numpy_dict(next(iter(resumed_dataset)))
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], first[2][key])
    int32_features = {**batch, "input_ids": batch["input_ids"].astype(np.int32)}
    check_outputs(int32_features, first[2], CONFIG)


def test_unknown_batch_size_keeps_sequence_and_prediction_widths():
    features = synthetic_features(10, batch=20, seq_length=32)
    dataset = (tf.data.Dataset.from_tensor_slices(features).batch(16)
               .enumerate().map(dynamic_masking_fn(CONFIG, base_seed=1)))
    assert dataset.element_spec["masked_lm_ids"].shape.as_list() == [None, 20]
    assert dataset.element_spec["input_ids"].shape.as_list() == [None, 32]
    sizes = [batch["input_ids"].shape[0] for batch in dataset]
    assert sizes == [16, 4]


# === Real SentencePiece text ===
def test_real_sentencepiece_batch():
    model = REALDATA / "assets" / "albert_en_spm" / "30k-clean.model"
    text = REALDATA / "text" / "en" / "bert_sample_text.txt"
    if not model.exists() or not text.exists():
        pytest.skip(f"real data not available: {model} / {text} (set ALBERT_TF_REALDATA)")
    tokenizer = SentencePieceTokenizer(str(model))
    lines = [line for line in text.read_text(encoding="utf-8").splitlines() if line.strip()]
    packed = tokenizer.pack_batch(lines[:-1], lines[1:], max_seq_length=96)  # neighbours
    ids, mask = packed.input_ids, packed.input_mask
    pieces = [tokenizer.convert_ids_to_tokens(row) for row in ids]
    boundary = np.asarray([[int(p.startswith("▁")) for p in row] for row in pieces], np.int32)
    boundary[mask == 0] = 0
    features = dict(input_ids=ids, input_mask=mask, token_boundary=boundary,
                    segment_ids=packed.segment_ids)
    config = MaskingConfig(max_predictions_per_seq=15, vocab_size=tokenizer.vocab_size,
                           mask_id=tokenizer.mask_id,
                           special_ids=(tokenizer.cls_id, tokenizer.sep_id))
    multi_piece_words_masked = 0
    for seed in ([0, 42], [1, 42], [2, 42]):
        outputs = run_masker(features, seed, config)
        counts = np.asarray(check_outputs(features, outputs, config))  # incl. whole words
        assert np.mean(counts[:, 0] == counts[:, 1]) > 0.8
        check_selection_matches_reference(features, outputs, seed, config)
        for row in range(len(ids)):
            chosen = set(outputs["masked_lm_positions"][row][outputs["masked_lm_weights"][row] > 0])
            units, _ = reference_units_and_budget(features, row, config)
            multi_piece_words_masked += sum(len(u) > 1 and u[0] in chosen for u in units)
    assert multi_piece_words_masked > 0, "the whole-word rule was never exercised"
