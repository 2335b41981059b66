"""albert-predict: batch prediction over a TSV or JSON-lines file with an exported model or a checkpoint.

`--model` is an albert-export / `--export_dir` SavedModel (classifier, SQuAD or NER), a fine-tuned
classifier checkpoint with `--task_name`, or a model directory of a classifier or of run_ner.py
(`ner_model/`: entities, the same records as over its export); a checkpoint is served from memory
through the same code as its export.
Every output row carries the input row's id (`--id`, the task file's own id, else its line number)
so predictions can be joined back to the input. A model exported for a known task reads that task's
files as they are published (e.g. GLUE MRPC test.tsv) unless `--inputs` says otherwise. Rows are read and checked before the model is loaded; the output
is written to a temporary name and renamed when complete.

Examples:
  albert-predict --model=exports/mrpc --input_file=glue_data/MRPC/test.tsv --output_file=mrpc_test.jsonl
  albert-predict --model=exports/sst2 --input_file=reviews.jsonl --inputs=text --output_file=out.tsv
  albert-predict --model=exports/squad --input_file=questions.jsonl --output_file=answers.jsonl
  albert-predict --model=exports/conll --input_file=texts.jsonl --output_file=entities.jsonl   (NER: entities)
  albert-predict --model=runs/conll/ner_model --input_file=texts.jsonl --output_file=entities.jsonl
  albert-predict --task=fill-mask --model=albert_base --input_file=masked.tsv --output_file=filled.jsonl
  albert-predict --task=embed --pooling=mean --model=albert_base --input_file=s.jsonl --output_file=vectors.jsonl

`--task` uses a pretrained model directly (a model directory or checkpoint through albert_tf/inference.py,
or the direct-use signatures of an encoder export): fill-mask (`text` with [MASK]), sentence-order
(`text_a`, `text_b`) or embed (`text`; vectors in a .npy named like the .jsonl).
"""

import json
import time

from absl import app, flags, logging  # noqa: E402

from albert_tf import filesystem, output_errors  # noqa: E402
from albert_tf import tf_logs  # noqa: E402
from albert_tf import inference_files  # noqa: E402
from albert_tf.model_inputs import INPUT_WORD_IDS  # noqa: E402
from albert_tf.training import cpu_features  # noqa: E402

FLAGS = flags.FLAGS
tf_logs.define_flag()

flags.DEFINE_string("model", None, "Exported SavedModel directory, a classifier checkpoint (with --task_name), or "
                    "a classifier / NER model directory; with --task: a pretrained model directory / checkpoint "
                    "or an encoder export.")
flags.DEFINE_string("input_file", None, "Rows to predict: .tsv (tab-separated) or .jsonl (one json object a line).")
flags.DEFINE_string("output_file", None, "Predictions: .jsonl (all outputs) or .tsv (id and label/score/answer).")
flags.DEFINE_list("inputs", None, "Columns (tsv: header names or 0-based indexes) or fields (jsonl) holding the "
                  "model's text inputs, in order. Default: for a model of a known task (GLUE/CLUE/LCQMC), the "
                  "task's own file format (dev or test file) and ids; else the model's input names, else the "
                  "first columns.")
flags.DEFINE_string("id", None, "Column or field with the row id (default: the line number).")
flags.DEFINE_bool("has_header", True, "tsv: the first line names the columns.")
flags.DEFINE_integer("batch_size", 64, "Rows per model call.")
flags.DEFINE_string("task_name", None, "Checkpoint mode: the classifier's task (labels and text fields); a model "
                    "directory names its own.")
flags.DEFINE_list("task_module", None, "Modules or .py files registering your own tasks (as in run_classifier.py).")
flags.DEFINE_integer("max_seq_length", 128, "Checkpoint mode: packing length (a model directory: its task.json).")
flags.DEFINE_enum("precision", "fp32", ["fp32", "bf16", "auto"], "Checkpoint mode: compute precision of the "
                  "model served from memory, as albert-export --precision (bf16: CPUs with AMX or AVX-512 BF16; "
                  "auto: bf16 where this CPU has them). An export keeps the precision it was made with.")
flags.DEFINE_integer("log_every", 5000, "Progress line every N rows.")
flags.DEFINE_enum("task", None, sorted(inference_files.TASK_INPUTS),
                  "Use a pretrained model (--model: its directory, checkpoint or encoder export) directly: "
                  "fill-mask (texts with [MASK]), sentence-order (text_a, text_b: probability they are in order) "
                  "or embed (vectors to a .npy next to the .jsonl).")
flags.DEFINE_integer("top_k", 5, "--task=fill-mask: candidates per [MASK].")
flags.DEFINE_enum("pooling", "pooled", ["pooled", "cls", "mean", "max"],
                  "--task=embed: pretrained pooler on [CLS], the [CLS] vector, or mean / max over the tokens.")
flags.DEFINE_integer("layer", -1, "--task=embed: transformer layer to pool (Python index; -1: the last).")
flags.DEFINE_bool("normalize", False, "--task=embed: L2-normalize the vectors.")
flags.DEFINE_string("vocab_file", None, "--task: the .model / vocab.txt when no tokenizer sits next to --model.")


class InputError(ValueError):
    """A row or flag of the prediction input is wrong (the message names file:line and field)."""


def _select(columns, spec, header, source):
    if spec.isdigit():
        index = int(spec)
    elif header is not None and spec in header:
        index = header.index(spec)
    else:
        raise InputError(f"{source}: no column {spec!r}" + (f" (header: {header})" if header else ""))
    if index >= len(columns):
        raise InputError(f"{source}: row has {len(columns)} columns, wanted column {index} ({spec})")
    return columns[index]


def read_task_rows(task_name, path, text_names):
    """[(id, [texts])] read with the task's own file format: a labelled file (dev) or a test file.

    The file itself says which (a label column by name, the column count of a headerless format),
    so a labelled file is read as one and its labels never reach the model as text.
    """
    from albert_tf.finetuning.examples import DataError
    from albert_tf.finetuning.tasks import get_task
    task = get_task(task_name)
    try:
        examples = task.read(path, labelled=None)
    except DataError as error:
        raise InputError(str(error)) from None
    rows = [(e.guid, [e.text_a] + ([e.text_b] if len(text_names) == 2 else [])) for e in examples]
    if not rows:
        raise InputError(f"{path}: no rows to predict")
    return rows


def read_rows(path, text_names, inputs=None, id_spec=None, has_header=True):
    """[(id, [texts])] with every text a str; errors name file:line and the column or field."""
    from albert_tf.finetuning.examples import DataError
    from albert_tf.finetuning.readers import read_jsonl, read_tsv, require_file
    try:
        require_file(path, "--input_file")
        rows = []
        if path.endswith(".jsonl") or path.endswith(".json"):
            fields = inputs or list(text_names)
            for lineno, obj in read_jsonl(path):
                source = f"{path}:{lineno}"
                missing = [f for f in fields if f not in obj]
                if missing:
                    raise InputError(f"{source}: missing field(s) {missing} (fields: {sorted(obj)}); "
                                     "name them with --inputs")
                texts = [obj[f] for f in fields]
                bad = [f for f, t in zip(fields, texts) if not isinstance(t, str)]
                if bad:
                    raise InputError(f"{source}: field(s) {bad} must be strings")
                rows.append((obj.get(id_spec, lineno) if id_spec else lineno, texts))
        else:
            header, lines = read_tsv(path, has_header)
            if inputs is None:
                names_present = header is not None and all(n in header for n in text_names)
                if header is not None and not names_present and len(header) != len(text_names):
                    # Taking the first columns of a wider file would feed ids or labels to the model.
                    raise InputError(f"{path}:1: header {header} does not name the model's text inputs "
                                     f"({', '.join(text_names)}); name the columns with --inputs (and the id "
                                     "with --id)")
                inputs = list(text_names) if names_present else [str(i) for i in range(len(text_names))]
            for lineno, columns in lines:
                source = f"{path}:{lineno}"
                texts = [_select(columns, spec, header, source) for spec in inputs]
                row_id = _select(columns, id_spec, header, source) if id_spec else lineno
                rows.append((row_id, texts))
    except DataError as error:
        raise InputError(str(error)) from None
    if len(inputs or text_names) != len(text_names):
        raise InputError(f"--inputs names {len(inputs)} columns but the model takes {len(text_names)} texts "
                         f"({', '.join(text_names)})")
    if not rows:
        raise InputError(f"{path}: no rows to predict")
    return rows


def _is_export(model):
    return filesystem.isdir(model) and filesystem.exists(filesystem.join(model, "saved_model.pb"))


# Model directory kinds served from memory (`model_directory` kinds).
SERVED_KINDS = ("classification", "regression", "token_classification")


def _is_ner(saved) -> bool:
    return saved is not None and saved.kind == "token_classification"


def saved_model(model, task_name=None, max_seq_length=None):
    """(the model directory `model` names or None, task name, packing length): a model directory's
    task.json supplies the task and the length; a flag that contradicts it is refused."""
    from albert_tf import model_directory
    found = None if _is_export(model) else model_directory.model_directory_of(model)
    if found is None:
        return None, task_name, 128 if max_seq_length is None else max_seq_length
    saved = model_directory.read_model_directory(found)
    where = f"{found}/{model_directory.TASK_FILE}"
    if saved.kind not in SERVED_KINDS:
        raise InputError(f"--model={model} holds a {saved.kind} model: checkpoint mode serves classification, "
                         f"regression and NER models; export it first (albert-export --checkpoint={found})")
    for flag, given, recorded in (("task_name", task_name, saved.task.get("task_name")),
                                  ("max_seq_length", max_seq_length, saved.max_seq_length)):
        if given is not None and given != recorded:
            raise InputError(f"--{flag}={given} contradicts {where} ({flag} {recorded}): leave --{flag} out")
    return saved, saved.task.get("task_name"), saved.max_seq_length


def text_input_names(model, task_name=None):
    """(the model's text inputs, its task name or None), read without loading it (bad rows fail fast)."""
    from albert_tf.export import read_export_info
    from albert_tf.export.ner_serving import KIND as NER, TEXT_INPUTS
    if _is_export(model):
        info = read_export_info(model)
        if info.get("kind") == NER:  # raw text, one field: no task file format to read
            return info["signatures"]["serving_default"], None
        return info["signatures"]["serving_default"], task_name or info.get("task")
    saved, task_name, _ = saved_model(model, task_name)
    if _is_ner(saved):
        return list(TEXT_INPUTS), None
    if not task_name:
        raise InputError(f"--model={model} is not an exported SavedModel; for a checkpoint give --task_name")
    from albert_tf.export.sources import task_labels_and_fields
    return list(task_labels_and_fields(task_name)[1]), task_name


def load_predictor(model, task_name=None, max_seq_length=None, precision="fp32"):
    """(callable texts -> outputs dict, text input names, export info)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  pylint: disable=unused-import
    from albert_tf.export import read_export_info
    if _is_export(model):
        info = read_export_info(model)
        made = info.get("precision", "fp32")
        if precision not in ("fp32", "auto", made):
            raise InputError(f"--precision={precision}: {model} is a {made} export (the precision is fixed when "
                             f"exporting: albert-export --precision={precision}); leave --precision out")
        if info["kind"] not in ("classifier", "squad", "ner"):
            raise InputError(f"--model={model}: a {info['kind']} export has no predictions to write; use a "
                             "classifier, SQuAD or NER export")
        signature = tf.saved_model.load(model).signatures["serving_default"]
        names = info["signatures"]["serving_default"]
        return (lambda texts: signature(**{n: tf.constant(t) for n, t in zip(names, texts)})), names, info
    saved, task_name, max_seq_length = saved_model(model, task_name, max_seq_length)
    if _is_ner(saved):
        return _ner_predictor(saved, precision)
    if not task_name:
        raise InputError(f"--model={model} is not an exported SavedModel; for a checkpoint give --task_name")
    from albert_tf import model_directory
    from albert_tf.checkpoints import load_config_for, load_weights
    from albert_tf.export.sources import task_labels_and_fields, tokenizer_for
    from albert_tf.export import serving
    from albert_tf.export.saved_model import serving_classifier, special_ids
    from albert_tf.modeling import AlbertClassifier, AlbertEncoder
    from albert_tf.tokenization.layers import layer_for
    labels, names = task_labels_and_fields(task_name)
    if saved is not None:  # the labels the model was trained with, in its id order
        labels = tuple(saved.labels)
    tokenizer = tokenizer_for(saved.path if saved else model, None)
    classifier = AlbertClassifier(AlbertEncoder(load_config_for(model)), max(len(labels), 1))
    if saved is not None:
        model_directory.load_model_weights(classifier, saved)
    else:
        load_weights(classifier, model, verbose=False)
    precision, reason = cpu_features.serving_precision(precision, cpu_features.cpu_flags())
    logging.info("%s", reason)
    server = serving.ClassifierServer(serving_classifier(classifier, precision), layer_for(tokenizer),
                                      special_ids(tokenizer), max_seq_length, labels, names)
    info = {"kind": "classifier", "labels": list(labels), "signatures": {"serving_default": list(names)},
            "precision": precision}
    return (lambda texts: server.serve_text(*[tf.constant(t) for t in texts])), list(names), info


def _ner_predictor(saved, precision):
    """A `ner_model/` directory served from memory by the NER export's own server (same records)."""
    import tensorflow as tf
    from albert_tf import model_directory
    from albert_tf.export import ner_serving
    from albert_tf.export.sources import tokenizer_for
    chosen, reason = cpu_features.serving_precision(precision, cpu_features.cpu_flags())
    if chosen != "fp32":
        raise InputError(f"--precision={precision}: NER models are served in float32 ({reason}); leave "
                         "--precision out")
    tagger = model_directory.build_model(saved.config, saved.task)
    model_directory.load_model_weights(tagger, saved)
    server, _ = ner_serving.ner_server(tagger, tokenizer_for(saved.path, None), labels=saved.labels,
                                       max_seq_length=saved.max_seq_length, doc_stride=saved.task.get("doc_stride"))
    names = list(ner_serving.TEXT_INPUTS)
    info = {"kind": ner_serving.KIND, "labels": saved.labels, "max_seq_length": saved.max_seq_length,
            "doc_stride": server.doc_stride, "signatures": {"serving_default": names}, "precision": "fp32"}
    return (lambda texts: server.serve_text(tf.constant(texts[0]))), names, info


def _record(row_id, outputs, i, kind=None):
    if kind == "ner":  # entities with character offsets into the row's text, and the pieces' tags
        from albert_tf.export.ner_serving import entity_record
        return {"id": row_id, **entity_record(outputs, i)}
    record = {"id": row_id}
    for name, value in outputs.items():
        if name == INPUT_WORD_IDS:
            continue
        item = value[i]
        if hasattr(item, "tolist"):
            item = item.tolist()
        record[name] = item.decode("utf-8") if isinstance(item, bytes) else item
    return record


def _tsv_value(record, kind):
    if kind == "ner":
        return " ".join(f"{e['type']}:{e['start']}-{e['end']}" for e in record["entities"])
    for name in (("answer",) if kind == "squad" else ("label", "score")):
        if name in record:
            return str(record[name])
    return ""


def check_arguments(model, input_file, output_file, *, task_name=None, max_seq_length=None, log_every=5000):
    """Every flag and path before a row is read or a model loaded; errors name the flag and the value."""
    from albert_tf.training import settings_checks
    settings_checks.need(log_every >= 1, "log_every", log_every, "must be >= 1")
    settings_checks.existing_file("input_file", input_file)
    saved, task_name, max_seq_length = saved_model(model, task_name, max_seq_length)
    if not _is_export(model) and task_name:  # a checkpoint served from memory: its format and positions
        from albert_tf.checkpoints import load_config_for
        settings_checks.checkpoint("model", model)
        settings_checks.sequence_length("max_seq_length", max_seq_length, load_config_for(model), f"--model={model}")
    # The output location too: a read-only or misplaced one fails now, not after the whole input ran.
    output_errors.check_writable(output_file)


def predict_direct_file(task, model, input_file, output_file, *, inputs=None, id_spec=None, has_header=True,
                        max_seq_length=128, log_every=5000, **options):
    """`--task`: a pretrained model used directly over the rows; returns the number of rows written."""
    from albert_tf.training import settings_checks
    inference_files.check_output(task, output_file)
    settings_checks.need(log_every >= 1, "log_every", log_every, "must be >= 1")
    settings_checks.existing_file("input_file", input_file)
    export_dir = inference_files.encoder_export_dir(model)
    if export_dir:
        from albert_tf.export import read_export_info
        inference_files.check_export(task, export_dir, read_export_info(export_dir), top_k=options.get("top_k", 5),
                                    layer=options.get("layer", -1))
    else:
        from albert_tf.checkpoints import load_config_for
        settings_checks.checkpoint("model", model)
        settings_checks.sequence_length("max_seq_length", max_seq_length, load_config_for(model),
                                        f"--model={model}")
    output_errors.check_writable(output_file)
    if task == "embed":
        output_errors.check_writable(inference_files.embeddings_path(output_file))
    rows = read_rows(input_file, inference_files.TASK_INPUTS[task], inputs, id_spec, has_header)
    if task == "fill-mask":
        bad = next((row_id for row_id, texts in rows if "[MASK]" not in texts[0]), None)
        if bad is not None:
            raise InputError(f"{input_file}: row {bad} has no [MASK] to fill")
    filesystem.makedirs(filesystem.dirname(filesystem.absolute(output_file)))
    return inference_files.write_predictions(task, model, rows, output_file, max_seq_length=max_seq_length,
                                            log_every=log_every, **options)


def predict_file(model, input_file, output_file, *, inputs=None, id_spec=None, has_header=True, batch_size=64,
                 task_name=None, max_seq_length=None, log_every=5000, task=None, precision="fp32", **direct_options):
    """Library entry point; returns the number of rows written. `max_seq_length` None: the model
    directory's, else 128."""
    if not output_file:
        raise InputError("--output_file is required")
    if batch_size < 1:
        raise InputError(f"--batch_size={batch_size}: must be >= 1")
    if task:
        return predict_direct_file(task, model, input_file, output_file, inputs=inputs, id_spec=id_spec,
                                   has_header=has_header, max_seq_length=max_seq_length or 128, log_every=log_every,
                                   batch_size=batch_size, **direct_options)
    check_arguments(model, input_file, output_file, task_name=task_name, max_seq_length=max_seq_length,
                    log_every=log_every)
    names, known_task = text_input_names(model, task_name)
    if known_task and inputs is None and id_spec is None:
        rows = read_task_rows(known_task, input_file, names)
    else:
        rows = read_rows(input_file, names, inputs, id_spec, has_header)
    predictor, names, info = load_predictor(model, task_name, max_seq_length, precision)
    filesystem.makedirs(filesystem.dirname(filesystem.absolute(output_file)))
    as_tsv = output_file.endswith(".tsv")
    started = time.time()
    with filesystem.replacing(output_file) as out:
        if as_tsv:
            out.write("id\tprediction\n")
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            outputs = {k: v.numpy() for k, v in predictor([[r[1][j] for r in batch]
                                                           for j in range(len(names))]).items()}
            for i, (row_id, _) in enumerate(batch):
                record = _record(row_id, outputs, i, info["kind"])
                out.write(f"{row_id}\t{_tsv_value(record, info['kind'])}\n" if as_tsv
                          else json.dumps(record, ensure_ascii=False) + "\n")
            done = start + len(batch)
            if done == len(rows) or done // log_every != start // log_every:
                rate = done / max(time.time() - started, 1e-9)
                logging.info("%d/%d rows, %.1f rows/s, ETA %.0fs", done, len(rows), rate,
                             (len(rows) - done) / rate)
    return len(rows)


def _direct_options():
    if not FLAGS.task:
        return {}
    return {"task": FLAGS.task, "top_k": FLAGS.top_k, "pooling": FLAGS.pooling, "layer": FLAGS.layer,
            "normalize": FLAGS.normalize, "vocab_file": FLAGS.vocab_file}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    for name in ("model", "input_file", "output_file"):
        if not FLAGS[name].value:
            raise app.UsageError(f"--{name} is required")
    try:
        from albert_tf.finetuning.tasks import load_task_modules  # pylint: disable=import-outside-toplevel
        load_task_modules(FLAGS.task_module)
        with output_errors.writing(FLAGS.output_file):  # a full disk mid-way: named, no traceback
            count = predict_file(FLAGS.model, FLAGS.input_file, FLAGS.output_file, inputs=FLAGS.inputs,
                                 id_spec=FLAGS.id, has_header=FLAGS.has_header, batch_size=FLAGS.batch_size,
                                 task_name=FLAGS.task_name,
                                 max_seq_length=FLAGS.max_seq_length if FLAGS["max_seq_length"].present else None,
                                 log_every=FLAGS.log_every, precision=FLAGS.precision, **_direct_options())
    except (InputError, ValueError, FileNotFoundError, output_errors.OutputError) as error:
        raise SystemExit(f"albert-predict: error: {error}") from None
    print(f"wrote {count} predictions to {FLAGS.output_file}")


def run():
    from albert_tf.cli.console import show_as_main  # pylint: disable=import-outside-toplevel
    tf_logs.quiet_tensorflow()
    show_as_main(__name__)  # --help of the pip command lists these flags, not a bare USAGE line
    app.run(main)


if __name__ == "__main__":
    run()
