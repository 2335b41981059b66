"""Hugging Face ALBERT weights (safetensors, or pytorch_model.bin through torch's safe loader)."""

from __future__ import annotations

import json
import os
import re
from typing import Dict, Optional

import numpy as np

from albert_tf import atomic_files
from albert_tf.checkpoints.report import CheckpointFormatError

SAFETENSORS = "model.safetensors"
PYTORCH_BIN = "pytorch_model.bin"

# Canonical TF1 name pattern → Hugging Face name. Every TF1 `kernel` is the transpose of the
# PyTorch `weight` ([in, out] vs [out, in]); every other tensor has the same layout.
_RULES = [
    (r"bert/embeddings/(word|position|token_type)_embeddings", r"albert.embeddings.\1_embeddings.weight"),
    (r"bert/embeddings/LayerNorm/gamma", "albert.embeddings.LayerNorm.weight"),
    (r"bert/embeddings/LayerNorm/beta", "albert.embeddings.LayerNorm.bias"),
    (r"bert/encoder/embedding_hidden_mapping_in/(kernel|bias)", r"albert.encoder.embedding_hidden_mapping_in.\1"),
    (r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/attention_1/self/(query|key|value)/(kernel|bias)",
     r"albert.encoder.albert_layer_groups.\1.albert_layers.\2.attention.\3.\4"),
    (r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/attention_1/output/dense/(kernel|bias)",
     r"albert.encoder.albert_layer_groups.\1.albert_layers.\2.attention.dense.\3"),
    (r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/LayerNorm/(gamma|beta)",
     r"albert.encoder.albert_layer_groups.\1.albert_layers.\2.attention.LayerNorm.\3"),
    (r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/ffn_1/intermediate/dense/(kernel|bias)",
     r"albert.encoder.albert_layer_groups.\1.albert_layers.\2.ffn.\3"),
    (r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/ffn_1/intermediate/output/dense/(kernel|bias)",
     r"albert.encoder.albert_layer_groups.\1.albert_layers.\2.ffn_output.\3"),
    (r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/LayerNorm_1/(gamma|beta)",
     r"albert.encoder.albert_layer_groups.\1.albert_layers.\2.full_layer_layer_norm.\3"),
    (r"bert/pooler/dense/(kernel|bias)", r"albert.pooler.\1"),
    (r"cls/predictions/transform/dense/(kernel|bias)", r"predictions.dense.\1"),
    (r"cls/predictions/transform/LayerNorm/(gamma|beta)", r"predictions.LayerNorm.\1"),
    (r"cls/predictions/output_bias", "predictions.bias"),
    (r"cls/seq_relationship/output_weights", "sop_classifier.classifier.weight"),
    (r"cls/seq_relationship/output_bias", "sop_classifier.classifier.bias"),
    (r"cls/token_classification/output_weights", "classifier.weight"),
    (r"cls/token_classification/output_bias", "classifier.bias"),
    # AlbertForQuestionAnswering's span head: TF1 [2, H] is already PyTorch's [out, in].
    (r"cls/squad/output_weights", "qa_outputs.weight"),
    (r"cls/squad/output_bias", "qa_outputs.bias"),
    # AlbertForSequenceClassification and AlbertForMultipleChoice ([1, H]) share these names.
    (r"output_weights", "classifier.weight"),
    (r"output_bias", "classifier.bias"),
]
_SUFFIX = {"kernel": "weight", "gamma": "weight", "beta": "bias"}
# Tensors Hugging Face stores that carry no information of their own.
_HF_REDUNDANT = re.compile(r"(^|\.)(position_ids|token_type_ids)$|^predictions\.decoder\.(weight|bias)$")


def tf1_to_hf_name(name: str) -> Optional[str]:
    for pattern, replacement in _RULES:
        if re.fullmatch(pattern, name):
            hf = re.sub(pattern, replacement, name)
            head, _, last = hf.rpartition(".")
            return f"{head}.{_SUFFIX.get(last, last)}"
    return None


def hf_to_tf1(state: Dict[str, np.ndarray], source: str = "checkpoint"):
    """Hugging Face state dict → ({canonical TF1 name: array}, skipped names, unmapped names)."""
    if not any(k.startswith("albert.") for k in state) and any(k.startswith("embeddings.") for k in state):
        # A bare AlbertModel saves without the `albert.` prefix.
        state = {f"albert.{k}" if k.startswith(("embeddings.", "encoder.", "pooler.")) else k: v
                 for k, v in state.items()}
    if not any(k.startswith("albert.encoder.albert_layer_groups.") for k in state):
        raise CheckpointFormatError(f"{source}: no Hugging Face ALBERT encoder weights "
                                    "('albert.encoder.albert_layer_groups.*') found")
    reverse = {name: None for name in state if not _HF_REDUNDANT.search(name)}
    weights, skipped = {}, [n for n in state if _HF_REDUNDANT.search(n)]
    for tf1_name in _candidate_tf1_names(state):
        hf_name = tf1_to_hf_name(tf1_name)
        if hf_name in reverse:
            value = np.asarray(state[hf_name])
            weights[tf1_name] = value.T if tf1_name.endswith("/kernel") else value
            reverse.pop(hf_name)
    return weights, skipped, sorted(reverse)


def _candidate_tf1_names(state):
    """Canonical names a state dict might hold, enumerated from the groups present."""
    names = ["bert/embeddings/word_embeddings", "bert/embeddings/position_embeddings",
             "bert/embeddings/token_type_embeddings", "bert/embeddings/LayerNorm/gamma",
             "bert/embeddings/LayerNorm/beta", "bert/encoder/embedding_hidden_mapping_in/kernel",
             "bert/encoder/embedding_hidden_mapping_in/bias", "bert/pooler/dense/kernel", "bert/pooler/dense/bias",
             "cls/predictions/transform/dense/kernel", "cls/predictions/transform/dense/bias",
             "cls/predictions/transform/LayerNorm/gamma", "cls/predictions/transform/LayerNorm/beta",
             "cls/predictions/output_bias", "cls/seq_relationship/output_weights",
             "cls/seq_relationship/output_bias", "output_weights", "output_bias", "cls/squad/output_weights",
             "cls/squad/output_bias"]
    blocks = set()
    for key in state:
        m = re.match(r"albert\.encoder\.albert_layer_groups\.(\d+)\.albert_layers\.(\d+)\.", key)
        if m:
            blocks.add((int(m.group(1)), int(m.group(2))))
    for g, k in sorted(blocks):
        p = f"bert/encoder/transformer/group_{g}/inner_group_{k}"
        for sub in ("attention_1/self/query", "attention_1/self/key", "attention_1/self/value",
                    "attention_1/output/dense", "ffn_1/intermediate/dense", "ffn_1/intermediate/output/dense"):
            names += [f"{p}/{sub}/kernel", f"{p}/{sub}/bias"]
        for ln in ("LayerNorm", "LayerNorm_1"):
            names += [f"{p}/{ln}/gamma", f"{p}/{ln}/beta"]
    return names


TOKEN_CLASSIFICATION = "AlbertForTokenClassification"


def hf_architecture(weights_path: str) -> Optional[str]:
    """The `architectures[0]` of the config.json beside a Hugging Face weights file, if any.

    `classifier.weight` is the head of both AlbertForSequenceClassification and
    AlbertForTokenClassification; only the config says which one a checkpoint holds.
    """
    config_path = os.path.join(os.path.dirname(os.fspath(weights_path)), "config.json")
    if not os.path.exists(config_path):
        return None
    try:
        with open(config_path, encoding="utf-8") as handle:
            architectures = json.load(handle).get("architectures") or [None]
    except (OSError, ValueError, AttributeError):
        return None
    return architectures[0]


def as_token_classification(weights: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Weights read from an AlbertForTokenClassification: its `classifier` is the tagging head."""
    renamed = {"output_weights": "cls/token_classification/output_weights",
               "output_bias": "cls/token_classification/output_bias"}
    return {renamed.get(name, name): value for name, value in weights.items()}


def tf1_to_hf(weights: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    state = {}
    for name, value in weights.items():
        hf_name = tf1_to_hf_name(name)
        if hf_name is None:
            raise CheckpointFormatError(f"variable {name} has no Hugging Face equivalent")
        state[hf_name] = np.ascontiguousarray(value.T if name.endswith("/kernel") else value)
    if "predictions.bias" in state:
        # Hugging Face's decoder is tied to the word embeddings; it also keeps its own bias alias.
        state["predictions.decoder.bias"] = state["predictions.bias"]
    return state


def read_hf_state(path: str):
    """Read a Hugging Face weights file (or a directory holding one) into numpy arrays."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for candidate in (SAFETENSORS, PYTORCH_BIN):
            if os.path.exists(os.path.join(path, candidate)):
                path = os.path.join(path, candidate)
                break
        else:
            raise FileNotFoundError(f"no {SAFETENSORS} or {PYTORCH_BIN} in {path}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
        try:
            return path, load_file(path)
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointFormatError(f"cannot read {path}: truncated or corrupt safetensors file ({err})") from err
    if path.endswith(".bin"):
        try:
            import torch
        except ImportError as err:
            raise CheckpointFormatError(
                f"{path} is a PyTorch pickle; reading it needs torch (pip install 'albert-tf[oracle]'), "
                f"or convert it to {SAFETENSORS} first") from err
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for corrupt or unsafe pickles
            raise CheckpointFormatError(f"cannot read {path} with torch's safe loader: {err}") from err
        return path, {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}
    raise CheckpointFormatError(f"{path}: not a Hugging Face weights file (.safetensors or .bin)")


def write_hf(weights: Dict[str, np.ndarray], directory: str, hf_config: Optional[dict] = None) -> str:
    """Write model.safetensors (+ config.json) into `directory`, each file atomically."""
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    state = tf1_to_hf(weights)
    target = os.path.join(directory, SAFETENSORS)
    with atomic_files.replacing_path(target, suffix=".safetensors") as tmp:
        save_file(state, tmp, metadata={"format": "pt"})
    if hf_config is not None:
        with atomic_files.replacing(os.path.join(directory, "config.json"), encoding="utf-8") as handle:
            json.dump(hf_config, handle, indent=2, sort_keys=True)
    return target
