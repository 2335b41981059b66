"""Hugging Face ALBERT weights (safetensors, or pytorch_model.bin through torch's safe loader)."""

from __future__ import annotations

import json
import os
import re
from typing import Dict, Optional

import numpy as np

from albert_tf import filesystem
from albert_tf.checkpoints import hf_tokenizer_json
from albert_tf.checkpoints.report import CheckpointFormatError
from albert_tf.tokenization import SentencePieceTokenizer, WordPieceTokenizer, assets

SAFETENSORS = "model.safetensors"
PYTORCH_BIN = "pytorch_model.bin"
# transformers' sharded checkpoints: an index whose `weight_map` names the shard of every tensor.
SHARD_INDEX_SUFFIX = ".index.json"
SAFETENSORS_INDEX = SAFETENSORS + SHARD_INDEX_SUFFIX
PYTORCH_BIN_INDEX = PYTORCH_BIN + SHARD_INDEX_SUFFIX
WEIGHTS_FILES = (SAFETENSORS, SAFETENSORS_INDEX, PYTORCH_BIN, PYTORCH_BIN_INDEX)

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
    if "predictions.bias" not in state and "predictions.decoder.bias" in state:
        # The MLM bias is one tensor under two names (the decoder's bias is tied to `predictions.bias`);
        # a file that kept only the decoder's name holds it there.
        state = {("predictions.bias" if k == "predictions.decoder.bias" else k): v for k, v in state.items()}
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
    config_path = filesystem.join(filesystem.dirname(os.fspath(weights_path)), "config.json")
    if not filesystem.exists(config_path):
        return None
    try:
        architectures = json.loads(filesystem.read_text(config_path)).get("architectures") or [None]
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
    if filesystem.isdir(path):
        for candidate in WEIGHTS_FILES:
            if filesystem.exists(filesystem.join(path, candidate)):
                path = filesystem.join(path, candidate)
                break
        else:
            raise FileNotFoundError(f"no {' or '.join(WEIGHTS_FILES)} in {path}")
    if not filesystem.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.endswith(SHARD_INDEX_SUFFIX):
        return path, _read_shards(path)
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
        try:
            with filesystem.local_copy(path) as local:  # safetensors maps a local file
                return path, load_file(local)
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
            with filesystem.local_copy(path) as local:
                state = torch.load(local, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for corrupt or unsafe pickles
            raise CheckpointFormatError(f"cannot read {path} with torch's safe loader: {err}") from err
        return path, {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}
    raise CheckpointFormatError(f"{path}: not a Hugging Face weights file (.safetensors or .bin)")


def shard_files(index_path: str):
    """The shard files a sharded checkpoint's index names, each checked to exist, in order."""
    try:
        weight_map = json.loads(filesystem.read_text(index_path))["weight_map"]
        shards = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointFormatError(f"{index_path}: not a sharded-checkpoint index (a json object whose "
                                    f"'weight_map' maps tensor names to shard files): {err}") from err
    directory = filesystem.dirname(index_path)
    paths = []
    for shard in shards:
        shard_path = filesystem.join(directory, shard)
        if os.path.basename(shard) != shard or not filesystem.isfile(shard_path):
            raise CheckpointFormatError(f"{index_path}: field 'weight_map' names shard {shard!r}, which is not a "
                                        f"file in {directory or '.'}")
        paths.append(shard_path)
    return paths


def _read_shards(index_path: str):
    """One state dict from every shard; a tensor the index maps to a shard must be in it."""
    weight_map = json.loads(filesystem.read_text(index_path))["weight_map"]
    state = {}
    for shard_path in shard_files(index_path):
        _, part = read_hf_state(shard_path)
        state.update(part)
    absent = sorted(name for name in weight_map if name not in state)
    if absent:
        raise CheckpointFormatError(f"{index_path}: {len(absent)} tensors of 'weight_map' are not in their shard "
                                    f"files, e.g. {absent[0]!r} (an incomplete download?)")
    return state


def write_hf(weights: Dict[str, np.ndarray], directory: str, hf_config: Optional[dict] = None) -> str:
    """Write model.safetensors (+ config.json) into `directory`, each file atomically."""
    from safetensors.numpy import save_file

    filesystem.makedirs(directory)
    state = tf1_to_hf(weights)
    target = filesystem.join(directory, SAFETENSORS)
    with filesystem.local_output(target, suffix=".safetensors") as tmp:  # safetensors writes a local file
        save_file(state, tmp, metadata={"format": "pt"})
    if hf_config is not None:
        with filesystem.replacing(filesystem.join(directory, "config.json")) as handle:
            json.dump(hf_config, handle, indent=2, sort_keys=True)
    return target


# --- the head a directory holds, and its tokenizer files, in transformers' terms ----------------

# task.json kind → the transformers class of that head.
ARCHITECTURES = {"pretraining": "AlbertForPreTraining", "classification": "AlbertForSequenceClassification",
                 "regression": "AlbertForSequenceClassification", "multiple_choice": "AlbertForMultipleChoice",
                 "squad": "AlbertForQuestionAnswering", "token_classification": "AlbertForTokenClassification"}
HF_TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"


def head_config(task: Optional[dict]) -> dict:
    """The config.json entries naming the head of `task` (a task.json record): `architectures`,
    `id2label`/`label2id`, `problem_type`. The XLNet-style SQuAD head has no transformers class."""
    if task is None:
        return {}
    kind = task["kind"]
    if kind == "squad" and task.get("head") == "xlnet":
        raise CheckpointFormatError(
            "the XLNet-style SQuAD v2 head (start, start-conditioned end, answerability) has no Hugging Face "
            "class: AlbertForQuestionAnswering holds only the span head (train with --squad_head=span or cls_null "
            "to convert), or convert the encoder alone with --model=encoder")
    entries = {"architectures": [ARCHITECTURES[kind]]}
    labels = list(task.get("labels") or [])
    if kind in ("classification", "token_classification") and labels:
        entries["id2label"] = {str(i): label for i, label in enumerate(labels)}
        entries["label2id"] = {label: i for i, label in enumerate(labels)}
        entries["num_labels"] = len(labels)
        if kind == "classification":
            entries["problem_type"] = "single_label_classification"
    elif kind == "regression":
        entries.update(num_labels=1, problem_type="regression", id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    return entries


def task_from_config(hf_config: dict, source: str) -> Optional[dict]:
    """The task.json record a transformers config.json describes (labels in id order), or None
    when it names no head this project knows."""
    architectures = hf_config.get("architectures") or []
    kinds = [kind for kind, name in ARCHITECTURES.items() if name in architectures]
    if not kinds:
        return None
    kind = kinds[0]
    if kind in ("classification", "regression"):
        kind = "regression" if hf_config.get("problem_type") == "regression" else "classification"
    labels = []
    if kind in ("classification", "token_classification"):
        id2label = hf_config.get("id2label") or {}
        try:
            labels = [id2label[key] for key in sorted(id2label, key=int)]
        except (ValueError, TypeError) as error:
            raise CheckpointFormatError(f"{source}: field 'id2label' must map integer ids to labels ({error})") \
                from None
        if sorted(int(key) for key in id2label) != list(range(len(labels))):
            raise CheckpointFormatError(f"{source}: field 'id2label' must number its labels 0..n-1")
    return {"kind": kind, "labels": labels}


def write_hf_tokenizer(tokenizer, directory: str, max_length: Optional[int] = None):
    """The tokenizer files transformers reads: SentencePiece `spiece.model` + AlbertTokenizer settings + a
    `tokenizer.json` that gives our ids (see hf_tokenizer_json), or WordPiece `vocab.txt` + BertTokenizer (the
    Chinese models), and `special_tokens_map.json`.
    `max_length`: the packing length the model was trained with (pipelines truncate to it)."""
    settings = tokenizer.settings
    pieces = {name: tokenizer.convert_ids_to_tokens([token_id])[0]
              for name, token_id in settings.special_ids.items()}
    if settings.type == "sentencepiece":
        vocab_name, vocab_bytes = "spiece.model", tokenizer.model_proto
        record = {"tokenizer_class": "AlbertTokenizer", "do_lower_case": settings.do_lower_case,
                  "keep_accents": settings.keep_accents, "remove_space": settings.remove_space,
                  # ours alone (transformers' AlbertTokenizer always re-splits); its tokenizer.json follows it
                  "split_digit_comma": settings.split_digit_comma}
        special = {"bos_token": pieces["cls"], "eos_token": pieces["sep"]}
    else:
        vocab_name = "vocab.txt"
        vocab_bytes = "".join(f"{token}\n" for token in tokenizer.vocab).encode("utf-8")
        record = {"tokenizer_class": "BertTokenizer", "do_lower_case": settings.do_lower_case,
                  "tokenize_chinese_chars": True}
        special = {}
    special.update(unk_token=pieces["unk"], sep_token=pieces["sep"], pad_token=pieces["pad"],
                   cls_token=pieces["cls"], mask_token=pieces["mask"])
    filesystem.write_bytes(filesystem.join(directory, vocab_name), vocab_bytes)
    if max_length:
        record["model_max_length"] = int(max_length)
    for name, data in ((HF_TOKENIZER_CONFIG, {**record, **special}), (SPECIAL_TOKENS_MAP, special)):
        with filesystem.replacing(filesystem.join(directory, name)) as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
    if settings.type == "sentencepiece":
        hf_tokenizer_json.write_tokenizer_json(tokenizer, directory)


def read_hf_tokenizer(directory: str):
    """This project's tokenizer from a transformers directory's tokenizer files, or None when it has
    none (`tokenizer_config.json` naming AlbertTokenizer / BertTokenizer)."""
    path = filesystem.join(directory, HF_TOKENIZER_CONFIG)
    if not filesystem.exists(path):
        return None
    record = json.loads(filesystem.read_text(path))
    kind = record.get("tokenizer_class", "")
    if kind.startswith("AlbertTokenizer"):
        # Read as AutoTokenizer loads it (the fast tokenizer): the quote rewrite its tokenizer.json has, or
        # transformers' own (`` and '' to a double quote) when there is none.
        return SentencePieceTokenizer(filesystem.join(directory, "spiece.model"),
                                      do_lower_case=record.get("do_lower_case", True),
                                      keep_accents=record.get("keep_accents", False),
                                      remove_space=record.get("remove_space", True),
                                      split_digit_comma=record.get("split_digit_comma", True),
                                      replace_quotes=hf_tokenizer_json.directory_replaces_quotes(directory))
    if kind.startswith("BertTokenizer"):
        return WordPieceTokenizer(filesystem.join(directory, "vocab.txt"),
                                  do_lower_case=record.get("do_lower_case", True))
    raise CheckpointFormatError(f"{path}: field 'tokenizer_class' is {kind!r}; expected AlbertTokenizer (SentencePiece) "
                                "or BertTokenizer (WordPiece)")


# A Hugging Face directory's tokenizer_config.json reads as this project's tokenizer wherever a
# recorded tokenizer is read (--init_checkpoint, albert-export, the vocabulary match).
assets.FOREIGN_RECORD_READERS["tokenizer_class"] = read_hf_tokenizer


def read_hf_config(directory: str) -> Optional[dict]:
    path = filesystem.join(directory, "config.json")
    if not filesystem.exists(path):
        return None
    return json.loads(filesystem.read_text(path))


def model_max_length(directory: str) -> Optional[int]:
    """The packing length a transformers tokenizer_config.json records, if a usable one."""
    path = filesystem.join(directory, HF_TOKENIZER_CONFIG)
    if not filesystem.exists(path):
        return None
    value = json.loads(filesystem.read_text(path)).get("model_max_length")
    return value if isinstance(value, int) and 0 < value < 1_000_000 else None
