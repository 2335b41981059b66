"""Regenerate the token-classification parity fixture from Hugging Face's AlbertForTokenClassification.

Builds a tiny `transformers.AlbertForTokenClassification` (eager attention, fp32) with every weight
randomized (biases and LayerNorm parameters too, so a wrongly mapped one shows), saves it with
`save_pretrained` (model.safetensors + config.json naming the architecture), and records in
`golden.npz`:
  * a padded batch (input ids, mask, types) and per-position tag labels with -100 on the positions
    the loss ignores;
  * the logits [B, T, num_labels] with dropout off;
  * 20 steps of plain SGD (dropout off) on that batch: the loss before each step, computed by
    `AlbertForTokenClassification(labels=...)` (cross-entropy averaged over the non-ignored positions).
The tests need no torch.

Usage (needs the `oracle` extra: transformers<5, torch):
    python tools/make_ner_parity_fixture.py --out tests/fixtures/ner/hf_token_classifier
"""

import argparse
import json
import os
import shutil

import numpy as np
import torch
import transformers

CONFIG = dict(vocab_size=90, embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=64,
              num_hidden_layers=2, num_hidden_groups=1, inner_group_num=1, max_position_embeddings=40,
              type_vocab_size=2, initializer_range=0.02, hidden_act="gelu_new", hidden_dropout_prob=0.0,
              attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, layer_norm_eps=1e-12, num_labels=7)
SEED = 321
SGD_STEPS = 20
SGD_LEARNING_RATE = 0.05
IGNORE = -100


def build_model(seed):
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(**CONFIG)
    config._attn_implementation = "eager"
    model = transformers.AlbertForTokenClassification(config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith("LayerNorm.weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif param.ndim == 1:
                param.copy_(0.1 * noise)
            else:
                param.copy_(0.2 * noise)
    return model.eval()


def make_batch(seed):
    """Three rows of 12 positions (lengths 12, 9, 5); labels on some real positions only, as a
    first-piece-of-each-word rule leaves them."""
    rng = np.random.default_rng(seed)
    batch, seq, lengths = 3, 12, [12, 9, 5]
    ids = rng.integers(5, CONFIG["vocab_size"], size=(batch, seq)).astype(np.int32)
    mask = np.zeros((batch, seq), np.int32)
    types = np.zeros((batch, seq), np.int32)
    labels = np.full((batch, seq), IGNORE, np.int32)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0
        ids[b, 0], ids[b, n - 1] = 2, 3  # [CLS] ... [SEP]
        for t in range(1, n - 1):
            if rng.random() < 0.7:  # the other positions are continuation pieces
                labels[b, t] = rng.integers(0, CONFIG["num_labels"])
    return dict(input_word_ids=ids, input_mask=mask, input_type_ids=types, labels=labels)


def torch_inputs(batch):
    return dict(input_ids=torch.from_numpy(batch["input_word_ids"]).long(),
                attention_mask=torch.from_numpy(batch["input_mask"]).long(),
                token_type_ids=torch.from_numpy(batch["input_type_ids"]).long())


def sgd_losses(model, batch):
    model.train()  # every dropout probability is 0: train mode changes nothing but the bookkeeping
    optimizer = torch.optim.SGD(model.parameters(), lr=SGD_LEARNING_RATE)
    labels = torch.from_numpy(batch["labels"]).long()
    losses = []
    for _ in range(SGD_STEPS):
        optimizer.zero_grad()
        loss = model(**torch_inputs(batch), labels=labels).loss
        losses.append(float(loss.detach()))
        loss.backward()
        optimizer.step()
    return np.asarray(losses, np.float64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/ner/hf_token_classifier")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    model = build_model(SEED)
    batch = make_batch(SEED + 10)
    with torch.no_grad():
        logits = model(**torch_inputs(batch)).logits.numpy()
    model.save_pretrained(args.out, safe_serialization=True)
    losses = sgd_losses(build_model(SEED), batch)
    np.savez(os.path.join(args.out, "golden.npz"), **batch, logits=logits, sgd_losses=losses,
             sgd_learning_rate=SGD_LEARNING_RATE)
    with open(os.path.join(args.out, "VERSIONS.json"), "w", encoding="utf-8") as handle:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}, handle,
                  indent=2)
    print(f"wrote {sorted(os.listdir(args.out))}; logits {logits.shape}, losses {losses[0]:.4f} → {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
