"""`make demo`: the most complete end-to-end job albert-tf can run today, on data it makes itself.

Stages:
  1. build a small ALBERT pretrainer (MLM + SOP heads) from a config;
  2. fine-tune a classifier on a synthetic sentence task with Keras fit, report dev accuracy;
  3. write its encoder as an official TF1 checkpoint, then as Hugging Face safetensors, then as
     .keras, reloading each with a load report and checking the outputs stay identical;
  4. start a new classifier from the converted checkpoint: the report shows the new task head.
"""

import argparse
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from albert_tf.checkpoints import export_weights, load_weights, save_hf, save_tf1  # noqa: E402
from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer  # noqa: E402

VOCAB, SEQ = 200, 24


def stage(title):
    print(f"\n=== {title}", flush=True)


def synthetic_task(n, seed):
    """Label 1 when token 7 occurs in the sentence: needs attention over positions, not just position 0."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(10, VOCAB, size=(n, SEQ)).astype(np.int32)
    lengths = rng.integers(8, SEQ + 1, size=n)
    mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int32)
    labels = rng.integers(0, 2, size=n).astype(np.int32)
    for i in np.where(labels == 1)[0]:
        ids[i, rng.integers(1, lengths[i])] = 7
    ids[:, 0] = 2  # [CLS]
    ids[mask == 0] = 0
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids)}, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="demo_output")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    keras.utils.set_random_seed(1234)
    started = time.time()

    stage("1. build a small ALBERT (E=32, H=64, 4 layers sharing 1 block)")
    config = AlbertConfig(vocab_size=VOCAB, embedding_size=32, hidden_size=64, num_hidden_layers=4,
                          num_attention_heads=4, intermediate_size=128, max_position_embeddings=64)
    config.to_json_file(os.path.join(args.workdir, "albert_config.json"))
    pretrainer = AlbertPretrainer(AlbertEncoder(config))
    print(f"encoder parameters: {pretrainer.encoder.count_params():,}; "
          f"with MLM + SOP heads: {pretrainer.count_params():,}")

    stage(f"2. fine-tune a classifier for {args.epochs} epochs (synthetic task: does token 7 occur?)")
    train_x, train_y = synthetic_task(2048, seed=1)
    dev_x, dev_y = synthetic_task(512, seed=2)
    classifier = AlbertClassifier(pretrainer.encoder, num_classes=2)
    classifier.compile(optimizer=keras.optimizers.AdamW(3e-4, weight_decay=0.01),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    classifier.fit(train_x, train_y, batch_size=64, epochs=args.epochs, validation_data=(dev_x, dev_y), verbose=2,
                   callbacks=[keras.callbacks.TensorBoard(os.path.join(args.workdir, "tensorboard"))])
    loss, accuracy = classifier.evaluate(dev_x, dev_y, verbose=0)
    print(f"dev accuracy {accuracy:.3f} (chance 0.5), dev loss {loss:.3f}")

    stage("3. convert: official TF1 checkpoint -> Hugging Face safetensors -> .keras, reloading each")
    reference = np.asarray(pretrainer.encoder(dev_x)["sequence_output"])
    tf1_prefix = os.path.join(args.workdir, "tf1", "model.ckpt-1")
    save_tf1(pretrainer, tf1_prefix, global_step=1)
    from_tf1 = AlbertPretrainer(AlbertEncoder(AlbertConfig.from_json_file(
        os.path.join(args.workdir, "tf1", "albert_config.json"))))
    print(load_weights(from_tf1, tf1_prefix).summary())
    save_hf(from_tf1, os.path.join(args.workdir, "hf"))
    from_hf = AlbertPretrainer(AlbertEncoder(config))
    print(load_weights(from_hf, os.path.join(args.workdir, "hf")).summary())
    keras_path = os.path.join(args.workdir, "pretrainer.keras")
    from_hf.save(keras_path)
    from_keras = keras.saving.load_model(keras_path)
    for name, model in (("TF1", from_tf1), ("Hugging Face", from_hf), (".keras", from_keras)):
        diff = np.abs(np.asarray(model.encoder(dev_x)["sequence_output"]) - reference).max()
        print(f"after {name:>12} round trip: max |difference| of sequence output = {diff:.1e}")
        assert diff == 0.0, f"{name} round trip changed the outputs"
    assert all(np.array_equal(a, export_weights(from_keras)[k]) for k, a in export_weights(pretrainer).items())

    stage("4. a new task model from the converted checkpoint")
    new_classifier = AlbertClassifier(AlbertEncoder(config), num_classes=3)
    print(load_weights(new_classifier, os.path.join(args.workdir, "hf")).summary())

    print(f"\ndemo finished in {time.time() - started:.0f}s; outputs in {args.workdir}/ "
          f"(TensorBoard: tensorboard --logdir {args.workdir}/tensorboard)")


if __name__ == "__main__":
    main()
