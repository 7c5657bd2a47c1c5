"""A running afgdb server for tests, scripts and notebooks.

`ServerProcess` runs ``afgdb serve`` in a subprocess on a free loopback
port (or a unix socket) and keeps the guests' output in a file::

    with ServerProcess() as srv:
        with SyncClient.connect(srv.address) as c:
            c.run("/bin/hello")
            c.cont()
        assert srv.output() == "hello, world\\n"

It is what the pytest plugin's ``afgdb_server`` fixture uses: the machine
gets a CPU of its own, so the server answers at once even while a guest
spins, and a crash cannot take the test process down.

`ServerThread` serves from a thread of this process instead (its own anyio
event loop), so a test can look at the machine directly (``.kernel``). It
shares the interpreter lock with the test: while a guest computes, a
request can wait a second or more (measured under CPython 3.11 with
/bin/loop), so use it for programs that stop or block, not spinning ones.

Must not: be imported by the server, the stub or the machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
from typing import Any

from anyio.from_thread import start_blocking_portal

from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.server import Machine, ServeOptions, serve

__all__ = ["ServerProcess", "ServerThread", "default_root", "make_kernel"]

#: Seconds to wait for a server to listen.
START_TIMEOUT = 60.0


def default_root() -> str:
    """The rootfs shipped inside the package (the guest's ``/``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "rootfs", "root")


def make_kernel(root: str | None = None) -> tuple[Kernel, BufferStream]:
    """A kernel on ``root`` (default: the shipped rootfs) whose processes' stdout
    and stderr go to the returned buffer (``.out``) and whose stdin is empty."""
    out = BufferStream(1)
    kernel = Kernel(root or default_root(), stdin=BufferStream(0), stdout=out, stderr=out)
    return kernel, out


class ServerThread:
    """`afgdb serve` in this process, on a thread with its own event loop.

    ``program`` (a guest argv) is created stopped at its entry, as with
    ``afgdb serve PROGRAM``; ``unix`` listens on that socket path instead of
    TCP. `address` is what `afgdb.client.Client.connect` and gdb's
    ``target extended-remote`` take.
    """

    def __init__(self, *program: str, root: str | None = None, unix: str | None = None,
                 env: list[str] | None = None) -> None:
        self.kernel, self._out = make_kernel(root)
        self.opts = ServeOptions(root=root or default_root(), program=list(program),
                                 listen="127.0.0.1:0", unix=unix, env=env)
        self.machine = Machine(self.kernel, env=env)
        if program:
            self.machine.initial = self.machine.system.launch(list(program), owner="afgdb serve")
        self.address = ""
        self._cm: Any = None
        self._future: Any = None

    def start(self) -> ServerThread:
        """Start serving; returns when the listener is up."""
        self._cm = start_blocking_portal()
        portal = self._cm.__enter__()

        async def run(*, task_status: Any) -> None:
            await serve(self.opts, self.machine, ready=task_status.started)

        try:
            self._future, where = portal.start_task(run)
        except BaseException:
            self._cm.__exit__(None, None, None)
            raise
        self.address = str(where)
        return self

    def stop(self) -> None:
        """Stop serving: connections are closed, their processes killed or detached."""
        if self._cm is None:
            return
        self._future.cancel()
        cm, self._cm = self._cm, None
        cm.__exit__(None, None, None)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        """Everything the guest programs wrote to stdout and stderr so far."""
        return bytes(self._out.out).decode("utf-8", "replace")


class ServerProcess:
    """``afgdb serve`` in a subprocess on a free loopback port (or ``unix`` path).

    ``program`` (a guest argv) is created stopped at its entry, as with
    ``afgdb serve PROGRAM``; ``extra`` are more ``afgdb serve`` options.
    `address` is what `afgdb.client.Client.connect` and gdb's ``target
    extended-remote`` take; `output` is what the guests wrote, `stderr` the
    server's own messages.
    """

    def __init__(self, *program: str, root: str | None = None, unix: str | None = None,
                 extra: tuple[str, ...] = (), python: str = sys.executable) -> None:
        where = ["--unix", unix] if unix else ["--listen", "127.0.0.1:0"]
        self.cmd = [python, "-m", "afgdb", "serve", *where, "--root", root or default_root(),
                    *extra, *program]
        self.address = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: str | None = None  # file of the guests' output
        self._err = bytearray()
        self._reader: threading.Thread | None = None

    def start(self) -> ServerProcess:
        """Start the server; returns when it listens (RuntimeError if it does not)."""
        fd, self._out = tempfile.mkstemp(prefix="afgdb-guest-", suffix=".out")
        os.close(fd)
        env = dict(os.environ)
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH")]))
        with open(self._out, "ab") as out:  # O_APPEND: reading it never moves the writer
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, env=env)
        listening = threading.Event()
        err = self.proc.stderr
        assert err is not None

        def read() -> None:  # keep draining stderr so the server never blocks on it
            for line in iter(err.readline, b""):
                self._err += line
                m = re.search(rb"listening on (\S+)", line)
                if m and not self.address:
                    self.address = m.group(1).decode()
                    listening.set()
            listening.set()

        self._reader = threading.Thread(target=read, name="afgdb-serve-stderr", daemon=True)
        self._reader.start()
        listening.wait(START_TIMEOUT)
        if not self.address:
            self.stop()
            raise RuntimeError("afgdb serve did not start:\n" + self.stderr())
        return self

    def stop(self) -> None:
        """Terminate the server (its processes die with it)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self._reader is not None:
                self._reader.join(10)
            if proc.stderr is not None:
                proc.stderr.close()

    def close(self) -> None:
        """`stop`, and drop the captured output."""
        self.stop()
        if self._out is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._out)
            self._out = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def output(self) -> str:
        """Everything the guest programs wrote to stdout and stderr so far."""
        if self._out is None:
            return ""
        with open(self._out, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self) -> str:
        """The server's own messages so far."""
        return bytes(self._err).decode("utf-8", "replace")
