"""Helpers for core-dump tests: a small guest root, a crashing run, gdb on a core.

`gdb_core` runs gdb-multiarch in batch mode on (program, core) and returns
each command's output, so a test reads like the session a user types::

    out = gdb_core(exe, core, ["bt", "info threads"], sysroot=root)
    assert "walk (" in out["bt"]
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from afgdb.machine.kernel.files import HostStream
from afgdb.machine.kernel.kernel import Kernel

REPO = Path(__file__).resolve().parent.parent
SHIPPED_ROOT = REPO / "afgdb" / "rootfs" / "root"
GDB = shutil.which("gdb-multiarch")
MARK = "@@afgdb-cmd@@"


_DEVNULL = -1


def quiet_kernel(root: Path) -> Kernel:
    """A machine on root whose guests write to /dev/null and whose log is kept in k.logs."""
    global _DEVNULL
    if _DEVNULL < 0:
        _DEVNULL = os.open(os.devnull, os.O_RDWR)
    null = HostStream(_DEVNULL, 2)
    k = Kernel(str(root), stdin=null, stdout=null, stderr=null)
    logs: list[str] = []
    k.log = logs.append
    k.extensions["test_logs"] = logs
    return k


def make_root(tmp: Path, programs: Sequence[str] = ("bin/crash",)) -> Path:
    """A guest root holding copies of the shipped programs named (guest paths without '/')."""
    root = tmp / "root"
    for prog in programs:
        dst = root / prog
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SHIPPED_ROOT / prog, dst)
    (root / "tmp").mkdir(exist_ok=True)
    return root


def gdb_core(exe: Path | None, core: Path, commands: Sequence[str],
             sysroot: Path | None = None, timeout: float = 60) -> dict[str, str]:
    """Open core (with exe) in gdb-multiarch; {"": banner, command: its output}."""
    assert GDB is not None, "gdb-multiarch is not installed"
    args = [GDB, "-nx", "-batch", "-ex", "set width 0", "-ex", "set height 0"]
    if sysroot is not None:
        args += ["-ex", f"set sysroot {sysroot}"]
    if exe is not None:
        args += ["-ex", f"file {exe}"]
    args += ["-ex", f"core-file {core}"]
    for c in commands:
        args += ["-ex", f"echo {MARK}{c}\\n", "-ex", c]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, env={**os.environ, "LC_ALL": "C"})
    text = p.stdout
    out: dict[str, str] = {}
    parts = text.split(MARK)
    out[""] = parts[0]
    for part in parts[1:]:
        cmd, _, body = part.partition("\n")
        out[cmd] = body
    return out
