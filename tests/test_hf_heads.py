"""Fine-tuned heads against transformers: a SQuAD span head and a 3-label classifier.

The golden values in `tests/fixtures/hf_heads/` come from `tools/make_hf_head_fixtures.py`: transformers'
AlbertForQuestionAnswering / AlbertForSequenceClassification over the `albert-convert --output_format hf`
copy of a tiny model directory with seeded weights. Here the same directory is rebuilt from the seed
and albert-tf's own logits are compared on the stored padded batch. The live variant (marker
`oracle`) converts now and loads the result with transformers' Auto classes and pipelines.
"""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from albert_tf import model_directory
from conftest import FIXTURES

GOLDEN = FIXTURES / "hf_heads"
TOOL = FIXTURES.parents[1] / "tools" / "make_hf_head_fixtures.py"


def _tool():
    spec = importlib.util.spec_from_file_location("make_hf_head_fixtures", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    tool, root = _tool(), tmp_path_factory.mktemp("hf_heads")
    for case in tool.CASES:
        tool.build_model_directory(case, str(root / case))
    return root


def _ours(directory, inputs):
    saved = model_directory.read_model_directory(str(directory))
    model = model_directory.build_model(saved.config, saved.task)
    model_directory.load_model_weights(model, saved)
    ids = np.asarray(inputs["input_ids"], np.int32)
    batch = {"input_word_ids": ids, "input_mask": np.asarray(inputs["attention_mask"], np.int32),
             "input_type_ids": np.asarray(inputs["token_type_ids"], np.int32)}
    if saved.kind == model_directory.SQUAD:
        return saved, model({**batch, "p_mask": np.zeros_like(ids)})  # transformers masks no position
    return saved, {"logits": model(batch)}


def test_squad_span_head_matches_transformers_question_answering(model_dirs):
    golden = json.loads((GOLDEN / "squad.json").read_text())
    _, outputs = _ours(model_dirs / "squad", golden["inputs"])
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(np.asarray(outputs[name]), np.asarray(golden[name]), atol=1e-4, err_msg=name)


def test_classifier_head_matches_transformers_sequence_classification(model_dirs):
    golden = json.loads((GOLDEN / "classifier.json").read_text())
    saved, outputs = _ours(model_dirs / "classifier", golden["inputs"])
    np.testing.assert_allclose(np.asarray(outputs["logits"]), np.asarray(golden["logits"]), atol=1e-4)
    assert [golden["id2label"][str(i)] for i in range(3)] == saved.labels


def test_the_golden_batch_is_padded():
    mask = np.asarray(json.loads((GOLDEN / "squad.json").read_text())["inputs"]["attention_mask"])
    assert mask.all(axis=1).sum() == 1 and (mask.sum(axis=1) < mask.shape[1]).sum() == 2


def _convert(*args):
    return subprocess.run([sys.executable, "-m", "albert_tf.cli.convert", *args], capture_output=True, text=True)


@pytest.mark.oracle
def test_live_converted_heads_load_in_transformers_auto_classes_and_pipelines(request, model_dirs, tmp_path):
    if "oracle" not in (request.config.option.markexpr or ""):
        pytest.skip("live oracle check: run `make parity` (pytest -m oracle)")
    pytest.importorskip("torch", reason="the oracle extra (torch==2.13.0) is not installed; run `make parity`")
    transformers = pytest.importorskip("transformers", reason="the oracle extra (transformers<5) is not installed")
    import torch

    for case in ("squad", "classifier"):
        done = _convert("--input", str(model_dirs / case), "--output_format", "hf", "--output", str(tmp_path / case))
        assert done.returncode == 0, done.stderr
    golden = json.loads((GOLDEN / "squad.json").read_text())
    qa = transformers.AutoModelForQuestionAnswering.from_pretrained(str(tmp_path / "squad"),
                                                                    attn_implementation="eager").eval()
    assert type(qa).__name__ == "AlbertForQuestionAnswering"
    with torch.no_grad():
        out = qa(**{k: torch.tensor(v) for k, v in golden["inputs"].items()})
    _, ours = _ours(model_dirs / "squad", golden["inputs"])
    np.testing.assert_allclose(out.start_logits.numpy(), np.asarray(ours["start_logits"]), atol=1e-4)
    np.testing.assert_allclose(out.end_logits.numpy(), np.asarray(ours["end_logits"]), atol=1e-4)

    # The converted tokenizer gives albert-tf's ids, and the pipeline names the labels of task.json.
    tool = _tool()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "classifier"))
    for row, (question, text) in enumerate(tool.PAIRS):
        length = sum(golden["inputs"]["attention_mask"][row])
        ids = hf_tokenizer(question, text, truncation=True)["input_ids"]  # model_max_length: task.json's
        assert ids == golden["inputs"]["input_ids"][row][:length]
    classify = transformers.pipeline("text-classification", model=str(tmp_path / "classifier"), framework="pt")
    predicted = classify("the model learns the tokens")[0]["label"]
    assert predicted in ("contradiction", "entailment", "neutral")


def test_xlnet_style_head_is_refused_for_hugging_face_naming_why(tmp_path):
    from albert_tf.config import AlbertConfig
    from albert_tf.squad.modeling import build_squad_model
    tool = _tool()
    config = AlbertConfig(vocab_size=tool.tokenizer().vocab_size, **tool.CONFIG)
    task = dict(tool.CASES["squad"]["task"], version="2.0", head="xlnet")
    model_directory.save_model_directory(str(tmp_path / "xlnet"), build_squad_model(config, "xlnet"),
                                         tool.tokenizer(), task)
    done = _convert("--input", str(tmp_path / "xlnet"), "--output_format", "hf", "--output", str(tmp_path / "hf"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "XLNet-style SQuAD v2 head" in done.stderr and "no Hugging Face class" in done.stderr
    assert not (tmp_path / "hf").exists()
