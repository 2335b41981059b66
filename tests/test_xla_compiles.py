"""Fine-tuning with --jit_compile compiles one XLA program per batch shape, once: a program per training
bucket, one per evaluation bucket, and none after each bucket's first step."""

import collections
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from albert_tf.finetuning import datasets, feature_cache, get_task
from albert_tf.tokenization import tokenizer_from_assets

REPO = Path(__file__).resolve().parents[1]
TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
WORDS = "the quick brown fox jumps over lazy dog price rose city river album song great awful".split()
MAX_SEQ, TRAIN_BATCH, EVAL_BATCH = 32, 8, 16


def _write_sst2(directory: Path):
    """SST-2 files whose sentences spread over every length bucket: training sentences of 2 to 30 words in
    random order, dev sentences growing from 1 to 24 words (so its batches' longest rows differ)."""
    rng = random.Random(0)
    directory.mkdir()
    sizes = {"train": [rng.randint(2, 30) for _ in range(96)], "dev": [1 + i // 2 for i in range(48)]}
    for split, lengths in sizes.items():
        rows = [f"{' '.join(rng.choice(WORDS) for _ in range(n))}\t{i % 2}\n" for i, n in enumerate(lengths)]
        (directory / f"{split}.tsv").write_text("sentence\tlabel\n" + "".join(rows))


def test_eval_batches_in_bucket_widths_keep_every_token(spm_model_file, tmp_path):
    data = tmp_path / "SST-2"
    _write_sst2(data)
    task = get_task("SST-2")
    examples = task.read_split(str(data), "dev", True)
    meta = feature_cache.cached_features(str(tmp_path / "cache"), task, "dev", str(data / "dev.tsv"), examples,
                                         tokenizer_from_assets(spm_model_file), MAX_SEQ, labelled=True)
    trimmed = list(datasets.eval_dataset(meta, EVAL_BATCH, MAX_SEQ))
    bucketed = list(datasets.eval_dataset(meta, EVAL_BATCH, MAX_SEQ, bucket_widths=True))
    assert len(trimmed) == len(bucketed) == 3
    # Cut to the longest row, the widths are arbitrary; in bucket widths, each is the smallest bucket that holds it.
    buckets = datasets.bucket_lengths(MAX_SEQ)
    assert any(b[0]["input_word_ids"].shape[1] not in buckets for b in trimmed)
    for (x, y, w), (bx, by, bw) in zip(trimmed, bucketed):
        width, padded = x["input_word_ids"].shape[1], bx["input_word_ids"].shape[1]
        assert padded == min(length for length in buckets if length >= width)
        for name, value in x.items():
            np.testing.assert_array_equal(bx[name][:, :width], value)
            np.testing.assert_array_equal(bx[name][:, width:], 0)  # padding: id 0, mask 0
        np.testing.assert_array_equal(by, y)
        np.testing.assert_array_equal(bw, w)


def _compiled_shapes(dump_dir: Path):
    """{(batch rows, width): how many XLA programs were compiled for that input shape}, per function name."""
    shapes = collections.defaultdict(collections.Counter)
    for path in dump_dir.glob("*.before_optimizations.txt"):
        text = path.read_text()
        entry = re.search(r"ENTRY %(\S+) \(arg0[.\d]*: s32\[(\d+),(\d+)\]", text)
        assert entry, f"{path.name}: no int32 [batch, width] first argument"
        shapes[re.sub(r"\.\d+$", "", entry.group(1))][(int(entry.group(2)), int(entry.group(3)))] += 1
    return shapes


def test_jit_compile_compiles_each_bucket_once(spm_model_file, tmp_path):
    data = tmp_path / "SST-2"
    _write_sst2(data)
    config = tmp_path / "albert_config.json"
    config.write_text(json.dumps(TINY))
    dump = tmp_path / "xla_dump"
    # 24 steps over 12 batches an epoch: two passes, each bucket seen again after its first step; two
    # evaluations of the same batches.
    command = [sys.executable, str(REPO / "run_classifier.py"), "--task_name=SST-2", f"--data_dir={data}",
               f"--output_dir={tmp_path / 'run'}", f"--albert_config_file={config}", f"--vocab_file={spm_model_file}",
               f"--max_seq_length={MAX_SEQ}", f"--train_batch_size={TRAIN_BATCH}",
               f"--eval_batch_size={EVAL_BATCH}", f"--predict_batch_size={EVAL_BATCH}", "--train_steps=24",
               "--eval_every_steps=12", "--do_train", "--do_eval", "--jit_compile", "--save_checkpoints_steps=0",
               "--log_every_steps=100"]
    env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={dump} --xla_dump_hlo_as_text", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    buckets = set(datasets.bucket_lengths(MAX_SEQ))
    compiled = _compiled_shapes(dump)
    train = {shape: n for counts in compiled.values() for shape, n in counts.items() if shape[0] == TRAIN_BATCH}
    evaluation = collections.Counter()
    for counts in compiled.values():
        for shape, n in counts.items():
            if shape[0] == EVAL_BATCH:
                evaluation[shape] += n
    assert len(train) >= 3 and len(evaluation) >= 2, compiled  # several buckets were exercised
    for name, shapes in (("train", train), ("eval", evaluation)):
        # One program per shape, and every shape a bucket: nothing compiled again after a bucket's first step.
        assert all(n == 1 for n in shapes.values()), (name, compiled)
        assert {width for _, width in shapes} <= buckets, (name, compiled)
