"""The docstring examples that need no files run as written (doctest)."""

import doctest
import importlib

import pytest

# Modules whose examples are self-contained; the others show calls on a user's own model files.
SELF_CONTAINED = ["albert_tf.modeling.encoder", "albert_tf.optimization.schedules"]


@pytest.mark.parametrize("module_name", SELF_CONTAINED)
def test_docstring_examples_run(module_name):
    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module_name} has no examples"
    assert result.failed == 0
