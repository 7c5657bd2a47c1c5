#!/usr/bin/env bash
# Install everything the tests need, then run them (CPython suite, then the
# differential corpus again under PyPy). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test,dev]'
[ -d .venv-pypy ] || pypy3 -m venv .venv-pypy
.venv-pypy/bin/pip install -q -e '.[test]'
.venv/bin/ruff check afgdb tests bench
.venv/bin/mypy afgdb
.venv/bin/pytest -q -p no:cacheprovider "$@"
AFGDB_PYPY=1 .venv-pypy/bin/pytest -q -p no:cacheprovider -m pypy
