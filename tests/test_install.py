"""`pip install` of the checkout gives every command: a fresh virtualenv (the test environment's packages
reused, so nothing is downloaded), the package installed without dependencies, each console command's
`--help` run from the virtualenv's bin/."""

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What a source install reads: the build files and the package (not tests, fixtures or docs).
INSTALL_FILES = ("setup.cfg", "pyproject.toml", "README.md", "albert_tf")

pytestmark = pytest.mark.install


def console_commands():
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    text = parser.get("options.entry_points", "console_scripts")
    return [line.split("=", 1)[0].strip() for line in text.strip().splitlines() if "=" in line]


def test_the_training_scripts_are_console_commands():
    assert {"albert-pretrain", "albert-classify", "albert-squad", "albert-ner"} <= set(console_commands())


def test_pip_install_of_the_checkout_gives_every_command(tmp_path):
    missing = [name for name in ("pip", "setuptools", "wheel") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"installing offline needs {', '.join(missing)} in the test environment")
    source = tmp_path / "checkout"
    source.mkdir()
    for name in INSTALL_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # The dependencies (and pip, setuptools) come from this environment: a path line, not its .pth files,
    # so its editable albert_tf is not seen and the import below must find the installed copy.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="2")
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
                                str(source)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import albert_tf; print(albert_tf.__file__)"], capture_output=True,
                           text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    # Each --help in its own process, all at once (each imports TensorFlow).
    running = {command: subprocess.Popen([str(venv / "bin" / command), "--help"], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
               for command in console_commands()}
    helps = {}
    for command, process in running.items():
        out, err = process.communicate(timeout=300)
        # absl ends --help with exit status 1 (argparse with 0); either way the flags are listed.
        assert process.returncode in (0, 1) and "Traceback" not in err, (command, err[-3000:])
        assert "--helpfull" in out or "usage:" in out, (command, out[-2000:])  # absl | argparse
        helps[command] = out + err
    # Not a bare `USAGE: albert-... [flags]`: the command's own flags are listed.
    for command, flag in (("albert-pretrain", "--input_file"), ("albert-classify", "--task_name"),
                          ("albert-squad", "--train_file"), ("albert-ner", "--label_scheme"),
                          ("albert-create-pretraining-data", "--vocab_file"), ("albert-convert", "--output_format"),
                          ("albert-export", "--export_dir"), ("albert-predict", "--input_file")):
        assert flag in helps[command], (command, helps[command][-2000:])
