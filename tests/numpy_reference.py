"""ALBERT forward pass in plain numpy, written from the formulas of REFERENCE §1–2.

Independent of the Keras code: it reads weights by their TF1 checkpoint names, so a test
can write a checkpoint, load it into the model, and compare with what the math defines.
Covers what the Hugging Face oracle cannot: the brightmart layout (post-LN and pre-LN) and
more weight groups than layers.
"""

import numpy as np


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


ACT = {"gelu": gelu_tanh, "relu": lambda x: np.maximum(x, 0.0)}


def _dense(w, prefix, x):
    return x @ w[f"{prefix}/kernel"] + w[f"{prefix}/bias"]


def _attention(w, prefix, x, mask, heads, self_scope):
    b, s, h = x.shape
    d = h // heads

    def split(t):
        return t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)

    q = split(_dense(w, f"{prefix}/{self_scope}/query", x))
    k = split(_dense(w, f"{prefix}/{self_scope}/key", x))
    v = split(_dense(w, f"{prefix}/{self_scope}/value", x))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + (1.0 - mask[:, None, None, :]) * -10000.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, h)
    return context


def google_forward(w, cfg, ids, mask, types):
    """Official layout: LN over E, E→H mapping, layer l uses group int(l*G/L)."""
    act = ACT[cfg["hidden_act"]]
    s = ids.shape[1]
    x = w["bert/embeddings/word_embeddings"][ids] + w["bert/embeddings/token_type_embeddings"][types]
    x = x + w["bert/embeddings/position_embeddings"][:s][None]
    x = layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    x = _dense(w, "bert/encoder/embedding_hidden_mapping_in", x)
    L, G, K = cfg["num_hidden_layers"], cfg["num_hidden_groups"], cfg["inner_group_num"]
    for layer in range(L):
        g = int(layer * G / L)
        for k in range(K):
            p = f"bert/encoder/transformer/group_{g}/inner_group_{k}"
            ctx = _attention(w, f"{p}/attention_1", x, mask, cfg["num_attention_heads"], "self")
            attn = _dense(w, f"{p}/attention_1/output/dense", ctx)
            x = layer_norm(x + attn, w[f"{p}/LayerNorm/gamma"], w[f"{p}/LayerNorm/beta"])
            ffn = _dense(w, f"{p}/ffn_1/intermediate/output/dense", act(_dense(w, f"{p}/ffn_1/intermediate/dense", x)))
            x = layer_norm(x + ffn, w[f"{p}/LayerNorm_1/gamma"], w[f"{p}/LayerNorm_1/beta"])
    pooled = np.tanh(_dense(w, "bert/pooler/dense", x[:, 0]))
    return x, pooled


def brightmart_forward(w, cfg, ids, mask, types, positions):
    """brightmart/albert_zh: project word embeddings to H first; post-LN or pre-LN blocks."""
    act = ACT[cfg["hidden_act"]]
    s = ids.shape[1]
    x = w["bert/embeddings/word_embeddings"][ids] @ w["bert/embeddings/word_embeddings_2"]
    x = x + w["bert/embeddings/token_type_embeddings"][types] + w["bert/embeddings/position_embeddings"][:s][None]
    x = layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    p = "bert/encoder/layer_shared"
    ln_attn = (w[f"{p}/attention/output/LayerNorm/gamma"], w[f"{p}/attention/output/LayerNorm/beta"])
    ln_out = (w[f"{p}/output/LayerNorm/gamma"], w[f"{p}/output/LayerNorm/beta"])

    def ffn(t):
        return _dense(w, f"{p}/output/dense", act(_dense(w, f"{p}/intermediate/dense", t)))

    def attention(t):
        return _dense(w, f"{p}/attention/output/dense",
                      _attention(w, f"{p}/attention", t, mask, cfg["num_attention_heads"], "self"))

    for _ in range(cfg["num_hidden_layers"]):
        if cfg["ln_type"] == "preln":
            x = x + attention(layer_norm(x, *ln_attn))
            x = x + ffn(layer_norm(x, *ln_out))
        else:
            x = layer_norm(x + attention(x), *ln_attn)
            x = layer_norm(x + ffn(x), *ln_out)
    pooled = np.tanh(_dense(w, "bert/pooler/dense", x[:, 0]))
    gathered = np.take_along_axis(x, positions[:, :, None], axis=1)
    h = layer_norm(act(_dense(w, "cls/predictions/transform/dense", gathered)),
                   w["cls/predictions/transform/LayerNorm/gamma"], w["cls/predictions/transform/LayerNorm/beta"])
    logits = (h @ w["bert/embeddings/word_embeddings_2"].T) @ w["bert/embeddings/word_embeddings"].T
    logits = logits + w["cls/predictions/output_bias"]
    sop = pooled @ w["cls/seq_relationship/output_weights"].T + w["cls/seq_relationship/output_bias"]
    return x, pooled, logits, sop


def random_weights(shapes, seed):
    """Random arrays for a {name: shape} table; LayerNorm gammas near 1, everything else nonzero."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("gamma"):
            out[name] = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            out[name] = (0.2 * rng.standard_normal(shape)).astype(np.float32)
    return out


def brightmart_shapes(cfg):
    V, E, H, I, P = (cfg["vocab_size"], cfg["embedding_size"], cfg["hidden_size"], cfg["intermediate_size"],
                     cfg["max_position_embeddings"])
    p = "bert/encoder/layer_shared"
    shapes = {
        "bert/embeddings/word_embeddings": (V, E), "bert/embeddings/word_embeddings_2": (E, H),
        "bert/embeddings/token_type_embeddings": (2, H), "bert/embeddings/position_embeddings": (P, H),
        "bert/embeddings/LayerNorm/gamma": (H,), "bert/embeddings/LayerNorm/beta": (H,),
        "bert/pooler/dense/kernel": (H, H), "bert/pooler/dense/bias": (H,),
        "cls/predictions/transform/dense/kernel": (H, H), "cls/predictions/transform/dense/bias": (H,),
        "cls/predictions/transform/LayerNorm/gamma": (H,), "cls/predictions/transform/LayerNorm/beta": (H,),
        "cls/predictions/output_bias": (V,), "cls/seq_relationship/output_weights": (2, H),
        "cls/seq_relationship/output_bias": (2,),
    }
    for sub in ("attention/self/query", "attention/self/key", "attention/self/value", "attention/output/dense"):
        shapes[f"{p}/{sub}/kernel"], shapes[f"{p}/{sub}/bias"] = (H, H), (H,)
    shapes[f"{p}/intermediate/dense/kernel"], shapes[f"{p}/intermediate/dense/bias"] = (H, I), (I,)
    shapes[f"{p}/output/dense/kernel"], shapes[f"{p}/output/dense/bias"] = (I, H), (H,)
    for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
        shapes[f"{p}/{ln}/gamma"], shapes[f"{p}/{ln}/beta"] = (H,), (H,)
    return shapes
