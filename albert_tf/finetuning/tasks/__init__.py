"""The task registry: importing the families registers their tasks; `plugins` adds the user's own."""

from albert_tf.finetuning.tasks import chinese, glue, race  # noqa: F401  (registration)
from albert_tf.finetuning.tasks.chinese import JsonTask
from albert_tf.finetuning.tasks.plugins import load_task_modules
from albert_tf.finetuning.tasks.base import (CHOICE_TSV, CLUE_JSON, GLUE_TSV, Task, TsvTask, describe_tasks,
                                             get_task, register, task_names)

__all__ = ["CHOICE_TSV", "CLUE_JSON", "GLUE_TSV", "Task", "TsvTask", "describe_tasks", "get_task", "register",
           "task_names", "JsonTask", "load_task_modules"]
