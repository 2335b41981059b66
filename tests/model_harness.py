"""What every layer and model of albert-tf must do, as plain helpers over a `Case`.

A `Case` says how to build one layer or model (under the dtype policy in force) and how to make
its inputs for a sequence length. The checks:

- `check_config_round_trip`: `from_config(get_config())` gives the same config;
- `check_saved_round_trip`: a model through a `.keras` file (a layer through its serialized
  config plus its weights) gives identical outputs;
- `check_variable_length`: the same object runs at two sequence lengths;
- `check_bfloat16`: built under `mixed_bfloat16` it runs, outputs finite, the logits it promises
  in float32 are float32;
- `check_xla`: an XLA-compiled call equals the eager call within 1e-5.
"""

import dataclasses
import json
from typing import Callable, Dict, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from albert_tf.config import AlbertConfig

TINY = AlbertConfig(vocab_size=64, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=48, max_position_embeddings=32)
LENGTHS = (8, 12)
BATCH = 2


@dataclasses.dataclass
class Case:
    """One layer or model class under test.

    build: makes the object (called again under each dtype policy).
    inputs: (object, sequence length) -> positional call arguments.
    float32_outputs: output keys that stay float32 under mixed precision ("" for a single tensor).
    from_config_extras: constructor arguments that are not part of the config (a tied embedding).
    fixed_length: the one sequence length the object takes (a static shape), or None.
    """

    name: str
    build: Callable[[], keras.layers.Layer]
    inputs: Callable[[keras.layers.Layer, int], Tuple]
    float32_outputs: Sequence[str] = ()
    from_config_extras: Callable[[keras.layers.Layer], Dict] = lambda layer: {}
    fixed_length: Optional[int] = None

    @property
    def lengths(self):
        return (self.fixed_length,) if self.fixed_length else LENGTHS


def token_inputs(length: int, batch: int = BATCH, seed: int = 0, vocab_size: int = TINY.vocab_size):
    """int32 encoder inputs with padding in all but the first row and both segments."""
    rng = np.random.default_rng(seed + length)
    ids = rng.integers(5, vocab_size, size=(batch, length)).astype(np.int32)
    mask = np.ones((batch, length), np.int32)
    types = np.zeros((batch, length), np.int32)
    for row in range(batch):
        real = max(length - 3 * row, 2)
        mask[row, real:] = 0
        ids[row, real:] = 0
        types[row, real // 2:real] = 1
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def hidden_states(length: int, batch: int = BATCH, width: int = TINY.hidden_size, seed: int = 0):
    return np.random.default_rng(seed + length).normal(size=(batch, length, width)).astype(np.float32)


def flat_outputs(outputs) -> Dict[str, np.ndarray]:
    """Outputs as {key: array}; a single tensor is key "", a list is keyed by position."""
    if isinstance(outputs, dict):
        items = {}
        for key, value in outputs.items():
            for inner, array in flat_outputs(value).items():
                items[f"{key}/{inner}" if inner else key] = array
        return items
    if isinstance(outputs, (list, tuple)):
        return {str(i): np.asarray(value) for i, value in enumerate(outputs)}
    return {"": np.asarray(outputs)}


def _dtypes(outputs) -> Dict[str, str]:
    if isinstance(outputs, dict):
        return {key: keras.backend.standardize_dtype(value.dtype) for key, value in outputs.items()
                if not isinstance(value, (list, dict))}
    return {"": keras.backend.standardize_dtype(outputs.dtype)}


def _comparable(config):
    return json.loads(json.dumps(config, sort_keys=True, default=repr))


def check_config_round_trip(case: Case, layer):
    config = layer.get_config()
    clone = type(layer).from_config({**config, **case.from_config_extras(layer)})
    assert _comparable(clone.get_config()) == _comparable(config), f"{case.name}: config changed in a round trip"
    return clone


def check_saved_round_trip(case: Case, layer, directory):
    args = case.inputs(layer, case.lengths[0])
    expected = flat_outputs(layer(*args))
    if isinstance(layer, keras.Model):
        path = str(directory / f"{case.name}.keras")
        layer.save(path)
        clone = keras.saving.load_model(path)
    else:
        clone = check_config_round_trip(case, layer)
        clone(*case.inputs(clone, case.lengths[0]))  # builds it
        clone.set_weights(layer.get_weights())
    got = flat_outputs(clone(*args))
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{case.name} output {key!r}")


def check_variable_length(case: Case, layer):
    shapes = []
    for length in case.lengths:
        outputs = flat_outputs(layer(*case.inputs(layer, length)))
        assert all(np.isfinite(v).all() for v in outputs.values() if v.dtype.kind == "f"), case.name
        shapes.append({key: value.shape for key, value in outputs.items()})
    return shapes


def check_bfloat16(case: Case):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = case.build()
    finally:
        keras.config.set_dtype_policy(previous)
    raw = layer(*case.inputs(layer, case.lengths[0]))
    outputs = flat_outputs(raw)
    for key, value in outputs.items():
        if value.dtype.kind == "f":
            assert np.isfinite(value.astype(np.float32)).all(), f"{case.name}: {key!r} not finite under bf16"
    dtypes = _dtypes(raw)
    for key in case.float32_outputs:
        assert dtypes[key] == "float32", f"{case.name}: {key!r} is {dtypes[key]} under mixed_bfloat16"


def check_xla(case: Case, layer):
    args = case.inputs(layer, case.lengths[-1])
    tensors = tf.nest.map_structure(tf.convert_to_tensor, args)
    compiled = tf.function(lambda *a: layer(*a), jit_compile=True)
    expected, got = flat_outputs(layer(*tensors)), flat_outputs(compiled(*tensors))
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5, rtol=0, err_msg=f"{case.name} output {key!r}")
