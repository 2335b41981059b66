"""The benchmark's keras.ops LAMB against albert_tf.optimization.Lamb, step by step (TensorFlow backend)."""


import keras
import numpy as np
import pytest

from albert_tf.optimization import Lamb

from any_backend_lamb import AnyBackendLamb

SHAPES = {"dense_kernel": (4, 3), "LayerNorm_gamma": (3,), "dense_bias": (3,),
          "zero_kernel": (3, 2)}


def _variables(seed):
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in SHAPES.items():
        value = np.zeros(shape, np.float32) if "zero" in name else rng.normal(size=shape).astype(np.float32)
        out.append(keras.Variable(value, name=name))
    return out


@pytest.mark.parametrize("clipnorm,weight_decay_rate", [(None, 0.01), (1.0, 0.01), (None, 0.0)])
def test_same_update_as_the_tensorflow_lamb(clipnorm, weight_decay_rate):
    reference, candidate = _variables(0), _variables(0)
    kwargs = dict(learning_rate=0.05, weight_decay_rate=weight_decay_rate, global_clipnorm=clipnorm)
    lamb, any_lamb = Lamb(**kwargs), AnyBackendLamb(**kwargs)
    rng = np.random.default_rng(1)
    for _ in range(4):
        grads = [(3.0 * rng.normal(size=SHAPES[v.path])).astype(np.float32) for v in reference]
        lamb.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], reference))
        any_lamb.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], candidate))
    moved = 0
    for ref, cand in zip(reference, candidate):
        np.testing.assert_allclose(np.array(cand), np.array(ref), atol=1e-6, rtol=1e-6, err_msg=ref.path)
        moved += not np.allclose(np.array(ref), np.array(_variables(0)[[v.path for v in reference].index(ref.path)]))
    assert moved == len(SHAPES)
