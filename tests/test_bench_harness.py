"""The benchmark harness: CPU flags in reports, resident workers timed in rotation, and the peers' batches
built with albert-tf's own length policies (fine-tuning buckets, serving chunks)."""

import sys
import textwrap

import numpy as np
import pytest

import bench_finetuning
import bench_serving
import interleave
import machine_info

SAPPHIRE_RAPIDS = textwrap.dedent("""\
    processor\t: 0
    model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
    flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile
    processor\t: 1
    flags\t\t: fpu
    """)


def test_cpu_flags_read_from_the_first_processor():
    flags = machine_info.flags_from_cpuinfo(SAPPHIRE_RAPIDS)
    assert flags["amx_bf16"] and flags["amx_tile"] and flags["avx512_bf16"] and flags["avx2"]
    assert flags["avx_vnni"] is False
    line = machine_info.describe_flags(flags)
    assert line.startswith("CPU flags: avx2 fma avx512f avx512_bf16 avx512_vnni amx_tile amx_bf16")
    assert line.endswith("; no avx_vnni")


def test_cpu_flags_unknown_without_a_flags_line():
    flags = machine_info.flags_from_cpuinfo("model name : Apple M2\n")
    assert set(flags.values()) == {None}
    assert machine_info.describe_flags(flags) == "CPU flags unknown"


def test_this_machine_is_described_with_its_flags():
    assert "CPU flags" in machine_info.describe()


# A worker answering "run N" with N squared; it dies on "run 13" (exit code 3).
FAKE_WORKER = """
import sys
sys.path.insert(0, {bench!r})
import interleave

def handle(argument):
    if argument == "13":
        sys.exit(3)
    return {{"value": int(argument) ** 2, "name": {name!r}}}

interleave.serve(handle, {{"name": {name!r}}})
"""


def fake_worker_cmd(name):
    return [sys.executable, "-c", FAKE_WORKER.format(bench=str(machine_info.__file__).rsplit("/", 1)[0], name=name)]


def test_rounds_hand_each_request_to_every_worker_in_rotation(tmp_path):
    workers, ready = interleave.start_in_turn({n: fake_worker_cmd(n) for n in "abc"}, str(tmp_path))
    assert [r["name"] for r in ready.values()] == ["a", "b", "c"]
    calls = []
    rounds = interleave.run_rounds(workers, ["2", "3", "4"], lambda name, i, reply: calls.append((i, name, reply)))
    finals = interleave.close_all(workers)
    assert rounds == 3
    assert [(i, name) for i, name, _ in calls] == [(0, "a"), (0, "b"), (0, "c"), (1, "b"), (1, "c"), (1, "a"),
                                                 (2, "c"), (2, "a"), (2, "b")]
    assert all(reply["value"] == int(["2", "3", "4"][i]) ** 2 and reply["name"] == name for i, name, reply in calls)
    assert all(reply["cpu_s"] >= 0 for _, _, reply in calls)
    assert all(final["peak_rss_mib"] > 0 for final in finals.values())


def test_a_worker_that_dies_is_reported_and_dropped(tmp_path):
    workers, _ = interleave.start_in_turn({n: fake_worker_cmd(n) for n in "ab"}, str(tmp_path))
    calls = []
    interleave.run_rounds(workers, ["2", "13", "4"], lambda name, i, reply: calls.append((i, name, reply)))
    interleave.close_all(workers)
    errors = [(i, name, reply["error"]) for i, name, reply in calls if "error" in reply]
    assert [(i, name) for i, name, _ in errors] == [(1, "b"), (1, "a")]
    assert "exited with 3" in errors[0][2]
    assert list(workers) == []


def test_rounds_stop_at_the_deadline(tmp_path):
    workers, _ = interleave.start_in_turn({"a": fake_worker_cmd("a")}, str(tmp_path))
    assert interleave.run_rounds(workers, ["1", "2"], lambda *_: None, deadline=0) == 0
    interleave.close_all(workers)


def test_spread_order_is_a_permutation_whose_prefixes_span_the_epoch():
    order = bench_finetuning.spread_order(125)
    assert sorted(order) == list(range(125))
    first = order[:10]
    assert min(first) < 15 and max(first) > 110
    assert len({step // 25 for step in first}) == 5  # every fifth of the epoch is sampled


@pytest.fixture(scope="module")
def sst2_like_meta(tmp_path_factory, spm_model_file):
    """Feature-cache meta of 256 made-up SST-2 rows of 1 to 60 words."""
    from albert_tf.finetuning import feature_cache, get_task
    from albert_tf.tokenization import tokenizer_from_assets
    data = tmp_path_factory.mktemp("sst2")
    rng = np.random.RandomState(0)
    words = ["hello", "world", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"]
    rows = [" ".join(rng.choice(words, int(rng.choice([2, 3, 5, 9, 14, 20, 35, 60])))) for _ in range(256)]
    (data / "train.tsv").write_text("sentence\tlabel\n" + "".join(f"{r}\t{i % 2}\n" for i, r in enumerate(rows)))
    task = get_task("SST-2")
    examples = task.read_split(str(data), "train", True)
    tokenizer = tokenizer_from_assets(spm_model_file)
    meta = feature_cache.cached_features(str(data / "cache"), task, "train", str(data / "train.tsv"), examples,
                                         tokenizer, bench_finetuning.SEQ, labelled=True)
    return meta, tokenizer.pack_batch(rows, max_seq_length=bench_finetuning.SEQ), [i % 2 for i in range(256)]


def test_peer_buckets_are_albert_tf_buckets(sst2_like_meta):
    from albert_tf.finetuning import datasets
    meta, _, _ = sst2_like_meta
    batches = bench_finetuning.bucket_batches(meta, 6)
    lengths = datasets.bucket_lengths(bench_finetuning.SEQ)
    for batch in batches:
        width = batch["ids"].shape[1]
        real = batch["mask"].sum(axis=1)
        assert batch["ids"].shape[0] == bench_finetuning.BATCH and width in lengths
        lower = max([length for length in lengths if length < width], default=0)
        assert real.max() <= width and real.min() > lower, (width, real)  # each row in its own bucket
        assert (batch["ids"][batch["mask"] == 0] == 0).all()
    assert len({b["ids"].shape[1] for b in batches}) > 1
    warm = bench_finetuning.first_of_each_width(batches, range(6))
    assert sorted({batches[s]["ids"].shape[1] for s in warm}) == sorted({b["ids"].shape[1] for b in batches})


def test_dynamic_padding_cuts_each_batch_to_its_longest_row(sst2_like_meta):
    _, packed, labels = sst2_like_meta
    batches, members = bench_finetuning.dynamic_batches(packed, labels, 8)
    assert sorted(i for index in members for i in index) == list(range(256))
    for batch, index in zip(batches, members):
        assert batch["ids"].shape[1] == batch["mask"].sum(axis=1).max() == packed.input_mask[index].sum(1).max()
        assert (batch["labels"] == np.asarray(labels)[index]).all()


@pytest.mark.parametrize("rows", [1, 3, 4, 7, 32, 33, 50])
def test_peer_chunks_are_the_export_chunks(rows):
    """The serving peer's chunks give every row the width albert-tf's `in_length_chunks` gives it."""
    import tensorflow as tf

    from albert_tf.export import serving
    from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS
    lengths = np.random.RandomState(rows).randint(3, 60, size=rows)
    mask = (np.arange(64)[None, :] < lengths[:, None]).astype(np.int32)
    inputs = {INPUT_WORD_IDS: tf.constant(mask * 7), INPUT_MASK: tf.constant(mask),
              INPUT_TYPE_IDS: tf.zeros_like(mask)}
    # The model of each chunk answers with the chunk's width, in every row of it.
    widths = serving.in_length_chunks(
        lambda part: tf.cast(tf.fill([tf.shape(part[INPUT_MASK])[0], 1], tf.shape(part[INPUT_MASK])[1]), tf.float32),
        inputs, 1)[:, 0].numpy()
    ours = np.zeros(rows)
    for index, width in bench_serving.sorted_chunks(lengths, serving.MAX_CHUNKS, serving.MIN_CHUNK_ROWS):
        ours[index] = width
    np.testing.assert_array_equal(ours, widths)


def test_shared_spread_order_spans_the_epoch_from_its_first_steps():
    order = interleave.spread_order(125)
    assert sorted(order) == list(range(125))
    assert len({step // 25 for step in order[:10]}) == 5
    assert interleave.spread_order(1) == [0] and interleave.spread_order(0) == []


def test_warmup_steps_cover_each_width_once_in_timing_order():
    widths = [8, 16, 8, 32, 16]
    assert interleave.first_of_each_width(widths, [4, 3, 2, 1, 0]) == [4, 3, 2]
    assert interleave.first_of_each_width(widths, [0, 1, 2, 3, 4]) == [0, 1, 3]


def test_verdict_says_met_only_at_or_over_the_target():
    assert interleave.verdict(2.0, 2.0) == " (target >= 2.0x: met)"
    assert interleave.verdict(1.99, 2.0) == " (target >= 2.0x: NOT met)"
    assert interleave.verdict(0.5, None) == ""


def test_ner_peer_groups_word_tags_into_strict_iob2_entities():
    import ner_speed
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-PER", "B-LOC", "B-LOC", "I-LOC"]
    spans = [(i * 10, i * 10 + 5) for i in range(len(tags))]
    # I- after O or after another type starts nothing (seqeval strict IOB2); B- always starts a new entity.
    assert ner_speed.strict_entities(tags, spans) == [("PER", 0, 15), ("ORG", 40, 45), ("LOC", 60, 65),
                                                      ("LOC", 70, 85)]


def test_fine_tuning_xla_worker_is_compared_with_albert_tf_not_with_the_peers():
    summary = {"albert_tf": {"rate": 20.0}, "albert_tf_xla": {"rate": 25.0}, "hf_buckets": {"rate": 10.0}}
    rows = {label: ratio for label, ratio, _ in bench_finetuning.headline_ratios(summary)}
    assert rows["albert-tf fp32 with XLA / albert-tf fp32 without XLA"] == pytest.approx(1.25)
    # The XLA worker is albert-tf itself: never the best-configured peer.
    assert rows["albert-tf fp32 / best-configured peer at fp32 (hf_buckets)"] == pytest.approx(2.0)
    assert bench_finetuning.IMPLS["albert_tf_xla"][:3] == ("albert_tf", "buckets", "fp32")
    assert "albert_tf_xla" in bench_finetuning.ALWAYS_XLA
