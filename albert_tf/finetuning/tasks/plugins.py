"""Tasks from outside the package: a user module named by flag, or an installed entry point.

`--task_module=my_tasks` (an importable module) or `--task_module=path/to/my_tasks.py` imports the
module, whose `@register` classes join the registry. An installed distribution can instead declare
an entry point in the group `albert_tf.tasks` (`my_tasks = my_package.tasks`); those are loaded the
first time a task name is looked up. Each module is loaded once per process.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from typing import Iterable, Optional

from albert_tf import filesystem

ENTRY_POINT_GROUP = "albert_tf.tasks"

_loaded = set()
_entry_points_loaded = False


def load_task_modules(specs: Optional[Iterable[str]]):
    """Imports every module name or `.py` path in `specs` (errors name the flag and the module)."""
    for spec in specs or ():
        spec = spec.strip()
        if not spec:
            continue
        is_path = spec.endswith(".py") or os.sep in spec or not filesystem.is_local(spec)
        key = os.path.realpath(spec) if is_path and filesystem.is_local(spec) else spec
        if key in _loaded:
            continue
        try:
            if is_path:
                _import_path(spec)
            else:
                importlib.import_module(spec)
        except FileNotFoundError:
            raise ValueError(f"--task_module={spec}: file not found") from None
        except ImportError as error:
            raise ValueError(f"--task_module={spec}: cannot import it ({error}); give an importable module "
                             "name or the path of a .py file") from None
        _loaded.add(key)


def _import_path(path: str):
    if not filesystem.isfile(path):
        raise FileNotFoundError(path)
    name = "albert_tf_user_tasks_" + os.path.splitext(filesystem.basename(path))[0]
    with filesystem.local_copy(path) as local:  # the import machinery reads local files only (gs:// too)
        spec = importlib.util.spec_from_file_location(name, local)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise


def load_entry_points():
    """Imports the modules installed distributions declare in the `albert_tf.tasks` group (once)."""
    global _entry_points_loaded  # pylint: disable=global-statement
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.value in _loaded:
            continue
        try:
            entry_point.load()
        except Exception as error:  # pylint: disable=broad-except
            raise ValueError(f"entry point {entry_point.name} = {entry_point.value} in group {ENTRY_POINT_GROUP}: "
                             f"cannot load it ({error})") from None
        _loaded.add(entry_point.value)
