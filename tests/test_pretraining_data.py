"""albert-create-pretraining-data: encoding, corpus handling, the algorithm, reproducibility, bad input."""

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import pretraining_testlib as lib
from albert_tf.data import corpus, generation, instances, masking, meta as meta_lib
from albert_tf.data.example_proto import encode_varints, serialize_example, serialize_examples
from albert_tf.data.tfrecord import TFRecordWriter

testlib = lib.testlib
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("assets")
    return {"spm": testlib.build_spm_model(d), "vocab": testlib.build_vocab(d)}


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return lib.write_corpus(tmp_path_factory.mktemp("corpus") / "text.txt", num_documents=80)


def _settings(**overrides):
    base = dict(max_seq_length=48, max_predictions_per_seq=8, dupe_factor=2, random_seed=7)
    base.update(overrides)
    return generation.GenerationSettings(**base)


def _generate(tmp_path, input_file, spec, name="out", workers=1, **overrides):
    out = tmp_path / name
    meta = generation.generate(str(input_file), str(out), _settings(**overrides), spec, num_workers=workers,
                               log=lambda message: None)
    return out, meta


def _sha256s(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(directory).iterdir())
            if p.suffix == ".tfrecord"}


# === Encoding ===
@pytest.mark.parametrize("values", [[1, 2, 300000], [0], [], [-1, 5], [2**62, 127, 128, 16383, 16384, 65536]])
def test_examples_are_byte_identical_to_tensorflow(values):
    ours = serialize_example({"input_ids": values, "x": b"\x01\x00"}, {"w": [1.0, 0.5]})
    reference = tf.train.Example(features=tf.train.Features(feature={
        "input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=values)),
        "x": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 0])),
        "w": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 0.5]))}))
    assert ours == reference.SerializeToString(deterministic=True)


def test_prepacked_values_must_be_single_bytes():
    with pytest.raises(ValueError, match="below 128"):
        encode_varints(b"\x80")


def test_tfrecords_match_tensorflow_writer_and_failures_leave_nothing(tmp_path):
    records = [serialize_example({"a": list(range(n))}) for n in range(1, 40)]
    with TFRecordWriter(tmp_path / "ours.tfrecord") as writer:
        for record in records:
            writer.write(record)
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
        for record in records:
            writer.write(record)
    assert (tmp_path / "ours.tfrecord").read_bytes() == (tmp_path / "tf.tfrecord").read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "ours.tfrecord"))] == records

    with pytest.raises(RuntimeError):
        with TFRecordWriter(tmp_path / "broken.tfrecord") as writer:
            writer.write(records[0])
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.tfrecord", "tf.tfrecord"]


# === Corpus ===
def test_units_split_at_document_boundaries_without_losing_text(corpus_file):
    whole = list(corpus.iter_documents(corpus.WorkUnit(0, str(corpus_file), 0, corpus_file.stat().st_size),
                                       corpus.ReadCounters(), max_line_chars=10**6))
    units = corpus.plan_units([str(corpus_file)], 1024)
    assert len(units) > 3
    assert units[0].start == 0 and units[-1].end == corpus_file.stat().st_size
    assert all(a.end == b.start for a, b in zip(units, units[1:]))
    pieces = [d for u in units for d in corpus.iter_documents(u, corpus.ReadCounters(), max_line_chars=10**6)]
    assert pieces == whole and len(whole) == 80


def test_invalid_utf8_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("first line\nsecond é\n\nthird \xff line\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(corpus.CorpusError, match=r"bad.txt:4: invalid UTF-8 at byte"):
        corpus.check_utf8(path)
    counters = corpus.ReadCounters()
    unit = corpus.WorkUnit(0, str(path), 0, path.stat().st_size)
    documents = list(corpus.iter_documents(unit, counters, max_line_chars=100, invalid_utf8="skip"))
    assert documents == [["first line", "second é"]] and counters.skipped_invalid_lines == 1


def test_long_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("short one\n" + "x" * 5000 + "\nshort two\n", encoding="utf-8")
    counters, warnings = corpus.ReadCounters(), []
    unit = corpus.WorkUnit(0, str(path), 0, path.stat().st_size)
    documents = list(corpus.iter_documents(unit, counters, max_line_chars=1000, warn=warnings.append))
    assert documents == [["short one", "short two"]]
    assert counters.skipped_long_lines == 1 and "long.txt:2" in warnings[0]


def test_missing_patterns_are_named(tmp_path):
    with pytest.raises(corpus.CorpusError, match="nothing-here"):
        corpus.resolve_input_files(f"{tmp_path}/nothing-here*.txt")


# === The algorithm ===
def _original_truncation_totals(len_a, len_b, max_tokens):
    """The original's loop, counting only which side loses each token."""
    from_a = from_b = 0
    while len_a + len_b > max_tokens:
        if len_a > len_b:
            len_a, from_a = len_a - 1, from_a + 1
        else:
            len_b, from_b = len_b - 1, from_b + 1
    return from_a, from_b


def test_truncation_totals_match_the_original_loop():
    rng = random.Random(0)
    for _ in range(3000):
        len_a, len_b, max_tokens = rng.randint(1, 300), rng.randint(1, 300), rng.randint(2, 300)
        assert instances.tokens_to_remove(len_a, len_b, max_tokens) == \
            _original_truncation_totals(len_a, len_b, max_tokens)


def _synthetic_sequence(rng, length, start_probability=0.6):
    ids = rng.integers(10, 1000, size=length).astype(np.int32)
    ids[0], ids[length // 2], ids[-1] = 2, 3, 3
    special = np.zeros(length, bool)
    special[[0, length // 2, length - 1]] = True
    starts = (rng.random(length) < start_probability).astype(np.uint8)
    starts[special] = 1
    return ids, starts, special


def _synthetic_rows(rng, count, min_length=8, max_length=128, start_probability=0.6):
    sequences = [_synthetic_sequence(rng, int(rng.integers(min_length, max_length)), start_probability)
                 for _ in range(count)]
    return sequences, masking.pad_rows(sequences, max_length)


def _masker(settings, seed):
    return masking.Masker(settings, vocab_size=1000, mask_id=4, rng=np.random.default_rng(seed))


def test_masking_rules_hold_on_many_sequences():
    settings = masking.MaskingSettings(max_predictions_per_seq=20, masked_lm_prob=0.15)
    rng = np.random.default_rng(0)
    sequences, rows = _synthetic_rows(rng, 400)
    result = _masker(settings, 1).mask_rows(rows)
    empty = 0
    for row, (ids, starts, special) in enumerate(sequences):
        length = len(ids)
        k = int(result.num_predictions[row])
        positions = result.positions[row, :k].astype(int)
        assert not result.positions[row, k:].any() and not result.labels[row, k:].any()
        budget = masking.num_to_predict(length, settings)
        # Zero only when every whole word is longer than the budget (as in the original).
        assert len(positions) <= budget
        empty += len(positions) == 0
        assert list(positions) == sorted(set(positions.tolist()))
        assert not special[positions].any()
        np.testing.assert_array_equal(result.labels[row, :k], ids[positions])
        untouched = np.setdiff1d(np.arange(length), positions)
        np.testing.assert_array_equal(result.input_ids[row, untouched], ids[untouched])
        # whole words: a unit is either fully selected or not at all
        candidates = np.flatnonzero(~special)
        begins_unit = starts[candidates] == 1
        begins_unit[0] = True  # a leading continuation piece still opens a unit
        unit_id = np.cumsum(begins_unit) - 1
        chosen = np.isin(candidates, positions)
        for unit in np.unique(unit_id):
            members = chosen[unit_id == unit]
            assert members.all() or not members.any()
    assert empty < 20
    total = result.num_predictions.sum()
    assert result.replaced_with_mask + result.kept + result.randomized == total
    masked_to_mask = sum((result.input_ids[r, result.positions[r, :k]] == 4).sum()
                         for r, k in enumerate(result.num_predictions))
    assert masked_to_mask >= result.replaced_with_mask
    assert abs(result.replaced_with_mask / total - 0.8) < 0.03
    assert abs(result.kept / total - 0.1) < 0.02 and abs(result.randomized / total - 0.1) < 0.02


def _reference_selection(units, budget, order, drawn):
    """Rule 3 row by row, as the original loop: `units` are lists of positions."""
    covered, used = set(), []
    for unit in order[:len(units)]:
        if len(covered) >= budget:
            break
        n = min(drawn[unit], len(units) - unit)  # the span stops at the last unit
        while n > 1 and len(covered) + sum(len(u) for u in units[unit:unit + n]) > budget:
            n -= 1
        span = [position for u in units[unit:unit + n] for position in u]
        if len(covered) + len(span) > budget or not covered.isdisjoint(span):
            continue
        covered.update(span)
        used.append(n)
    return sorted(covered), used


@pytest.mark.parametrize("whole_word, ngram, prob", [(True, 3, 0.15), (True, 4, 0.5), (False, 3, 0.3),
                                                     (True, 1, 0.2)])
def test_vectorized_selection_equals_the_row_by_row_loop(whole_word, ngram, prob):
    settings = masking.MaskingSettings(max_predictions_per_seq=12, masked_lm_prob=prob, ngram=ngram,
                                       do_whole_word_mask=whole_word)
    rng = np.random.default_rng(ngram)
    sequences, rows = _synthetic_rows(rng, 300, min_length=4, max_length=48, start_probability=0.5)
    units = masking.word_units(rows, whole_word)
    budget = masking.num_to_predict(rows.lengths, settings)
    order = np.argsort(np.where(np.arange(48) < units.num_units[:, None], rng.random((300, 48)), 2),
                       axis=1, kind="stable")
    drawn = rng.integers(1, ngram + 1, size=(300, 48))
    selection = masking.select_spans(units, budget, order, drawn, ngram)
    used_total = np.zeros(ngram + 1, np.int64)
    for row in range(300):
        unit_of = units.unit_id[row]
        row_units = [np.flatnonzero(unit_of == u).tolist() for u in range(units.num_units[row])]
        expected, used = _reference_selection(row_units, budget[row], order[row].tolist(),
                                              drawn[row].tolist())
        got = np.flatnonzero((unit_of >= 0) & selection.covered_units[row, np.maximum(unit_of, 0)])
        assert got.tolist() == expected, f"row {row}"
        used_total += np.bincount(used, minlength=ngram + 1).astype(np.int64)
    np.testing.assert_array_equal(selection.ngram_used, used_total)


@pytest.mark.parametrize("favor_shorter, expected", [(True, [6 / 11, 3 / 11, 2 / 11]),
                                                      (False, [2 / 11, 3 / 11, 6 / 11])])
def test_ngram_lengths_are_drawn_with_inverse_length_probabilities(favor_shorter, expected):
    settings = masking.MaskingSettings(max_predictions_per_seq=400, masked_lm_prob=0.5,
                                       favor_shorter_ngram=favor_shorter)
    rng = np.random.default_rng(1)
    _, rows = _synthetic_rows(rng, 60, min_length=499, max_length=500, start_probability=1.0)
    drawn = _masker(settings, 2).mask_rows(rows).ngram_drawn[1:]
    np.testing.assert_allclose(drawn / drawn.sum(), expected, atol=0.02)


def test_span_running_past_the_last_unit_is_cut_there_as_in_the_original():
    # [CLS] w1 w2 [SEP] with a budget of 2: one span [w1 w2] needs unit w1 visited first (p 1/2)
    # and n >= 2 drawn over all of 1..3 (p 3/11 + 2/11), so p = 5/22; renormalizing n over the
    # units left would give 1/6. 6000 rows: standard error 0.0054.
    settings = masking.MaskingSettings(max_predictions_per_seq=20, masked_lm_prob=0.5)
    sequence = (np.array([2, 10, 11, 3], np.int32), np.array([0, 1, 1, 0], np.uint8),
                np.array([True, False, False, True]))
    result = _masker(settings, 5).mask_rows(masking.pad_rows([sequence] * 6000, 4))
    assert (result.num_predictions == 2).all()
    one_span, two_single = result.ngram_used[2], result.ngram_used[1]
    assert one_span + two_single // 2 == 6000 and two_single % 2 == 0
    assert abs(one_span / 6000 - 5 / 22) < 0.025


def test_batch_serialization_equals_one_record_at_a_time():
    rng = np.random.default_rng(3)
    ints = {"input_ids": rng.integers(0, 40000, (50, 16)), "flags": rng.integers(0, 2, (50, 16)),
            "large": rng.integers(-3, 1 << 40, (50, 2)), "label": rng.integers(0, 2, (50, 1))}
    floats = {"weights": rng.random((50, 5))}
    records = serialize_examples(ints, floats)
    for row, record in enumerate(records):
        assert record == serialize_example({k: v[row].tolist() for k, v in ints.items()},
                                           {k: v[row].tolist() for k, v in floats.items()})
    example = tf.train.Example.FromString(records[7])
    assert list(example.features.feature["large"].int64_list.value) == ints["large"][7].tolist()


def test_budget_counts_special_tokens_and_rounds_half_to_even():
    settings = masking.MaskingSettings(max_predictions_per_seq=20, masked_lm_prob=0.15)
    assert masking.num_to_predict(10, settings) == 2      # 1.5 -> 2
    assert masking.num_to_predict(30, settings) == 4      # 4.5 -> 4 (half to even)
    assert masking.num_to_predict(3, settings) == 1       # never 0
    assert masking.num_to_predict(512, settings) == 20    # capped


def test_pairs_follow_sop_rules():
    rng = random.Random(3)
    # Document d holds segments of increasing ids, so order within a document is visible.
    documents = []
    next_id = 10
    for _ in range(30):
        document = []
        for _ in range(rng.randint(1, 6)):
            length = rng.randint(1, 12)
            ids = np.arange(next_id, next_id + length, dtype=np.int32)
            next_id += length
            document.append((ids, np.ones(length, np.uint8)))
        documents.append(document)
    owner = {int(i): d for d, doc in enumerate(documents) for seg in doc for i in seg[0]}
    builder = instances.PairBuilder(instances.PairSettings(max_seq_length=32, short_seq_prob=0.1),
                                    cls_id=2, sep_id=3, rng=rng, numpy_rng=np.random.default_rng(0))
    labels = []
    for index in range(len(documents)):
        for instance in builder.from_document(documents, index):
            ids = instance.input_ids
            assert len(ids) <= 32 and ids[0] == 2 and ids[-1] == 3
            sep = int(np.flatnonzero(instance.special)[1])
            a, b = ids[1:sep], ids[sep + 1:-1]
            assert len(a) >= 1 and len(b) >= 1
            assert (instance.segment_ids == (np.arange(len(ids)) > sep)).all()
            if instance.b_from_other_document:
                assert instance.label == 1 and owner[int(b[0])] != owner[int(a[0])] or len(documents[index]) == 1
            elif instance.label == 1:
                assert a.min() > b.max()  # swapped
            else:
                assert a.max() < b.min()  # natural order
            labels.append(instance.label)
    assert 0.3 < np.mean(labels) < 0.8


# === End to end ===
def test_generation_is_reproducible_and_independent_of_workers(tmp_path, corpus_file, assets):
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    overrides = dict(unit_bytes=4096)
    first, meta = _generate(tmp_path, corpus_file, spec, "one-a", **overrides)
    again, _ = _generate(tmp_path, corpus_file, spec, "one-b", **overrides)
    two, _ = _generate(tmp_path, corpus_file, spec, "two", workers=2, **overrides)
    assert len(meta.shards) > 2
    assert _sha256s(first) == _sha256s(again) == _sha256s(two)
    assert {s["file"]: s["sha256"] for s in meta.shards} == _sha256s(first)
    other_seed, _ = _generate(tmp_path, corpus_file, spec, "seed", random_seed=8, **overrides)
    assert _sha256s(other_seed) != _sha256s(first)


def test_records_and_meta_agree(tmp_path, corpus_file, assets):
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    out, meta = _generate(tmp_path, corpus_file, spec)
    records = lib.read_records(sorted(out.glob("*.tfrecord")))
    on_disk = json.loads((out / meta_lib.META_NAME).read_text())
    assert on_disk["instances"] == meta.instances == len(records) > 0
    assert on_disk["max_seq_length"] == 48 and on_disk["masking"] == "static" and on_disk["objective"] == "sop"
    assert on_disk["tokenizer"]["vocab_sha256"] == hashlib.sha256(Path(assets["spm"]).read_bytes()).hexdigest()
    for record in records:
        assert len(record["input_ids"]) == 48 and len(record["masked_lm_ids"]) == 8
        weights = record["masked_lm_weights"]
        k = int(weights.sum())
        assert set(weights[:k]) == {1.0} and not weights[k:].any()
        assert (record["input_ids"][record["input_mask"] == 0] == 0).all()
    stats = on_disk["statistics"]
    predictions = sum(int(r["masked_lm_weights"].sum()) for r in records)
    assert stats["predictions"] == predictions
    assert stats["label_one"] == sum(int(r["next_sentence_labels"][0]) for r in records)


def test_static_masks_hide_exactly_the_original_tokens(tmp_path, corpus_file, assets):
    """Static and dynamic datasets with one seed hold the same pairs; every label is the unmasked id."""
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    static_dir, _ = _generate(tmp_path, corpus_file, spec, "static")
    dynamic_dir, dynamic_meta = _generate(tmp_path, corpus_file, spec, "dynamic", dynamic_masking=True)
    assert dynamic_meta.masking == "dynamic"
    masked = lib.read_records(sorted(static_dir.glob("*.tfrecord")))
    plain = lib.read_records(sorted(dynamic_dir.glob("*.tfrecord")))
    assert len(masked) == len(plain) and "masked_lm_ids" not in plain[0]
    for m, p in zip(masked, plain):
        for name in ("input_mask", "segment_ids", "token_boundary", "next_sentence_labels"):
            np.testing.assert_array_equal(m[name], p[name])
        k = int(m["masked_lm_weights"].sum())
        positions = m["masked_lm_positions"][:k]
        np.testing.assert_array_equal(m["masked_lm_ids"][:k], p["input_ids"][positions])
        others = np.setdiff1d(np.arange(len(p["input_ids"])), positions)
        np.testing.assert_array_equal(m["input_ids"][others], p["input_ids"][others])


def test_wordpiece_vocab_works_too(tmp_path, corpus_file, assets):
    spec = generation.TokenizerSpec(vocab_file=str(assets["vocab"]))
    out, meta = _generate(tmp_path, corpus_file, spec, random_next_sentence=True)
    assert meta.objective == "nsp" and meta.tokenizer["type"] == "wordpiece" and meta.instances > 0
    assert 0.35 < meta.statistics["label_one_fraction"] < 0.75


# === Bad input ===
@pytest.mark.parametrize("overrides, flag", [
    (dict(max_seq_length=1024), "max_seq_length"),
    (dict(max_predictions_per_seq=0), "max_predictions_per_seq"),
    (dict(masked_lm_prob=1.5), "masked_lm_prob"),
    (dict(dupe_factor=0), "dupe_factor"),
    (dict(short_seq_prob=-0.1), "short_seq_prob"),
    (dict(ngram=0), "ngram"),
])
def test_bad_settings_name_the_flag(tmp_path, corpus_file, assets, overrides, flag):
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    with pytest.raises(generation.GenerationError, match=f"--{flag}="):
        _generate(tmp_path, corpus_file, spec, **overrides)
    assert not (tmp_path / "out").exists()  # checked before any output is created


def test_missing_vocab_is_named(tmp_path, corpus_file):
    spec = generation.TokenizerSpec(spm_model_file=str(tmp_path / "absent.model"))
    with pytest.raises(generation.GenerationError, match="--spm_model_file=.*absent.model: file not found"):
        _generate(tmp_path, corpus_file, spec)


def test_empty_and_tiny_inputs(tmp_path, assets):
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(corpus.CorpusError, match="every file is empty"):
        _generate(tmp_path, empty, spec)
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("the dog\n")
    messages = []
    meta = generation.generate(f"{empty},{tiny}", str(tmp_path / "tiny-out"), _settings(), spec,
                               log=messages.append)
    assert any("empty.txt is empty; skipped" in m for m in messages)
    # One document of one short line: B comes from "another" document, which is itself.
    assert meta.instances == 2 and meta.statistics["b_from_other_document"] == 2


def test_invalid_utf8_stops_before_any_output(tmp_path, corpus_file, assets):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\n\xff\xfe broken\n")
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    with pytest.raises(corpus.CorpusError, match="bad.txt:2: invalid UTF-8"):
        generation.generate(f"{corpus_file},{bad}", str(tmp_path / "out"), _settings(), spec, log=print)
    assert not (tmp_path / "out").exists()


def test_existing_dataset_is_not_overwritten_silently(tmp_path, corpus_file, assets):
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    out, _ = _generate(tmp_path, corpus_file, spec)
    with pytest.raises(generation.GenerationError, match="--overwrite"):
        _generate(tmp_path, corpus_file, spec)
    generation.generate(str(corpus_file), str(out), _settings(random_seed=9), spec, overwrite=True,
                        log=lambda m: None)
    assert json.loads((out / meta_lib.META_NAME).read_text())["random_seed"] == 9


def test_interrupted_run_leaves_no_shard_under_a_final_name(tmp_path, corpus_file, assets, monkeypatch):
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    calls = {"n": 0}
    real = generation.serialize_examples

    def failing(*args, **kwargs):  # the second dupe pass: the first is already in the shard
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(generation, "serialize_examples", failing)
    with pytest.raises(KeyboardInterrupt):
        _generate(tmp_path, corpus_file, spec)
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.setattr(generation, "serialize_examples", real)
    _, meta = _generate(tmp_path, corpus_file, spec)  # a rerun starts cleanly
    assert meta.instances > 0


def test_command_line(tmp_path, corpus_file, assets):
    out = tmp_path / "cli"
    inputs = []  # several files: several work units for the two workers
    for index in range(3):
        inputs.append(tmp_path / f"part{index}.txt")
        inputs[-1].write_text(Path(corpus_file).read_text(encoding="utf-8")[index * 100:], encoding="utf-8")
    command = [sys.executable, "-m", "albert_tf.cli.create_pretraining_data",
               f"--input_file={','.join(map(str, inputs))}",
               f"--output_dir={out}", f"--spm_model_file={assets['spm']}", "--max_seq_length=40",
               "--max_predictions_per_seq=6", "--dupe_factor=1", "--num_workers=2"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert "instances from" in done.stdout and "masked fraction" in done.stdout
    assert (out / meta_lib.META_NAME).exists()
    # The command line forks its workers (no TensorFlow in the parent); the output must still be
    # that of one worker with the same small units.
    one = subprocess.run([*command[:4], f"--output_dir={tmp_path / 'one'}", *command[5:-1], "--num_workers=1"],
                         capture_output=True, text=True, cwd=REPO, check=False)
    assert one.returncode == 0, one.stderr
    assert _sha256s(out) == _sha256s(tmp_path / "one") and len(_sha256s(out)) == 3
    bad = subprocess.run(command[:-1] + ["--max_seq_length=600"], capture_output=True, text=True, cwd=REPO,
                         check=False)
    assert bad.returncode == 1 and "--max_seq_length=600" in bad.stderr and "Traceback" not in bad.stderr


def test_a_corpus_giving_no_instance_is_refused_with_the_reason(tmp_path, assets):
    # One 2 MB line (a minified file, a paragraph-less dump): every line is skipped as too long.
    path = tmp_path / "one_line.txt"
    path.write_text("word " * 400_000 + "\n", encoding="utf-8")
    spec = generation.TokenizerSpec(spm_model_file=str(assets["spm"]))
    with pytest.raises(generation.GenerationError, match=r"0 training instances, so no dataset was written .*"
                                                         r"1 line\(s\) longer than --max_line_chars=1,000,000"):
        _generate(tmp_path, path, spec)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n\n", encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "albert_tf.cli.create_pretraining_data", f"--input_file={blank}",
                          f"--output_dir={tmp_path / 'cli'}", f"--spm_model_file={assets['spm']}"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0 and "0 training instances" in cli.stderr, cli.stderr[-2000:]
    assert not (tmp_path / "cli" / meta_lib.META_NAME).exists()


def _children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def test_pool_workers_die_with_the_killed_data_tool(tmp_path, assets):
    import os
    import signal
    import time
    corpus_path = lib.write_corpus(tmp_path / "big.txt", num_documents=6000)  # two 1 MB units: two busy workers
    tool = subprocess.Popen([sys.executable, "-m", "albert_tf.cli.create_pretraining_data",
                             f"--input_file={corpus_path}", f"--output_dir={tmp_path / 'out'}",
                             f"--spm_model_file={assets['spm']}", "--num_workers=2",
                             "--dupe_factor=10", "--max_seq_length=64"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers = []
    while time.time() < deadline and len(workers) < 2 and tool.poll() is None:
        time.sleep(0.2)
        workers = _children(tool.pid)
    assert len(workers) >= 2, "the data tool finished before its workers could be seen; use a bigger corpus"
    tool.send_signal(signal.SIGKILL)
    tool.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() and
                                         (Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z")
                                         for w in workers if Path(f"/proc/{w}").exists()):
        time.sleep(0.1)
    survivors = [w for w in workers if Path(f"/proc/{w}").exists()
                 and Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"]
    for w in survivors:
        os.kill(w, signal.SIGKILL)
    assert not survivors


def test_a_second_data_tool_on_the_output_dir_is_refused_naming_the_holder(tmp_path, corpus_file, assets):
    from albert_tf import output_lock

    out = tmp_path / "out"
    command = [sys.executable, "-m", "albert_tf.cli.create_pretraining_data", f"--input_file={corpus_file}",
               f"--output_dir={out}", f"--spm_model_file={assets['spm']}", "--max_seq_length=40",
               "--max_predictions_per_seq=6", "--dupe_factor=1"]
    with output_lock.OutputDirLock(str(out)):  # this process plays the first data tool
        second = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert second.returncode == 1 and "is in use by pid" in second.stderr, second.stderr[-2000:]
    assert "Traceback" not in second.stderr and not (out / meta_lib.META_NAME).exists()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / meta_lib.META_NAME).exists() and not (out / output_lock.LOCK_NAME).exists()
