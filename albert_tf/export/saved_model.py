"""Export fine-tuned classifiers, SQuAD models and the bare encoder as raw-text SavedModels.

Each export is written to a temporary directory next to `export_dir`, reloaded in a fresh process
(`self_check`) and compared with the in-memory Python pipeline on sample texts, and only then
renamed into place: a failed or interrupted export never leaves a half-written or wrong model.

Files next to the graph (`assets.extra/`): the vocabulary (`*.model` / `vocab.txt`),
`tokenizer_config.json` (the settings the tokens were made with), `albert_config.json`,
`labels.txt` (classifiers) and `export.json` (kind, lengths, signatures, task settings).

Inside each raw-text SavedModel, `ids/1/` is its ids-only twin (`serving.IdsOnlyServer`): the same id
function saved without the tokenizer, core TensorFlow ops only, for a stock TF Serving binary
(`--model_base_path=<that SavedModel>/ids`, version 1). It is written in the same temporary directory,
checked in the same fresh process before tensorflow_text is importable, and renamed with the rest.
"""

import copy
import json
import os
from typing import Dict, List, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf import filesystem
from albert_tf.export import destination, direct_check, direct_signatures, hub, self_check, serving
from albert_tf.export.destination import EXPORT_INFO, EXTRA_DIR
from albert_tf.model_inputs import INPUT_MASK, INPUT_TYPE_IDS, INPUT_WORD_IDS, P_MASK
from albert_tf.modeling import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from albert_tf.squad.features import convert_examples
from albert_tf.squad.modeling import build_squad_model
from albert_tf.squad.reading import SquadExample
from albert_tf.tokenization import save_tokenizer_assets
from albert_tf.tokenization.layers import layer_for


# Sample texts for the reload check: ordinary sentences, an empty string, accents, digit commas,
# a text far longer than any model length (truncation), Chinese.
SAMPLE_TEXTS = (
    "The film is a delight from start to finish.",
    "",
    "Café owners raised 1,000,000 euros in 2019 — a record!",
    "It 's not that it 's bad , it 's just boring .",
    " ".join(["a very long review that keeps going"] * 120),
    "今天天气很好，我们去公园散步吧。",
    "How are you?",
)
SAMPLE_PAIRS = (
    ("A man is playing a guitar.", "Someone plays an instrument."),
    ("", "An empty first text."),
    ("The price rose to 1,250 dollars.", "It cost 1,250 dollars."),
    (" ".join(["first text that is long"] * 90), "short second text"),
    ("我喜欢这部电影", "这部电影很好看"),
)
SQUAD_SAMPLES = (
    ("Where was the treaty signed?", "The treaty was signed in Paris in 1783 after long negotiations."),
    ("Who wrote it?", ""),
    ("What is the population?", " ".join(["The city grew steadily over the centuries."] * 60) +
     " Today its population is 1,250,000."),
    # Answers are cut out of the text as sent: case, accents, ligatures and spacing survive.
    ("Which city?", "The capital of Perú is  Lima, a ﬁne Café city of 10,000,000 people."),
    ("首都是哪里？", "秘鲁的首都是利马（Lima），人口约1000万。"),
)


def special_ids(tokenizer) -> Dict[str, int]:
    return {"cls": tokenizer.cls_id, "sep": tokenizer.sep_id, "pad": tokenizer.pad_id}


def detokenizer_for(tokenizer_layer):
    """Ragged ids -> strings, with the in-graph tokenizer's own vocabulary."""
    if hasattr(tokenizer_layer, "_sp"):
        return tokenizer_layer._sp.detokenize  # pylint: disable=protected-access
    wordpiece = tokenizer_layer._wordpiece  # pylint: disable=protected-access

    def detokenize(ids):
        text = wordpiece.detokenize(ids)
        # WordPiece words are joined by spaces; CJK characters are words of their own. RE2 has no
        # lookahead, so two passes: the first joins every other gap of a run, the second the rest.
        for _ in range(2):
            text = tf.strings.regex_replace(text, r"(\p{Han}) (\p{Han})", r"\1\2")
        return text
    return detokenize


# The export precisions. fp32: float32 throughout. bf16: the serving copy stores its matrix weights (dense
# kernels and biases, the embedding tables, the attention projections) as bfloat16 variables, rounded once when
# the copy is made, so a call multiplies them as they are instead of casting float32 variables on every call
# (what Keras' `mixed_bfloat16` does) and the SavedModel holds half the bytes. LayerNorm keeps its float32
# parameters and computes its statistics in float32 (`mixed_bfloat16` for those layers: as in bf16 training);
# the attention softmax is float32 by construction, and layers that declare float32 (the task heads, so the
# logits) stay float32, as do the outputs.
EXPORT_PRECISIONS = ("fp32", "bf16")

# Layers that keep float32 parameters in a bf16 copy, by their path: the official checkpoint names `LayerNorm`,
# `LayerNorm_1` (`_check_serving_dtypes` refuses a copy where another LayerNormalization slipped through).
_FLOAT32_PARAMETER_LAYERS = r"(.*/)?LayerNorm(_\d+)?"


def serving_dtype_policy(precision: str):
    """The Keras dtype policy the serving copy of an export of `precision` is built under."""
    if precision not in EXPORT_PRECISIONS:
        raise ValueError(f"precision {precision!r}: must be one of {', '.join(EXPORT_PRECISIONS)}")
    if precision == "fp32":
        return keras.DTypePolicy("float32")
    return keras.dtype_policies.DTypePolicyMap(
        default_policy=keras.DTypePolicy("bfloat16"),
        policy_map={_FLOAT32_PARAMETER_LAYERS: keras.DTypePolicy("mixed_bfloat16")})


class _ServingPolicy:
    """Builds the serving copy under the export's policy whatever the training policy was."""

    def __init__(self, precision: str = "fp32"):
        self._policy = serving_dtype_policy(precision)

    def __enter__(self):
        self._previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self._policy)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self._previous)


def _Float32Policy():  # pylint: disable=invalid-name  (the float32 serving policy other exports use)
    return _ServingPolicy("fp32")


def _check_serving_dtypes(model, precision: str):
    """A bf16 copy: every LayerNormalization holds float32 parameters, every other layer holds bfloat16
    weights unless it declares float32 (a task head). Refused otherwise: a layer renamed or added to the
    model would otherwise be served in a precision nobody chose."""
    if precision == "fp32":
        return
    for layer in model._flatten_layers(include_self=False):  # pylint: disable=protected-access
        own = {w.dtype for w in layer._trainable_variables + layer._non_trainable_variables}  # pylint: disable=protected-access
        if not own:
            continue
        if isinstance(layer, keras.layers.LayerNormalization):
            want = {"float32"}
        else:
            want = {"float32" if layer.variable_dtype == "float32" else "bfloat16"}
        if own != want:
            raise ValueError(f"{precision} serving copy: layer {layer.path} ({type(layer).__name__}) holds "
                             f"{'/'.join(sorted(own))} weights, expected {'/'.join(want)}")


def _copy_weights(source, target):
    source_weights = source.get_weights()
    target_shapes = [w.shape for w in target.weights]
    if [tuple(w.shape) for w in source_weights] != [tuple(s) for s in target_shapes]:
        raise ValueError(f"cannot copy the weights of {source.name} into its serving copy: "
                         "the layer structure differs")
    target.set_weights(source_weights)  # float32 values rounded to the copy's bfloat16 variables where bf16
    return target


def serving_classifier(classifier: AlbertClassifier, precision: str = "fp32") -> AlbertClassifier:
    """A dynamic-length copy computing in `precision` (the training model may have static shapes or bf16)."""
    with _ServingPolicy(precision):
        copy = AlbertClassifier(AlbertEncoder(classifier.encoder.albert_config), classifier.num_classes,
                                dropout_rate=classifier.dropout_rate)
    _check_serving_dtypes(copy, precision)
    return _copy_weights(classifier, copy)


def serving_pretrainer(model) -> AlbertPretrainer:
    encoder = model.encoder if hasattr(model, "encoder") else model
    with _Float32Policy():
        copy = AlbertPretrainer(AlbertEncoder(encoder.albert_config))
    if isinstance(model, AlbertPretrainer):
        return _copy_weights(model, copy)
    _copy_weights(encoder, copy.encoder)
    return copy


def serving_squad_model(model, head: str, start_n_top: int, end_n_top: int, precision: str = "fp32"):
    """A dynamic-length copy computing in `precision`; the SQuAD heads declare float32 and stay so."""
    with _ServingPolicy(precision):
        copy = build_squad_model(model.encoder.albert_config, head, None, start_n_top, end_n_top)
    _check_serving_dtypes(copy, precision)
    return _copy_weights(model, copy)


# --- writing -------------------------------------------------------------------------------


def _write_extras(directory: str, tokenizer, config, labels: Optional[Sequence[str]] = None):
    """The files next to the graph but `export.json` (written by `_save_checked` once the check has
    passed). The ids-only twin gets none: it takes no text, so it is not an export the text tools
    (`albert-predict`) can run; its vocabulary is what a host tokenizes with."""
    extra = filesystem.join(directory, EXTRA_DIR)
    save_tokenizer_assets(tokenizer, extra)
    config.to_json_file(filesystem.join(extra, "albert_config.json"))
    if labels:
        filesystem.write_text(filesystem.join(extra, "labels.txt"), "".join(f"{label}\n" for label in labels))


def _write_export_info(directory: str, info: Dict):
    filesystem.write_text(filesystem.join(directory, EXTRA_DIR, EXPORT_INFO),
                          json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _temporary_dir_for(export_dir: str) -> str:
    # Beside the export locally; for gs:// local scratch, which the reload check's child process reads
    # (it cannot see this process's ram://). The name records this process, so the next export there
    # removes it if this one is killed.
    return filesystem.staging_dir(export_dir)


def _completing_files(directory: str) -> List[str]:
    """The files that mark a SavedModel complete (`saved_model.pb`, and `export.json` before it), deepest
    first: copied last where a directory is published by copy (gs://)."""
    marks = [name for name in filesystem.files_under(directory)
             if name.rsplit("/", 1)[-1] in (EXPORT_INFO, "saved_model.pb")]
    return sorted(marks, key=lambda name: (-name.count("/"), name.endswith("saved_model.pb"), name))


def _replace_dir(temporary: str, export_dir: str):
    """Moves the checked export into place, replacing only an earlier export (checked again: time passed)."""
    destination.check_export_dir(export_dir)
    filesystem.publish_dir(temporary, export_dir, last=_completing_files(temporary))


# The ids-only twin of a raw-text SavedModel, relative to it: a TF Serving model base path (`ids`)
# holding version 1.
IDS_EXPORT_DIR = os.path.join("ids", "1")


def ids_requests(requests: List[Dict]) -> List[Dict]:
    """The reload requests of `serving_ids`, addressed to the ids-only twin (no tensorflow_text)."""
    return [{"signature": "serving_default", "inputs": r["inputs"], "model": IDS_EXPORT_DIR, "core_ops_only": True}
            for r in requests if r["signature"] == "serving_ids"]


def _save_checked(server, signatures, export_dir: str, write_extras, check, write_ids_extras=None, info=None):
    """save (+ the ids-only twin) -> extras -> fresh-process check -> `export.json` -> rename.

    `check(dir)` returns the max difference; `write_ids_extras(dir)`, when given, saves
    `server.ids_only()` under `IDS_EXPORT_DIR` and writes its extras there. `info` becomes
    `export.json`, written after the check has passed, with what the check ran and measured under
    `reload_check` (`self_check.recording`; null when the check was skipped) and whatever `check` added
    to `info` itself.
    """
    destination.check_export_dir(export_dir)
    temporary = _temporary_dir_for(export_dir)
    try:
        tf.saved_model.save(serving.track_plain_variables(server), temporary, signatures=signatures)
        if write_ids_extras:
            ids_server = server.ids_only()
            ids_dir = filesystem.join(temporary, IDS_EXPORT_DIR)
            tf.saved_model.save(ids_server, ids_dir, signatures=ids_server.signatures())
            write_ids_extras(ids_dir)
        write_extras(temporary)
        with self_check.recording() as record:
            difference = check(temporary) if check else None
        if info is not None:
            info["max_abs_difference"] = difference
            info["reload_check"] = None if check is None else {
                "passed": True, "process": "fresh (tensorflow and tensorflow_text only)", **record}
            _write_export_info(temporary, info)
        _replace_dir(temporary, export_dir)
    except BaseException:
        filesystem.remove(temporary)
        raise
    if difference is not None:
        logging.info("export %s: fresh-process reload matches the in-memory model (max |diff| %.2e)",
                     export_dir, difference)
    return difference


# --- TFLite ---------------------------------------------------------------------------------

TFLITE_FILE = "model.tflite"


def write_tflite(saved_model_dir: str) -> str:
    """Converts the classifier's id function (`serving_ids` without length chunks) to `<dir>/model.tflite`.

    Converting the loaded concrete function freezes the weights into the flatbuffer (converting the
    SavedModel directly keeps them as resource variables that the interpreter leaves uninitialized).
    Builtin ops only.
    """
    loaded = tf.saved_model.load(saved_model_dir)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([loaded.plain_ids.get_concrete_function()],
                                                                loaded)
    path = filesystem.join(saved_model_dir, TFLITE_FILE)
    filesystem.write_bytes(path, converter.convert())
    return path


def tflite_outputs(path: str, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    interpreter = tf.lite.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    outputs = {}
    for i in range(len(next(iter(inputs.values())))):  # one row at a time: the usual on-device call
        row = runner(**{k: np.asarray(v[i:i + 1], np.int32) for k, v in inputs.items()})
        for name, value in row.items():
            outputs.setdefault(name, []).append(value[0])
    return {name: np.stack(values) for name, values in outputs.items()}


# --- classifier ----------------------------------------------------------------------------


def _classifier_expected(model, tokenizer, max_seq_length, labels, texts_a, texts_b):
    packed = tokenizer.pack_batch(texts_a, texts_b, max_seq_length=max_seq_length)
    logits = np.asarray(model({INPUT_WORD_IDS: packed.input_ids, INPUT_MASK: packed.input_mask,
                               INPUT_TYPE_IDS: packed.segment_ids}, training=False), np.float32)
    if not labels:
        return {"logits": logits, "score": logits[:, 0]}
    label_id = logits.argmax(-1).astype(np.int32)
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return {"logits": logits, "probabilities": exp / exp.sum(-1, keepdims=True), "label_id": label_id,
            "label": np.asarray([labels[i] for i in label_id])}


def export_classifier(classifier, tokenizer, export_dir: str, *, max_seq_length: int,
                      labels: Sequence[str] = (), text_fields: Sequence[str] = ("text_a", "text_b"),
                      task_name: Optional[str] = None, check: bool = True,
                      check_texts: Optional[List[Sequence[str]]] = None, atol: float = 1e-5,
                      tflite: bool = False, ids_export: bool = True, precision: str = "fp32") -> Dict:
    """Writes a raw-text classifier SavedModel; returns the export info.

    Args:
        classifier: a trained `AlbertClassifier` (any dtype policy / static length).
        tokenizer: the Python tokenizer it was trained with (its in-graph twin goes in the graph).
        max_seq_length: packing length used in training.
        labels: label strings in id order; empty for regression (STS-B).
        text_fields: `("text_a",)` for single-sentence tasks, `("text_a", "text_b")` for pairs.
        check_texts: extra rows for the reload check, each `(text_a,)` or `(text_a, text_b)`.
        tflite: also write `model.tflite` of the `serving_ids` signature (ids in, same outputs),
            checked against the Python pipeline like the SavedModel.
        ids_export: also write the ids-only twin `ids/1/` (core TensorFlow ops only, stock TF Serving).
        precision: "fp32", or "bf16": matrix products in bfloat16 (for CPUs with AMX or AVX-512 BF16;
            outputs stay float32), checked against the float32 model within the bf16 tolerance
            (`self_check.compare_reduced_precision`) with the same labels wherever float32's call is clear.
    """
    if classifier.num_classes != max(len(labels), 1):
        raise ValueError(f"the classifier has {classifier.num_classes} outputs but {len(labels)} labels were given")
    if tflite and precision != "fp32":
        raise ValueError(f"tflite: model.tflite is a float32 model; export it with precision fp32, not {precision}")
    model = serving_classifier(classifier, precision)
    # What the check compares with: the float32 model (the bf16 export's reference is the exact model).
    reference = model if precision == "fp32" else serving_classifier(classifier, "fp32")
    server = serving.ClassifierServer(model, layer_for(tokenizer), special_ids(tokenizer), max_seq_length,
                                      labels, text_fields)
    pair = len(text_fields) == 2
    rows = [tuple(r) for r in (check_texts or [])]
    rows += list(SAMPLE_PAIRS) if pair else [(t,) for t in SAMPLE_TEXTS]
    info = {"kind": "classifier", "task": task_name, "labels": list(labels), "regression": not labels,
            "text_fields": list(text_fields), "max_seq_length": int(max_seq_length), "precision": precision,
            "signatures": {"serving_default": list(text_fields),
                           "serving_ids": list(serving.ID_NAMES)}}
    if ids_export:
        info["ids_export"] = {"path": IDS_EXPORT_DIR, "signatures": {"serving_default": list(serving.ID_NAMES),
                                                                     "serving_ids": list(serving.ID_NAMES)}}

    def run_check(directory):
        texts = {field: [row[i] for row in rows] for i, field in enumerate(text_fields)}
        expected = _classifier_expected(reference, tokenizer, max_seq_length, list(labels), texts["text_a"],
                                        texts.get("text_b"))
        packed = tokenizer.pack_batch(texts["text_a"], texts.get("text_b"), max_seq_length=max_seq_length)
        ids = {INPUT_WORD_IDS: packed.input_ids.tolist(), INPUT_MASK: packed.input_mask.tolist(),
               INPUT_TYPE_IDS: packed.segment_ids.tolist()}
        requests = [{"signature": "serving_default", "inputs": texts}, {"signature": "serving_ids", "inputs": ids}]
        got_text, got_ids, *got_core = self_check.reload_outputs(
            directory, requests + (ids_requests(requests) if ids_export else []))
        if precision != "fp32":
            decided = self_check.clear_decisions(expected["logits"])
            if labels:
                info["labels_agreeing_with_fp32"] = float(np.mean(got_text["label_id"] == expected["label_id"]))
            return max(self_check.compare_reduced_precision(expected, got, f"{where} ({precision})", decided=decided)
                       for where, got in (("serving_default", got_text), ("serving_ids", got_ids),
                                          *((f"{IDS_EXPORT_DIR} serving_default", g) for g in got_core)))
        worst = max(self_check.compare(expected, got_text, atol, "serving_default"),
                    self_check.compare(expected, got_ids, atol, "serving_ids"),
                    *(self_check.compare(expected, got, atol, f"{IDS_EXPORT_DIR} serving_default") for got in got_core))
        if tflite:  # XNNPACK sums in another order: a looser bound on the float outputs
            numeric = {k: v for k, v in expected.items() if k in ("logits", "probabilities", "score")}
            info["tflite_max_abs_difference"] = self_check.compare(
                numeric, tflite_outputs(os.path.join(directory, TFLITE_FILE), ids), 1e-4, "model.tflite")
        return worst

    def extras(directory):
        if tflite:
            info["tflite_bytes"] = filesystem.size(write_tflite(directory))
        _write_extras(directory, tokenizer, model.encoder.albert_config, labels)

    info["max_abs_difference"] = _save_checked(
        server, server.signatures(), export_dir, extras, run_check if check else None,
        (lambda d: _write_extras(d, tokenizer, model.encoder.albert_config, labels)) if ids_export else None, info)
    return info


# --- SQuAD ---------------------------------------------------------------------------------


def _squad_expected(model, tokenizer, pairs, max_seq_length, max_query_length):
    examples = [SquadExample(qas_id=str(i), question=q, context=c, answers=(), is_impossible=False)
                for i, (q, c) in enumerate(pairs)]
    features = convert_examples(examples, tokenizer, max_seq_length, max(1, max_seq_length // 4),
                                max_query_length)
    first = np.asarray([int(np.flatnonzero(features.example_index == i)[0]) for i in range(len(pairs))])
    inputs = {INPUT_WORD_IDS: features.input_ids[first], INPUT_MASK: features.input_mask()[first],
              INPUT_TYPE_IDS: features.segment_ids()[first], P_MASK: features.p_mask()[first]}
    width = int(inputs[INPUT_MASK].sum(1).max())
    inputs = {k: v[:, :width] for k, v in inputs.items()}
    outputs = {k: np.asarray(v, np.float32) for k, v in model(inputs, training=False).items()
               if k in ("start_logits", "end_logits", "cls_logits", "start_top_log_probs")}
    return outputs, inputs


def _expected_answers(tokenizer, pairs, text_outputs, id_outputs, max_query_length):
    """The answers the host tokenizer's character offsets give for the spans the reloaded model chose.

    A row the id signature (same window, same model) leaves unanswered (no valid span, or the v2
    null answer) must stay "".
    """
    answers = []
    for i, (question, context) in enumerate(pairs):
        doc_start = min(len(tokenizer.encode(question)), max_query_length) + 2
        offsets = tokenizer.encode_with_offsets(context).offsets
        first = int(text_outputs["answer_start"][i]) - doc_start
        last = int(text_outputs["answer_end"][i]) - doc_start
        if str(id_outputs["answer"][i]) == "" or not 0 <= first <= last < len(offsets):
            answers.append("")
        else:
            answers.append(context[offsets[first][0]:offsets[last][1]].strip())
    return {"answer": np.asarray(answers)}


def export_squad(squad_model, tokenizer, export_dir: str, *, max_seq_length: int, max_query_length: int,
                 head: str, version: str = "1.1", max_answer_length: int = 30, null_threshold=None,
                 start_n_top: int = 5, end_n_top: int = 5, check: bool = True, atol: float = 1e-5,
                 ids_export: bool = True, precision: str = "fp32") -> Dict:
    """Writes a raw-text SQuAD SavedModel (question, context -> logits and best answer).

    The ids-only twin (`ids_export`) returns every output but `answer` (its text needs the
    tokenizer's ops): the host cuts the answer at `answer_start`..`answer_end` with its own offsets.
    `precision="bf16"`: the encoder's matrix weights in bfloat16 (as `export_classifier`'s), the heads and
    outputs float32; its logits are checked against the float32 model within the bf16 tolerance, its
    answers against its own spans.
    """
    model = serving_squad_model(squad_model, head, start_n_top, end_n_top, precision)
    # What the check compares the logits with: the float32 model.
    reference = model if precision == "fp32" else serving_squad_model(squad_model, head, start_n_top, end_n_top)
    layer = layer_for(tokenizer)
    server = serving.SquadServer(model, layer, detokenizer_for(layer), special_ids(tokenizer), max_seq_length,
                                 max_query_length=max_query_length, max_answer_length=max_answer_length,
                                 version=version, null_threshold=null_threshold)
    info = {"kind": "squad", "head": head, "version": version, "max_seq_length": int(max_seq_length),
            "max_query_length": int(max_query_length), "max_answer_length": int(max_answer_length),
            "null_threshold": null_threshold, "precision": precision,
            "signatures": {"serving_default": ["question", "context"],
                           "serving_ids": [*serving.ID_NAMES, P_MASK]}}
    if ids_export:
        info["ids_export"] = {"path": IDS_EXPORT_DIR, "signatures": {"serving_default": [*serving.ID_NAMES, P_MASK],
                                                                     "serving_ids": [*serving.ID_NAMES, P_MASK]}}

    def run_check(directory):
        expected, inputs = _squad_expected(reference, tokenizer, SQUAD_SAMPLES, max_seq_length, max_query_length)
        texts = {"question": [q for q, _ in SQUAD_SAMPLES], "context": [c for _, c in SQUAD_SAMPLES]}
        requests = [{"signature": "serving_default", "inputs": texts},
                    {"signature": "serving_ids", "inputs": {k: v.tolist() for k, v in inputs.items()}}]
        got_text, got_ids, *got_core = self_check.reload_outputs(
            directory, requests + (ids_requests(requests) if ids_export else []))
        if precision == "fp32":
            worst = max(self_check.compare({**expected, INPUT_WORD_IDS: inputs[INPUT_WORD_IDS]}, got_text, atol,
                                           "serving_default"),
                        self_check.compare(expected, got_ids, atol, "serving_ids"))
        else:  # the logits within the bf16 tolerance of float32's; the packed ids exactly
            worst = max(self_check.compare_reduced_precision({**expected, INPUT_WORD_IDS: inputs[INPUT_WORD_IDS]},
                                                             got_text, f"serving_default ({precision})"),
                        self_check.compare_reduced_precision(expected, got_ids, f"serving_ids ({precision})"))
        for got in got_core:  # every output of serving_ids but the detokenized answer, exactly
            same = {name: value for name, value in got_ids.items() if name != "answer"}
            if sorted(got) != sorted(same):
                raise self_check.ExportCheckError(f"{IDS_EXPORT_DIR}: outputs {sorted(got)}, expected {sorted(same)}")
            worst = max(worst, self_check.compare(same, got, atol, f"{IDS_EXPORT_DIR} serving_default"))
        answers = _expected_answers(tokenizer, SQUAD_SAMPLES, got_text, got_ids, max_query_length)
        self_check.compare(answers, got_text, atol, "serving_default (original-text answers)")
        return worst

    info["max_abs_difference"] = _save_checked(
        server, server.signatures(), export_dir,
        lambda d: _write_extras(d, tokenizer, model.encoder.albert_config),
        run_check if check else None,
        (lambda d: _write_extras(d, tokenizer, model.encoder.albert_config)) if ids_export else None, info)
    return info


# --- encoder + preprocessor (TF Hub text API) ------------------------------------------------


def export_encoder(model, tokenizer, export_dir: str, *, max_seq_length: int = 128, with_mlm: bool = True,
                   with_sop: Optional[bool] = None, check: bool = True, atol: float = 1e-5,
                   ids_export: bool = True) -> Dict:
    """Writes `export_dir/encoder` and `export_dir/preprocessor` (TF Hub text API SavedModels).

    The encoder also carries the direct-use signatures (`export.direct_signatures`): `embed`, plus
    `fill_mask` with the MLM head and `sentence_order` with the SOP head.

    Args:
        model: an `AlbertPretrainer` (the `mlm` endpoint is exported) or an `AlbertEncoder`.
        max_seq_length: the preprocessor's default length and the raw-text signature's length.
        with_mlm: export `encoder.mlm` and `fill_mask` (needs trained MLM head weights, i.e. an `AlbertPretrainer`).
        with_sop: export `sentence_order` (needs trained SOP head weights); default: as `with_mlm`.
        ids_export: also write `encoder/ids/1/`, the ids-only twin of the encoder's `serving_ids`.
    """
    pretrainer = serving_pretrainer(model)
    with_mlm = with_mlm and isinstance(model, AlbertPretrainer)
    with_sop = (with_mlm if with_sop is None else with_sop) and isinstance(model, AlbertPretrainer)
    layer = layer_for(tokenizer)
    ids = special_ids(tokenizer)
    encoder_server = hub.HubEncoder(pretrainer.encoder, layer, ids, max_seq_length,
                                    pretrainer if with_mlm else None)
    mask_tokenizer = copy.copy(tokenizer)
    mask_tokenizer.mask_token_in_text = True
    direct = direct_signatures.DirectUseServer(
        pretrainer, layer_for(mask_tokenizer), {**ids, "mask": tokenizer.mask_id},
        tokenizer.convert_ids_to_tokens(range(tokenizer.vocab_size)), max_seq_length,
        with_mlm=with_mlm, with_sop=with_sop)
    encoder_server.direct_use = direct  # tracked: its functions and the shared variables are saved
    preprocessor = hub.HubPreprocessor(layer_for(tokenizer), ids, max_seq_length)
    config = pretrainer.encoder.albert_config
    info = {"kind": "encoder", "max_seq_length": int(max_seq_length), "mlm": with_mlm, "sop": with_sop,
            "fill_mask_top_k": direct.top_k,
            "signatures": {"serving_default": ["text_a"], "serving_pair": ["text_a", "text_b"],
                           "serving_ids": list(serving.ID_NAMES), **direct.signature_inputs()}}
    if ids_export:
        info["ids_export"] = {"path": IDS_EXPORT_DIR, "signatures": {"serving_default": list(serving.ID_NAMES),
                                                                     "serving_ids": list(serving.ID_NAMES)}}

    def run_check(directory):
        texts = list(SAMPLE_TEXTS)
        packed = tokenizer.pack_batch(texts, max_seq_length=max_seq_length)
        inputs = {INPUT_WORD_IDS: packed.input_ids, INPUT_MASK: packed.input_mask,
                  INPUT_TYPE_IDS: packed.segment_ids}
        width = int(packed.input_mask.sum(1).max())
        outputs = pretrainer.encoder({k: v[:, :width] for k, v in inputs.items()}, training=False)
        expected = {"pooled_output": np.asarray(outputs["pooled_output"]),
                    "sequence_output": np.asarray(outputs["sequence_output"])}
        ids = {INPUT_WORD_IDS: packed.input_ids[:, :width].tolist(),
               INPUT_MASK: packed.input_mask[:, :width].tolist(),
               INPUT_TYPE_IDS: packed.segment_ids[:, :width].tolist()}
        requests = [{"signature": "serving_default", "inputs": {"text_a": texts}}]
        if ids_export:
            requests += ids_requests([{"signature": "serving_ids", "inputs": ids}])
        requests += direct_check.requests(direct)
        got_text, *got_direct = self_check.reload_outputs(directory, requests)
        worst = self_check.compare(expected, got_text, atol, "encoder serving_default")
        if ids_export:
            worst = max(worst, self_check.compare(expected, got_direct.pop(0), atol,
                                                  f"encoder/{IDS_EXPORT_DIR} serving_default"))
        return max(worst, direct_check.compare(direct, pretrainer, tokenizer, max_seq_length, got_direct, atol))

    destination.check_export_dir(export_dir)
    temporary = _temporary_dir_for(export_dir)
    try:
        info["max_abs_difference"] = _save_checked(
            encoder_server, {**encoder_server.signatures(), **direct.signatures()}, os.path.join(temporary, "encoder"),
            lambda d: _write_extras(d, tokenizer, config), run_check if check else None,
            (lambda d: _write_extras(d, tokenizer, config)) if ids_export else None, info)
        _save_checked(preprocessor, None, os.path.join(temporary, "preprocessor"),
                      lambda d: _write_extras(d, tokenizer, config), None, info={**info, "kind": "preprocessor"})
        _replace_dir(temporary, export_dir)
    except BaseException:
        filesystem.remove(temporary)
        raise
    return info


def read_export_info(export_dir: str) -> Dict:
    path = filesystem.join(export_dir, EXTRA_DIR, EXPORT_INFO)
    if not filesystem.exists(path):
        raise FileNotFoundError(f"{export_dir}: not an albert-tf export ({EXTRA_DIR}/{EXPORT_INFO} is missing)")
    return json.loads(filesystem.read_text(path))


__all__ = ["export_classifier", "export_encoder", "export_squad", "read_export_info", "IDS_EXPORT_DIR",
           "SAMPLE_TEXTS"]
