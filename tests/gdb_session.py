"""Drive real gdb-multiarch (through pygdbmi) against `afgdb serve` or `qemu-mipsel -g`.

One helper for every gdb test, so tests read like the session a user types::

    with AfgdbServer("/bin/gdbdemo") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.run("break main")
        stop = gdb.cont()
        assert stop.func == "main"

Every wait is on gdb's own records (a result record with our token, or a
``*stopped`` async record), never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from afgdb.gdbmi import Gdb, GdbError, Result, Stop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(REPO, "afgdb", "rootfs", "root")
GDB = shutil.which("gdb-multiarch")
QEMU = shutil.which("qemu-mipsel")
TIMEOUT = 60.0


# The MI helper is the package's, so that the pytest plugin's ``afgdb_gdb``
# fixture and these tests share one implementation.
__all__ = ["GDB", "QEMU", "REPO", "ROOT", "TIMEOUT", "AfgdbServer", "Gdb", "GdbError",
           "QemuServer", "Result", "Stop", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AfgdbServer:
    """`afgdb serve` in a subprocess on a free loopback port; guest output kept in a file."""

    def __init__(self, *program: str, root: str = ROOT, extra: tuple[str, ...] = ()) -> None:
        # Closed in stop(): they outlive this method on purpose.
        self.out = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="afgdb-guest-", suffix=".out", delete=False)
        self.err = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="afgdb-serve-", suffix=".err", delete=False)
        cmd = [sys.executable, "-m", "afgdb", "serve", "--listen", "127.0.0.1:0",
               "--root", root, *extra, *program]
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.PIPE, cwd=REPO)
        self.address = ""
        deadline = time.monotonic() + TIMEOUT
        assert self.proc.stderr is not None
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on (\S+)", line)
            if m:
                self.address = m.group(1)
                break
        if not self.address:
            self.stop()
            raise GdbError("afgdb serve did not start:\n" + "".join(lines))
        # Keep draining the server's stderr into a file so it never blocks.
        self._drain = subprocess.Popen(["cat"], stdin=self.proc.stderr, stdout=self.err)

    def __enter__(self) -> AfgdbServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        """What the guest programs have written to stdout/stderr so far."""
        with open(self.out.name, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self) -> str:
        with open(self.err.name, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drain = getattr(self, "_drain", None)
        if drain is not None:
            drain.wait(10)
        for f in (self.out, self.err):
            f.close()
            with contextlib.suppress(OSError):
                os.unlink(f.name)


class QemuServer:
    """`qemu-mipsel -g PORT prog` (the peer afgdb is compared with)."""

    def __init__(self, program: str, *args: str) -> None:
        if QEMU is None:
            raise GdbError("qemu-mipsel is not installed")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.host_program = os.path.join(ROOT, program.lstrip("/"))
        self.out = tempfile.NamedTemporaryFile(prefix="qemu-guest-", delete=False)  # noqa: SIM115
        # gdb retries a refused TCP connection (`set tcp connect-timeout`), so no
        # need to wait for qemu to listen.
        self.proc = subprocess.Popen([QEMU, "-g", str(self.port), self.host_program, *args],
                                     stdout=self.out, stderr=subprocess.STDOUT)

    def __enter__(self) -> QemuServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.out.close()
        os.unlink(self.out.name)
