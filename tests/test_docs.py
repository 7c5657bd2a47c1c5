"""Every Python example in docs/guide.md runs: scripts against a fresh server, tests
through pytest with the afgdb plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from afgdb.gdbmi import gdb_path
from afgdb.harness import ServerProcess

pytest_plugins = ["pytester"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(REPO, "docs", "guide.md")


def blocks(kind: str) -> list[str]:
    with open(GUIDE) as f:
        text = f.read()
    return re.findall(rf"^```{kind}\n(.*?)^```$", text, re.S | re.M)


SCRIPTS = blocks("python")
TESTS = blocks("python test")


def test_the_guide_has_examples() -> None:
    assert len(SCRIPTS) >= 4 and len(TESTS) == 1


def shown_output(code: str) -> list[str] | None:
    """The lines the guide says ``code`` prints (in a block after "prints"), if any."""
    with open(GUIDE) as f:
        text = f.read()
    m = re.search(r"```python\n" + re.escape(code) + r"```\n\nprints[^\n]*\n\n```\n(.*?)```",
                  text, re.S)
    return m.group(1).splitlines() if m else None


@pytest.mark.parametrize("index", range(len(SCRIPTS)))
def test_script_example(index: int) -> None:
    code = SCRIPTS[index]
    if "Gdb()" in code and gdb_path() is None:
        pytest.skip("gdb-multiarch is not installed")
    with ServerProcess() as srv:
        proc = subprocess.run([sys.executable, "-c", code.replace("127.0.0.1:2345", srv.address)],
                              capture_output=True, text=True, cwd=REPO, timeout=300,
                              env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = proc.stdout.splitlines()
    for line in shown_output(code) or []:
        if line != "...":  # the guide elides some lines
            assert line in printed


def test_outputs_are_checked() -> None:
    assert sum(shown_output(c) is not None for c in SCRIPTS) == 2


def test_pytest_example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", REPO)
    pytester.makepyfile(test_guide=TESTS[0])
    from test_pytest_plugin import entry_point_installed

    args = [] if entry_point_installed() else ["-p", "afgdb.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    if gdb_path() is None:
        result.assert_outcomes(passed=3, skipped=1)
    else:
        result.assert_outcomes(passed=4)
