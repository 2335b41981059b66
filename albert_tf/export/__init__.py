"""SavedModel export: raw-text serving signatures, TF Hub-style encoder + preprocessor, reload check."""

from albert_tf.export.saved_model import (EXPORT_INFO, EXTRA_DIR, export_classifier, export_encoder,
                                          export_squad, read_export_info)
from albert_tf.export.self_check import ExportCheckError

__all__ = ["EXPORT_INFO", "EXTRA_DIR", "ExportCheckError", "export_classifier", "export_encoder", "export_squad",
           "read_export_info"]
