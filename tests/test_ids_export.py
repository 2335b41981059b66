"""The ids-only exports (`<SavedModel>/ids/1`): core TensorFlow ops only, loadable where tensorflow_text
cannot be imported, the same outputs as the raw-text export's `serving_ids`; `saved_model_cli run`; and
every TF Serving request shown in docs/export.md (REST bodies, gRPC `PredictRequest`s) accepted by the
signature it names and run through it."""

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from conftest import REALDATA
from albert_tf import export
from albert_tf.config import AlbertConfig
from albert_tf.export import saved_model, self_check, serving
from albert_tf.modeling import AlbertClassifier, AlbertEncoder
from albert_tf.squad.modeling import build_squad_model
from albert_tf.tokenization import SentencePieceTokenizer

import tokenization_testlib as testlib

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IDS = saved_model.IDS_EXPORT_DIR
MRPC_DEV = REALDATA / "glue" / "MRPC" / "dev.tsv"

# A fresh process in which `import tensorflow_text` raises: loads each ids-only model, runs its
# `serving_default`, and reports the ops tensorflow_text registers (imported only at the very end).
_CORE_ONLY_SCRIPT = r"""
import json, sys
sys.modules["tensorflow_text"] = None
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session

def registered_ops():
    ops = op_def_pb2.OpList()
    ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(pywrap_tf_session.TF_GetAllOpList()))
    return {op.name for op in ops.op}

requests, out_path = json.load(open(sys.argv[1])), sys.argv[2]
arrays = {}
for i, request in enumerate(requests):
    model = tf.saved_model.load(request["dir"])
    inputs = {k: tf.constant(v, tf.int32) for k, v in request["inputs"].items()}
    for name, value in model.signatures["serving_default"](**inputs).items():
        array = value.numpy()
        if value.dtype == tf.string:  # fixed-width unicode: loadable without pickle
            array = np.asarray([b.decode("utf-8") for b in array.ravel()], dtype=str).reshape(array.shape)
        arrays[f"{i}/{name}"] = array
try:
    import tensorflow_text
    raise SystemExit("tensorflow_text was importable")
except ImportError:
    pass
if any(m == "albert_tf" or m.startswith("albert_tf.") for m in sys.modules):
    raise SystemExit("albert_tf was imported")
core = registered_ops()
del sys.modules["tensorflow_text"]
import tensorflow_text  # noqa: F401
arrays["text_ops"] = np.asarray(sorted(registered_ops() - core))
np.savez(out_path, **arrays)
"""


def _config(vocab_size):
    return AlbertConfig(vocab_size=vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A pair classifier, a SQuAD v2 (CLS-null) model and an encoder, exported with their ids-only twins.

    The reload check is off here: these tests do their own, harder checks on the same directories.
    """
    base = tmp_path_factory.mktemp("ids_export")
    tokenizer = SentencePieceTokenizer(str(testlib.build_spm_model(base)))
    config = _config(tokenizer.vocab_size)
    keras.utils.set_random_seed(11)
    classifier = AlbertClassifier(AlbertEncoder(config), 2)
    export.export_classifier(classifier, tokenizer, str(base / "mrpc"), max_seq_length=48, labels=["0", "1"],
                             task_name="MRPC", check=False)
    squad = build_squad_model(config, "cls_null")
    export.export_squad(squad, tokenizer, str(base / "squad"), max_seq_length=64, max_query_length=16,
                        head="cls_null", version="2.0", null_threshold=0.0, check=False)
    export.export_encoder(AlbertEncoder(config), tokenizer, str(base / "albert_base"), max_seq_length=48,
                          check=False)
    return {"base": base, "tokenizer": tokenizer,
            "raw": {"mrpc": base / "mrpc", "squad": base / "squad", "albert_base": base / "albert_base" / "encoder"}}


def _packed(tokenizer, texts_a, texts_b=None, max_seq_length=48):
    packed = tokenizer.pack_batch(texts_a, texts_b, max_seq_length=max_seq_length)
    width = int(packed.input_mask.sum(1).max())
    return {"input_word_ids": packed.input_ids[:, :width], "input_mask": packed.input_mask[:, :width],
            "input_type_ids": packed.segment_ids[:, :width]}


def _squad_ids(tokenizer, pairs):
    rows = _packed(tokenizer, [q for q, _ in pairs], [c for _, c in pairs], 64)
    p_mask = 1 - rows["input_type_ids"]  # question and [CLS]: never an answer
    p_mask[rows["input_mask"] == 0] = 1
    for row in range(len(pairs)):  # the closing [SEP] neither
        p_mask[row, int(rows["input_mask"][row].sum()) - 1] = 1
    return {**rows, "p_mask": p_mask}


def _run_core_only(requests, tmp_path):
    """Runs `[{"dir", "inputs"}]` in the fresh process without tensorflow_text; (outputs, text op names)."""
    path, out = tmp_path / "requests.json", tmp_path / "outputs.npz"
    path.write_text(json.dumps([{"dir": str(r["dir"]), "inputs": {k: np.asarray(v).tolist()
                                                                  for k, v in r["inputs"].items()}}
                                for r in requests]))
    done = subprocess.run([sys.executable, "-c", _CORE_ONLY_SCRIPT, str(path), str(out)], capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out, allow_pickle=False) as data:
        results = [{} for _ in requests]
        for key in data.files:
            if key != "text_ops":
                index, name = key.split("/", 1)
                results[int(index)][name] = data[key]
        return results, set(data["text_ops"].tolist())


def saved_op_types(directory):
    """Every op type in the SavedModel's graphs: top-level nodes and every function of the library.

    Calls of library functions by name are left out (their bodies are listed).
    """
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    ops, functions = set(), set()
    for graph in (meta.graph_def for meta in proto.meta_graphs):
        functions |= {f.signature.name for f in graph.library.function}
        ops |= {node.op for node in graph.node}
        for function in graph.library.function:
            ops |= {node.op for node in function.node_def}
    return ops - functions


def non_core_ops(directory, text_ops):
    return sorted(op for op in saved_op_types(directory) if not hasattr(tf.raw_ops, op) or op in text_ops)


def _raw_serving_ids(directory, inputs):
    signature = tf.saved_model.load(str(directory)).signatures["serving_ids"]
    return {k: v.numpy() for k, v in signature(**{k: tf.constant(v, tf.int32) for k, v in inputs.items()}).items()}


def _assert_same(raw, core, kind):
    # The ids-only SQuAD model has no `answer` (its text needs the tokenizer's ops); everything else.
    assert sorted(core) == sorted(k for k in raw if not (kind == "squad" and k == "answer")), kind
    for name, value in core.items():
        want = raw[name]
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(value, want, atol=1e-5, rtol=0, err_msg=f"{kind} {name}")
        else:
            if want.dtype.kind == "O":
                want = np.asarray([w.decode("utf-8") for w in want.ravel()]).reshape(want.shape)
            np.testing.assert_array_equal(value, want, err_msg=f"{kind} {name}")


def test_ids_exports_hold_core_ops_only_and_equal_the_raw_text_serving_ids(exports, tmp_path):
    tokenizer = exports["tokenizer"]
    pairs = list(saved_model.SAMPLE_PAIRS)
    inputs = {"mrpc": _packed(tokenizer, [a for a, _ in pairs], [b for _, b in pairs]),
              "squad": _squad_ids(tokenizer, saved_model.SQUAD_SAMPLES),
              "albert_base": _packed(tokenizer, list(saved_model.SAMPLE_TEXTS))}
    kinds = list(inputs)
    core, text_ops = _run_core_only([{"dir": exports["raw"][k] / IDS, "inputs": inputs[k]} for k in kinds], tmp_path)
    # The op list really tells text ops apart: the raw-text graphs use them, the ids-only ones do not.
    assert {"SentencepieceOp", "SentencepieceTokenizeOp"} <= text_ops
    for kind in kinds:
        assert {"SentencepieceOp", "SentencepieceTokenizeOp"} <= set(non_core_ops(exports["raw"][kind], text_ops))
        assert non_core_ops(exports["raw"][kind] / IDS, text_ops) == [], kind
    for kind, got in zip(kinds, core):
        _assert_same(_raw_serving_ids(exports["raw"][kind], inputs[kind]), got, kind)
    assert set(core[1]["answerable"].tolist()) <= {True, False}


def test_ids_export_layout_and_files(exports):
    for kind, raw in exports["raw"].items():
        ids_dir = raw / IDS
        assert (ids_dir / "saved_model.pb").is_file() and (ids_dir / "variables").is_dir()
        extra = sorted(os.listdir(ids_dir / "assets.extra"))
        # The vocabulary to tokenize with on the host; no export.json: text tools must not take it for a text model.
        assert "tokenizer_config.json" in extra and "export.json" not in extra, extra
        info = export.read_export_info(str(raw))
        assert info["ids_export"]["path"] == IDS
        loaded = tf.saved_model.load(str(ids_dir))
        assert sorted(loaded.signatures) == ["serving_default", "serving_ids"]
        spec = loaded.signatures["serving_default"].structured_input_signature[1]
        assert sorted(spec) == sorted(info["ids_export"]["signatures"]["serving_default"])
        assert all(s.dtype == tf.int32 and s.shape.as_list() == [None, None] for s in spec.values())
    assert (exports["raw"]["mrpc"] / IDS / "assets.extra" / "labels.txt").read_text() == "0\n1\n"


def test_the_reload_check_refuses_an_ids_export_that_needs_tensorflow_text(exports, tmp_path, monkeypatch):
    def ids_only_with_tokenizer(self):
        server = serving.IdsOnlyServer(self.serve_ids)
        server.tokenizer = self.tokenizer  # its resources are made by tensorflow_text ops
        return server

    monkeypatch.setattr(serving.ClassifierServer, "ids_only", ids_only_with_tokenizer)
    classifier = AlbertClassifier(AlbertEncoder(_config(exports["tokenizer"].vocab_size)), 2)
    target = tmp_path / "needs_text_ops"
    with pytest.raises(self_check.ExportCheckError, match="Sentencepiece"):
        export.export_classifier(classifier, exports["tokenizer"], str(target), max_seq_length=32,
                                 labels=["0", "1"])
    assert not target.exists() and os.listdir(tmp_path) == []  # nothing left, not even the temporary


def test_saved_model_cli_runs_the_ids_export(exports):
    ids = "input_word_ids=[[2,20,21,3,30,31,3]];input_mask=[[1,1,1,1,1,1,1]];input_type_ids=[[0,0,0,0,1,1,1]]"
    done = subprocess.run([str(BIN / "saved_model_cli"), "run", "--dir", str(exports["raw"]["mrpc"] / IDS),
                           "--tag_set", "serve", "--signature_def", "serving_default", "--input_exprs", ids],
                          capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Result for output key probabilities" in done.stdout and "Result for output key label" in done.stdout


# TF Serving loads a SavedModel as TF1 did: a session, the checkpoint restored by the saver, then the
# signature's tensors. The raw-text exports need tensorflow_text's ops registered for that.
_SESSION_LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401
for directory, signature_name, inputs in json.loads(sys.argv[1]):
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], directory)
        signature = meta.signature_def[signature_name]
        feeds = {signature.inputs[name].name: np.asarray(value) for name, value in inputs.items()}
        fetches = {name: info.name for name, info in signature.outputs.items()}
        outputs = session.run(fetches, feeds)
        print(directory, signature_name, sorted(outputs))
"""


def test_every_export_loads_in_a_session_as_tf_serving_loads_it(exports):
    tokenizer = exports["tokenizer"]
    ids = {k: v.tolist() for k, v in _packed(tokenizer, ["the cat sat", "a dog"]).items()}
    squad_ids = {k: v.tolist() for k, v in _squad_ids(tokenizer, [("who", "the cat sat")]).items()}
    jobs = [(str(exports["raw"]["mrpc"]), "serving_ids", ids),
            (str(exports["raw"]["mrpc"]), "serving_default", {"text_a": ["the cat sat"], "text_b": ["a dog"]}),
            (str(exports["raw"]["squad"]), "serving_ids", squad_ids),
            (str(exports["raw"]["albert_base"]), "serving_ids", ids)]
    jobs += [(str(exports["raw"][kind] / IDS), "serving_default", squad_ids if kind == "squad" else ids)
             for kind in exports["raw"]]
    done = subprocess.run([sys.executable, "-c", _SESSION_LOAD_SCRIPT, json.dumps(jobs)], capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.stdout.splitlines()) == len(jobs) and "probabilities" in done.stdout


@pytest.mark.skipif(not MRPC_DEV.exists(), reason=f"real data not found: {MRPC_DEV} (set ALBERT_TF_REALDATA)")
def test_ids_export_equals_the_raw_text_export_on_mrpc_dev(exports, tmp_path):
    from albert_tf.finetuning.tasks import get_task
    rows = get_task("MRPC").read_split(str(MRPC_DEV.parent), "dev", True)
    assert len(rows) == 408
    inputs = _packed(exports["tokenizer"], [r.text_a for r in rows], [r.text_b for r in rows])
    (core,), _ = _run_core_only([{"dir": exports["raw"]["mrpc"] / IDS, "inputs": inputs}], tmp_path)
    _assert_same(_raw_serving_ids(exports["raw"]["mrpc"], inputs), core, "classifier")


# --- the requests shown in docs/export.md ------------------------------------------------------

EXPORT_DOC = REPO / "docs" / "export.md"
# (TF Serving model name, signature): each raw-text signature and each ids-only model has a REST and a gRPC example.
DOCUMENTED_SIGNATURES = {("mrpc", "serving_default"), ("mrpc", "serving_ids"), ("mrpc_ids", "serving_default"),
                         ("squad", "serving_default"), ("squad", "serving_ids"), ("squad_ids", "serving_default"),
                         ("albert_base", "serving_default"), ("albert_base", "serving_ids"),
                         ("albert_base_ids", "serving_default")}


def _doc_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", EXPORT_DOC.read_text(encoding="utf-8"), re.S)


def _documented_rest_requests():
    """(model name, JSON body) of every `curl ... :predict` command of docs/export.md."""
    found = []
    for block in _doc_blocks("bash"):
        command = block.replace("\\\n", " ")
        for body, model in re.findall(r"curl .*?-d '(\{.*?\})'\s+\S*/v1/models/([\w-]+):predict", command):
            found.append((model, json.loads(body)))
    return found


def _model_dir(exports, model):
    """The documented model names: `<name>` serves the raw-text SavedModel, `<name>_ids` its ids-only twin."""
    name = model[:-len("_ids")] if model.endswith("_ids") else model
    return exports["raw"][name] / IDS if model.endswith("_ids") else exports["raw"][name]


@functools.lru_cache(maxsize=None)
def _loaded(directory):
    return tf.saved_model.load(directory)


def _check_against_signature(directory, signature_name, inputs):
    """`inputs` ({name: numpy array}) fit the signature's specs (names, dtypes, ranks); returns its outputs."""
    signature = _loaded(str(directory)).signatures[signature_name]
    specs = signature.structured_input_signature[1]
    assert sorted(inputs) == sorted(specs), (directory, signature_name)
    tensors = {}
    for name, value in inputs.items():
        tensor = tf.constant(value)
        assert tensor.dtype == specs[name].dtype and specs[name].shape.is_compatible_with(tensor.shape), name
        tensors[name] = tensor
    return signature(**tensors)


def test_every_documented_rest_request_fits_its_signature(exports):
    requests = _documented_rest_requests()
    assert {(model, body["signature_name"]) for model, body in requests} == DOCUMENTED_SIGNATURES
    for model, body in requests:
        rows = body["instances"]
        inputs = {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
        inputs = {k: v.astype(np.int32) if v.dtype.kind == "i" else v for k, v in inputs.items()}
        outputs = _check_against_signature(_model_dir(exports, model), body["signature_name"], inputs)
        assert all(int(v.shape[0]) == len(rows) for v in outputs.values() if v.shape.rank), model


def test_every_documented_grpc_request_fits_its_signature(exports):
    from tensorflow_serving.apis import predict_pb2  # the test extra
    blocks = [b for b in _doc_blocks("python") if "PredictRequest" in b or "predict_request(" in b]
    helper = [b for b in blocks if "def predict_request" in b]
    assert len(helper) == 1, "docs/export.md must define predict_request once"
    checked = []

    class Stub:  # stands in for PredictionServiceStub: what the server would do with the request
        def Predict(self, request, timeout=None):  # noqa: N802  the gRPC method name
            assert isinstance(request, predict_pb2.PredictRequest)
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            outputs = _check_against_signature(_model_dir(exports, request.model_spec.name),
                                               request.model_spec.signature_name, inputs)
            checked.append((request.model_spec.name, request.model_spec.signature_name))
            response = predict_pb2.PredictResponse()
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    namespace = {}
    exec(helper[0], namespace)  # pylint: disable=exec-used
    namespace["stub"] = Stub()
    for block in blocks:
        if block is not helper[0]:
            exec(block, namespace)  # pylint: disable=exec-used
    assert set(checked) == DOCUMENTED_SIGNATURES


def test_ner_export_has_an_ids_only_twin(exports, tmp_path):
    from albert_tf.export import ner_serving
    from albert_tf.modeling import AlbertTokenClassifier
    tokenizer = exports["tokenizer"]
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    keras.utils.set_random_seed(5)
    tagger = AlbertTokenClassifier(AlbertEncoder(_config(tokenizer.vocab_size)), num_labels=len(labels))
    target = tmp_path / "ner"
    # The export's own check runs the twin where tensorflow_text cannot be imported, against serving_ids.
    info = ner_serving.export_ner(tagger, tokenizer, str(target), labels=labels, max_seq_length=32)
    assert info["ids_export"]["path"] == IDS and info["max_abs_difference"] <= 1e-5
    inputs = _packed(tokenizer, ["Zoë Müller flew to São Paulo.", "", "then Paris"], max_seq_length=32)
    (core,), text_ops = _run_core_only([{"dir": target / IDS, "inputs": inputs}], tmp_path)
    assert non_core_ops(target / IDS, text_ops) == [] and "SentencepieceOp" in non_core_ops(target, text_ops)
    _assert_same(_raw_serving_ids(target, inputs), core, "ner")
