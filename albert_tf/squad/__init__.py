"""SQuAD v1.1 / v2.0 (and SQuAD-format CMRC2018) fine-tuning, prediction and official evaluation.

json → `reading` (validated `SquadExample`s) → `features` (sliding windows with max-context
bookkeeping, via the tokenizer's character offsets) → `feature_cache` → `datasets` (tf.data) →
`modeling` (v1 span head, XLNet-style or CLS-null v2 heads) → `decoding` (n-best, null scores)
→ `evaluation` (the official definitions). `job` ties them together for `run_squad.py`.
"""

from albert_tf.squad.reading import Answer, SquadExample, read_squad

__all__ = ["Answer", "SquadExample", "read_squad"]
