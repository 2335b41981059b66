"""The TPU-shaped dry run on CPU (docs/running.md): `--strategy=cpu --static_shapes --mixed_precision=bf16
--steps_per_loop=N` gives every training, evaluation and prediction batch the one static shape a TPU
needs (training drops the remainder, evaluation tops the last batch up with weight-0 rows)."""

import json
import random

import keras
import pytest

from albert_tf.finetuning import datasets
from albert_tf.jobs import classifier as job

import tokenization_testlib as testlib

TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64)
BATCH, LENGTH, STEPS = 8, 32, 3


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_tpu_shaped_classifier_run_has_static_batches_everywhere(tmp_path, monkeypatch):
    spm_model = testlib.build_spm_model(tmp_path)
    data = tmp_path / "SST-2"
    data.mkdir()
    rng = random.Random(0)
    words = "the quick brown fox jumps over lazy dog great awful".split()
    # 21 dev and 13 test rows: neither a multiple of the batch, so the last batches need padding rows.
    for split, n in (("train", 40), ("dev", 21)):
        (data / f"{split}.tsv").write_text("sentence\tlabel\n" + "".join(
            f"{' '.join(rng.choice(words) for _ in range(rng.randint(2, 12)))}\t{i % 2}\n" for i in range(n)))
    (data / "test.tsv").write_text("index\tsentence\n" + "".join(f"{i}\t{'the dog ' * (i % 5 + 1)}\n"
                                                               for i in range(13)))
    config = tmp_path / "albert_config.json"
    config.write_text(json.dumps(TINY))

    made = []
    for name in ("train_dataset", "eval_dataset"):
        def record(*args, _make=getattr(datasets, name), _name=name, **kwargs):
            dataset = _make(*args, **kwargs)
            made.append((_name, dataset, keras.mixed_precision.global_policy().name))
            return dataset
        monkeypatch.setattr(datasets, name, record)

    settings = job.FinetuneSettings(
        task_name="SST-2", data_dir=str(data), output_dir=str(tmp_path / "run"), albert_config_file=str(config),
        vocab_file=str(spm_model), max_seq_length=LENGTH, train_batch_size=BATCH, eval_batch_size=BATCH,
        predict_batch_size=BATCH, train_steps=STEPS, warmup_steps=0, eval_every_steps=0, do_train=True,
        do_eval=True, do_predict=True, strategy="cpu", static_shapes=True, mixed_precision="bf16",
        steps_per_loop=STEPS, seed=3)
    result = job.run(settings)["runs"][0]

    assert result["eval"]["dev"]["num_examples"] == 21
    assert {name for name, _, _ in made} == {"train_dataset", "eval_dataset"}
    for name, dataset, policy in made:
        assert policy == "mixed_bfloat16", name
        inputs, label, weight = dataset.element_spec
        # Static in the graph (what XLA on a TPU compiles once) ...
        for spec in inputs.values():
            assert spec.shape.as_list() == [BATCH, LENGTH], (name, spec)
        assert label.shape.as_list() == [BATCH] and weight.shape.as_list() == [BATCH], name
        # ... and every batch actually produced has that shape (all of them for eval, a few for training).
        batches = list(dataset.take(4 if name == "train_dataset" else -1))
        assert batches, name
        for batch_inputs, batch_label, batch_weight in batches:
            assert {tuple(t.shape) for t in batch_inputs.values()} == {(BATCH, LENGTH)}, name
            assert tuple(batch_label.shape) == tuple(batch_weight.shape) == (BATCH,), name
    predictions = (tmp_path / "run" / "predictions" / "SST-2.tsv").read_text().splitlines()
    assert len(predictions) == 1 + 13  # the weight-0 padding rows are not predicted
