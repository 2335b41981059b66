"""The one directory layout of a trained model, pretrained or fine-tuned.

    <dir>/model.ckpt.index, model.ckpt.data-*   encoder + head under the official TF1 names
    <dir>/albert_config.json                    the official config keys
    <dir>/tokenizer_config.json + vocabulary    `tokenization.save_tokenizer_assets`
    <dir>/task.json                             what the head is: kind, labels, lengths, SQuAD settings

`save_model_directory` writes the whole directory under a temporary name and swaps it in, so a
reader sees the previous complete directory or the new one, never a mix. `read_model_directory`
returns a typed description and refuses an incomplete directory naming the missing file. The
earlier SQuAD layout (`squad_head.json` + `model.weights.h5`) is still read, never written.
"""

import dataclasses
import json
import logging
import os
from typing import Dict, Optional

from albert_tf import filesystem, output_errors, tokenization
from albert_tf.checkpoints import load_weights, read_checkpoint, save_tf1
from albert_tf.checkpoints.loader import assign_weights
from albert_tf.checkpoints.names import model_slots
from albert_tf.checkpoints.report import CheckpointMismatchError, LoadReport
from albert_tf.config import AlbertConfig
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer, AlbertTokenClassifier, SquadModel

logger = logging.getLogger("albert_tf")

TASK_FILE = "task.json"
CONFIG_FILE = "albert_config.json"
TOKENIZER_FILE = "tokenizer_config.json"
CHECKPOINT_NAME = "model.ckpt"
FORMAT_VERSION = 1
# The SQuAD layout of earlier releases: Keras weights + head settings.
LEGACY_SQUAD_HEAD = "squad_head.json"
LEGACY_SQUAD_WEIGHTS = "model.weights.h5"

PRETRAINING = "pretraining"
CLASSIFICATION = "classification"
REGRESSION = "regression"
MULTIPLE_CHOICE = "multiple_choice"
SQUAD = "squad"
TOKEN_CLASSIFICATION = "token_classification"
KINDS = (PRETRAINING, CLASSIFICATION, REGRESSION, MULTIPLE_CHOICE, SQUAD, TOKEN_CLASSIFICATION)
LABELLED_KINDS = (CLASSIFICATION, MULTIPLE_CHOICE, TOKEN_CLASSIFICATION)
SQUAD_FIELDS = {"version": str, "head": str, "start_n_top": int, "end_n_top": int, "doc_stride": int,
                "max_query_length": int}


class ModelDirectoryError(ValueError):
    """A model directory that is incomplete or whose task.json does not describe a model."""


@dataclasses.dataclass(frozen=True)
class ModelDirectory:
    """What a model directory holds. `checkpoint_prefix` is a TF1 prefix, or for the earlier SQuAD
    layout (`legacy`) the path of its `.weights.h5` file."""

    path: str
    config: AlbertConfig
    task: Dict
    checkpoint_prefix: str
    legacy: bool = False

    @property
    def kind(self) -> str:
        return self.task["kind"]

    @property
    def labels(self) -> list:
        return list(self.task.get("labels") or [])

    @property
    def max_seq_length(self) -> Optional[int]:
        return self.task.get("max_seq_length")

    @property
    def has_tokenizer(self) -> bool:
        return filesystem.exists(filesystem.join(self.path, TOKENIZER_FILE))


def _need(condition, source, field, reason):
    if not condition:
        raise ModelDirectoryError(f"{source}: field '{field}' {reason}")


def check_task(task: Dict, source: str = TASK_FILE) -> Dict:
    """The task record, checked field by field (errors name `source` and the field)."""
    _need(isinstance(task, dict), source, "kind", "missing: the file must hold a json object")
    kind = task.get("kind")
    _need(kind in KINDS, source, "kind", f"is {kind!r}; expected one of {', '.join(KINDS)}")
    length = task.get("max_seq_length")
    _need(length is None or (isinstance(length, int) and length > 0), source, "max_seq_length",
          f"is {length!r}; expected a positive integer")
    if kind != PRETRAINING:
        _need(length is not None, source, "max_seq_length", f"is required for kind {kind}")
    labels = task.get("labels")
    _need(labels is None or (isinstance(labels, list) and all(isinstance(x, str) for x in labels)), source,
          "labels", f"is {labels!r}; expected a list of label strings in id order")
    if kind in LABELLED_KINDS:
        _need(bool(labels), source, "labels", f"is required (non-empty) for kind {kind}")
    if kind == TOKEN_CLASSIFICATION:  # the window stride serving uses too (absent: half a window)
        stride = task.get("doc_stride")
        _need(stride is None or (isinstance(stride, int) and not isinstance(stride, bool) and stride > 0), source,
              "doc_stride", f"is {stride!r}; expected a positive integer")
    if kind == SQUAD:
        for field, kind_of in SQUAD_FIELDS.items():
            _need(isinstance(task.get(field), kind_of), source, field,
                  f"is {task.get(field)!r}; expected {kind_of.__name__} for kind squad")
        threshold = task.get("null_threshold")
        _need(threshold is None or isinstance(threshold, (int, float)), source, "null_threshold",
              f"is {threshold!r}; expected a number or null")
    return task


def squad_task(*, version, head, max_seq_length, doc_stride, max_query_length, start_n_top, end_n_top,
               null_threshold=None, task_name="squad") -> Dict:
    """The task record of a SQuAD model."""
    return {"kind": SQUAD, "task_name": task_name, "labels": [], "max_seq_length": max_seq_length,
            "version": version, "head": head, "start_n_top": start_n_top, "end_n_top": end_n_top,
            "doc_stride": doc_stride, "max_query_length": max_query_length,
            "null_threshold": None if null_threshold is None else float(null_threshold)}


def _write_json(path: str, data):
    filesystem.write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_task_file(directory: str, task: Dict, checkpoint_name: str = CHECKPOINT_NAME):
    """task.json into a directory being assembled (a temporary one: no rename of its own)."""
    record = dict(check_task(dict(task)), checkpoint=checkpoint_name, format_version=FORMAT_VERSION)
    _write_json(filesystem.join(directory, TASK_FILE), record)


def save_model_directory(directory, weights_model, tokenizer, task: Dict, global_step: Optional[int] = None) -> str:
    """Write `weights_model` (encoder + head), its config, `tokenizer` and `task` as one model directory.

    The directory is assembled under a temporary name next to it and swapped in whole. Returns
    the checkpoint prefix.
    """
    directory = os.fspath(directory)
    task = check_task(dict(task), source=f"task for {directory}")
    with output_errors.writing(directory):
        # Beside it locally (one atomic swap); on gs:// local scratch, copied over with the checkpoint
        # index and task.json last (what marks the directory complete).
        temporary = filesystem.staging_dir(directory)
        try:
            save_tf1(weights_model, filesystem.join(temporary, CHECKPOINT_NAME), global_step=global_step)
            if tokenizer is not None:
                tokenization.save_tokenizer_assets(tokenizer, temporary)
            write_task_file(temporary, task)
            filesystem.publish_dir(temporary, directory, last=(CHECKPOINT_NAME + ".index", TASK_FILE))
        except BaseException:
            filesystem.remove(temporary)
            raise
    return filesystem.join(directory, CHECKPOINT_NAME)


def _read_json(path: str):
    try:
        return json.loads(filesystem.read_text(path))
    except json.JSONDecodeError as error:
        raise ModelDirectoryError(f"{path}:{error.lineno}: not valid json ({error.msg})") from None


def _require(path: str, what: str):
    if not filesystem.exists(path):
        raise ModelDirectoryError(f"incomplete model directory {filesystem.dirname(path)}: {filesystem.basename(path)} "
                                  f"({what}) is missing")


def is_model_directory(path) -> bool:
    """Whether `path` is a model directory (or the earlier SQuAD layout); cheap, reads nothing."""
    path = os.fspath(path) if path else ""
    return bool(path) and filesystem.isdir(path) and any(
        filesystem.exists(filesystem.join(path, name)) for name in (TASK_FILE, LEGACY_SQUAD_HEAD))


def model_directory_of(path) -> Optional[str]:
    """The model directory `path` names: the directory itself, or its checkpoint prefix inside it."""
    if not path:
        return None
    path = os.fspath(path)
    if is_model_directory(path):
        return path
    directory = filesystem.dirname(path)
    if directory and filesystem.exists(filesystem.join(directory, TASK_FILE)):
        recorded = _read_json(filesystem.join(directory, TASK_FILE))
        if isinstance(recorded, dict) and filesystem.basename(path) in (
                recorded.get("checkpoint", CHECKPOINT_NAME), recorded.get("checkpoint", CHECKPOINT_NAME) + ".index"):
            return directory
    return None


def read_model_directory(path) -> ModelDirectory:
    """The typed description of a model directory; an incomplete one is refused naming the missing file."""
    path = os.fspath(path)
    if not filesystem.isdir(path):
        found = model_directory_of(path)
        if found is None:
            raise ModelDirectoryError(f"{path} is not a model directory")
        path = found
    if not filesystem.exists(filesystem.join(path, TASK_FILE)):
        if filesystem.exists(filesystem.join(path, LEGACY_SQUAD_HEAD)):
            return _read_legacy_squad(path)
        raise ModelDirectoryError(f"{path} is not a model directory: {TASK_FILE} is missing")
    task_path = filesystem.join(path, TASK_FILE)
    task = check_task(_read_json(task_path), source=task_path)
    config_path = filesystem.join(path, CONFIG_FILE)
    _require(config_path, "the model config")
    checkpoint = task.get("checkpoint", CHECKPOINT_NAME)
    if not isinstance(checkpoint, str) or os.path.basename(checkpoint) != checkpoint:
        raise ModelDirectoryError(f"{task_path}: field 'checkpoint' is {checkpoint!r}; expected a file name "
                                  "prefix inside the directory")
    prefix = filesystem.join(path, checkpoint)
    _require(prefix + ".index", "the checkpoint index")
    if not filesystem.glob(prefix + ".data-*"):
        raise ModelDirectoryError(f"incomplete model directory {path}: {checkpoint}.data-* (the checkpoint data) "
                                  "is missing")
    if task["kind"] != PRETRAINING:
        _check_tokenizer(path)
    return ModelDirectory(path, AlbertConfig.from_json_file(config_path), task, prefix)


def _check_tokenizer(path: str):
    tokenizer_path = filesystem.join(path, TOKENIZER_FILE)
    _require(tokenizer_path, "the tokenizer settings")
    vocab = _read_json(tokenizer_path).get("vocab_file")
    if vocab:
        _require(filesystem.join(path, vocab), f"the vocabulary named by {TOKENIZER_FILE}")


def _read_legacy_squad(path: str) -> ModelDirectory:
    head_path = filesystem.join(path, LEGACY_SQUAD_HEAD)
    logger.info("%s is a SQuAD model directory of the earlier layout (%s + %s): read as is; a new save writes "
                "%s with a TF1 checkpoint", path, LEGACY_SQUAD_HEAD, LEGACY_SQUAD_WEIGHTS, TASK_FILE)
    head = _read_json(head_path)
    for field in ("version", "head", "start_n_top", "end_n_top", "max_seq_length", "max_query_length"):
        _need(isinstance(head, dict) and field in head, head_path, field, "is missing")
    task = check_task(squad_task(version=head["version"], head=head["head"], max_seq_length=head["max_seq_length"],
                                 doc_stride=head.get("doc_stride", 128), max_query_length=head["max_query_length"],
                                 start_n_top=head["start_n_top"], end_n_top=head["end_n_top"],
                                 null_threshold=head.get("null_threshold")), source=head_path)
    weights = filesystem.join(path, LEGACY_SQUAD_WEIGHTS)
    _require(weights, "the Keras weights")
    config_path = filesystem.join(path, CONFIG_FILE)
    _require(config_path, "the model config")
    _check_tokenizer(path)
    return ModelDirectory(path, AlbertConfig.from_json_file(config_path), task, weights, legacy=True)


def load_model_weights(model, directory: ModelDirectory, allow_partial: bool = False):
    """Load a model directory's weights into a built `model`; returns the load report.

    The earlier SQuAD layout holds Keras weights of the exact `SquadModel` that saved them; they are
    loaded as such (all or nothing) and reported as fully matched.
    """
    if not directory.legacy:
        return load_weights(model, directory.checkpoint_prefix, allow_partial=allow_partial, verbose=False)
    try:
        with filesystem.local_copy(directory.checkpoint_prefix) as local:  # h5py opens a local file
            model.load_weights(local)
    except (ValueError, KeyError) as error:
        raise CheckpointMismatchError(f"{directory.checkpoint_prefix} does not fit this SQuAD model: "
                                      f"{str(error).splitlines()[0]}") from error
    return LoadReport(source=directory.checkpoint_prefix, layout="keras_weights/google",
                      matched=[slot.name for slot in model_slots(model)])


def head_mismatch(directory: ModelDirectory, task: Dict) -> Optional[str]:
    """Why the head saved in `directory` does not serve `task` (None: it does, restore it too)."""
    if directory.kind != task["kind"]:
        return f"it was trained for {directory.kind}, this run is {task['kind']}"
    if task["kind"] == SQUAD:
        for field in ("version", "head"):
            if directory.task.get(field) != task.get(field):
                return f"its SQuAD {field} is {directory.task.get(field)!r}, this run's is {task.get(field)!r}"
        return None
    if directory.labels != list(task.get("labels") or []):
        return f"its labels are {directory.labels}, this run's are {list(task.get('labels') or [])}"
    return None


def load_for_task(model, directory: ModelDirectory, task: Dict):
    """Restore encoder + head when the saved head serves `task`; else the encoder alone, the head
    reported as newly initialized. Returns (load report, the reason the head was left out or None)."""
    reason = head_mismatch(directory, task)
    if reason is None:
        return load_model_weights(model, directory), None
    return load_encoder_weights(model, directory), reason


def load_encoder_weights(model, directory: ModelDirectory):
    """Only the encoder of a model directory (every `bert/` weight); the model's head stays as built."""
    if directory.legacy:
        raise ModelDirectoryError(f"{directory.path}: the earlier SQuAD layout ({LEGACY_SQUAD_WEIGHTS}) loads only "
                                  "into the same SQuAD model; rerun run_squad.py with its settings to save it anew")
    checkpoint = read_checkpoint(directory.checkpoint_prefix)
    head = sorted(name for name in checkpoint.weights if not name.startswith("bert/"))
    encoder = {name: value for name, value in checkpoint.weights.items() if name.startswith("bert/")}
    return assign_weights(model, dataclasses.replace(checkpoint, weights=encoder, skipped=checkpoint.skipped + head))


def build_model(config: AlbertConfig, task: Optional[Dict], encoder_only: bool = False):
    """A built model with the head `task` describes (None or pretraining: MLM + SOP heads), whose
    variables hold everything a model directory of that task stores; `encoder_only`: the bare encoder."""
    encoder = AlbertEncoder(config)
    kind = PRETRAINING if task is None else task["kind"]
    if encoder_only:
        return encoder
    if kind == PRETRAINING:
        return AlbertPretrainer(encoder)
    if kind == SQUAD:
        return SquadModel(encoder, task["head"], task["start_n_top"], task["end_n_top"])
    if kind == TOKEN_CLASSIFICATION:
        return AlbertTokenClassifier(encoder, num_labels=len(task["labels"]))
    # Multiple choice stores the 1-output classifier it applies to each choice.
    outputs = len(task["labels"]) if kind == CLASSIFICATION else 1
    return AlbertClassifier(encoder, outputs)
