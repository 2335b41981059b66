"""absl's `--help` for a command whose flags live in a module other than `__main__`.

absl's short help lists only the flags of the `__main__` module and prints `__main__`'s docstring.
A pip console command's `__main__` is a generated stub, and the repository's `run_*.py` scripts are
thin wrappers, so both would print a bare `USAGE: ... [flags]`. `show_as_main` makes the command
module's flags and docstring the ones `--help` shows.
"""

import sys

from absl import flags


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
