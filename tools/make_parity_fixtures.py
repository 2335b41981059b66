"""Regenerate the golden parity fixtures from the Hugging Face PyTorch ALBERT (the oracle).

For each case this builds `transformers.AlbertForPreTraining` (eager attention, fp32,
dropout off) with randomized weights (biases and LayerNorm parameters too, so a wrongly
mapped one shows), saves `model.safetensors` + `config.json`, runs a padded batch and
records sequence/pooled/all-layer outputs, MLM logits at the masked positions and SOP logits
in `golden.npz`. The tests then need no torch.

The `tf1_official` case also writes a TF1 checkpoint with the exact official variable names
(plus `adam_m`/`adam_v` slots and `global_step`, as the released albert_tiny_zh_google has)
using this script's own name table, loads it back with transformers 4.x
`load_tf_weights_in_albert`, checks every parameter arrived, and records those outputs.

Usage (needs the `oracle` extra: transformers<5, torch==2.13.0):
    python tools/make_parity_fixtures.py --out tests/fixtures/parity
"""

import argparse
import json
import os
import shutil

import numpy as np
import tensorflow as tf
import torch
import transformers

BASE = dict(vocab_size=120, embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=40, type_vocab_size=2, initializer_range=0.02, hidden_act="gelu_new",
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12)

CASES = {
    # base-like sharing: one block applied L times.
    "shared_g1_k1": dict(BASE, num_hidden_layers=3, num_hidden_groups=1, inner_group_num=1),
    # two groups of two inner blocks over four layers.
    "groups_g2_k2": dict(BASE, num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2),
    # Google's official Chinese models use relu.
    "relu": dict(BASE, num_hidden_layers=2, num_hidden_groups=1, inner_group_num=1, hidden_act="relu"),
    # (G > L cannot be an oracle case: Hugging Face slices its head mask by int(L / G) = 0
    # layers per group and fails; tests cover that rule against a numpy reference instead.)
    # E == H would skip the mapping in TF1; keep E != H but a wider E to vary shapes.
    "tf1_official": dict(BASE, vocab_size=97, embedding_size=24, hidden_size=36, num_attention_heads=3,
                         intermediate_size=48, num_hidden_layers=4, num_hidden_groups=1, inner_group_num=1,
                         hidden_act="relu"),
}

# Official TF1 names (REFERENCE §2) → Hugging Face names. Written independently of albert_tf.
TF1_TO_HF = [
    ("bert/embeddings/word_embeddings", "albert.embeddings.word_embeddings.weight", False),
    ("bert/embeddings/token_type_embeddings", "albert.embeddings.token_type_embeddings.weight", False),
    ("bert/embeddings/position_embeddings", "albert.embeddings.position_embeddings.weight", False),
    ("bert/embeddings/LayerNorm/gamma", "albert.embeddings.LayerNorm.weight", False),
    ("bert/embeddings/LayerNorm/beta", "albert.embeddings.LayerNorm.bias", False),
    ("bert/encoder/embedding_hidden_mapping_in/kernel", "albert.encoder.embedding_hidden_mapping_in.weight", True),
    ("bert/encoder/embedding_hidden_mapping_in/bias", "albert.encoder.embedding_hidden_mapping_in.bias", False),
    ("bert/pooler/dense/kernel", "albert.pooler.weight", True),
    ("bert/pooler/dense/bias", "albert.pooler.bias", False),
    ("cls/predictions/transform/dense/kernel", "predictions.dense.weight", True),
    ("cls/predictions/transform/dense/bias", "predictions.dense.bias", False),
    ("cls/predictions/transform/LayerNorm/gamma", "predictions.LayerNorm.weight", False),
    ("cls/predictions/transform/LayerNorm/beta", "predictions.LayerNorm.bias", False),
    ("cls/predictions/output_bias", "predictions.bias", False),
    ("cls/seq_relationship/output_weights", "sop_classifier.classifier.weight", False),
    ("cls/seq_relationship/output_bias", "sop_classifier.classifier.bias", False),
]
BLOCK = [
    ("attention_1/self/query/{}", "attention.query.{}"), ("attention_1/self/key/{}", "attention.key.{}"),
    ("attention_1/self/value/{}", "attention.value.{}"), ("attention_1/output/dense/{}", "attention.dense.{}"),
    ("ffn_1/intermediate/dense/{}", "ffn.{}"), ("ffn_1/intermediate/output/dense/{}", "ffn_output.{}"),
]
BLOCK_LN = [("LayerNorm/{}", "attention.LayerNorm.{}"), ("LayerNorm_1/{}", "full_layer_layer_norm.{}")]


def tf1_name_table(cfg):
    table = list(TF1_TO_HF)
    for g in range(cfg["num_hidden_groups"]):
        for k in range(cfg["inner_group_num"]):
            tf_p = f"bert/encoder/transformer/group_{g}/inner_group_{k}/"
            hf_p = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{k}."
            for tf_n, hf_n in BLOCK:
                table.append((tf_p + tf_n.format("kernel"), hf_p + hf_n.format("weight"), True))
                table.append((tf_p + tf_n.format("bias"), hf_p + hf_n.format("bias"), False))
            for tf_n, hf_n in BLOCK_LN:
                table.append((tf_p + tf_n.format("gamma"), hf_p + hf_n.format("weight"), False))
                table.append((tf_p + tf_n.format("beta"), hf_p + hf_n.format("bias"), False))
    return table


def build_model(cfg, seed):
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(**cfg)
    config._attn_implementation = "eager"
    model = transformers.AlbertForPreTraining(config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif param.ndim == 1:
                param.copy_(0.1 * noise)
            else:
                param.copy_(0.2 * noise)
    return model.eval()


def make_inputs(cfg, seed):
    rng = np.random.default_rng(seed)
    batch, seq = 3, 12
    lengths = [12, 9, 5]
    ids = rng.integers(5, cfg["vocab_size"], size=(batch, seq)).astype(np.int32)
    mask = np.zeros((batch, seq), np.int32)
    types = np.zeros((batch, seq), np.int32)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = 0
        types[b, n // 2:n] = 1
    positions = np.array([[1, 4, 7, 10], [2, 3, 8, 0], [1, 3, 0, 0]], np.int32)
    return dict(input_word_ids=ids, input_mask=mask, input_type_ids=types, masked_lm_positions=positions)


def run_oracle(model, inputs):
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(inputs["input_word_ids"]).long(),
                    attention_mask=torch.from_numpy(inputs["input_mask"]).long(),
                    token_type_ids=torch.from_numpy(inputs["input_type_ids"]).long(),
                    output_hidden_states=True)
        base = model.albert(input_ids=torch.from_numpy(inputs["input_word_ids"]).long(),
                            attention_mask=torch.from_numpy(inputs["input_mask"]).long(),
                            token_type_ids=torch.from_numpy(inputs["input_type_ids"]).long())
    positions = torch.from_numpy(inputs["masked_lm_positions"]).long()
    mlm = torch.gather(out.prediction_logits, 1, positions[:, :, None].expand(-1, -1, out.prediction_logits.shape[-1]))
    golden = dict(sequence_output=base.last_hidden_state.numpy(), pooled_output=base.pooler_output.numpy(),
                  mlm_logits=mlm.numpy(), sop_logits=out.sop_logits.numpy())
    for i, hidden in enumerate(out.hidden_states[1:]):
        golden[f"encoder_output_{i}"] = hidden.numpy()
    return golden


def write_tf1_official(model, cfg, prefix):
    """Official names, adam slots for every variable, global_step: like a released checkpoint."""
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    names, tensors = [], []
    for tf_name, hf_name, transpose in tf1_name_table(cfg):
        value = state[hf_name].T if transpose else state[hf_name]
        value = np.ascontiguousarray(value, dtype=np.float32)
        for suffix, array in (("", value), ("/adam_m", 0.01 * value), ("/adam_v", np.abs(0.001 * value))):
            names.append(tf_name + suffix)
            tensors.append(tf.constant(array))
    names.append("global_step")
    tensors.append(tf.constant(125000, dtype=tf.int64))
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    with open(os.path.join(os.path.dirname(prefix), "albert_config.json"), "w") as handle:
        official = {k: v for k, v in cfg.items() if k != "layer_norm_eps"}
        official["hidden_act"] = {"gelu_new": "gelu"}.get(cfg["hidden_act"], cfg["hidden_act"])
        json.dump(official, handle, indent=2, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/parity")
    args = parser.parse_args()
    assert transformers.__version__.startswith("4."), "load_tf_weights_in_albert needs transformers 4.x"
    for index, (case, cfg) in enumerate(sorted(CASES.items())):
        directory = os.path.join(args.out, case)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        model = build_model(cfg, seed=100 + index)
        inputs = make_inputs(cfg, seed=200 + index)
        golden = run_oracle(model, inputs)
        if case == "tf1_official":
            prefix = os.path.join(directory, "model.ckpt-125000")
            write_tf1_official(model, cfg, prefix)
            reloaded = build_model(cfg, seed=999)
            transformers.models.albert.modeling_albert.load_tf_weights_in_albert(reloaded, reloaded.config, prefix)
            original = model.state_dict()
            for name, value in reloaded.state_dict().items():
                if not torch.equal(value, original[name]):
                    raise SystemExit(f"load_tf_weights_in_albert did not restore {name}")
            golden = run_oracle(reloaded.eval(), inputs)
        else:
            # save_pretrained writes what real hub checkpoints hold (tied decoder weight left out).
            model.save_pretrained(directory, safe_serialization=True)
        np.savez(os.path.join(directory, "golden.npz"), **inputs, **golden)
        print(f"{case}: wrote {sorted(os.listdir(directory))}")
    with open(os.path.join(args.out, "VERSIONS.json"), "w") as handle:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}, handle,
                  indent=2)


if __name__ == "__main__":
    main()
