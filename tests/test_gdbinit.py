"""scripts/gdbinit and `afgdb gdbinit`: gdb-multiarch set up for afgdb, commands documented."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from afgdb.gdbinit import render, rootfs_dir
from afgdb.gdbmi import gdb_path
from afgdb.harness import ServerProcess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GDBINIT = os.path.join(REPO, "scripts", "gdbinit")
GDB = gdb_path()
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


def gdb_batch(*commands: str, script: str = GDBINIT) -> str:
    assert GDB is not None
    argv = [GDB, "-nx", "-batch", "-x", script]
    for c in commands:
        argv += ["-ex", c]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120)
    return proc.stdout + proc.stderr


def test_scripts_gdbinit_is_the_rendered_template() -> None:
    with open(GDBINIT) as f:
        assert f.read() == render("afgdb/rootfs"), "regenerate: afgdb gdbinit --rootfs afgdb/rootfs"


def test_afgdb_gdbinit_points_at_the_installed_sources() -> None:
    out = subprocess.run([sys.executable, "-m", "afgdb", "gdbinit"], capture_output=True,
                         text=True, cwd=REPO, check=True).stdout
    assert f"set substitute-path /afgdb/rootfs {rootfs_dir()}\n" in out
    assert os.path.exists(os.path.join(rootfs_dir(), "src", "gdbdemo.c"))
    assert out == render()


@needs_gdb
def test_settings_and_help() -> None:
    out = gdb_batch("show architecture", "show endian", "show osabi", "show sysroot",
                    "help afgdb-connect", "help afgdb-ps", "help afgdb-kernel",
                    "help user-defined")
    assert 'The target architecture is set to "mips:isa32r2"' in out
    assert "little endian" in out
    assert 'The current OS ABI is "GNU/Linux"' in out
    assert 'The current system root is "target:"' in out
    assert "Connect to an afgdb server: afgdb-connect [HOST:PORT | UNIX-SOCKET-PATH]" in out
    assert "(monitor ps)" in out
    assert "target remote | afgdb connect 0" in out
    assert "Undefined command" not in out and "error" not in out.lower()


@needs_gdb
def test_connect_debug_and_ps_through_the_commands() -> None:
    fd, script = tempfile.mkstemp(prefix="afgdb-gdbinit-")
    with os.fdopen(fd, "w") as f:
        f.write(subprocess.run([sys.executable, "-m", "afgdb", "gdbinit"], capture_output=True,
                               text=True, cwd=REPO, check=True).stdout)
    try:
        with ServerProcess() as srv:
            out = gdb_batch(f"afgdb-connect {srv.address}",
                            "set remote exec-file /bin/gdbdemo", "file target:/bin/gdbdemo",
                            "break scaled", "run", "list", "afgdb-ps", "kill", script=script)
    finally:
        os.unlink(script)
    assert "Breakpoint 1, scaled (x=2, times=3)" in out
    assert "double r = x * config.scale;" in out  # sources through substitute-path
    assert "PID  PPID STATE" in out and "/bin/gdbdemo" in out
