"""afgdb under PyPy starts itself again with a nursery sized for the machine's
allocation rate (the GC reads it only at start-up); a size the user set stays.
It also sets the JIT's parameters (or the user's, from AFGDB_PYPY_JIT)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from afgdb import hostpy

pytestmark = pytest.mark.pypy

SHOW = "import os; print(os.environ.get('PYPY_GC_NURSERY'))"
PROBE = f"from afgdb.hostpy import ensure_nursery; ensure_nursery(['-c', {SHOW!r}]); {SHOW}"


def _probe(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_pypy_starts_again_with_the_nursery_set_and_cpython_does_not() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYPY_GC_NURSERY"}
    assert _probe(env) == (hostpy.NURSERY if hostpy.PYPY else "None")


def test_a_nursery_the_user_set_is_kept() -> None:
    assert _probe(dict(os.environ, PYPY_GC_NURSERY="3MB")) == "3MB"
    assert hostpy.with_nursery({"PYPY_GC_NURSERY": "3MB"})["PYPY_GC_NURSERY"] == "3MB"
    assert hostpy.with_nursery({})["PYPY_GC_NURSERY"] == hostpy.NURSERY


def _stats(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afgdb", "run", "--stats", "/bin/hello"],
                          env=env, capture_output=True, text=True, check=True)


def test_the_command_tunes_pypys_jit_and_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != hostpy.JIT_ENV}
    line = _stats(env).stderr
    assert (f"(JIT {hostpy.JIT})" in line) == hostpy.PYPY, line


def test_jit_parameters_the_user_set_are_taken_and_bad_ones_reported() -> None:
    own = _stats(dict(os.environ, AFGDB_PYPY_JIT="decay=5")).stderr
    assert ("(JIT decay=5)" in own) == hostpy.PYPY, own
    assert "(JIT" not in _stats(dict(os.environ, AFGDB_PYPY_JIT="")).stderr
    bad = _stats(dict(os.environ, AFGDB_PYPY_JIT="no_such=1")).stderr
    assert "(JIT" not in bad
    assert ("JIT parameters 'no_such=1' not taken" in bad) == hostpy.PYPY, bad
