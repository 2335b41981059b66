"""The documentation stays true: docs/flags.md is generated from the flags, and every shell command
in README.md and docs/*.md is either run by `make docs-check` or listed there with a reason."""

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flag_docs_are_current():
    # A separate process: the generator defines every script's absl flags in the global registry.
    generated = subprocess.run([sys.executable, str(REPO / "tools" / "make_flag_docs.py"), "--stdout"],
                               capture_output=True, text=True, cwd=REPO, check=False)
    assert generated.returncode == 0, generated.stderr[-3000:]
    current = (REPO / "docs" / "flags.md").read_text(encoding="utf-8")
    assert generated.stdout == current, "docs/flags.md is stale: run `make flag-docs` and commit the result"


def test_flag_docs_cover_every_command():
    text = (REPO / "docs" / "flags.md").read_text(encoding="utf-8")
    for title in ("## run_pretraining.py", "## run_classifier.py", "## run_squad.py", "## albert-convert",
                  "## albert-create-pretraining-data"):
        assert title in text
    assert "| `--input_sharding` | enum: `auto` \\| `files` \\| `records` | `auto` |" in text
    for module in sorted((REPO / "albert_tf" / "cli").glob("*.py")):
        if module.stem != "__init__":
            assert f"albert_tf/cli/{module.name}" in text, f"{module} missing from docs/flags.md"


def test_every_doc_command_is_exercised_or_listed():
    docs_check = _load_tool("docs_check")
    commands, problems = docs_check.extract()
    problems += docs_check.coverage(commands)
    assert not problems, "\n".join(problems)
    assert len(commands) > 20
    docs = {command.doc for command in commands}
    assert {"README.md", "docs/checkpoints.md", "docs/running.md", "docs/pretraining.md"} <= docs
    run = [c for c in commands if docs_check.classify(c)[0] == "run"]
    assert len(run) > len(commands) / 2


def test_command_extraction_handles_continuations_comments_and_prompts():
    docs_check = _load_tool("docs_check")
    text = "\n".join([
        "intro",
        "```bash",
        "# a comment line",
        "python run_squad.py --a=1 \\",
        "    --b='x y'   # trailing comment",
        "echo '{\"k\": 1,",
        "      \"j\": 2}' > /tmp/c.json",
        "albert-convert --input a#b --output c",
        "```",
        "```console",
        "$ albert-convert --help",
        "output line that is not a command",
        "```",
        "```",
        "python run_classifier.py --task_name=help",
        "```",
        "```python",
        "print('not a shell command')",
        "```",
    ])
    commands, problems = docs_check.commands_in(text, "x.md")
    assert [c.text for c in commands] == [
        "python run_squad.py --a=1 --b='x y'",
        "echo '{\"k\": 1,\n      \"j\": 2}' > /tmp/c.json",
        "albert-convert --input a#b --output c",
        "albert-convert --help",
    ]
    assert [c.line for c in commands] == [4, 6, 8, 11]
    assert len(problems) == 1 and "x.md:14" in problems[0] and "```bash" in problems[0]


def test_unlisted_and_stale_entries_fail():
    docs_check = _load_tool("docs_check")
    unknown = docs_check.Command("x.md", 1, "gsutil cp a b")
    assert docs_check.classify(unknown)[0] == "unlisted"
    problems = docs_check.coverage([unknown])
    assert any("neither run nor listed" in p for p in problems)
    assert any("matches no command" in p for p in problems)  # every NOT_RUN entry is stale here
