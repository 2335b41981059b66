"""Helpers of `tools/demo.py`: the generated corpus and task files, and the SavedModel queries."""
