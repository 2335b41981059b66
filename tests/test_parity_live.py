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
