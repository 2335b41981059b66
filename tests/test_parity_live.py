"""Live parity: regenerate the oracle outputs with transformers + torch now and compare.

Runs only where the `oracle` extra is installed (`make parity`); the committed golden
fixtures carry the same comparison into the default test run.
"""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the oracle extra (torch==2.13.0) is not installed; run `make parity`")
pytest.importorskip("transformers", reason="the oracle extra (transformers<5) is not installed; run `make parity`")

from test_parity import HF_CASES, check_hf_case, check_tf1_case  # noqa: E402

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def fresh_fixtures(tmp_path_factory):
    script = Path(__file__).resolve().parents[1] / "tools" / "make_parity_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_parity_fixtures", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("parity")
    import sys
    argv, sys.argv = sys.argv, ["make_parity_fixtures", "--out", str(out)]
    try:
        module.main()
    finally:
        sys.argv = argv
    return out


@pytest.mark.parametrize("case", HF_CASES)
def test_live_hf_parity(fresh_fixtures, case):
    check_hf_case(case, fresh_fixtures)


def test_live_tf1_checkpoint_read_by_hf_loader(fresh_fixtures):
    check_tf1_case(fresh_fixtures)


def _hf_model_from(config_dir):
    import json

    import transformers

    config = transformers.AlbertConfig(**json.loads((config_dir / "config.json").read_text()))
    config._attn_implementation = "eager"
    return transformers.AlbertForPreTraining(config).eval()


def test_our_tf1_checkpoint_reads_in_hf_tf1_loader(tmp_path):
    """save_tf1 output is a checkpoint the original ecosystem can read."""
    import numpy as np
    import torch
    import transformers

    from albert_tf.checkpoints import load_config_for, load_weights, save_hf, save_tf1
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
    from conftest import FIXTURES, padded_batch

    source = FIXTURES / "parity" / "groups_g2_k2"
    model = AlbertPretrainer(AlbertEncoder(load_config_for(str(source))))
    load_weights(model, str(source))
    save_tf1(model, str(tmp_path / "tf1" / "model.ckpt"))
    save_hf(model, str(tmp_path / "hf"))  # only for its config.json
    hf = _hf_model_from(tmp_path / "hf")
    transformers.models.albert.modeling_albert.load_tf_weights_in_albert(hf, hf.config,
                                                                         str(tmp_path / "tf1" / "model.ckpt"))
    batch = padded_batch(vocab_size=120)
    with torch.no_grad():
        out = hf.albert(input_ids=torch.from_numpy(batch["input_word_ids"]).long(),
                        attention_mask=torch.from_numpy(batch["input_mask"]).long(),
                        token_type_ids=torch.from_numpy(batch["input_type_ids"]).long())
    ours = model.encoder({k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")})
    np.testing.assert_allclose(ours["sequence_output"], out.last_hidden_state.numpy(), atol=1e-4)
    np.testing.assert_allclose(ours["pooled_output"], out.pooler_output.numpy(), atol=1e-4)


def test_pytorch_bin_loads_through_safe_loader(tmp_path):
    import numpy as np
    import torch
    from safetensors.torch import load_file

    from albert_tf.checkpoints import export_weights, load_config_for, load_weights
    from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
    from conftest import FIXTURES

    source = FIXTURES / "parity" / "relu"
    torch.save(load_file(str(source / "model.safetensors")), str(tmp_path / "pytorch_model.bin"))
    config = load_config_for(str(source))
    from_bin, from_st = (AlbertPretrainer(AlbertEncoder(config)) for _ in range(2))
    assert load_weights(from_bin, str(tmp_path / "pytorch_model.bin")).clean
    load_weights(from_st, str(source))
    for name, value in export_weights(from_st).items():
        np.testing.assert_array_equal(export_weights(from_bin)[name], value)
