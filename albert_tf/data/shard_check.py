"""Shard files checked against what `dataset_meta.json` lists for them, before any training step.

A shard cut short by a failed copy otherwise reads fine until the reader reaches the cut, hundreds
of steps in, and fails with a message that names no file. The meta records each shard's size,
record count and sha256. Every shard's size is checked (one `stat`); a shard of the wrong size has
its TFRecord framing walked (each 12-byte length header read, the data skipped) to say how many
complete records are left. On request every shard is walked and hashed (reads every byte).
"""

import hashlib
import os
import struct
from typing import Dict, Iterable, Optional, Tuple

from albert_tf import filesystem
from albert_tf.data.meta import MetaError

_HEADER = 12       # uint64 length + uint32 masked CRC of the length
_FOOTER = 4        # uint32 masked CRC of the data
_READ_CHUNK = 1 << 20


class ShardError(MetaError):
    """A shard whose file does not match its entry in dataset_meta.json."""


def file_size(path: str) -> int:
    return filesystem.size(path)


def count_records(path: str) -> Tuple[int, Optional[str]]:
    """(complete records, description of a cut-off tail or None), from the framing alone."""
    size = filesystem.size(path)
    records, offset = 0, 0
    with filesystem.open_file(path, "rb") as f:
        while offset < size:
            if size - offset < _HEADER:
                return records, f"{size - offset} stray byte(s) after record {records} at offset {offset}"
            f.seek(offset)
            (length,) = struct.unpack("<Q", f.read(8))
            end = offset + _HEADER + length + _FOOTER
            if end > size:
                return records, (f"record {records + 1} at offset {offset} declares {length} bytes "
                                 f"but the file ends {end - size} byte(s) short")
            records += 1
            offset = end
    return records, None


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with filesystem.open_file(path, "rb") as f:
        for chunk in iter(lambda: f.read(_READ_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_shard(path: str, entry: Dict, meta_path: str, verify_sha256: bool = False):
    """Raise `ShardError` naming `path` and what differs from its `meta_path` entry."""
    problems = []
    expected_bytes = entry.get("bytes")
    size = file_size(path)
    if expected_bytes is not None and size != int(expected_bytes):
        problems.append(f"{size} bytes, {meta_path} lists {int(expected_bytes)}")
    # The size (one stat) finds a cut-off copy; walking the framing (~3 us a record) then says how much
    # is left. A full walk of every shard, with the hash, only on request: big datasets hold tens of
    # millions of records. Remote reads cost a request each, so there the size has to do.
    if (problems or verify_sha256) and filesystem.is_local(path):
        records, tail = count_records(path)
        expected_records = entry.get("instances")
        if expected_records is not None and records != int(expected_records):
            problems.append(f"{records} complete record(s), {meta_path} lists {int(expected_records)}")
        if tail:
            problems.append(tail)
    if not problems and verify_sha256 and entry.get("sha256"):
        digest = file_sha256(path)
        if digest != entry["sha256"]:
            problems.append(f"sha256 {digest[:16]}..., {meta_path} lists {entry['sha256'][:16]}...")
    if problems:
        raise ShardError(f"{path}: shard does not match its entry in {os.path.basename(meta_path)} "
                         f"({'; '.join(problems)}): truncated or changed after it was written; regenerate "
                         "it with albert-create-pretraining-data or copy it again")


def check_shards(files: Iterable[str], entries: Dict[str, Dict], meta_path: str, verify_sha256: bool = False):
    """Check every file against `entries[file]`, the shard list of `meta_path`."""
    for path in files:
        check_shard(path, entries[path], meta_path, verify_sha256=verify_sha256)
