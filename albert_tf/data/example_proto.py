"""`tf.train.Example` serialization without importing TensorFlow.

The generator's worker processes only need to *write* Examples, and importing TensorFlow would cost
each of them ~4 s and ~650 MB, so the few protobuf messages involved are encoded here directly:

    Example   { Features features = 1; }
    Features  { map<string, Feature> feature = 1; }     (map entry: key = 1, value = 2)
    Feature   { oneof { BytesList = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    Int64List { repeated int64 value = 1 [packed]; }   FloatList { repeated float value = 1 [packed]; }

Keys are written in sorted order, so the bytes equal TensorFlow's
`example.SerializeToString(deterministic=True)` and are reproducible run to run.
"""

import functools
from typing import Mapping, Sequence

import numpy as np

_LEN = 2  # wire type of length-delimited fields


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Token ids, positions and flags are almost always below 2**16: one table lookup per value.
_SMALL_VARINTS = [encode_varint(v) for v in range(1 << 16)]
_TAGS = {number: bytes([(number << 3) | _LEN]) for number in (1, 2, 3)}


def _delimited(field_number: int, payload: bytes) -> bytes:
    size = len(payload)
    prefix = _SMALL_VARINTS[size] if size < 0x10000 else encode_varint(size)
    return _TAGS[field_number] + prefix + payload


def encode_varints(values) -> bytes:
    """Packed varints of int64 values (negative values take 10 bytes, as in protobuf).

    `bytes` are taken as already packed: each byte one value below 128 (masks, flags, labels).
    """
    if isinstance(values, (bytes, bytearray)):
        if values and max(values) >= 0x80:
            raise ValueError("pre-packed int64 values must each be below 128")
        return bytes(values)
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not values:
        return b""
    if min(values) >= 0 and max(values) < 0x80:
        return bytes(values)  # masks, segment ids, flags: one byte each
    table = _SMALL_VARINTS
    limit = len(table)
    try:
        return b"".join([table[v] if 0 <= v < limit else encode_varint(v & 0xFFFFFFFFFFFFFFFF)
                         for v in values])
    except TypeError as error:
        raise TypeError(f"int64 feature values must be integers, got {values[:5]!r}...") from error


def _int64_feature(values) -> bytes:
    packed = encode_varints(values)
    return _delimited(3, _delimited(1, packed) if packed else b"")


def _float_feature(values) -> bytes:
    floats = np.asarray(values, dtype="<f4").tobytes()
    return _delimited(2, _delimited(1, floats) if floats else b"")


@functools.lru_cache(maxsize=None)
def _key_field(name: str) -> bytes:
    return _delimited(1, name.encode("utf-8"))


def serialize_example(int_features: Mapping[str, Sequence[int]],
                      float_features: Mapping[str, Sequence[float]] = None) -> bytes:
    """Serialized `tf.train.Example` holding int64 and float list features."""
    float_features = float_features or {}
    overlap = set(int_features) & set(float_features)
    if overlap:
        raise ValueError(f"features given twice: {sorted(overlap)}")
    entries = []
    for name in sorted({**int_features, **float_features}):
        value = (_int64_feature(int_features[name]) if name in int_features
                 else _float_feature(float_features[name]))
        entries.append(_delimited(1, _key_field(name) + _delimited(2, value)))
    return _delimited(1, b"".join(entries))


__all__ = ["encode_varint", "encode_varints", "serialize_example"]
