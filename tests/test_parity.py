"""Numerical parity with Hugging Face's PyTorch ALBERT, through golden fixtures.

The fixtures come from tools/make_parity_fixtures.py (the oracle: transformers
AlbertForPreTraining, eager attention, fp32, dropout off); `make fixtures` regenerates them.
"""

import numpy as np
import pytest

from albert_tf.checkpoints import load_config_for, load_weights
from albert_tf.modeling import AlbertEncoder, AlbertPretrainer
from conftest import FIXTURES

PARITY = FIXTURES / "parity"
TOLERANCE = 1e-4
INPUTS = ("input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions")


def _run_case(case, source, root=PARITY):
    golden = np.load(root / case / "golden.npz")
    config = load_config_for(str(root / case))
    model = AlbertPretrainer(AlbertEncoder(config))
    report = load_weights(model, str(source))
    inputs = {name: golden[name] for name in INPUTS}
    outputs = model(inputs)
    encoded = model.encoder({k: v for k, v in inputs.items() if k != "masked_lm_positions"})
    return golden, report, outputs, encoded


HF_CASES = ["shared_g1_k1", "groups_g2_k2", "relu"]


@pytest.mark.parametrize("case", HF_CASES)
def test_huggingface_weights_give_oracle_outputs(case):
    check_hf_case(case, PARITY)


def check_hf_case(case, root):
    golden, report, outputs, encoded = _run_case(case, root / case, root)
    assert report.clean and not report.newly_initialized, report.summary()
    np.testing.assert_allclose(encoded["sequence_output"], golden["sequence_output"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(encoded["pooled_output"], golden["pooled_output"], atol=TOLERANCE, rtol=0)
    for i, layer in enumerate(encoded["encoder_outputs"]):
        np.testing.assert_allclose(layer, golden[f"encoder_output_{i}"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["mlm_logits"], golden["mlm_logits"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["sop_logits"], golden["sop_logits"], atol=TOLERANCE, rtol=0)


def test_official_tf1_checkpoint_loads_cleanly_and_matches_hf_tf1_loader():
    check_tf1_case(PARITY)


def check_tf1_case(root):
    golden, report, outputs, encoded = _run_case("tf1_official", root / "tf1_official" / "model.ckpt-125000", root)
    assert report.clean and not report.unused and not report.newly_initialized, report.summary()
    # every variable has adam_m and adam_v, plus global_step
    assert len(report.skipped) == 2 * len(report.matched) + 1
    np.testing.assert_allclose(encoded["sequence_output"], golden["sequence_output"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(encoded["pooled_output"], golden["pooled_output"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["mlm_logits"], golden["mlm_logits"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(outputs["sop_logits"], golden["sop_logits"], atol=TOLERANCE, rtol=0)


def test_padding_does_not_leak_into_real_tokens():
    """Outputs at real positions must not depend on what sits in padded positions."""
    golden = np.load(PARITY / "shared_g1_k1" / "golden.npz")
    config = load_config_for(str(PARITY / "shared_g1_k1"))
    encoder = AlbertEncoder(config)
    load_weights(encoder, str(PARITY / "shared_g1_k1"))
    inputs = {k: golden[k].copy() for k in INPUTS[:3]}
    base = encoder(inputs)["sequence_output"].numpy()
    inputs["input_word_ids"][inputs["input_mask"] == 0] = 7
    changed = encoder(inputs)["sequence_output"].numpy()
    real = golden["input_mask"] == 1
    np.testing.assert_allclose(base[real], changed[real], atol=1e-6)
