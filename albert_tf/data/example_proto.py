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


# === Many records at once ===
def _varint_table(limit: int):
    """Varint bytes (padded to 3) and lengths of 0 .. limit-1, for vectorized lookups."""
    values = np.arange(limit, dtype=np.int64)
    lengths = 1 + (values >= 1 << 7) + (values >= 1 << 14)
    groups = np.stack([(values >> shift) & 0x7F for shift in (0, 7, 14)], axis=-1)
    groups[..., :2] |= (np.arange(2) < lengths[:, None] - 1) << 7
    return groups.astype(np.uint8), lengths


_TABLE_BYTES, _TABLE_LENGTHS = _varint_table(1 << 16)


def _packed_varint_rows(values: np.ndarray):
    """Row-wise packed varints of a 2-D int array: (all rows' bytes, per-row byte offsets [N + 1])."""
    if values.min() >= 0 and values.max() < len(_TABLE_LENGTHS):  # token ids, positions
        encoded, num_bytes = _TABLE_BYTES[values], _TABLE_LENGTHS[values]
    else:
        unsigned = values.astype(np.int64).view(np.uint64)  # negatives take 10 bytes, as in protobuf
        num_bytes = np.ones(unsigned.shape, np.int64)
        for k in range(1, 10):
            num_bytes += unsigned >= np.uint64(1 << (7 * k))
        widest = int(num_bytes.max())
        groups = np.stack([(unsigned >> np.uint64(7 * k)) & np.uint64(0x7F) for k in range(widest)], -1)
        continues = np.arange(widest) < (num_bytes[..., None] - 1)
        encoded = (groups | (continues.astype(np.uint64) << np.uint64(7))).astype(np.uint8)
    used = np.arange(encoded.shape[-1]) < num_bytes[..., None]
    data = encoded[used].tobytes()  # row-major: rows stay in order
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(num_bytes.sum(axis=1), out=offsets[1:])
    return data, offsets.tolist()


def _fixed_rows(matrix: np.ndarray):
    """Rows of equal byte length: (all bytes, offsets)."""
    row_bytes = matrix.shape[1] * matrix.itemsize
    return matrix.tobytes(), list(range(0, (len(matrix) + 1) * row_bytes, row_bytes))


def _feature_rows(values: np.ndarray, is_float: bool):
    if is_float:
        return _fixed_rows(np.ascontiguousarray(values, dtype="<f4"))
    if values.size == 0 or (values.min() >= 0 and values.max() < 0x80):
        return _fixed_rows(np.ascontiguousarray(values, dtype=np.uint8))  # one byte per value
    return _packed_varint_rows(values)


def _entry_prefix(name: str, is_float: bool, payload_size: int) -> bytes:
    """The bytes of a feature-map entry up to its packed values (which follow it directly)."""
    value_field = _delimited(1, b"\0" * payload_size) if payload_size else b""
    feature = _delimited(2 if is_float else 3, value_field)
    entry = _delimited(1, _key_field(name) + _delimited(2, feature))
    return entry[:len(entry) - payload_size]


def serialize_examples(int_features: Mapping[str, np.ndarray],
                       float_features: Mapping[str, np.ndarray] = None) -> list:
    """`serialize_example` for N records given as `[N, L]` arrays per feature (same bytes)."""
    float_features = float_features or {}
    overlap = set(int_features) & set(float_features)
    if overlap:
        raise ValueError(f"features given twice: {sorted(overlap)}")
    columns = []  # per feature: (data, offsets, prefix by payload size)
    num_records = None
    for name in sorted({**int_features, **float_features}):
        is_float = name in float_features
        values = np.asarray(float_features[name] if is_float else int_features[name])
        if values.ndim != 2 or (num_records is not None and len(values) != num_records):
            raise ValueError(f"feature {name!r}: expected [num_records, length], got {values.shape}")
        num_records = len(values)
        data, offsets = _feature_rows(values, is_float)
        columns.append((data, offsets, functools.partial(_entry_prefix, name, is_float)))
    if not columns:
        return []
    prefixes = [{} for _ in columns]
    records = []
    for row in range(num_records):
        parts = []
        for (data, offsets, make_prefix), cache in zip(columns, prefixes):
            begin, end = offsets[row], offsets[row + 1]
            prefix = cache.get(end - begin)
            if prefix is None:
                prefix = cache[end - begin] = make_prefix(end - begin)
            parts.append(prefix)
            parts.append(data[begin:end])
        body = b"".join(parts)
        records.append(_delimited(1, body))
    return records


__all__ = ["encode_varint", "encode_varints", "serialize_example", "serialize_examples"]
