#!/usr/bin/env bash
# Create the TF Model Garden peer venv used by bench/bench_pretraining_data.py.
# Usage: bash bench/peers/setup_modelgarden.sh [VENV_DIR]   (default: .venv-modelgarden)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv-modelgarden}"
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "need Python 3.11 (set PYTHON=...)" >&2; exit 1; }
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install -r "$ROOT/bench/peers/requirements-modelgarden.txt"
"$VENV/bin/python" -c 'import tensorflow as tf, tf_keras, official.nlp.data.create_pretraining_data; print("tensorflow", tf.__version__, "tf_keras", tf_keras.__version__)'
