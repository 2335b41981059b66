"""Fine-tuning ALBERT on sentence(-pair) classification, regression and multiple choice.

Task files → `tasks` (one small class per task, registry) → `features` (tokenize + pack) →
`feature_cache` (TFRecords keyed by file hash, tokenizer and sequence length) → `datasets`
(length buckets or static shapes; eval batches padded with weight-0 rows) → `job` (Keras fit,
evaluation every N steps, best checkpoint, predictions, exports). `run_classifier.py` is the CLI.
"""

from albert_tf.finetuning.examples import DataError, Example
from albert_tf.finetuning.tasks import get_task, task_names

__all__ = ["DataError", "Example", "get_task", "task_names"]
