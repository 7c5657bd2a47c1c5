"""The afgdb pytest plugin, loaded as a plugin into a separate pytest run (pytester)."""

from __future__ import annotations

import os
import sys
from importlib import metadata

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytest_plugins = ["pytester"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USES_EVERY_FIXTURE = '''
import pytest

from afgdb.client import Exited, Stopped, SyscallEntry


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_machine(afgdb_machine):
    p = afgdb_machine.spawn("/bin/hello", ["/bin/hello"], [])
    assert afgdb_machine.run_until_exit(p) == 0
    assert afgdb_machine.stdio[1].out == b"hello, world\\n"


def test_server_and_sync_client(afgdb_server, afgdb_sync_client):
    stop = afgdb_sync_client.run("/bin/args", "a", "b")
    assert isinstance(stop, Stopped) and stop.signal == 5
    assert afgdb_sync_client.cont() == Exited(0, stop.thread.pid)
    assert "a" in afgdb_server.output()


@pytest.mark.anyio
async def test_async_client(afgdb_client):
    await afgdb_client.run("/bin/hello")
    await afgdb_client.catch_syscalls()
    names = [ev.name async for ev in afgdb_client.events() if isinstance(ev, SyscallEntry)]
    assert names[-2:] == ["write", "exit_group"]


def test_gdb(afgdb_gdb, afgdb_server):
    afgdb_gdb.start("/bin/gdbdemo")
    afgdb_gdb.run("break scaled")
    stop = afgdb_gdb.go("run")
    assert (stop.func, stop.reason) == ("scaled", "breakpoint-hit")
    assert afgdb_gdb.value("times") == "3"
    assert "double r = x * config.scale;" in afgdb_gdb.run("list scaled")  # sources found
    afgdb_gdb.run("delete")
    assert afgdb_gdb.cont().exit_code == 0
    assert "counter=120" in afgdb_server.output()
'''


def entry_point_installed() -> bool:
    eps = metadata.entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
    return any(ep.name == "afgdb" and ep.value == "afgdb.pytest_plugin" for ep in group)


def test_entry_point_is_declared() -> None:
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["entry-points"]["pytest11"] == {"afgdb": "afgdb.pytest_plugin"}


def test_every_fixture_as_a_plugin(pytester: pytest.Pytester,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        REPO, os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(test_uses_afgdb=USES_EVERY_FIXTURE)
    # Installed (pip install -e .), pytest loads the plugin by its entry point;
    # from a bare checkout, name it.
    args = [] if entry_point_installed() else ["-p", "afgdb.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args, "-v", "-p", "no:cacheprovider")
    skipped = 0 if os.path.exists("/usr/bin/gdb-multiarch") or os.environ.get("AFGDB_GDB") \
        else 1
    result.assert_outcomes(passed=4 - skipped, skipped=skipped)
