"""What the console commands share: absl's `--help` for a command whose flags live in a module other
than `__main__`, and the fine-tuning commands' flags, `main` and `run` from one settings class.

absl's short help lists only the flags of the `__main__` module and prints `__main__`'s docstring.
A pip console command's `__main__` is a generated stub, and the repository's `run_*.py` scripts are
thin wrappers, so both would print a bare `USAGE: ... [flags]`. `show_as_main` makes the command
module's flags and docstring the ones `--help` shows.

A fine-tuning command module imports `albert_tf.tf_logs` first (TensorFlow's start-up lines are
captured at its import), then calls `finetuning_command(...)`.
"""

import os
import sys
from typing import Callable, Dict, Optional

from absl import flags

from albert_tf import tf_logs
from albert_tf.jobs import entry, settings


def show_as_main(module_name: str, flag_values=flags.FLAGS):
    """`--help` of this process describes `module_name` (its docstring, the project's flags it defined)."""
    main = sys.modules.get("__main__")
    module = sys.modules[module_name]
    if main is module:
        return
    # The command's flags are defined by its module and by the project modules it calls (settings, tf_logs).
    for defined_in, defined in flag_values.flags_by_module_dict().items():
        if defined_in == module_name or defined_in.startswith("albert_tf."):
            for flag in defined:
                flag_values.register_key_flag_for_module(sys.argv[0], flag)
    if main is not None and module.__doc__:  # the stub's or wrapper's own docstring is only a pointer here
        main.__doc__ = module.__doc__


def finetuning_command(settings_class, job: Callable, module_name: str, overrides: Optional[Callable] = None,
            before: Optional[Callable] = None, flag_values=flags.FLAGS):
    """Defines the flags of `settings_class` (and `--tf_log_level`); returns `(main, run)`: `main(argv)`
    runs `job` on the parsed settings, `run()` is the console entry point (one error line for a refusal).

    overrides(flag_values) -> {setting: value}: values that win over the flags' defaults (presets).
    before(flag_values) -> bool: runs first; False ends the command there (e.g. after printing a list).
    """
    tf_logs.define_flag()
    settings.define_flags(settings_class)

    def main(argv):
        if before is not None and not before(flag_values):
            return
        extra: Dict = overrides(flag_values) if overrides is not None else None
        job(entry.settings_from_flags(settings_class, argv, extra, flag_values))

    def run():
        show_as_main(module_name)
        entry.run_main(main, os.path.basename(sys.argv[0]))

    return main, run
