"""What a weights file is, told by its content rather than its name.

A name says what a file should be; its first bytes say what it is. Reading by extension called a
text file named `model.keras` "not found" and any `.bin` a PyTorch pickle. Each reader asks
`require` first, so a file that is not what its name promises is refused saying both.
"""

import struct
import zipfile

from albert_tf import filesystem
from albert_tf.checkpoints.report import CheckpointFormatError

KERAS_ZIP = "keras"             # .keras: zip with config.json and model.weights.h5
TORCH_ZIP = "torch_zip"         # torch.save since 1.6: zip with <name>/data.pkl
TORCH_PICKLE = "torch_pickle"   # legacy torch.save: a bare pickle stream
SAFETENSORS = "safetensors"     # u64 header length, then a JSON header
HDF5 = "hdf5"
TF1_INDEX = "tf1_index"         # the .index table of a TF checkpoint
ZIP = "zip"
TEXT = "text"
EMPTY = "empty"
UNKNOWN = "unknown"

DESCRIPTIONS = {
    KERAS_ZIP: "a Keras .keras archive",
    TORCH_ZIP: "a PyTorch torch.save zip archive",
    TORCH_PICKLE: "a legacy PyTorch pickle",
    SAFETENSORS: "a safetensors file",
    HDF5: "an HDF5 file (Keras .h5 weights?)",
    TF1_INDEX: "the .index table of a TF checkpoint",
    ZIP: "a zip archive of unknown content",
    TEXT: "a text file",
    EMPTY: "an empty file",
    UNKNOWN: "unrecognised binary data",
}

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TABLE_MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)  # leveldb table footer, ends every .index file
_MAX_HEADER = 100 << 20  # the safetensors library's own limit
_PICKLE_PROTOCOLS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def _zip_kind(path: str) -> str:
    try:
        with filesystem.open_file(path, "rb") as handle, zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return ZIP
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return KERAS_ZIP
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return TORCH_ZIP
    return ZIP


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # The cut at the end of `head` may fall inside a character.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(c.isprintable() or c in "\r\n\t\f" for c in text)


def sniff(path: str) -> str:
    """The kind of file at `path` (one of the constants above)."""
    size = filesystem.size(path)
    if size == 0:
        return EMPTY
    with filesystem.open_file(path, "rb") as f:
        head = f.read(4096)
        f.seek(max(0, size - len(_TABLE_MAGIC)))
        tail = f.read()
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(path)
    if head.startswith(_HDF5_MAGIC):
        return HDF5
    # The header length is not checked against the size: a cut-off file is still a (corrupt) safetensors.
    if len(head) >= 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] < _MAX_HEADER:
        return SAFETENSORS
    if head.startswith(_PICKLE_PROTOCOLS):
        return TORCH_PICKLE
    if tail == _TABLE_MAGIC:
        return TF1_INDEX
    if _looks_like_text(head):
        return TEXT
    return UNKNOWN


def describe(path: str) -> str:
    return DESCRIPTIONS[sniff(path)]


# What a file name promises: the kinds that keep the promise and how to say it.
BY_SUFFIX = {
    ".safetensors": ((SAFETENSORS,), "a safetensors file"),
    ".bin": ((TORCH_ZIP, TORCH_PICKLE), "a PyTorch checkpoint (torch.save zip archive or pickle)"),
    ".keras": ((KERAS_ZIP,), "a Keras .keras archive (zip with config.json and model.weights.h5)"),
    ".h5": ((HDF5,), "a Keras .weights.h5 file (HDF5)"),
}


def require(path: str, expected: tuple, wanted: str) -> str:
    """The kind of `path` if it is one of `expected`; otherwise refuse naming both."""
    if not filesystem.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if filesystem.isdir(path):
        raise CheckpointFormatError(f"{path} is a directory, expected {wanted}")
    kind = sniff(path)
    if kind not in expected:
        raise CheckpointFormatError(f"{path} is {DESCRIPTIONS[kind]}, expected {wanted}")
    return kind
