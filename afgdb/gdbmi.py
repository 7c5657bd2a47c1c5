"""pygdbmi helpers: drive gdb-multiarch over MI, waiting on its records, never sleeping.

`Gdb` is one gdb-multiarch process spoken to through pygdbmi's
`GdbController`. Commands go in as console text, and every wait is on gdb's
own records (the result record with our token, or a ``*stopped`` async
record), so a script reads like the session a user types::

    with Gdb() as gdb:
        gdb.connect("127.0.0.1:2345")
        gdb.start("/bin/gdbdemo")             # exec-file and symbols over vFile
        gdb.run("break scaled")
        stop = gdb.go("run")
        assert stop.func == "scaled"
        print(gdb.value("x"))                 # what `print x` shows

The pytest plugin's ``afgdb_gdb`` fixture is one of these, already connected.
pygdbmi is imported when a `Gdb` is created, so importing this module is free.

Must not: import the server, the stub or the machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GDB", "TIMEOUT", "Gdb", "GdbError", "Result", "Stop", "gdb_path", "rootfs_dir"]

#: The gdb-multiarch executable, or None when it is not installed.
GDB = shutil.which("gdb-multiarch")
#: Seconds to wait for gdb's answer to any one command.
TIMEOUT = 60.0


def gdb_path() -> str | None:
    """Where gdb-multiarch is (``$AFGDB_GDB`` overrides), None if not installed."""
    return os.environ.get("AFGDB_GDB") or GDB


def rootfs_dir() -> str:
    """The package's ``rootfs`` directory: what ``/afgdb/rootfs`` in the guest
    programs' debug information stands for."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "rootfs")


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
        from pygdbmi.gdbcontroller import GdbController

        gdb = gdb_path()
        if gdb is None:
            raise GdbError("gdb-multiarch is not installed")
        self.ctl = GdbController(command=[gdb, "--interpreter=mi3", "-nx", "-q"],
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

    def start(self, program: str, *args: str) -> str:
        """Prepare to `run` a guest program: remote exec-file, symbols from the
        target (vFile), arguments, and the package's sources for its debug info."""
        out = self.run(f"set remote exec-file {program}")
        out += self.run(f"file target:{program}")
        out += self.run("set args " + " ".join(args))
        out += self.run(f"set substitute-path /afgdb/rootfs {rootfs_dir()}")
        return out

    def registers(self, names: list[str]) -> dict[str, int]:
        out = {}
        for n in names:
            out[n] = int(self.value(f"/x ${n}"), 16)
        return out
