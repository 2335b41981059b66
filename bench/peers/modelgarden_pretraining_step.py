"""TF Model Garden ALBERT pretraining train step (MLM + SOP), timed on synthetic batches.

Peer for bench/bench_pretraining_step.py; runs in the Model Garden venv (tf-models-official,
tf_keras = Keras 2):

  .venv-modelgarden/bin/python bench/peers/modelgarden_pretraining_step.py --batch 8 --steps 10 --warmup 3 [--jit]

Model: `official.nlp.modeling.networks.AlbertEncoder` (vocab 30000, embedding 128, hidden 768,
12 shared layers, 12 heads, intermediate 3072, dropout 0, gelu) inside
`official.nlp.modeling.models.BertPretrainerV2` with a `ClassificationHead(inner_dim=768,
num_classes=2, name="next_sentence")` for sentence order (Model Garden's pretraining setup).
Loss: Model Garden's `MaskedLMTask.build_losses` formula (weighted MLM mean + SOP mean).
Optimizer: Model Garden's LAMB (`official.modeling.optimization.lamb.LAMB`, weight decay 0.01
except LayerNorm/bias) on a linear warmup + polynomial decay schedule, gradients clipped to
global norm 1.0. One training step = one `tf.function` (forward, backward, clip, apply), with
`jit_compile=True` under --jit; `train_steps(iterator, n)` loops n of them in a graph.

Output: one JSON object on stdout (a line starting with "@@BENCH "). With --serve the script
instead builds and warms up, prints a "ready" line, then answers "run K" lines on stdin with
one timing line each and "quit" with a final line (peak RSS); the main benchmark uses this to
interleave implementations.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

MARK = "@@BENCH "


def emit(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def synthetic_batch(batch_size, seq_length=128, max_predictions=20, vocab_size=30000, seed=12345):
    """Same generator as bench/bench_pretraining_step.py (used only without --data)."""
    rng = np.random.RandomState(seed)
    word_ids = rng.randint(5, vocab_size, size=(batch_size, seq_length)).astype(np.int32)
    mask = np.ones((batch_size, seq_length), np.int32)
    type_ids = np.zeros((batch_size, seq_length), np.int32)
    positions = np.zeros((batch_size, max_predictions), np.int32)
    for i in range(batch_size):
        length = seq_length if rng.rand() > 0.1 else rng.randint(seq_length // 2, seq_length)
        mask[i, length:] = 0
        word_ids[i, length:] = 0
        word_ids[i, 0] = 2
        split = rng.randint(2, length - 2)
        type_ids[i, split:length] = 1
        positions[i] = np.sort(rng.choice(np.arange(1, length), max_predictions, replace=False))
    return {
        "input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids,
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.randint(5, vocab_size, size=(batch_size, max_predictions)).astype(np.int32),
        "masked_lm_weights": np.ones((batch_size, max_predictions), np.float32),
        "sentence_order_label": rng.randint(0, 2, size=(batch_size,)).astype(np.int32),
    }


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Bench:
    def __init__(self, batch, jit):
        import tensorflow as tf
        import tf_keras
        from official.modeling import activations
        from official.modeling.optimization import lamb
        from official.nlp.modeling import layers, models, networks

        self.tf = tf
        t0 = time.perf_counter()
        tf_keras.utils.set_random_seed(12345)
        initializer = tf_keras.initializers.TruncatedNormal(stddev=0.02)
        encoder = networks.AlbertEncoder(
            vocab_size=30000, embedding_width=128, hidden_size=768, num_layers=12, num_attention_heads=12,
            max_sequence_length=512, type_vocab_size=2, intermediate_size=3072, activation=activations.gelu,
            dropout_rate=0.0, attention_dropout_rate=0.0, initializer=initializer)
        head = layers.ClassificationHead(inner_dim=768, num_classes=2, dropout_rate=0.0, initializer=initializer,
                                         name="next_sentence")
        model = models.BertPretrainerV2(encoder, mlm_activation=activations.gelu, mlm_initializer=initializer,
                                        classification_heads=[head])
        schedule = tf_keras.optimizers.schedules.PolynomialDecay(0.00176, 125000, end_learning_rate=0.0)
        optimizer = lamb.LAMB(learning_rate=schedule, weight_decay_rate=0.01, epsilon=1e-6,
                              exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"],
                              exclude_from_layer_adaptation=["LayerNorm", "layer_norm", "bias"])
        inputs = ("input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions")
        _ = model({k: tf.constant(batch[k][:1]) for k in inputs})  # build
        self.model, self.optimizer = model, optimizer
        self.num_params = int(sum(np.prod(v.shape) for v in model.trainable_variables))

        def step(features):
            with tf.GradientTape() as tape:
                outputs = model({k: features[k] for k in inputs}, training=True)
                lm_losses = tf_keras.losses.sparse_categorical_crossentropy(
                    features["masked_lm_ids"], tf.cast(outputs["mlm_logits"], tf.float32), from_logits=True)
                weights = features["masked_lm_weights"]
                mlm_loss = tf.math.divide_no_nan(tf.reduce_sum(lm_losses * weights), tf.reduce_sum(weights))
                sop_loss = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
                    features["sentence_order_label"], tf.cast(outputs["next_sentence"], tf.float32),
                    from_logits=True))
                loss = mlm_loss + sop_loss
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            # The encoder's own pooler is unused by the ClassificationHead (it pools itself): no gradient.
            pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
            clipped, _ = tf.clip_by_global_norm([g for g, _ in pairs], 1.0)
            optimizer.apply_gradients(zip(clipped, [v for _, v in pairs]))
            return loss

        compiled_step = tf.function(step, jit_compile=jit)

        @tf.function
        def train_steps(iterator, num_steps):
            loss = tf.constant(0.0)
            for _ in tf.range(num_steps):
                loss = compiled_step(next(iterator))
            return loss

        self.train_steps = train_steps
        dataset = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()}).repeat()
        self.iterator = iter(dataset)
        self.build_s = time.perf_counter() - t0

    def run(self, steps):
        t0 = time.perf_counter()
        loss = float(self.train_steps(self.iterator, self.tf.constant(steps)))
        return time.perf_counter() - t0, loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--data", help=".npz of one batch (default: the built-in synthetic batch)")
    parser.add_argument("--serve", action="store_true", help="interleaving protocol on stdin/stdout")
    args = parser.parse_args()

    if args.data:
        with np.load(args.data) as f:
            batch = {k: f[k] for k in f.files}
    else:
        batch = synthetic_batch(args.batch)
    import tensorflow as tf
    import tf_keras
    import official

    bench = Bench(batch, args.jit)
    warmup = []
    for _ in range(args.warmup):
        seconds, loss = bench.run(1)
        warmup.append(seconds)
    info = {"impl": "modelgarden", "batch": int(batch["input_word_ids"].shape[0]), "jit": args.jit,
            "build_s": bench.build_s, "warmup_s": warmup, "params": bench.num_params,
            "versions": {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
                         "tf-models-official": getattr(official, "__version__", None) or _dist_version()},
            "rss_after_warmup_mib": peak_rss_mib()}
    if not args.serve:
        times, loss = [], None
        for _ in range(args.steps):
            seconds, loss = bench.run(1)
            times.append(seconds)
        info.update(step_s=times, loss=loss, peak_rss_mib=peak_rss_mib())
        emit(info)
        return
    emit({"event": "ready", **info})
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "run":
            cpu0 = time.process_time()
            seconds, loss = bench.run(int(command[1]))
            emit({"event": "timed", "steps": int(command[1]), "seconds": seconds, "loss": loss,
                  "cpu_s": time.process_time() - cpu0})
        elif command[0] == "quit":
            break
    emit({"event": "done", "peak_rss_mib": peak_rss_mib()})


def _dist_version():
    try:
        from importlib.metadata import version
        return version("tf-models-official")
    except Exception:  # pylint: disable=broad-except
        return None


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
