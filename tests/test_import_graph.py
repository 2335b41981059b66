"""The package's import rules, read from the source with `ast` (nothing is imported).

- No cycle between the parts of `albert_tf` (each subpackage and each top-level module is one
  node); imports inside functions count too, so a lazy import cannot hide a cycle.
- An import inside a function body is only for a heavy optional dependency, or one of the few
  cases in `ALLOWED_LAZY`, each with its reason.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "albert_tf"

# Imported where they are needed: not every install has them, or they cost seconds to load.
HEAVY_OPTIONAL = frozenset({
    "torch", "transformers", "keras_hub", "tensorflow_hub", "tensorflow_text", "jax", "jieba", "nltk",
    "safetensors", "sklearn", "scipy", "seqeval",
})

# (file relative to the package, or a folder ending in "/"; imported module or "*") -> why it is lazy.
ALLOWED_LAZY = {
    ("cli/", "*"): "console commands answer --help and refuse bad flags before TensorFlow loads",
    ("inference_files.py", "*"): "part of albert-predict: TensorFlow loads only once the rows are checked",
    ("child_processes.py", "*"): "die_with_parent's source is pasted into `python -c` scripts, so it carries "
                                 "its own imports",
    ("tokenization/__init__.py", "albert_tf.tokenization"): "the Python tokenizers import without "
                                                                    "TensorFlow (the data tool's workers)",
    ("training/settings_checks.py", "albert_tf.checkpoints"): "flag checks run before TensorFlow loads",
    ("training/settings_checks.py", "albert_tf.checkpoints.tf1"): "flag checks run before TensorFlow loads",
    ("modeling/embedding.py", "tensorflow"): "the model layers run on Keras' JAX and PyTorch backends too",
    ("checkpoints/tf1.py", "tensorflow"): "only TF1 checkpoints need TensorFlow; the other formats load on any "
                                          "Keras backend",
    ("tf_logs.py", "tensorflow"): "its start-up log lines are captured while it is imported",
    ("filesystem.py", "tensorflow"): "local paths are served without TensorFlow (the data tool's workers, the "
                                     "flag checks); only other schemes need tf.io.gfile",
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node, path: Path, root: Path):
    """The absolute module names an import statement names (`from a import b` gives a and a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = _module_name(path, root).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _function_imports(tree):
    """Import nodes that stand inside a function body."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(sub) for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom)))
    return inside


def _part(module: str, root: Path):
    """The graph node of a module of the package: its subpackage, or the top-level module; None outside."""
    parts = module.split(".")
    if parts[0] != root.name or len(parts) < 2:
        return None
    top = parts[1]
    if (root / top).is_dir() or (root / f"{top}.py").is_file():
        return top
    return None  # a name imported from the package's __init__, e.g. __version__


def scan(root: Path):
    """(edges {part: {other part: first 'file:line'}}, lazy imports [(relative file, line, module)])."""
    edges, lazy = {}, []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        source = _part(_module_name(path, root), root)
        in_function = _function_imports(tree)
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            modules = _imported(node, path, root)
            for module in modules:
                target = _part(module, root)
                if source and target and target != source:
                    edges.setdefault(source, {}).setdefault(target, f"{relative}:{node.lineno}")
            if id(node) in in_function:
                lazy.append((relative, node.lineno, modules[0]))
    return edges, lazy


def find_cycle(edges):
    """One cycle as a list of parts (first repeated at the end), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def disallowed_lazy(lazy):
    """'file:line imports module' for every function-body import neither heavy nor allowed."""
    bad = []
    for relative, line, module in lazy:
        if module.split(".")[0] in HEAVY_OPTIONAL:
            continue
        if any((relative == where or (where.endswith("/") and relative.startswith(where)))
               and what in ("*", module) for where, what in ALLOWED_LAZY):
            continue
        bad.append(f"albert_tf/{relative}:{line} imports {module} inside a function")
    return bad


@pytest.fixture(scope="module")
def package_scan():
    return scan(PACKAGE)


def test_no_import_cycle_between_parts_of_the_package(package_scan):
    edges, _ = package_scan
    cycle = find_cycle(edges)
    where = [edges[a][b] for a, b in zip(cycle, cycle[1:])] if cycle else []
    assert cycle is None, f"import cycle {' -> '.join(cycle)} ({', '.join(where)})"


def test_imports_inside_functions_only_for_heavy_or_listed_modules(package_scan):
    _, lazy = package_scan
    assert disallowed_lazy(lazy) == []


def test_every_allowed_lazy_import_still_exists(package_scan):
    """An entry of the allow-list that matches nothing any more is removed, not kept as a loophole."""
    _, lazy = package_scan
    stale = [entry for entry in ALLOWED_LAZY
             if not any((relative == entry[0] or (entry[0].endswith("/") and relative.startswith(entry[0])))
                        and entry[1] in ("*", module) for relative, _, module in lazy)]
    assert stale == []


def _write(root: Path, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_hidden_in_a_function_is_found(tmp_path):
    root = tmp_path / "albert_tf"
    _write(root, {"__init__.py": "", "alpha/__init__.py": "from albert_tf.beta import b\n",
                  "beta/__init__.py": "", "beta/b.py": "def f():\n    from albert_tf import alpha\n"})
    edges, lazy = scan(root)
    assert find_cycle(edges) == ["alpha", "beta", "alpha"]
    assert disallowed_lazy(lazy) == ["albert_tf/beta/b.py:2 imports albert_tf inside a function"]


def test_relative_and_heavy_imports_are_read(tmp_path):
    root = tmp_path / "albert_tf"
    _write(root, {"__init__.py": "__version__ = '0'\n", "config.py": "from albert_tf import __version__\n",
                  "alpha/__init__.py": "", "alpha/a.py": "from ..config import x\n\ndef f():\n    import torch\n"})
    edges, lazy = scan(root)
    assert edges == {"alpha": {"config": "alpha/a.py:1"}}
    assert find_cycle(edges) is None
    assert lazy == [("alpha/a.py", 4, "torch")] and disallowed_lazy(lazy) == []


# Test files run as scripts of their own (not imported by pytest), which must find the package themselves.
PATH_EDITS_ALLOWED = {"backend_worker.py": "runs as `python tests/backend_worker.py` under another Keras backend"}


def _path_edits(directory: Path):
    """'file:line' of every `sys.path.insert/append(...)` call in the .py files of `directory`."""
    found = []
    for path in sorted(directory.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("insert", "append") and ast.unparse(node.func.value) == "sys.path"):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_tests_import_their_helpers_without_path_edits():
    """Helpers sit next to conftest.py; tools/ and bench/ are on pytest's `pythonpath`."""
    edits = _path_edits(Path(__file__).resolve().parent)
    assert [e for e in edits if e.split(":")[0] not in PATH_EDITS_ALLOWED] == []


def test_a_path_edit_is_found(tmp_path):
    (tmp_path / "test_x.py").write_text("import sys\nsys.path.insert(0, 'x')\ncode = \"sys.path.append(1)\"\n")
    assert _path_edits(tmp_path) == ["test_x.py:2"]
