"""Training parity of fine-tuning against Hugging Face PyTorch `AlbertForSequenceClassification`.

Both sides start from the same weights (a randomly initialized HF model saved as safetensors and
loaded here through `albert_tf.checkpoints`), run with dropout off on the same batches, and take
N AdamW steps with the reference optimizer (no bias correction, decoupled decay 0.01 except
LayerNorm/bias, global-norm clip 1.0, linear warmup then linear decay). The TensorFlow side is the
fine-tuning job's own path: `finetuning.modeling` model and loss, `create_optimizer`, Keras fit.
The PyTorch side computes the same optimizer from its formulas. Prints the per-step losses and
exits non-zero when any step differs by more than --tolerance (relative).

  python tools/classifier_parity.py --steps 20
"""

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HF_CONFIG = dict(vocab_size=120, embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                 intermediate_size=48, max_position_embeddings=64, hidden_dropout_prob=0.0,
                 attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, hidden_act="gelu_new",
                 type_vocab_size=2, initializer_range=0.02, num_hidden_groups=1, inner_group_num=1,
                 num_labels=3, pad_token_id=0)
LEARNING_RATE, WARMUP, WEIGHT_DECAY, CLIP = 3e-3, 3, 0.01, 1.0


def make_batches(steps, batch_size, seq_len, vocab, num_labels, seed):
    """Padded batches with varied real lengths and both segment ids; few distinct first words."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(steps):
        lengths = rng.integers(4, seq_len + 1, size=batch_size)
        ids = rng.integers(5, vocab, size=(batch_size, seq_len)).astype(np.int32)
        mask = (np.arange(seq_len)[None, :] < lengths[:, None]).astype(np.int32)
        types = np.zeros_like(ids)
        for b, n in enumerate(lengths):
            types[b, n // 2:n] = 1
        ids[:, 0] = 2
        ids[:, 1] = rng.integers(5, 11, size=batch_size)
        ids[mask == 0] = 0
        # A learnable label (the first word's id mod num_labels), so the losses move and the optimizers'
        # updates matter; random labels would keep both sides near ln(num_labels).
        batches.append((ids, mask, types, (ids[:, 1] % num_labels).astype(np.int32)))
    return batches


def lr_at(step, steps):
    """Learning rate of optimizer step `step` (0-based): warmup, then linear decay to 0."""
    if step < WARMUP:
        return LEARNING_RATE * step / WARMUP
    return LEARNING_RATE * (1.0 - step / steps)


def torch_losses(model_dir, batches, steps):
    import torch  # pylint: disable=import-outside-toplevel
    from transformers import AlbertForSequenceClassification  # pylint: disable=import-outside-toplevel
    torch.manual_seed(0)
    model = AlbertForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager")
    model.train()  # dropout probabilities are all 0, so train mode is deterministic
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    moments = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in params}
    with torch.no_grad():
        # Losses of the untrained model: how far the 20 updates move them shows the check has teeth.
        frozen = [model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                        token_type_ids=torch.tensor(types, dtype=torch.long),
                        labels=torch.tensor(labels, dtype=torch.long)).loss.item()
                  for ids, mask, types, labels in batches]
    losses = []
    for step, (ids, mask, types, labels) in enumerate(batches):
        model.zero_grad()
        out = model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                    token_type_ids=torch.tensor(types, dtype=torch.long), labels=torch.tensor(labels, dtype=torch.long))
        out.loss.backward()
        losses.append(out.loss.item())
        with torch.no_grad():
            grads = [p.grad for _, p in params]
            norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).float()
            scale = CLIP / torch.maximum(norm, torch.tensor(CLIP))  # tf.clip_by_global_norm
            lr = lr_at(step, steps)
            for (name, p), g in zip(params, grads):
                g = g * scale
                m, v = moments[name]
                m.mul_(0.9).add_(0.1 * g)
                v.mul_(0.999).add_(0.001 * g * g)
                update = m / (v.sqrt() + 1e-6)
                if not any(pattern in name for pattern in ("LayerNorm", "layer_norm", "bias")):
                    update = update + WEIGHT_DECAY * p
                p.sub_(lr * update)
    return losses, frozen


def tf_losses(model_dir, batches, steps):
    import keras  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from albert_tf.checkpoints import load_config_for, load_weights  # pylint: disable=import-outside-toplevel
    from albert_tf.finetuning import get_task, modeling  # pylint: disable=import-outside-toplevel
    from albert_tf.optimization import create_optimizer  # pylint: disable=import-outside-toplevel
    config = load_config_for(model_dir)
    task = get_task("MNLI")  # 3 labels, sparse softmax cross-entropy
    model, classifier = modeling.build_model(task, config, max_seq_length=batches[0][0].shape[1], dropout_rate=0.0)
    report = load_weights(classifier, model_dir, verbose=False)
    if report.missing or report.newly_initialized or report.shape_mismatches:
        raise RuntimeError(f"the HF checkpoint did not load completely: {report.summary()}")
    model.compile(optimizer=create_optimizer("adamw", LEARNING_RATE, steps, WARMUP, weight_decay_rate=WEIGHT_DECAY,
                                             global_clipnorm=CLIP),
                  loss=modeling.loss_for(task))
    data = tf.data.Dataset.from_tensor_slices(tuple(np.stack(part) for part in zip(*batches))).map(
        lambda ids, mask, types, labels: ({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}, labels))

    class Record(keras.callbacks.Callback):
        means = []

        def on_train_batch_end(self, batch, logs=None):
            self.means.append(float(logs["loss"]))

    model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=[Record()], verbose=0, shuffle=False)
    # Keras logs the running mean over the epoch; recover each step's own loss.
    means = np.asarray(Record.means, dtype=np.float64)
    counts = np.arange(1, len(means) + 1)
    totals = means * counts
    return list(np.diff(np.concatenate([[0.0], totals])))


def run(steps=20, batch_size=8, seq_len=24, seed=0, tolerance=1e-3, verbose=True):
    """Returns {"torch": [...], "tf": [...], "max_relative_difference": x, "ok": bool}."""
    import torch  # pylint: disable=import-outside-toplevel
    from transformers import AlbertConfig, AlbertForSequenceClassification  # pylint: disable=import-outside-toplevel
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as model_dir:
        AlbertForSequenceClassification(AlbertConfig(**HF_CONFIG)).save_pretrained(model_dir, safe_serialization=True)
        batches = make_batches(steps, batch_size, seq_len, HF_CONFIG["vocab_size"], HF_CONFIG["num_labels"], seed)
        reference, frozen = torch_losses(model_dir, batches, steps)
        ours = tf_losses(model_dir, batches, steps)
    relative = [abs(a - b) / abs(a) for a, b in zip(reference, ours)]
    moved = max(abs(a - b) / abs(a) for a, b in zip(reference, frozen))
    result = {"torch": reference, "tf": ours, "max_relative_difference": max(relative),
              "ok": max(relative) <= tolerance, "steps": steps, "tolerance": tolerance,
              "untrained": frozen, "max_relative_change_from_training": moved}
    if verbose:
        print(f"{'step':>4} {'pytorch':>12} {'albert-tf':>12} {'rel diff':>10}")
        for i, (a, b, r) in enumerate(zip(reference, ours, relative)):
            print(f"{i + 1:>4} {a:>12.6f} {b:>12.6f} {r:>10.2e}")
        print(f"training moved the losses by up to {moved:.2e} (relative) from the untrained model's")
        print(f"max relative difference {max(relative):.2e} (tolerance {tolerance:g}): "
              f"{'OK' if result['ok'] else 'FAIL'}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seq_len", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--json", help="also write the losses here")
    args = parser.parse_args()
    result = run(args.steps, args.batch_size, args.seq_len, args.seed, args.tolerance)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
