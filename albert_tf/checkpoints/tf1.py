"""TF1 name-based checkpoints: the Google/TF-Hub layout and the brightmart/albert_zh layout."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Dict, Optional

import numpy as np

from albert_tf import atomic_files, filesystem
from albert_tf.checkpoints.names import BRIGHTMART, GOOGLE
from albert_tf.checkpoints.report import CheckpointFormatError

_SLOT_SUFFIXES = ("/adam_m", "/adam_v", "/lamb_m", "/lamb_v", "/Momentum", "/Adam", "/Adam_1")
_BOOKKEEPING = re.compile(r"(^|/)(global_step|AdamWeightDecayOptimizer[^/]*|LAMBOptimizer[^/]*|beta[12]_power|"
                          r"good_steps|loss_scale|current_loss_scale)($|/)")
HUB_PREFIX = "module/"


def _tf():
    """TensorFlow, imported when a TF1 checkpoint is touched: the other formats (and the model)
    load on any Keras backend, where TensorFlow may not be installed."""
    import tensorflow  # pylint: disable=import-outside-toplevel
    return tensorflow


def resolve_checkpoint_prefix(path: str) -> str:
    """Accept a prefix, a `.index`/`.data-*` file, or a directory; return the prefix."""
    tf = _tf()
    path = os.fspath(path)
    if path.endswith(".index"):
        path = path[: -len(".index")]
    path = re.sub(r"\.data-\d{5}-of-\d{5}$", "", path)
    if filesystem.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        indexes = filesystem.glob(filesystem.join(path, "*.index"))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        if not indexes:
            raise FileNotFoundError(f"no TF checkpoint (*.index) in directory {path}")
        raise CheckpointFormatError(f"several checkpoints in {path} and no 'checkpoint' state file; name one of: "
                                    + ", ".join(filesystem.basename(i)[:-6] for i in indexes))
    if not filesystem.exists(path + ".index"):
        if filesystem.exists(path):
            raise CheckpointFormatError(f"{path} is not a TF checkpoint prefix (no {path}.index next to it)")
        raise FileNotFoundError(f"checkpoint not found: {path} (looked for {path}.index)")
    return path


def is_tf1_checkpoint(path: str) -> bool:
    try:
        resolve_checkpoint_prefix(path)
        return True
    except (FileNotFoundError, CheckpointFormatError):
        return False


def _is_skipped(name: str) -> bool:
    return name.endswith(_SLOT_SUFFIXES) or bool(_BOOKKEEPING.search(name)) or name == "_CHECKPOINTABLE_OBJECT_GRAPH"


def read_tf1_checkpoint(path: str):
    """Read model variables of a TF1 checkpoint.

    Returns (prefix, {name: array} without optimizer slots or a `module/` prefix, skipped names).
    """
    tf = _tf()
    prefix = resolve_checkpoint_prefix(path)
    try:
        # The reader of the prefix itself: tf.train.load_checkpoint asks whether the prefix is a
        # directory first, which ram:// answers yes for any prefix of a file name.
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as err:
        raise CheckpointFormatError(f"cannot read checkpoint {prefix}: it is truncated or corrupt "
                                    f"({type(err).__name__}: {str(err).splitlines()[0]})") from err
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in shapes:
        raise CheckpointFormatError(
            f"{prefix} is a TF2 object-based checkpoint, not a name-based TF1 one; load it with "
            "tf.train.Checkpoint(model=...) or convert it with the same model code that wrote it")
    weights, skipped = {}, []
    for name in sorted(shapes):
        if _is_skipped(name):
            skipped.append(name)
            continue
        key = name[len(HUB_PREFIX):] if name.startswith(HUB_PREFIX) else name
        try:
            weights[key] = reader.get_tensor(name)
        except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as err:
            raise CheckpointFormatError(f"cannot read variable {name!r} of {prefix}: the data file is truncated "
                                        f"or corrupt ({str(err).splitlines()[0]})") from err
    if not weights:
        raise CheckpointFormatError(f"{prefix} holds no model variables")
    return prefix, weights, skipped


def detect_layout(weights: Dict[str, np.ndarray], source: str = "checkpoint") -> str:
    """GOOGLE or BRIGHTMART from variable names; refuses layouts that are not ALBERT as released."""
    names = set(weights)
    for name, value in weights.items():
        # albert_zh "*_google_fast" groups FFN kernels as [H/16, I/16, 16]: a different model.
        if "ffn" in name and name.endswith("kernel") and np.ndim(value) != 2:
            raise CheckpointFormatError(
                f"{source}: variable {name} has shape {list(np.shape(value))}; this is albert_zh's non-standard "
                "'*_google_fast' layout (grouped FFN kernels), which no released ALBERT code can run. "
                "Use the standard albert_*_zh_google checkpoints instead.")
    if any(n.startswith("bert/encoder/layer_shared/") for n in names) or "bert/embeddings/word_embeddings_2" in names:
        return BRIGHTMART
    if any(n.startswith("bert/encoder/transformer/group_") for n in names):
        return GOOGLE
    if any(n.startswith("bert/encoder/layer_") for n in names):
        raise CheckpointFormatError(f"{source}: looks like a BERT checkpoint (bert/encoder/layer_N), not ALBERT")
    raise CheckpointFormatError(f"{source}: no ALBERT encoder variables found (expected "
                                "'bert/encoder/transformer/group_*' or 'bert/encoder/layer_shared/*'); "
                                f"first names: {sorted(names)[:5]}")


def write_tf1_checkpoint(weights: Dict[str, np.ndarray], prefix: str, global_step: Optional[int] = None) -> str:
    """Write `{name: array}` as a TF1 name-based checkpoint at `prefix`, atomically.

    The files are written under a temporary prefix and published, data before index, so a reader
    never sees an index that points at missing data. The temporary prefix is in the same directory
    locally (renamed into place) and on local scratch for any other file system (copied over: on
    gs:// the writer's own temporary files and renames would each be a server-side copy).
    """
    tf = _tf()
    given = os.fspath(prefix)
    prefix = filesystem.absolute(given)
    directory = filesystem.dirname(prefix)
    filesystem.makedirs(directory)
    # Owned names: a killed run's leftover is cleaned by the next write there.
    tmp_dir = atomic_files.temporary_dir(directory if filesystem.is_local(directory) else tempfile.gettempdir(),
                                         "ckpt")
    try:
        tmp_prefix = os.path.join(tmp_dir, "ckpt")
        items = dict(weights)
        if global_step is not None:
            items["global_step"] = np.asarray(global_step, dtype=np.int64)
        names = sorted(items)
        tf.raw_ops.SaveV2(prefix=tmp_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=[tf.convert_to_tensor(items[n]) for n in names])
        for data in filesystem.glob(tmp_prefix + ".data-*") + [tmp_prefix + ".index"]:
            final = prefix + data[len(tmp_prefix):]
            if filesystem.is_local(final):
                filesystem.publish_file(data, final)
            else:
                filesystem.copy(data, final)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return given
