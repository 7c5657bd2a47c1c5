"""socket(2) and socketcall(2) for the guest: AF_GDB descriptors (see include/afgdb.h).

``socket(AF_GDB, SOCK_STREAM, pid)`` gives the caller a descriptor that
speaks the GDB remote protocol to process ``pid``. The machine knows
nothing of that protocol: the socket family (afgdb.socketfamily) registers
a *connector* in ``kernel.extensions["af_gdb"]``; the connector checks
permissions, attaches a stub to the process and returns an `Endpoint`,
bytes in and bytes out. Without a connector AF_GDB fails with
EAFNOSUPPORT. Other families are not implemented (EAFNOSUPPORT), except
what socketpair(2) offers in sys_pipe.

Reading an AF_GDB descriptor with nothing to read sleeps until the stub
has something to say (a stop reply once the debugged process stops); the
endpoint's ``wake`` callback wakes readers and poll/select.
"""

from __future__ import annotations

import struct
from itertools import count
from typing import TYPE_CHECKING, Callable, Protocol

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError, WouldBlock
from afgdb.machine.kernel.files import O_CLOEXEC, O_NONBLOCK, O_RDWR, File
from afgdb.machine.kernel.sys_pipe import (
    POLL_WCHAN,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    SOCK_STREAM,
    fake_stat,
)
from afgdb.machine.kernel.uaccess import copyin

if TYPE_CHECKING:
    import os

    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

AF_GDB = 46  # include/afgdb.h
SYS_SOCKET = 1  # socketcall's first call number
_serial = count(1)


class Endpoint(Protocol):
    """The stub's side of one AF_GDB connection, as the kernel sees it."""

    def send(self, data: bytes) -> None:
        """Bytes the guest wrote (RSP from the debugger)."""
        ...

    def take(self) -> bytes:
        """Bytes for the guest to read now (b"" when there are none yet)."""
        ...

    @property
    def closed(self) -> bool:
        """The stub side is gone: reads see end of file."""
        ...

    def close(self) -> None: ...


#: connector(kernel, caller, pid, wake) -> Endpoint; raises SyscallError to refuse.
Connector = Callable[["Kernel", "LWP", int, Callable[[], None]], Endpoint]


class GdbSocket(File):
    """An AF_GDB descriptor: reads and writes go to a stub session."""

    kind = "socket"

    def __init__(self, k: Kernel, pid: int, flags: int) -> None:
        super().__init__(flags)
        self.k = k
        self.pid = pid
        self.ino = 0x30000 + next(_serial)
        self.path = f"socket:[{self.ino}]"
        self.rx = bytearray()
        self.ep: Endpoint | None = None
        self.wchan = ("af_gdb", self.ino)

    def wake(self) -> None:
        self.k.wakeup(self.wchan)
        self.k.wakeup(POLL_WCHAN)

    def _fill(self) -> None:
        if self.ep is not None:
            self.rx += self.ep.take()

    def read(self, n: int) -> bytes:
        if n == 0:
            return b""
        self._fill()
        if self.rx:
            data = bytes(self.rx[:n])
            del self.rx[:n]
            return data
        if self.ep is None or self.ep.closed:
            return b""
        if self.flags & O_NONBLOCK:
            raise SyscallError(E.EAGAIN)
        raise WouldBlock(self.wchan)

    def write(self, data: bytes) -> int:
        if self.ep is None or self.ep.closed:
            raise SyscallError(E.EPIPE)
        self.ep.send(bytes(data))
        self._fill()
        if self.rx:
            self.wake()
        return len(data)

    def readable_now(self) -> bool:
        self._fill()
        return bool(self.rx) or self.ep is None or self.ep.closed

    def poll_events(self) -> int:
        ev = POLLOUT | POLLWRNORM
        if self.readable_now():
            ev |= POLLIN | POLLRDNORM
        if self.ep is None or self.ep.closed:
            ev |= POLLHUP
        return ev

    def stat(self) -> os.stat_result | None:
        return fake_stat(0o140777, self.ino, 0)

    def close(self) -> None:
        ep, self.ep = self.ep, None
        if ep is not None:
            ep.close()


def open_af_gdb(k: Kernel, t: LWP, type_: int, pid: int) -> int:
    if type_ & 0xF != SOCK_STREAM:
        raise SyscallError(E.EPROTOTYPE)
    connector: Connector | None = k.extensions.get("af_gdb")
    if connector is None:
        raise SyscallError(E.EAFNOSUPPORT, "no AF_GDB stub on this machine")
    sock = GdbSocket(k, pid, O_RDWR | (type_ & O_NONBLOCK))
    sock.ep = connector(k, t, pid, sock.wake)
    try:
        return t.proc.fds.install(sock, cloexec=bool(type_ & O_CLOEXEC))
    except SyscallError:
        sock.close()
        raise


def sys_socket(k: Kernel, t: LWP, domain: int, type_: int, protocol: int) -> int:
    if domain == AF_GDB:
        return open_af_gdb(k, t, type_, protocol)
    raise SyscallError(E.EAFNOSUPPORT)


def sys_socketcall(k: Kernel, t: LWP, call: int, args: int) -> int:
    if call != SYS_SOCKET:
        raise SyscallError(E.ENOSYS)
    domain, type_, protocol = struct.unpack("<III", copyin(t, args, 12))
    return sys_socket(k, t, domain, type_, protocol)
