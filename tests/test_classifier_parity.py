"""Fine-tuning training parity with Hugging Face PyTorch (runs tools/classifier_parity.py when torch is here)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the PyTorch oracle needs torch (pip install -e '.[oracle]')")
pytest.importorskip("transformers", reason="the PyTorch oracle needs transformers 4.x (pip install -e '.[oracle]')")

TOOL = Path(__file__).resolve().parents[1] / "tools" / "classifier_parity.py"


def _tool():
    spec = importlib.util.spec_from_file_location("classifier_parity", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_20_adamw_steps_match_pytorch_within_1e3_relative():
    result = _tool().run(steps=20, verbose=False)
    assert len(result["tf"]) == len(result["torch"]) == 20
    assert result["max_relative_difference"] <= 1e-3, result
    # The comparison is meaningful: the updates moved the losses far more than the tolerance.
    assert result["max_relative_change_from_training"] > 10 * 1e-3
