"""The RSP server: anyio listeners, one task per connection, one machine for all.

The machine is synchronous; a single runner task runs it in slices
(``kernel.run(SLICE, deadline)`` then ``await anyio.sleep(0)``) whenever
something is runnable, and sleeps on an event otherwise, so Ctrl-C (0x03) and other
connections are served between slices. Each connection owns a sans-IO
`afgdb.stub.Session`; this module only moves bytes.

Transports: TCP (default 127.0.0.1:2345, loopback unless told otherwise),
a unix socket (created mode 0600), and stdio (``target remote | afgdb serve
--stdio PROG``: the protocol on stdin/stdout, guest output on stderr).

pid 0 (the kernel, read-only): ``--kernel`` (or ``--kernel-socket PATH``) adds a unix socket
(mode 0600; the peer's uid is checked with SO_PEERCRED: the server's owner
or root, who is the machine's root) on which every connection is a
``target remote`` session of pid 0 without the multiprocess extension;
``afgdb connect 0 [--server PATH]`` bridges stdin/stdout to it, so gdb
uses ``target remote | afgdb connect 0``. pid 0 is not served over TCP
(the peer cannot be identified there), and ``vAttach;0`` on an
extended-remote connection is refused with a message naming that command.

Disconnect: a process created for the connection (the PROGRAM given to
``afgdb serve``, or ``run``/vRun) is killed; an attached one (vAttach) is
detached and runs on. The server keeps serving other and later connections.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import anyio
from anyio.abc import ByteStream, SocketStream

from afgdb import aioconn, socketfamily
from afgdb.machine.kernel import kmem
from afgdb.machine.kernel.files import BufferStream, HostStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.stub import Session
from afgdb.targets.caps import TargetError
from afgdb.targets.kernel_pid0 import default_kernel_socket
from afgdb.targets.process import ProcessTarget
from afgdb.targets.system import System

log = logging.getLogger("afgdb.server")

SLICE = 50_000  # instructions per runner slice (a few milliseconds on translated code)
# Host time after which a runner slice, or the run after a resume, stops before
# translating more code: first runs of cold code are far slower than warm ones, and
# the event loop (other connections, Ctrl-C) waits for the slice. The kernel keeps
# the schedule the same wherever a slice stops.
SLICE_SECONDS = 0.02
RECV_SIZE = 0x10000


QUICK_RUN = 20_000  # instructions run inline after a resume packet
REPLY_CHUNK = 1 << 18  # reply bytes prepared before they must be sent


class Machine:
    """One kernel, its runner task, and the `System` that sessions use."""

    def __init__(self, kernel: Kernel, env: list[str] | None = None) -> None:
        self.kernel = kernel
        self.system = System(kernel, kick=self.kick, env=env)
        socketfamily.install(kernel, self.system)  # guest AF_GDB sockets reach our stubs
        self._wake: anyio.Event | None = None
        self.initial: ProcessTarget | None = None  # the PROGRAM of `afgdb serve`
        self.connections = 0
        self.sessions: set[Session] = set()

    def kick(self) -> None:
        """Something may have become runnable: wake the runner."""
        if self._wake is not None:
            self._wake.set()

    async def run_forever(self) -> None:
        k = self.kernel
        while True:
            if k.runnable() or k.next_deadline() is not None:
                n = k.run(SLICE, deadline=time.perf_counter() + SLICE_SECONDS)
                self._tick(idle=False)
                # Let other threads of this process have the GIL between slices: a test or
                # tool that serves in-process and talks to it from another thread otherwise
                # waits out the switch interval at every socket call, on an idle machine
                # (two CPUs) a round trip of ~100 ms or worse (a test took 4.9 s, not 120+).
                time.sleep(0)
                await anyio.sleep(0)
                if n or k.runnable():
                    continue
            if self._tick(idle=True):
                continue
            # Nothing can run (all stopped, exited, or blocked on the host): wait for a kick.
            self._wake = anyio.Event()
            await self._wake.wait()

    def _tick(self, idle: bool) -> bool:
        """Let sessions take a Ctrl-C they held back until their program had run."""
        fired = False
        for sess in list(self.sessions):
            if sess.tick(idle):
                sess.waker()
                fired = True
        return fired

    async def serve_kernel(self, stream: ByteStream, name: str, uid: int) -> None:
        """Serve pid 0 on one connection: `target remote`, no multiprocess extension."""
        try:
            kt = self.system.kernel_target(uid)
        except TargetError as e:
            log.info("%s: pid 0 refused: %s", name, e.msg)
            return
        sess = Session(kt, name=name, targets=(kt,), multiprocess_ok=False, error_text=True)
        await self.serve_stream(stream, name, sess)

    def link(self, name: str, waker: Callable[[], None],
             session: Session | None = None) -> Link:
        """Open one connection's session (it gets the PROGRAM of `afgdb serve` if free)."""
        self.connections += 1
        sess = session or Session(self.system, name=name)
        if session is None and self.initial is not None and self.initial.proc.alive and \
                self.initial.proc.tracer is self.initial:
            self.initial.owner = name
            sess.add_target(self.initial, created=True)
            self.initial = None
        sess.waker = waker
        sess.progress = lambda: self.kernel.insns
        self.sessions.add(sess)
        return Link(self, sess)

    async def serve_stream(self, stream: ByteStream, name: str,
                           session: Session | None = None) -> None:
        """Serve one connection until the peer goes away."""
        wake = anyio.Event()
        lock = anyio.Lock()

        def waker() -> None:
            wake.set()

        link = self.link(name, waker, session)

        async def send(data: bytes) -> None:
            if not data:
                return
            try:
                lock.acquire_nowait()  # uncontended (the usual case): no trip round the loop
            except anyio.WouldBlock:
                await lock.acquire()
            try:
                await stream.send(data)
            finally:
                lock.release()

        async def stops() -> None:
            nonlocal wake
            while True:
                await wake.wait()
                wake = anyio.Event()
                await send(link.stop_reply())

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(stops)
                try:
                    while True:
                        out = link.answer(await stream.receive(RECV_SIZE))
                        while len(out) >= REPLY_CHUNK:  # pipelined requests: answer as we send
                            await send(out)
                            out = link.more()
                        await send(out + link.settle())
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
                        ConnectionError):
                    pass
                finally:
                    tg.cancel_scope.cancel()
        finally:
            link.close()


class Link:
    """One connection between its bytes and the machine, whatever transport moves them.

    `answer` the bytes that came in; while its result is a full REPLY_CHUNK, send
    it and take `more` (pipelined requests wait in the session until the peer
    reads); then `settle`. `stop_reply` when the session's waker fired.
    """

    def __init__(self, machine: Machine, sess: Session) -> None:
        self.machine = machine
        self.sess = sess

    def answer(self, data: bytes) -> bytes:
        return self.sess.receive(data, REPLY_CHUNK)

    def more(self) -> bytes:
        return self.sess.receive(b"", REPLY_CHUNK)

    def settle(self) -> bytes:
        """After a resume: run the machine briefly, so steps and short continues
        answer in this round trip without waking the runner and the stop-reply path."""
        sess, m = self.sess, self.machine
        if sess.running and m.kernel.runnable():
            m.kernel.run(QUICK_RUN, deadline=time.perf_counter() + SLICE_SECONDS)
            m._tick(idle=False)
            return sess.poll()
        return b""

    def stop_reply(self) -> bytes:
        return self.sess.poll()

    def may_linger(self) -> bool:
        """Whether waiting here for the peer holds nothing up: no resumed target of
        this session, nothing runnable in the machine."""
        return not self.sess.running and not self.machine.kernel.runnable()

    def close(self) -> None:
        m = self.machine
        m.sessions.discard(self.sess)
        self.sess.close()
        m.kick()
        log.info("%s: disconnected", self.sess.name)


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
    kernel_socket: str | None = None  # a unix socket (0600) serving pid 0 only


def peer_uid(stream: Any) -> int | None:
    """The host uid of a unix-socket peer (SO_PEERCRED), None if it cannot be told."""
    try:
        sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", creds)[1])
    except (AttributeError, OSError, anyio.TypedAttributeLookupError):
        return None


async def _unix_listener(path: str) -> Any:
    """A listener on a fresh unix socket that only its owner may connect to (mode 0600)."""
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise ValueError(f"{path} exists and is not a socket: not replacing it")
        os.unlink(path)
    old = os.umask(0o177)
    try:
        listener = await anyio.create_unix_listener(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return listener


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
    if opts.kernel_socket is not None:
        # pid 0's view of the kernel, kept current from boot on. Without --kernel it is
        # built when first opened (guest AF_GDB pid 0, a panic): keeping it current
        # costs ~100 us at every stop, a tenth of a debugger's single step.
        kmem.attach(kernel)
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
        if opts.kernel_socket is not None:
            opts.kernel_socket = opts.kernel_socket or default_kernel_socket()
            klistener = await _unix_listener(opts.kernel_socket)
            print(f"afgdb: pid 0 (the kernel, read-only) on {opts.kernel_socket}: "
                  f"gdb-multiarch -ex 'target remote | afgdb connect 0 --server "
                  f"{opts.kernel_socket}'", file=say, flush=True)

            async def khandler(stream: SocketStream) -> None:
                uid = peer_uid(stream)
                async with stream:
                    # The server's owner (and host root) is the machine's root; others
                    # cannot even connect (0600), and are refused if they could.
                    guest_uid = 0 if uid in (0, os.getuid()) else 65534
                    await m.serve_kernel(stream, f"pid0@uid{uid}", guest_uid)

            tg.start_soon(klistener.serve, khandler)
        if opts.unix:
            listener: Any = await _unix_listener(opts.unix)
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

        loop = aioconn.running_loop()
        if loop is not None:  # asyncio: the fast path (aioconn says why)
            socks = [x.extra(anyio.abc.SocketAttribute.raw_socket)
                     for x in getattr(listener, "listeners", [listener])]
            await aioconn.serve_sockets(loop, socks, m.link, REPLY_CHUNK)
            return

        async def handler(stream: SocketStream) -> None:
            try:
                peer = stream.extra(anyio.abc.SocketAttribute.remote_address)
            except Exception:
                peer = "unix"
            name = f"gdb@{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "gdb@unix"
            async with stream:
                await m.serve_stream(stream, name)

        await listener.serve(handler)
