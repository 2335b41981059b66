"""Load any supported checkpoint into a model, and save a model in the TF1 or Hugging Face layout.

Formats, detected from the file content (`formats`; a name that promises another format is refused)
and the variable names:
  * TF1 name-based checkpoints: Google/official, TF-Hub (`module/` prefix), brightmart/albert_zh,
    with or without optimizer slots (this project writes the Google layout too);
  * Hugging Face: `model.safetensors`, or `pytorch_model.bin` through torch's safe loader;
  * this project's `.keras` files (any ALBERT task model; its encoder/head weights are mapped);
  * Keras `.weights.h5` files (`model.save_weights`), which hold no architecture: they are read
    into a twin of the model being loaded, then mapped like any other source.

Only TF1 checkpoints need TensorFlow; the other formats load on any Keras backend.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import warnings
from typing import Dict, List, Optional

import keras
import numpy as np

import albert_tf.modeling  # noqa: F401  (registers the classes a .keras file names)
from albert_tf import filesystem
from albert_tf.checkpoints import formats, huggingface, keras_hub, tf1
from albert_tf.checkpoints.names import BRIGHTMART, GOOGLE, POOLER, blame_field, layout_of, model_slots
from albert_tf.checkpoints.report import CheckpointMismatchError, LoadReport
from albert_tf.config import AlbertConfig

logger = logging.getLogger("albert_tf")

KERAS = "keras"
KERAS_WEIGHTS = "keras_weights"
HUGGINGFACE = "huggingface"
KERAS_HUB = "keras_hub"


@dataclasses.dataclass
class CheckpointWeights:
    """Weights of a checkpoint under canonical TF1 names, plus what was left out on reading."""

    source: str
    format: str
    layout: str
    weights: Dict[str, np.ndarray]
    skipped: List[str]
    unmapped: List[str]


def _find_in_directory(directory):
    for name in huggingface.WEIGHTS_FILES:
        if filesystem.exists(filesystem.join(directory, name)):
            return filesystem.join(directory, name)
    names = filesystem.listdir(directory)
    keras_files = [f for f in names if f.endswith(".keras")]
    if len(keras_files) == 1 and not any(f.endswith(".index") for f in names):
        return filesystem.join(directory, keras_files[0])
    return directory


def locate_checkpoint(path: str):
    """(the file or TF1 prefix holding the weights of `path`, its format), from names and content
    only: cheap enough to run before any expensive work, and it raises what reading would."""
    path = os.fspath(path)
    if keras_hub.is_preset(path):
        return path, KERAS_HUB
    if filesystem.isdir(path):
        path = _find_in_directory(path)
    if path.endswith(huggingface.SHARD_INDEX_SUFFIX):
        if not filesystem.isfile(path):
            raise FileNotFoundError(f"weights file not found: {path}")
        for shard in huggingface.shard_files(path):
            formats.require(shard, *formats.BY_SUFFIX[os.path.splitext(shard)[1]])
        return path, HUGGINGFACE
    suffix = os.path.splitext(path)[1]
    if suffix in formats.BY_SUFFIX:
        formats.require(path, *formats.BY_SUFFIX[suffix])
        return path, {".keras": KERAS, ".h5": KERAS_WEIGHTS}.get(suffix, HUGGINGFACE)
    if filesystem.isfile(path) and not filesystem.exists(path + ".index") and not tf1.is_tf1_checkpoint(path):
        raise tf1.CheckpointFormatError(
            f"{path} is {formats.describe(path)}, expected a TF1 checkpoint (prefix with .index and .data files), "
            "a .keras file, a .weights.h5 file, model.safetensors or pytorch_model.bin")
    return tf1.resolve_checkpoint_prefix(path), "tf1"


def read_checkpoint(path: str, like=None) -> CheckpointWeights:
    """Read any supported checkpoint into canonical TF1 names.

    No model is needed, except for a `.weights.h5` file: it names no architecture, so it is read
    into a fresh twin of `like` (the model it will be loaded into).
    """
    path, kind = locate_checkpoint(path)
    if kind == KERAS_WEIGHTS:
        return _read_keras_weights(path, like)
    if kind == HUGGINGFACE:
        source, state = huggingface.read_hf_state(path)
        weights, skipped, unmapped = huggingface.hf_to_tf1(state, source)
        if huggingface.hf_architecture(source) == huggingface.TOKEN_CLASSIFICATION:
            weights = huggingface.as_token_classification(weights)
        return CheckpointWeights(source, HUGGINGFACE, GOOGLE, weights, skipped, unmapped)
    if kind == KERAS_HUB:
        return CheckpointWeights(path, KERAS_HUB, GOOGLE, keras_hub.read_preset_weights(path), [], [])
    if kind == KERAS:
        model = _load_keras_file(path)
        return CheckpointWeights(path, KERAS, layout_of(getattr(model, "encoder", model)), export_weights(model),
                                 [], [])
    prefix, weights, skipped = tf1.read_tf1_checkpoint(path)
    layout = tf1.detect_layout(weights, prefix)
    return CheckpointWeights(prefix, "tf1", layout, weights, skipped, [])


def _read_keras_weights(path: str, like) -> CheckpointWeights:
    if like is None:
        raise tf1.CheckpointFormatError(
            f"{path} is a Keras .weights.h5 file, which holds weights without their model; load it into a model "
            "built from the same config (load_weights(model, path)), or use a .keras file")
    # A twin, so that a file that does not fit leaves the caller's model untouched.
    twin = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(like))
    try:
        with warnings.catch_warnings():
            # Keras only warns when a part of the model finds nothing in the file ("retain their
            # freshly-initialized weights"): a partial load, refused like any other mismatch.
            warnings.filterwarnings("error", category=UserWarning, module=r"keras\.src\.saving")
            with filesystem.local_copy(path) as local:  # h5py opens a local file
                twin.load_weights(local)
    except (ValueError, KeyError, UserWarning) as err:
        raise CheckpointMismatchError(
            f"{path} does not fit a {type(like).__name__} built from this config (a .weights.h5 file loads only "
            f"into the model class and config that saved it): {str(err).splitlines()[0]}") from err
    return CheckpointWeights(path, KERAS_WEIGHTS, layout_of(getattr(twin, "encoder", twin)), export_weights(twin),
                             [], [])


def _load_keras_file(path: str):
    with filesystem.local_copy(path) as local:  # Keras unzips a local file
        return keras.saving.load_model(local)


def export_weights(model) -> Dict[str, np.ndarray]:
    """The model's weights as {canonical TF1 name: array}, in the TF1 orientation."""
    out = {}
    for slot in model_slots(model):
        value = np.asarray(slot.variable.numpy())
        out[slot.name] = value.T if slot.transposed else value
    return out


def assign_weights(model, checkpoint: CheckpointWeights, allow_partial: bool = False) -> LoadReport:
    """Copy canonical weights into `model` and report; nothing is assigned if the load is refused."""
    model_layout = layout_of(getattr(model, "encoder", model))
    if checkpoint.layout != model_layout:
        wanted = "project_first" if checkpoint.layout == BRIGHTMART else "factorized"
        raise CheckpointMismatchError(
            f"{checkpoint.source} uses the {checkpoint.layout} layout but the model was built with "
            f"config field 'embedding_layout'={'project_first' if model_layout == BRIGHTMART else 'factorized'!r}; "
            f"set 'embedding_layout': {wanted!r} in the config (brightmart/albert_zh checkpoints also need the "
            "right 'ln_type', which names cannot reveal)")
    report = LoadReport(source=checkpoint.source, layout=f"{checkpoint.format}/{checkpoint.layout}",
                        skipped=list(checkpoint.skipped), unused=list(checkpoint.unmapped))
    pending = []
    remaining = dict(checkpoint.weights)
    # transformers' heads over the sequence output (masked LM, question answering, token classification)
    # are saved without a pooler: an absent pooler is newly initialized like a head, never a broken load.
    pooler_absent = not any(name in remaining for name in POOLER)
    for slot in model_slots(model):
        if slot.name not in remaining:
            head_like = slot.is_head or (pooler_absent and slot.name in POOLER)
            (report.newly_initialized if head_like else report.missing).append(slot.name)
            continue
        value = remaining.pop(slot.name)
        if slot.transposed:
            value = value.T
        want = tuple(slot.variable.shape)
        if tuple(value.shape) != want:
            have = tuple(value.T.shape) if slot.transposed else tuple(value.shape)
            model_shape = want[::-1] if slot.transposed else want
            field = blame_field(slot.name, have, model_shape)
            report.shape_mismatches.append((slot.name, have, model_shape, field))
            continue
        pending.append((slot, value))
        report.matched.append(slot.name)
    report.unused += sorted(remaining)
    report.raise_if_incomplete(allow_partial)
    for slot, value in pending:
        slot.variable.assign(value.astype(slot.variable.dtype))
    return report


def load_weights(model, path: str, allow_partial: bool = False, verbose: bool = True) -> LoadReport:
    """Load a checkpoint of any supported format into a built model; returns the report.

    Missing encoder weights, leftover encoder weights and shape mismatches raise
    `CheckpointMismatchError` naming the config field at fault, unless `allow_partial`.
    Task-head weights absent from a pretrained checkpoint are reported as newly initialized.
    """
    report = assign_weights(model, read_checkpoint(path, like=model), allow_partial=allow_partial)
    if verbose:
        logger.info("%s", report.summary())
    return report


def _encoder_of(model):
    """The AlbertEncoder inside any task model (a multiple-choice scorer holds it in its classifier)."""
    for holder in (model, getattr(model, "classifier", None)):
        encoder = getattr(holder, "encoder", None)
        if encoder is not None and hasattr(encoder, "albert_config"):
            return encoder
    return model


def keras_file_config(path: str) -> AlbertConfig:
    """The config a `.keras` file was saved with (its encoder's `albert_config`)."""
    config = getattr(_encoder_of(_load_keras_file(path)), "albert_config", None)
    if config is None:
        raise tf1.CheckpointFormatError(f"{path}: a .keras file without an ALBERT encoder; pass --config")
    return config


def find_config(path: str) -> Optional[str]:
    """The config json that sits next to a checkpoint, if any."""
    path = os.fspath(path)
    directory = path if filesystem.isdir(path) else filesystem.dirname(path)
    for name in ("albert_config.json", "config.json"):
        candidate = filesystem.join(directory or ".", name)
        if filesystem.exists(candidate):
            return candidate
    return None


def load_config_for(path: str, config_file: Optional[str] = None) -> AlbertConfig:
    """The AlbertConfig of a checkpoint: the given file, the one inside a `.keras` file (which carries
    its model's config), or the json next to the checkpoint."""
    if config_file is None and locate_checkpoint(path)[1] == KERAS:
        return keras_file_config(locate_checkpoint(path)[0])
    config_file = config_file or find_config(path)
    if config_file is None:
        raise FileNotFoundError(f"no albert_config.json or config.json next to {path}; pass the config file")
    data = json.loads(filesystem.read_text(config_file))
    if keras_hub.is_preset_config(data):
        return keras_hub.config_from_preset(data, config_file)
    if data.get("model_type") == "albert" or "layer_norm_eps" in data:
        return AlbertConfig.from_hf_dict(data, source=config_file)
    return AlbertConfig.from_json_file(config_file)


def save_tf1(model, prefix: str, global_step: Optional[int] = None, write_config: bool = True) -> str:
    """Write the model in the TF1 layout of its config (Google, or brightmart for project_first)."""
    tf1.write_tf1_checkpoint(export_weights(model), prefix, global_step=global_step)
    if write_config:
        config = getattr(model, "encoder", model).albert_config
        config_path = filesystem.join(filesystem.dirname(filesystem.absolute(prefix)), "albert_config.json")
        AlbertConfig.from_dict(config.to_official_dict()).to_json_file(config_path)
    return prefix


def save_hf(model, directory: str, task: Optional[dict] = None, tokenizer=None) -> str:
    """Write model.safetensors + config.json readable by Hugging Face `AlbertFor*`.

    `task` (a model directory's task.json record) names the head: `architectures`, `id2label`;
    `tokenizer` adds the tokenizer files transformers reads.
    """
    config = getattr(model, "encoder", model).albert_config
    hf_config = config.to_hf_dict()
    weights = export_weights(model)
    if task is not None:  # refuses a head transformers has no class for
        hf_config.update(huggingface.head_config(task))
        target = huggingface.write_hf(weights, directory, hf_config)
        if tokenizer is not None:
            huggingface.write_hf_tokenizer(tokenizer, directory, task.get("max_seq_length"))
        return target
    if "output_weights" in weights:
        hf_config["architectures"] = ["AlbertForSequenceClassification"]
        hf_config["num_labels"] = int(weights["output_weights"].shape[0])
    if "cls/token_classification/output_weights" in weights:
        hf_config["architectures"] = [huggingface.TOKEN_CLASSIFICATION]
        hf_config["num_labels"] = int(weights["cls/token_classification/output_weights"].shape[0])
    return huggingface.write_hf(weights, directory, hf_config)
