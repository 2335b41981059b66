"""TFRecord files written without TensorFlow, atomically.

Framing per record: little-endian uint64 length, masked CRC-32C of the length, the data, masked
CRC-32C of the data (the format `tf.data.TFRecordDataset` reads and verifies). Records go to a
hidden temporary file that is renamed to the final name only after a clean close, so an
interrupted run never leaves a truncated file under a final name.
"""

import hashlib
import os
import struct

import google_crc32c

from albert_tf import atomic_files
from albert_tf.output_errors import writing

TEMP_PREFIX = atomic_files.TEMP_PREFIX
_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


class TFRecordWriter:
    """Context manager writing one TFRecord file; keeps a count and a sha256 of the bytes written.

    >>> with TFRecordWriter("out.tfrecord") as writer:
    ...     writer.write(b"record")
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._temp = atomic_files.temporary_name(self.path)
        with writing(self.path):  # a full disk or read-only directory is named by the shard's final name
            self._file = open(self._temp, "wb")  # pylint: disable=consider-using-with
        self._sha256 = hashlib.sha256()
        self.num_records = 0
        self.num_bytes = 0

    def write(self, record: bytes):
        length = struct.pack("<Q", len(record))
        chunk = b"".join((length, struct.pack("<I", masked_crc32c(length)), record,
                          struct.pack("<I", masked_crc32c(record))))
        with writing(self.path):
            self._file.write(chunk)
        self._sha256.update(chunk)
        self.num_records += 1
        self.num_bytes += len(chunk)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def close(self):
        """Flush, fsync and move into place under the final name."""
        if self._file.closed:
            return
        with writing(self.path):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            atomic_files.publish(self._temp, self.path)

    def abort(self):
        """Drop everything written; the final name is never created."""
        if not self._file.closed:
            self._file.close()
        atomic_files.remove(self._temp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
