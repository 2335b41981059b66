"""Checkpoint interop: the only place that knows foreign variable names."""

from albert_tf.checkpoints.loader import (CheckpointWeights, export_weights, load_config_for, load_weights,
                                          locate_checkpoint, read_checkpoint, save_hf, save_tf1)
from albert_tf.checkpoints.report import CheckpointFormatError, CheckpointMismatchError, LoadReport

__all__ = ["CheckpointWeights", "CheckpointFormatError", "CheckpointMismatchError", "LoadReport", "export_weights",
           "load_config_for", "load_weights", "locate_checkpoint", "read_checkpoint", "save_hf", "save_tf1"]
