"""Where an export's pieces come from: the tokenizer next to a checkpoint, a task's labels and text fields."""

from albert_tf.finetuning.tasks import get_task
from albert_tf.tokenization.assets import tokenizer_for_model


def tokenizer_for(checkpoint, vocab_file, do_lower_case=None, keep_accents=None):
    """The tokenizer given by `vocab_file`, else the one recorded next to `checkpoint`.

    `do_lower_case` / `keep_accents`: only the settings the user gave (None: the recorded ones).
    """
    return tokenizer_for_model(vocab_file, checkpoint, checkpoint_flag="--checkpoint", do_lower_case=do_lower_case,
                               keep_accents=keep_accents)


def task_labels_and_fields(task_name, labels=None, text_fields="auto", regression=False):
    """(labels, text field names) from a registered task or explicit flags."""
    fields = {"1": ("text_a",), "2": ("text_a", "text_b")}
    if task_name:
        task = get_task(task_name)
        if task.is_multiple_choice:
            raise ValueError(f"--task_name={task_name}: multiple-choice models are not exported for raw text")
        count = len(getattr(task, "text_columns", None) or getattr(task, "text_fields", None) or (0, 0))
        names = fields[text_fields] if text_fields != "auto" else fields["2" if count >= 2 else "1"]
        return (() if task.is_regression else tuple(task.labels)), names
    if not labels and not regression:
        raise ValueError("--task_name or --labels (or --regression) is required for --kind=classifier")
    return tuple(labels or ()), fields["1" if text_fields == "1" else "2"]
