"""The RSP server: anyio listeners, one task per connection, one machine for all.

The machine is synchronous; a single runner task runs it in slices
(``kernel.run(SLICE)`` then ``await anyio.sleep(0)``) whenever something is
runnable, and sleeps on an event otherwise, so Ctrl-C (0x03) and other
connections are served between slices. Each connection owns a sans-IO
`afgdb.stub.Session`; this module only moves bytes.

Transports: TCP (default 127.0.0.1:2345, loopback unless told otherwise),
a unix socket (created mode 0600), and stdio (``target remote | afgdb serve
--stdio PROG``: the protocol on stdin/stdout, guest output on stderr).

Disconnect: a process created for the connection (the PROGRAM given to
``afgdb serve``, or ``run``/vRun) is killed; an attached one (vAttach) is
detached and runs on. The server keeps serving other and later connections.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import ByteStream, SocketStream

from afgdb.machine.kernel.files import BufferStream, HostStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.stub import Session
from afgdb.targets.process import ProcessTarget
from afgdb.targets.system import System

log = logging.getLogger("afgdb.server")

SLICE = 50_000  # instructions per runner slice (a few milliseconds)
RECV_SIZE = 0x10000


class Machine:
    """One kernel, its runner task, and the `System` that sessions use."""

    def __init__(self, kernel: Kernel, env: list[str] | None = None) -> None:
        self.kernel = kernel
        self.system = System(kernel, kick=self.kick, env=env)
        self._wake: anyio.Event | None = None
        self.initial: ProcessTarget | None = None  # the PROGRAM of `afgdb serve`
        self.connections = 0

    def kick(self) -> None:
        """Something may have become runnable: wake the runner."""
        if self._wake is not None:
            self._wake.set()

    async def run_forever(self) -> None:
        k = self.kernel
        while True:
            if k.runnable() or k.next_deadline() is not None:
                n = k.run(SLICE)
                await anyio.sleep(0)
                if n or k.runnable():
                    continue
            # Nothing can run (all stopped, exited, or blocked on the host): wait for a kick.
            self._wake = anyio.Event()
            await self._wake.wait()

    async def serve_stream(self, stream: ByteStream, name: str) -> None:
        """Serve one connection until the peer goes away."""
        self.connections += 1
        sess = Session(self.system, name=name)
        if self.initial is not None and self.initial.proc.alive and \
                self.initial.proc.tracer is self.initial:
            self.initial.owner = name
            sess.add_target(self.initial, created=True)
            self.initial = None
        wake = anyio.Event()
        lock = anyio.Lock()

        def waker() -> None:
            wake.set()

        sess.waker = waker

        async def send(data: bytes) -> None:
            if data:
                async with lock:
                    await stream.send(data)

        async def stops() -> None:
            nonlocal wake
            while True:
                await wake.wait()
                wake = anyio.Event()
                await send(sess.poll())

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(stops)
                try:
                    while True:
                        data = await stream.receive(RECV_SIZE)
                        await send(sess.receive(data))
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
                        ConnectionError):
                    pass
                finally:
                    tg.cancel_scope.cancel()
        finally:
            sess.close()
            self.kick()
            log.info("%s: disconnected", name)


class StdioStream(ByteStream):
    """stdin/stdout as an anyio byte stream (gdb's `target remote | cmd`)."""

    def __init__(self, rfd: int = 0, wfd: int = 1) -> None:
        self.rfd = rfd
        self.wfd = wfd

    async def receive(self, max_bytes: int = RECV_SIZE) -> bytes:
        data = await anyio.to_thread.run_sync(os.read, self.rfd, max_bytes,
                                              abandon_on_cancel=True)
        if not data:
            raise anyio.EndOfStream
        return data

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            try:
                n = os.write(self.wfd, view)
            except BrokenPipeError:
                raise anyio.BrokenResourceError from None
            view = view[n:]

    async def send_eof(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


@dataclass
class ServeOptions:
    root: str
    program: list[str]
    listen: str | None = "127.0.0.1:2345"
    unix: str | None = None
    stdio: bool = False
    env: list[str] | None = None


def _split_hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"--listen wants HOST:PORT, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def make_machine(opts: ServeOptions) -> Machine:
    if opts.stdio:
        # The protocol owns stdout: guest output goes to stderr, guest input is empty.
        kernel = Kernel(opts.root, stdin=BufferStream(0), stdout=HostStream(2, 1),
                        stderr=HostStream(2, 1))
    else:
        kernel = Kernel(opts.root)
    m = Machine(kernel, env=opts.env)
    if opts.program:
        m.initial = m.system.launch(list(opts.program), owner="afgdb serve")
    return m


async def serve(opts: ServeOptions, machine: Machine | None = None,
                ready: Any = None) -> None:
    """Run the server until cancelled (stdio: until gdb goes away)."""
    m = machine or make_machine(opts)
    say = sys.stderr
    async with anyio.create_task_group() as tg:
        tg.start_soon(m.run_forever)
        if m.initial is not None:
            p = m.initial.proc
            print(f"afgdb: process {p.pid} created: {' '.join(opts.program)} "
                  f"(stopped at entry {p.entry:#x})", file=say)
        if opts.stdio:
            await m.serve_stream(StdioStream(), "stdio")
            tg.cancel_scope.cancel()
            return
        if opts.unix:
            if os.path.exists(opts.unix):
                os.unlink(opts.unix)
            old = os.umask(0o177)
            try:
                listener: Any = await anyio.create_unix_listener(opts.unix)
            finally:
                os.umask(old)
            os.chmod(opts.unix, 0o600)
            where = opts.unix
            hint = f"target extended-remote {opts.unix}"
        else:
            host, port = _split_hostport(opts.listen or "127.0.0.1:2345")
            listener = await anyio.create_tcp_listener(local_host=host, local_port=port,
                                                       reuse_port=False)
            sock = listener.listeners[0].extra(anyio.abc.SocketAttribute.local_address)
            where = f"{sock[0]}:{sock[1]}"
            hint = f"target extended-remote {where}"
        print(f"afgdb: listening on {where}", file=say)
        print(f"afgdb: connect with: gdb-multiarch -ex '{hint}'", file=say, flush=True)
        if ready is not None:
            ready(where)

        async def handler(stream: SocketStream) -> None:
            try:
                peer = stream.extra(anyio.abc.SocketAttribute.remote_address)
            except Exception:
                peer = "unix"
            name = f"gdb@{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "gdb@unix"
            async with stream:
                await m.serve_stream(stream, name)

        await listener.serve(handler)
