"""AF_GDB: ``socket(AF_GDB, SOCK_STREAM, pid)`` -> a byte stream speaking RSP to process pid.

The seed's replacement for ptrace. One connection is one stub
`afgdb.stub.Session` holding the process as its target (the same code
that serves TCP and unix-socket connections); connecting stops the process
(every thread, reported as SIGSTOP, as after a gdb attach), closing
detaches it and it runs on. Who may connect (`afgdb.targets.system.System.open`):
the same uid or root; a process that changed its credentials (setuid) only
root; one debugger per process (EBUSY names the holder). pid 0 is the
kernel: root only, read-only (writes, breakpoints and resumption get an
error), served without the multiprocess extension.

Three ways in, all to the same stub:

- the guest: `install` registers a connector with the kernel, so a MIPS
  program's ``socket(AF_GDB, SOCK_STREAM, pid)`` (o32 socket/socketcall, see
  ``afgdb/machine/kernel/include/afgdb.h``) returns a descriptor for
  read/write/poll/close (afgdb.machine.kernel.sys_socket);
- Python, blocking: ``socket(AF_GDB, SOCK_STREAM, pid, machine=m)`` returns
  a socket-like `GdbSocket` (send, sendall, recv, close, and `request` for
  one packet and its reply). With a bare `Kernel` (no server runner) it
  runs the machine itself while it waits, like a debugger that is the only
  thing driving the machine;
- Python, anyio: ``await open_stream(m, pid)`` returns an `anyio.abc.ByteStream`
  (plug it into `afgdb.client.Client`); with a server `Machine` its runner
  task runs the machine, otherwise the stream runs it in slices.

Must not: be imported by the machine (the machine reaches it only through
the connector in ``kernel.extensions["af_gdb"]``).
"""

from __future__ import annotations

import socket as _socket
from typing import Any, Callable

import anyio
from anyio.abc import ByteStream

from afgdb import rsp
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.proc import LWP
from afgdb.machine.kernel.sys_socket import AF_GDB
from afgdb.stub import Session
from afgdb.targets.caps import TargetError
from afgdb.targets.system import System

__all__ = ["AF_GDB", "SOCK_STREAM", "GdbSocket", "GdbStream", "install", "open_stream",
           "socket"]

SOCK_STREAM = _socket.SOCK_STREAM  # the host's number; the guest's (MIPS) is 2
GUEST_SOCK_STREAM = 2
SLICE = 50_000  # instructions per slice when a socket drives the machine itself
_EXT = "af_gdb"
_SYSTEM = "af_gdb_system"


# ------------------------------------------------------------------ install
def install(kernel: Kernel, system: System | None = None) -> System:
    """Make AF_GDB available on this machine (guest system call and Python); idempotent.

    ``system`` is the server's `System` when there is one (its ``kick`` wakes the
    runner); otherwise one is made here. Returns the System AF_GDB uses.
    """
    have: System | None = kernel.extensions.get(_SYSTEM)
    if have is not None and (system is None or system is have):
        return have
    sysm = system or System(kernel)
    kernel.extensions[_SYSTEM] = sysm

    def connector(k: Kernel, caller: LWP, pid: int, wake: Callable[[], None]) -> _Endpoint:
        p = caller.proc
        owner = f"pid {p.pid} ({p.comm})"
        try:
            return _Endpoint(_connect(sysm, pid, owner, p.euid, p.pid), wake)
        except TargetError as e:
            if e.errno in (E.EBUSY, E.EPERM):
                k.log(f"pid {p.pid}: socket(AF_GDB, SOCK_STREAM, {pid}): {e.msg}")
            raise SyscallError(e.errno, e.msg) from None

    kernel.extensions[_EXT] = connector
    return sysm


def _connect(system: System, pid: int, owner: str, uid: int, caller: int = 0) -> Session:
    if pid == 0:  # the kernel: root only, read-only, no multiprocess (see DESIGN.md)
        kt = system.kernel_target(uid)
        sess = Session(kt, name=owner, targets=(kt,), multiprocess_ok=False, error_text=True)
        sess.uid = uid
        return sess
    t = system.open(pid, owner, uid=uid, caller=caller)
    sess = Session(system, name=owner, targets=(t,))
    sess.uid = uid
    return sess


def _resolve(machine: Any) -> tuple[Kernel, System, bool]:
    """(kernel, system, whether a runner task drives the kernel) of a machine object."""
    if isinstance(machine, Kernel):
        return machine, install(machine), False
    if isinstance(machine, System):
        return machine.kernel, install(machine.kernel, machine), False
    kernel = getattr(machine, "kernel", None)
    system = getattr(machine, "system", None)
    if isinstance(kernel, Kernel) and isinstance(system, System):  # afgdb.server.Machine
        return kernel, install(kernel, system), True
    raise TypeError(f"not a machine: {machine!r} (want a Kernel, System or server Machine)")


def _check(family: int, type_: int) -> None:
    if family != AF_GDB:
        raise OSError(E.EAFNOSUPPORT, f"address family {family} is not AF_GDB ({AF_GDB})")
    if type_ not in (SOCK_STREAM, GUEST_SOCK_STREAM):
        raise OSError(E.EPROTOTYPE, "AF_GDB sockets are SOCK_STREAM")


def _open(machine: Any, pid: int, uid: int, owner: str) -> tuple[Kernel, Session, bool]:
    kernel, system, runner = _resolve(machine)
    try:
        return kernel, _connect(system, pid, owner, uid), runner
    except TargetError as e:
        raise OSError(e.errno, e.msg) from None


class _Endpoint:
    """The kernel's view of a guest connection (sys_socket.Endpoint): a stub session."""

    def __init__(self, sess: Session, wake: Callable[[], None]) -> None:
        self.sess = sess
        self.out = bytearray()
        sess.waker = wake

    def send(self, data: bytes) -> None:
        self.out += self.sess.receive(data)

    def take(self) -> bytes:
        self.out += self.sess.poll()
        data = bytes(self.out)
        self.out.clear()
        return data

    @property
    def closed(self) -> bool:
        return self.sess.closed

    def close(self) -> None:
        self.sess.close()


class _Conn:
    """What both Python sockets share: a session, its pending output, the machine."""

    def __init__(self, kernel: Kernel, sess: Session, runner: bool) -> None:
        self.kernel = kernel
        self.sess = sess
        self.runner = runner
        self.out = bytearray()
        self.replies = rsp.Connection(rsp.CLIENT)

    def push(self, data: bytes) -> None:
        if self.sess.closed:
            raise BrokenPipeError(E.EPIPE, "the AF_GDB connection is closed")
        self.out += self.sess.receive(data)

    def pull(self, n: int) -> bytes:
        self.out += self.sess.poll()
        data = bytes(self.out[:n])
        del self.out[:n]
        return data

    def drive(self) -> bool:
        """Run the machine one slice; False when nothing can run (it would wait forever)."""
        k = self.kernel
        ran = k.run(SLICE)
        return bool(ran or k.runnable() or k.next_deadline() is not None)


# ---------------------------------------------------------- blocking socket
class GdbSocket:
    """A blocking, socket-like AF_GDB connection (Python's socket.socket subset).

    ``recv`` runs the machine while nothing has arrived (there is no other
    thread to do it); if nothing can run any more, it raises TimeoutError
    rather than wait forever.
    """

    family = AF_GDB
    type = SOCK_STREAM

    def __init__(self, machine: Any, pid: int, uid: int = 0, owner: str = "python") -> None:
        kernel, sess, runner = _open(machine, pid, uid, owner)
        if runner:
            raise ValueError("a server Machine is driven by its runner task: use open_stream")
        self._c = _Conn(kernel, sess, runner)
        self.pid = pid

    def __enter__(self) -> GdbSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> int:
        self._c.push(bytes(data))
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.send(data)

    def recv(self, bufsize: int) -> bytes:
        c = self._c
        while True:
            data = c.pull(bufsize)
            if data or c.sess.closed:
                return data
            if not c.drive():
                data = c.pull(bufsize)
                if data:
                    return data
                raise TimeoutError(E.ETIMEDOUT, f"process {self.pid}: nothing can run, "
                                                "no reply will come")

    def request(self, payload: bytes) -> bytes:
        """Send one packet and return the payload of the next packet that comes back
        (acks handled): the reply, or the stop reply of a resumption."""
        r = self._c.replies
        self.send(r.send_packet(payload))
        while True:
            ev = r.next_event()
            if ev is rsp.NEED_DATA:
                r.feed(self.recv(0x10000))
                continue
            self.send(r.data_to_send())  # our ack
            if isinstance(ev, rsp.Packet):
                return ev.data

    def close(self) -> None:
        self._c.sess.close()

    def fileno(self) -> int:
        return -1


def socket(family: int = AF_GDB, type: int = SOCK_STREAM, proto: int = 0, *,  # noqa: A002
           machine: Any, uid: int = 0, owner: str = "python") -> GdbSocket:
    """``socket(AF_GDB, SOCK_STREAM, pid, machine=m)``: a blocking connection to pid.

    ``uid`` is the guest uid the caller debugs as (0, root, by default); OSError
    with EPERM, EBUSY or ESRCH when the connection is refused.
    """
    _check(family, type)
    return GdbSocket(machine, proto, uid, owner)


# -------------------------------------------------------------- anyio stream
class GdbStream(ByteStream):
    """An AF_GDB connection as an anyio byte stream."""

    def __init__(self, c: _Conn, kick: Callable[[], None]) -> None:
        self._c = c
        self._kick = kick
        self._event = anyio.Event()
        c.sess.waker = self._wake

    def _wake(self) -> None:
        self._event.set()

    async def send(self, item: bytes) -> None:
        try:
            self._c.push(bytes(item))
        except BrokenPipeError:
            raise anyio.BrokenResourceError from None
        self._kick()
        if self._c.out:
            self._event.set()

    async def receive(self, max_bytes: int = 0x10000) -> bytes:
        c = self._c
        while True:
            data = c.pull(max_bytes)
            if data:
                return data
            if c.sess.closed:
                raise anyio.EndOfStream
            if c.runner:
                self._event = anyio.Event()
                data = c.pull(max_bytes)
                if data:
                    return data
                await self._event.wait()
            else:
                if not c.drive():
                    data = c.pull(max_bytes)
                    if data:
                        return data
                    raise anyio.BrokenResourceError("nothing can run: no reply will come")
                await anyio.sleep(0)

    async def send_eof(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._c.sess.close()
        self._kick()


async def open_stream(machine: Any, pid: int, uid: int = 0, owner: str = "python") -> GdbStream:
    """An anyio byte stream to process pid (OSError when refused)."""
    kernel, sess, runner = _open(machine, pid, uid, owner)
    kick = getattr(machine, "kick", lambda: None)
    return GdbStream(_Conn(kernel, sess, runner), kick)
