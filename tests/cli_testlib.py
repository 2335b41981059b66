"""The console commands' modules loaded side by side in one test process.

Each command module defines its absl flags when it is imported, and some share a name with another
meaning (`--model` of albert-convert and albert-predict, `--task_name`, `--max_seq_length`), so a
second one fails to import with DuplicateFlagError. Tests call the commands' library functions
(`convert`, `export_checkpoint`, `predict_file`), which read no flag: `command` takes the flags of
the command modules loaded before off `flags.FLAGS`, then imports the one asked for.
"""

import importlib
import sys

from absl import flags


def command(name: str):
    """The module `albert_tf.cli.<name>`, importable whatever other command module is loaded."""
    module_name = f"albert_tf.cli.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    by_module = flags.FLAGS.flags_by_module_dict()
    for loaded in [m for m in sys.modules if m.startswith("albert_tf.cli.") and m != module_name]:
        for flag in list(by_module.get(loaded, ())):
            if flag.name in flags.FLAGS:
                delattr(flags.FLAGS, flag.name)
    return importlib.import_module(module_name)
