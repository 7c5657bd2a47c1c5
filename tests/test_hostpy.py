"""afgdb under PyPy starts itself again with a nursery sized for the machine's
allocation rate (the GC reads it only at start-up); a size the user set stays."""

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
