"""Activation functions by the names ALBERT configs use.

"gelu" in every ALBERT release means the tanh approximation (Hugging Face calls it
"gelu_new"); using exact erf gelu for those weights is a silent numerical mismatch, so the
exact one only exists under its own name.
"""

import keras
from keras import ops


def gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


def gelu_erf(x):
    return keras.activations.gelu(x, approximate=False)


def linear(x):
    return x


_ACTIVATIONS = {
    "gelu": gelu_tanh,
    "gelu_new": gelu_tanh,
    "gelu_tanh": gelu_tanh,
    "gelu_erf": gelu_erf,
    "gelu_exact": gelu_erf,
    "relu": ops.relu,
    "tanh": ops.tanh,
    "linear": linear,
    "swish": ops.silu,
    "silu": ops.silu,
}


def get_activation(name: str):
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(sorted(_ACTIVATIONS))}") from None
