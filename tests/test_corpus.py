"""The differential corpus: every program's stdout and exit status under
`afgdb run` equal qemu-mipsel's byte for byte (where qemu is known to differ
from Linux, afgdb must give what Linux gives). Runs under CPython and PyPy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from corpus_util import Program, Result, fresh_root, list_programs, qemu_path, run_command, run_qemu

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = list_programs()
pytestmark = pytest.mark.skipif(qemu_path() is None, reason="qemu-mipsel is not installed")


def run_afgdb(program: Program, root: Path, engine: str = "block") -> Result:
    argv = [sys.executable, "-m", "afgdb", "run", "--root", str(root), "-i", "--engine", engine]
    for k, v in program.env:
        argv += ["--env", f"{k}={v}"]
    argv += list(program.argv)
    host_env = dict(os.environ, PYTHONPATH=str(REPO))
    return run_command(argv, cwd=root, env=host_env, timeout=600)


@pytest.mark.pypy
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_same_as_qemu(program: Program) -> None:
    _check(program, "block")


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_reference_interpreter_same_as_qemu(program: Program) -> None:
    """The same corpus on the one-instruction-at-a-time reference interpreter."""
    _check(program, "interp")


def _check(program: Program, engine: str) -> None:
    with fresh_root() as root:
        q = run_qemu(program, root)
    with fresh_root() as root:
        a = run_afgdb(program, root, engine)
    want = program.expected_stdout if program.expected_stdout is not None else q.stdout
    assert a.stdout == want, a.stderr.decode(errors="replace")[-2000:]
    if program.qemu_status is not None and program.qemu_status != program.status:
        assert a.status == program.status  # qemu is wrong here; Linux's answer counts
    else:
        assert a.status == q.status, a.stderr.decode(errors="replace")[-2000:]
