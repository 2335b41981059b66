"""keras-hub presets, both ways: `AlbertBackbone` / `AlbertTextClassifier` preset directories.

Export builds the keras-hub model in this process from our config, assigns our weights to its
variables through one name table, and lets keras-hub's own `save_to_preset` write the directory
(config.json, model.weights.h5, task.json + task.weights.h5 for a classifier, tokenizer.json +
assets/tokenizer/vocabulary.spm, metadata.json), so the files are exactly what its loader expects.
The preset's SentencePiece model has our preprocessing (lowercase, accents stripped) folded into its
normalizer (`tokenization.folded_preprocessing`), since keras-hub tokenizes raw text. Our tokenizer
settings and task record travel beside them (`tokenizer_config.json` + `spiece.model`,
`albert_tf_task.json`; keras-hub ignores unknown files), so a round trip keeps labels and settings.

Import reads a preset through keras-hub's `from_preset` and maps its variables back to canonical
TF1 names through the same table. keras-hub is an optional dependency (`pip install albert-tf[kerashub]`),
imported only inside the functions that need it.

What keras-hub's ALBERT cannot express is refused before any work: the brightmart embedding layout,
pre-LN blocks, `num_hidden_layers` not divisible by `num_hidden_groups`, any activation other than the
tanh GELU (its blocks hard-code `gelu_approximate`), a WordPiece vocabulary (its tokenizer is
SentencePiece only) and heads other than sequence classification.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np

from albert_tf import filesystem
from albert_tf.checkpoints.report import CheckpointFormatError
from albert_tf.config import AlbertConfig
from albert_tf.tokenization import SentencePieceTokenizer, load_tokenizer, save_tokenizer_assets
from albert_tf.tokenization.folded_preprocessing import folded_model_proto, unfoldable

logger = logging.getLogger("albert_tf")

BACKBONE_CLASS = "AlbertBackbone"
CLASSIFIER_CLASS = "AlbertTextClassifier"
CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
TASK_CONFIG_FILE = "task.json"
TASK_RECORD_FILE = "albert_tf_task.json"  # our task record (labels), beside keras-hub's files
SPM_ASSET = "assets/tokenizer/vocabulary.spm"
TANH_GELU = ("gelu", "gelu_new", "gelu_tanh")
HEAD_KINDS = ("classification", "regression")


class KerasHubUnsupportedError(ValueError):
    """A model keras-hub's ALBERT classes cannot express."""


def require():
    """keras-hub, imported; a clear ImportError naming the extra when it is not installed."""
    return _keras_hub()


def _keras_hub():
    try:
        import keras_hub  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ImportError("keras-hub presets need the keras-hub package: pip install 'albert-tf[kerashub]' "
                          f"({error})") from None
    return keras_hub


# === The name table ===

def name_table(config: AlbertConfig) -> List[Tuple[str, str]]:
    """(canonical TF1 name, keras-hub variable path) for every encoder variable. Arrays move between
    the two by a reshape: keras-hub's attention kernels are [H, heads, head] / [heads, head, H]."""
    pairs = [("bert/embeddings/word_embeddings", "token_embedding/embeddings"),
             ("bert/embeddings/position_embeddings", "position_embedding/embeddings"),
             ("bert/embeddings/token_type_embeddings", "segment_embedding/embeddings"),
             ("bert/embeddings/LayerNorm/gamma", "embeddings_layer_norm/gamma"),
             ("bert/embeddings/LayerNorm/beta", "embeddings_layer_norm/beta"),
             ("bert/encoder/embedding_hidden_mapping_in/kernel", "embedding_projection/kernel"),
             ("bert/encoder/embedding_hidden_mapping_in/bias", "embedding_projection/bias")]
    parts = [("attention_1/self/query", "self_attention_layer/query"),
             ("attention_1/self/key", "self_attention_layer/key"),
             ("attention_1/self/value", "self_attention_layer/value"),
             ("attention_1/output/dense", "self_attention_layer/attention_output"),
             ("ffn_1/intermediate/dense", "feedforward_intermediate_dense"),
             ("ffn_1/intermediate/output/dense", "feedforward_output_dense")]
    norms = [("LayerNorm", "self_attention_layer_norm"), ("LayerNorm_1", "feedforward_layer_norm")]
    for g in range(config.num_hidden_groups):
        for k in range(config.inner_group_num):
            ours, theirs = f"bert/encoder/transformer/group_{g}/inner_group_{k}", f"group_{g}_inner_layer_{k}"
            for a, b in parts:
                pairs += [(f"{ours}/{a}/kernel", f"{theirs}/{b}/kernel"), (f"{ours}/{a}/bias", f"{theirs}/{b}/bias")]
            for a, b in norms:
                pairs += [(f"{ours}/{a}/gamma", f"{theirs}/{b}/gamma"), (f"{ours}/{a}/beta", f"{theirs}/{b}/beta")]
    pairs += [("bert/pooler/dense/kernel", "pooled_dense/kernel"), ("bert/pooler/dense/bias", "pooled_dense/bias")]
    return pairs


# === What keras-hub can express ===

def check_expressible(config: AlbertConfig, task: Optional[dict] = None, tokenizer=None):
    """Raise KerasHubUnsupportedError naming the field keras-hub's ALBERT has no place for."""
    def refuse(field, value, why):
        raise KerasHubUnsupportedError(f"cannot write a keras-hub preset: config field '{field}' is {value!r}; {why}")

    if config.embedding_layout != "factorized":
        refuse("embedding_layout", config.embedding_layout, "keras-hub's AlbertBackbone has only the Google layout "
               "(LayerNorm over the embedding size, then a dense projection to hidden_size)")
    if config.ln_type != "postln":
        refuse("ln_type", config.ln_type, "keras-hub's AlbertBackbone blocks are post-LN only")
    if config.num_hidden_layers % config.num_hidden_groups:
        refuse("num_hidden_groups", config.num_hidden_groups,
               f"keras-hub requires num_hidden_layers ({config.num_hidden_layers}) to be a multiple of it")
    if config.hidden_act not in TANH_GELU:
        why = ("keras-hub's blocks use the tanh GELU; the exact erf GELU would change every output"
               if config.hidden_act in ("gelu_erf", "gelu_exact") else
               "keras-hub's blocks hard-code the tanh GELU and have no other activation")
        refuse("hidden_act", config.hidden_act, why)
    if task is not None and task.get("kind", "pretraining") not in ("pretraining",) + HEAD_KINDS:
        raise KerasHubUnsupportedError(
            f"cannot write a keras-hub preset of a {task['kind']} model: keras-hub's ALBERT has a text "
            "classifier (AlbertTextClassifier) but no head of this kind; convert with --model=encoder for "
            "the backbone alone")
    if tokenizer is not None and tokenizer.settings.type != "sentencepiece":
        raise KerasHubUnsupportedError(
            "cannot write a keras-hub preset with a WordPiece vocabulary: keras-hub's AlbertTokenizer is "
            "SentencePiece only")


# === Export ===

def _backbone_kwargs(config: AlbertConfig) -> dict:
    return dict(vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
                num_heads=config.num_attention_heads, embedding_dim=config.embedding_size,
                hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
                num_groups=config.num_hidden_groups, num_inner_repetitions=config.inner_group_num,
                dropout=config.hidden_dropout_prob, max_sequence_length=config.max_position_embeddings,
                num_segments=config.type_vocab_size)


def _assign(variables: Dict[str, object], path: str, value: np.ndarray):
    variable = variables[path]
    variable.assign(np.asarray(value).reshape(tuple(variable.shape)).astype(variable.dtype))


def build_keras_hub_model(config: AlbertConfig, weights: Dict[str, np.ndarray], task: Optional[dict] = None,
                          tokenizer=None):
    """The keras-hub backbone (or text classifier) holding `weights` ({canonical TF1 name: array})."""
    check_expressible(config, task, tokenizer)
    keras_hub = _keras_hub()
    backbone = keras_hub.models.AlbertBackbone(**_backbone_kwargs(config))
    variables = {v.path: v for v in backbone.weights}
    for ours, theirs in name_table(config):
        _assign(variables, theirs, weights[ours])
    hub_tokenizer = None
    if tokenizer is not None:
        # keras-hub runs the SentencePiece model on raw text: our lowercasing and accent stripping go into
        # the model's own normalizer, so its ids equal ours.
        for setting in unfoldable(tokenizer):
            logger.warning("the keras-hub tokenizer cannot apply %s=True (a rewrite of pieces after "
                           "segmentation): numbers written with thousands commas may get other ids", setting)
        hub_tokenizer = keras_hub.models.AlbertTokenizer(proto=folded_model_proto(tokenizer))
    if task is None or task.get("kind", "pretraining") == "pretraining" or "output_weights" not in weights:
        return backbone, hub_tokenizer
    kernel = weights["output_weights"].T  # TF1 stores [num_classes, H]
    preprocessor = None
    if hub_tokenizer is not None:
        preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(
            hub_tokenizer, sequence_length=task.get("max_seq_length") or config.max_position_embeddings)
    classifier = keras_hub.models.AlbertTextClassifier(backbone, num_classes=int(kernel.shape[1]),
                                                       preprocessor=preprocessor, dropout=0.1)
    head = {v.path: v for v in classifier.output_dense.weights}
    _assign(head, "logits/kernel", kernel)
    _assign(head, "logits/bias", weights["output_bias"])
    return classifier, hub_tokenizer


def save_preset(weights: Dict[str, np.ndarray], config: AlbertConfig, directory: str, task: Optional[dict] = None,
                tokenizer=None) -> str:
    """Write a keras-hub preset directory (published whole: temporary name, then swapped in)."""
    model, hub_tokenizer = build_keras_hub_model(config, weights, task, tokenizer)
    if "cls/predictions/output_bias" in weights:
        logger.warning("the MLM and SOP heads are not written: a keras-hub ALBERT preset holds the backbone "
                       "(AlbertMaskedLM's head is its own layout)")
    if tokenizer is None:
        logger.warning("no tokenizer given: the preset loads as AlbertBackbone only (no tokenizer.json)")
    directory = os.fspath(directory)
    scratch = tempfile.mkdtemp(prefix="albert-tf-keras-hub-")  # keras-hub's savers write local files
    try:
        staged = os.path.join(scratch, "preset")
        model.save_to_preset(staged)
        if hub_tokenizer is not None and model.__class__.__name__ == BACKBONE_CLASS:
            hub_tokenizer.save_to_preset(staged)
        if tokenizer is not None:
            save_tokenizer_assets(tokenizer, staged)
        if task is not None:
            with open(os.path.join(staged, TASK_RECORD_FILE), "w", encoding="utf-8") as handle:
                handle.write(json.dumps(task, indent=2, sort_keys=True) + "\n")
        parent = filesystem.dirname(filesystem.absolute(directory))
        filesystem.makedirs(parent)
        temporary = filesystem.temporary_dir(parent, filesystem.basename(directory.rstrip("/")))
        try:
            filesystem.copy_tree(staged, temporary, last=[METADATA_FILE])
            filesystem.publish_dir(temporary, directory, last=[METADATA_FILE])
        except BaseException:
            if filesystem.exists(temporary):
                filesystem.remove(temporary)
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return directory


# === Import ===

def _read_json(path: str):
    try:
        return json.loads(filesystem.read_text(path))
    except json.JSONDecodeError as error:
        raise CheckpointFormatError(f"{path}: not valid json ({error})") from None


def is_preset_config(data) -> bool:
    """A keras-hub serialized AlbertBackbone (config.json of a preset), told apart by its class record."""
    return isinstance(data, dict) and data.get("class_name") == BACKBONE_CLASS and \
        str(data.get("module", data.get("registered_name", ""))).startswith("keras_hub")


def is_preset(path) -> bool:
    """A keras-hub ALBERT preset directory: config.json naming AlbertBackbone, and metadata.json."""
    path = os.fspath(path)
    config_path = filesystem.join(path, CONFIG_FILE)
    if not (filesystem.isdir(path) and filesystem.exists(config_path)
            and filesystem.exists(filesystem.join(path, METADATA_FILE))):
        return False
    try:
        return is_preset_config(json.loads(filesystem.read_text(config_path)))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def config_from_preset(data: dict, source: str) -> AlbertConfig:
    """Our config of a keras-hub AlbertBackbone config record (the tanh GELU and post-LN are implied)."""
    fields = data.get("config") or {}
    missing = [k for k in ("vocabulary_size", "num_layers", "num_heads", "embedding_dim", "hidden_dim",
                           "intermediate_dim") if k not in fields]
    if missing:
        raise CheckpointFormatError(f"{source}: field 'config' lacks {', '.join(missing)}")
    dropout = float(fields.get("dropout", 0.0))
    return AlbertConfig(
        vocab_size=fields["vocabulary_size"], embedding_size=fields["embedding_dim"], hidden_size=fields["hidden_dim"],
        num_hidden_layers=fields["num_layers"], num_hidden_groups=fields.get("num_groups", 1),
        num_attention_heads=fields["num_heads"], intermediate_size=fields["intermediate_dim"],
        inner_group_num=fields.get("num_inner_repetitions", 1), hidden_act="gelu", hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout, max_position_embeddings=fields.get("max_sequence_length", 512),
        type_vocab_size=fields.get("num_segments", 2)).validate(source)


def read_preset_config(directory: str) -> AlbertConfig:
    path = filesystem.join(os.fspath(directory), CONFIG_FILE)
    return config_from_preset(_read_json(path), path)


def _task_class(directory: str) -> Optional[str]:
    """AlbertTextClassifier when the preset holds that head; None for the backbone alone. Another task's
    head (AlbertMaskedLM's) is left out, said in a log line: its backbone is read all the same."""
    path = filesystem.join(directory, TASK_CONFIG_FILE)
    if not filesystem.exists(path):
        return None
    name = _read_json(path).get("class_name")
    if name != CLASSIFIER_CLASS:
        logger.warning("%s: field 'class_name' is %r; only %s heads are read, the backbone is read without it",
                       path, name, CLASSIFIER_CLASS)
        return None
    return name


def read_preset_weights(directory: str) -> Dict[str, np.ndarray]:
    """{canonical TF1 name: array} of a preset's backbone and, when it has one, its classifier head."""
    directory = os.fspath(directory)
    config = read_preset_config(directory)
    keras_hub = _keras_hub()
    with filesystem.local_copy(directory) as local:
        if _task_class(directory) == CLASSIFIER_CLASS:
            model = keras_hub.models.AlbertTextClassifier.from_preset(local, preprocessor=None)
            backbone = model.backbone
        else:
            model, backbone = None, keras_hub.models.AlbertBackbone.from_preset(local)
    variables = {v.path: np.asarray(v.numpy()) for v in backbone.weights}
    out = {}
    for ours, theirs in name_table(config):
        out[ours] = _as_tf1(variables[theirs], theirs)
    if model is not None:
        head = {v.path: np.asarray(v.numpy()) for v in model.output_dense.weights}
        out["output_weights"] = head["logits/kernel"].T
        out["output_bias"] = head["logits/bias"]
    return out


def _as_tf1(value: np.ndarray, path: str) -> np.ndarray:
    """keras-hub's per-head attention arrays as the TF1 matrices: [H, heads, head] -> [H, H],
    [heads, head, H] -> [H, H], bias [heads, head] -> [H]."""
    if path.endswith("attention_output/kernel"):
        return value.reshape(-1, value.shape[-1])
    if value.ndim == 3:
        return value.reshape(value.shape[0], -1)
    if path.endswith("/bias"):
        return value.reshape(-1)
    return value


def read_preset_task(directory: str) -> Optional[dict]:
    """The head a preset holds, as a task record: ours when we wrote it, else labels "0".."n-1"."""
    directory = os.fspath(directory)
    if _task_class(directory) is None:
        return None
    record_path = filesystem.join(directory, TASK_RECORD_FILE)
    if filesystem.exists(record_path):
        return _read_json(record_path)
    config_path = filesystem.join(directory, TASK_CONFIG_FILE)
    fields = _read_json(config_path).get("config") or {}
    classes = fields.get("num_classes")
    if not isinstance(classes, int) or classes < 1:
        raise CheckpointFormatError(f"{config_path}: field 'num_classes' is {classes!r}; expected a positive integer")
    preprocessor = _read_json(filesystem.join(directory, "preprocessor.json")) \
        if filesystem.exists(filesystem.join(directory, "preprocessor.json")) else {}
    length = (preprocessor.get("config") or {}).get("sequence_length")
    logger.info("%s records no label names: labels are '0'..'%d'", directory, classes - 1)
    return {"kind": "classification", "labels": [str(i) for i in range(classes)],
            "task_name": filesystem.basename(filesystem.absolute(directory)), "max_seq_length": length or 512}


def read_preset_tokenizer(directory: str):
    """Our tokenizer of a preset: the settings we recorded there, else keras-hub's behaviour (the
    SentencePiece model on the raw text: no lowercasing, accents kept, no digit-comma split)."""
    directory = os.fspath(directory)
    if filesystem.exists(filesystem.join(directory, "tokenizer_config.json")):
        return load_tokenizer(directory)
    spm = filesystem.join(directory, *SPM_ASSET.split("/"))
    if not filesystem.exists(spm):
        return None
    return SentencePieceTokenizer(model_proto=filesystem.read_bytes(spm), do_lower_case=False, keep_accents=True,
                                  remove_space=False, split_digit_comma=False)
