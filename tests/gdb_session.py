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
from dataclasses import dataclass, field
from typing import Any

from pygdbmi.gdbcontroller import GdbController

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(REPO, "afgdb", "rootfs", "root")
GDB = shutil.which("gdb-multiarch")
QEMU = shutil.which("qemu-mipsel")
TIMEOUT = 60.0


class GdbError(Exception):
    pass


@dataclass
class Stop:
    """A ``*stopped`` record, with the console text printed while getting there."""

    record: dict[str, Any]
    console: str = ""

    @property
    def reason(self) -> str:
        return str(self.record.get("reason", ""))

    @property
    def frame(self) -> dict[str, Any]:
        f = self.record.get("frame") or {}
        return f if isinstance(f, dict) else {}

    @property
    def func(self) -> str:
        return str(self.frame.get("func", ""))

    @property
    def line(self) -> int:
        return int(self.frame.get("line", 0) or 0)

    @property
    def signal(self) -> str:
        return str(self.record.get("signal-name", ""))

    @property
    def exit_code(self) -> int | None:
        if self.reason == "exited-normally":
            return 0
        if self.reason == "exited":
            return int(str(self.record.get("exit-code", "0")), 8)
        return None


@dataclass
class Result:
    cls: str  # done, running, error, connected, exit
    payload: dict[str, Any]
    console: str
    records: list[dict[str, Any]] = field(default_factory=list)


class Gdb:
    """A gdb-multiarch process spoken to over MI."""

    def __init__(self, *init: str) -> None:
        if GDB is None:
            raise GdbError("gdb-multiarch is not installed")
        self.ctl = GdbController(command=[GDB, "--interpreter=mi3", "-nx", "-q"],
                                 time_to_check_for_additional_output_sec=0.001)
        self.token = 100
        self.backlog: list[dict[str, Any]] = []
        self.mi("-gdb-set mi-async on")  # so that -exec-interrupt works while running
        for c in ("set pagination off", "set confirm off", "set width 0", *init):
            self.run(c)

    def __enter__(self) -> Gdb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ctl.exit()

    # --------------------------------------------------------------- records
    def _records(self, deadline: float) -> list[dict[str, Any]]:
        if self.backlog:
            out, self.backlog = self.backlog, []
            return out
        left = max(0.0, deadline - time.monotonic())
        if left == 0:
            raise GdbError("timed out waiting for gdb")
        return self.ctl.get_gdb_response(timeout_sec=min(left, 0.2),
                                         raise_error_on_timeout=False)

    def mi(self, command: str, timeout: float = TIMEOUT) -> Result:
        """Send an MI command; wait for its result record; returns it with console text."""
        self.token += 1
        tok = self.token
        self.ctl.write(f"{tok}{command}", read_response=False)
        deadline = time.monotonic() + timeout
        console: list[str] = []
        seen: list[dict[str, Any]] = []
        while True:
            recs = self._records(deadline)
            for i, r in enumerate(recs):
                if r.get("type") in ("console", "target", "log") and r.get("payload"):
                    console.append(str(r["payload"]))
                seen.append(r)
                if r.get("type") == "result" and r.get("token") == tok:
                    self.backlog = recs[i + 1:] + self.backlog
                    payload = r.get("payload") or {}
                    res = Result(str(r.get("message")), payload if isinstance(payload, dict)
                                 else {}, "".join(console), seen)
                    if res.cls == "error":
                        raise GdbError(f"{command}: {res.payload.get('msg', res.payload)}")
                    return res

    def run(self, command: str, timeout: float = TIMEOUT) -> str:
        """A console command that does not resume the program; returns what it printed."""
        quoted = command.replace("\\", "\\\\").replace('"', '\\"')
        res = self.mi(f'-interpreter-exec console "{quoted}"', timeout)
        if res.cls == "running":
            raise GdbError(f"{command!r} resumed the program: use go()")
        return res.console

    def go(self, command: str, timeout: float = TIMEOUT) -> Stop:
        """A console command that resumes the program; waits for the next stop."""
        quoted = command.replace("\\", "\\\\").replace('"', '\\"')
        res = self.mi(f'-interpreter-exec console "{quoted}"', timeout)
        return self.wait_stop(timeout, res.console, res.records)

    def wait_stop(self, timeout: float = TIMEOUT, console: str = "",
                  already: list[dict[str, Any]] | None = None) -> Stop:
        text = [console]
        for r in already or []:
            if r.get("type") == "notify" and r.get("message") == "stopped":
                return Stop(r.get("payload") or {}, console)
        deadline = time.monotonic() + timeout
        while True:
            recs = self._records(deadline)
            for i, r in enumerate(recs):
                if r.get("type") in ("console", "target", "log") and r.get("payload"):
                    text.append(str(r["payload"]))
                if r.get("type") == "notify" and r.get("message") == "stopped":
                    self.backlog = recs[i + 1:] + self.backlog
                    return Stop(r.get("payload") or {}, "".join(text))

    def drain(self) -> str:
        """Console text gdb printed since the last command (e.g. after a stop)."""
        recs, self.backlog = self.backlog, []
        recs += self.ctl.get_gdb_response(timeout_sec=0, raise_error_on_timeout=False)
        return "".join(str(r["payload"]) for r in recs
                       if r.get("type") in ("console", "target") and r.get("payload"))

    def interrupt(self) -> Stop:
        self.mi("-exec-interrupt")
        return self.wait_stop()

    # ------------------------------------------------------------- helpers
    def cont(self) -> Stop:
        return self.go("continue")

    def connect(self, address: str, extended: bool = True) -> str:
        kind = "extended-remote" if extended else "remote"
        return self.run(f"target {kind} {address}")

    def value(self, expr: str) -> str:
        """What `print EXPR` shows after the '$N = '."""
        out = self.run(f"print {expr}")
        m = re.search(r"\$\d+ = (.*)", out, re.S)
        if not m:
            raise GdbError(f"print {expr}: {out!r}")
        return m.group(1).strip()

    def registers(self, names: list[str]) -> dict[str, int]:
        out = {}
        for n in names:
            out[n] = int(self.value(f"/x ${n}"), 16)
        return out


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
