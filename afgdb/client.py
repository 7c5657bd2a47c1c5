"""A GDB remote-protocol client: afgdb's replacement for ptrace, in Python.

`Client` (async, anyio) and `SyncClient` (the same methods, blocking) speak
RSP to an afgdb server, or to any stub with the same dialect, over a TCP
socket, a unix socket, or any anyio `ByteStream` (so an AF_GDB socket plugs
in unchanged). A test can single-step a guest program or trace its system
calls in a few lines::

    with SyncClient.connect("127.0.0.1:2345") as c:
        c.run("/bin/hello")                     # stopped at its entry point
        c.catch_syscalls()                      # every system call
        while not isinstance(ev := c.cont(), Exited):
            if isinstance(ev, SyscallEntry):
                print(ev.name, ev.args[:3])

Like ``ptrace(PTRACE_CONT)`` followed by ``waitpid``, `Client.cont` and
`Client.step` resume the process and return the next stop event; `resume`
returns at once and `wait` (or `interrupt`) gets the event later. Stop
events are frozen dataclasses: `Stopped`, `Exited`, `Killed`, `Forked`,
`VforkDone`, `Execd`, `SyscallEntry`, `SyscallExit`, `ThreadExited`.
Signal numbers are the guest's (Linux MIPS, so SIGUSR1 is 16), not gdb's.

This module owns the client side of the conversation (handshake, request
and reply, stop reply parsing); framing is `afgdb.rsp`'s. It must not
import the server, the stub or the machine (except the pure tables of
`afgdb.arch.mips` and, for names, `afgdb.machine.kernel.linux_abi`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable, TypeVar, Union

import anyio
from anyio.abc import ByteStream
from anyio.from_thread import BlockingPortal, start_blocking_portal

from afgdb import rsp
from afgdb.arch import mips

__all__ = [
    "DEFAULT_ADDRESS",
    "Client",
    "ClientError",
    "ConnectionClosed",
    "Event",
    "Execd",
    "Exited",
    "Forked",
    "Killed",
    "NoResumed",
    "ProtocolError",
    "RemoteError",
    "Stopped",
    "SyncClient",
    "SyscallEntry",
    "SyscallExit",
    "ThreadExited",
    "ThreadId",
    "Unsupported",
    "UsageError",
    "VforkDone",
    "parse_stop_reply",
]

#: Where `afgdb serve` listens unless told otherwise.
DEFAULT_ADDRESS = "127.0.0.1:2345"
#: What we tell the stub we understand (qSupported).
FEATURES = ("multiprocess+", "swbreak+", "hwbreak+", "fork-events+", "vfork-events+",
            "exec-events+", "vContSupported+", "error-message+")
#: Bytes of memory asked for per ``m`` packet (the reply is twice that in hex).
READ_CHUNK = 0x4000
#: Bytes of memory written per ``X`` packet.
WRITE_CHUNK = 0x4000

_WATCH_TYPES = {"write": 2, "read": 3, "access": 4}


# ------------------------------------------------------------------- errors


class ClientError(Exception):
    """Base class of everything this module raises."""


class RemoteError(ClientError):
    """The stub refused a request with an ``E`` reply.

    ``errno`` is the number of an ``Enn`` reply (a Linux MIPS errno for
    afgdb), -1 for an ``E.text`` reply; ``message`` is the text if any.
    """

    def __init__(self, request: bytes, errno: int, message: str = "") -> None:
        what = request[:40].decode("ascii", "replace")
        super().__init__(f"{what}: {message or f'error {errno}'}")
        self.request = request
        self.errno = errno
        self.message = message


class Unsupported(ClientError):
    """The stub answered with the empty reply: it does not know the packet."""


class ProtocolError(ClientError):
    """The stub sent something that breaks the protocol (its bug, not ours)."""


class ConnectionClosed(ClientError):
    """The stub closed the connection."""


class UsageError(ClientError):
    """This client was misused (e.g. a register read while the process runs)."""


# ------------------------------------------------------------------- events


@dataclass(frozen=True)
class ThreadId:
    """A thread: ``pid`` (0 when the stub did not say) and ``tid``."""

    pid: int
    tid: int

    def encode(self) -> bytes:
        """The multiprocess form, ``p<pid>.<tid>`` (-1 means all)."""
        def num(n: int) -> bytes:
            return b"-1" if n < 0 else b"%x" % n
        return b"p" + num(self.pid) + b"." + num(self.tid)

    def __str__(self) -> str:
        return f"{self.pid}.{self.tid}"


@dataclass(frozen=True)
class Stopped:
    """The process stopped with ``signal`` (guest number; 5 is SIGTRAP).

    ``reason`` is what the stop reply said beyond the signal: ``"swbreak"``,
    ``"hwbreak"``, ``"watch"``, ``"rwatch"``, ``"awatch"`` (``address`` is
    the data address), ``"library"``, ``"create"`` (a new thread), or ``""``
    (a step, an interrupt, a plain signal). ``pc`` is the expedited program
    counter when the stub sent one.
    """

    signal: int
    thread: ThreadId | None = None
    reason: str = ""
    address: int | None = None
    pc: int | None = None


@dataclass(frozen=True)
class Exited:
    """The process called exit(``code``)."""

    code: int
    pid: int | None = None


@dataclass(frozen=True)
class Killed:
    """A signal (guest number) ended the process."""

    signal: int
    pid: int | None = None


@dataclass(frozen=True)
class Forked:
    """``thread`` forked (or vforked): ``child`` is the new process's thread,
    stopped and debugged by this connection until `Client.detach` lets it go."""

    child: ThreadId
    thread: ThreadId | None = None
    vfork: bool = False


@dataclass(frozen=True)
class VforkDone:
    """The vfork child of ``thread`` exec'd or exited: the parent runs again."""

    thread: ThreadId | None = None


@dataclass(frozen=True)
class Execd:
    """``thread``'s process executed ``path`` (breakpoints are gone)."""

    path: str
    thread: ThreadId | None = None


@dataclass(frozen=True)
class SyscallEntry:
    """A caught system call is about to run (see `Client.catch_syscalls`).

    ``number`` is the o32 number (4000 + offset, e.g. 4004 for write);
    ``args`` its six arguments (a0-a3 and the two words at sp+16), filled in
    by `Client.wait` unless ``fetch_syscall_args`` is off.
    """

    number: int
    thread: ThreadId | None = None
    args: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return syscall_name(self.number)


@dataclass(frozen=True)
class SyscallExit:
    """A caught system call returned ``result``: the value, or -errno on
    failure (MIPS errno numbers: ENOSYS is 89)."""

    number: int
    thread: ThreadId | None = None
    result: int | None = None

    @property
    def name(self) -> str:
        return syscall_name(self.number)


@dataclass(frozen=True)
class ThreadExited:
    """A thread ended (``w`` reply; only with thread events on)."""

    code: int
    thread: ThreadId | None = None


@dataclass(frozen=True)
class NoResumed:
    """Nothing was left to run (``N`` reply)."""


Event = Union[Stopped, Exited, Killed, Forked, VforkDone, Execd, SyscallEntry, SyscallExit,
              ThreadExited, NoResumed]


def syscall_name(number: int) -> str:
    """The name of an o32 system call number (``"4004"`` if unknown)."""
    from afgdb.machine.kernel.linux_abi import SYSCALL_BASE, SYSCALL_NAMES

    return SYSCALL_NAMES.get(number - SYSCALL_BASE, str(number))


# ------------------------------------------------------ stop reply parsing


def _hex(text: bytes, what: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise ProtocolError(f"bad {what} in stop reply: {text[:40]!r}") from None


def parse_thread(text: bytes) -> ThreadId:
    """``p<pid>.<tid>``, ``p<pid>`` or ``<tid>`` (hex; ``-1`` means all)."""
    def num(t: bytes) -> int:
        return -1 if t == b"-1" else _hex(t, "thread id")
    if text.startswith(b"p"):
        pid, dot, tid = text[1:].partition(b".")
        return ThreadId(num(pid), num(tid) if dot else -1)
    return ThreadId(0, num(text))


def _signal(gdb_number: int) -> int:
    sig = mips.from_gdb_signal(gdb_number)
    return gdb_number if sig is None else sig


def _pid_suffix(rest: bytes) -> int | None:
    for item in rest.split(b";"):
        if item.startswith(b"process:"):
            return _hex(item[8:], "pid")
    return None


def parse_stop_reply(payload: bytes) -> Event:
    """Parse a stop reply (``S``, ``T``, ``W``, ``X``, ``w``, ``N``) into an event,
    as the gdb manual's "Stop Reply Packets" section describes it.

    Registers other than the pc are not kept; ``core`` and unknown
    ``n:r`` pairs are ignored, as the manual asks of a client.
    """
    kind = payload[:1]
    if kind == b"N":
        return NoResumed()
    if kind in (b"W", b"X"):
        code_s, _, rest = payload[1:].partition(b";")
        code = _hex(code_s, "status")
        pid = _pid_suffix(rest)
        return Exited(code, pid) if kind == b"W" else Killed(_signal(code), pid)
    if kind == b"w":
        code_s, _, th = payload[1:].partition(b";")
        return ThreadExited(_hex(code_s, "status"), parse_thread(th) if th else None)
    if kind == b"S":
        return Stopped(_signal(_hex(payload[1:3], "signal")))
    if kind != b"T":
        raise ProtocolError(f"not a stop reply: {payload[:40]!r}")
    sig = _signal(_hex(payload[1:3], "signal"))
    thread: ThreadId | None = None
    reason = ""
    value = b""
    pc: int | None = None
    for item in payload[3:].split(b";"):
        if not item:
            continue
        name, _, val = item.partition(b":")
        if name == b"thread":
            thread = parse_thread(val)
        elif name in (b"watch", b"rwatch", b"awatch", b"syscall_entry", b"syscall_return",
                      b"fork", b"vfork", b"exec", b"vforkdone", b"swbreak", b"hwbreak",
                      b"library", b"create", b"replaylog"):
            reason, value = name.decode(), val
        elif name and all(c in b"0123456789abcdefABCDEF" for c in name) and \
                int(name, 16) == mips.PC and val and b"x" not in val:
            pc = int.from_bytes(rsp.hex_decode(val), "little")
    if reason in ("watch", "rwatch", "awatch"):
        return Stopped(sig, thread, reason, _hex(value, "address"), pc)
    if reason == "syscall_entry":
        return SyscallEntry(_hex(value, "syscall number"), thread)
    if reason == "syscall_return":
        return SyscallExit(_hex(value, "syscall number"), thread)
    if reason in ("fork", "vfork"):
        return Forked(parse_thread(value), thread, vfork=reason == "vfork")
    if reason == "vforkdone":
        return VforkDone(thread)
    if reason == "exec":
        path = rsp.hex_decode(value).decode("utf-8", "surrogateescape")
        return Execd(path, thread)
    return Stopped(sig, thread, reason, None, pc)


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


# ------------------------------------------------------------------ client


class Client:
    """An RSP client on one anyio byte stream (async; see `SyncClient`).

    Build it with `connect` (``"host:port"`` or a unix socket path), or wrap
    a stream you opened yourself and call `handshake`. All-stop: while a
    process runs (after `resume`), only `wait` and `interrupt` may be used.
    """

    def __init__(self, stream: ByteStream, *, fetch_syscall_args: bool = True) -> None:
        self.stream = stream
        self.conn = rsp.Connection(rsp.CLIENT)
        #: What the stub said in reply to qSupported (``name -> value``; ``+`` features
        #: map to True).
        self.features: dict[str, str | bool] = {}
        #: The process being debugged (the last run, attached or stopped one).
        self.pid: int | None = None
        #: The thread that reported the last stop (and the one registers are read from).
        self.thread: ThreadId | None = None
        #: Text the stub sent in ``O`` packets (console output) while running.
        self.console: list[str] = []
        self.fetch_syscall_args = fetch_syscall_args
        self.running = False
        self._hg: ThreadId | None = None  # what the stub's ``Hg`` selection is
        self._send_lock = anyio.Lock()
        self._recv_lock = anyio.Lock()
        self._closed = False

    # ------------------------------------------------------------ connect
    @classmethod
    async def connect(cls, address: str = DEFAULT_ADDRESS, **kw: Any) -> Client:
        """Connect to ``"host:port"`` (TCP) or a unix socket path (anything with
        a ``/``), do the handshake, and return the client."""
        if "/" in address:
            stream: ByteStream = await anyio.connect_unix(address)
        else:
            host, _, port = address.rpartition(":")
            if not port.isdigit():
                raise UsageError(f"address must be HOST:PORT or a unix socket path, "
                                 f"not {address!r}")
            stream = await anyio.connect_tcp(host.strip("[]") or "127.0.0.1", int(port))
        client = cls(stream, **kw)
        try:
            await client.handshake()
        except BaseException:
            await stream.aclose()
            raise
        return client

    async def handshake(self) -> None:
        """qSupported, no-ack mode, extended mode, and ``?`` for the current state."""
        reply = await self.request(b"qSupported:" + ";".join(FEATURES).encode())
        for item in reply.decode("ascii", "replace").split(";"):
            if item.endswith(("+", "-")):
                self.features[item[:-1]] = item.endswith("+")
            elif "=" in item:
                k, _, v = item.partition("=")
                self.features[k] = v
        if self.features.get("QStartNoAckMode") is True:
            await self.request(b"QStartNoAckMode")
            self.conn.start_no_ack_mode()
        with contextlib.suppress(Unsupported, RemoteError):
            await self.request(b"!")
        status = parse_stop_reply(await self.request(b"?"))
        if isinstance(status, (Stopped, SyscallEntry, SyscallExit)) and status.thread:
            self._note_thread(status.thread)

    async def aclose(self) -> None:
        """Close the connection (the stub kills what this connection ran and
        detaches what it attached)."""
        if not self._closed:
            self._closed = True
            await self.stream.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ packets
    async def _send(self, data: bytes) -> None:
        async with self._send_lock:
            try:
                await self.stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as e:
                raise ConnectionClosed(f"connection lost: {e}") from None

    async def _packet(self) -> bytes:
        """The next packet from the stub (acks handled, notifications skipped)."""
        while True:
            ev = self.conn.next_event()
            if ev is rsp.NEED_DATA:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError,
                        anyio.ClosedResourceError, OSError):
                    raise ConnectionClosed("the stub closed the connection") from None
                self.conn.feed(data)
                continue
            acks = self.conn.data_to_send()
            if acks:
                await self._send(acks)
            if isinstance(ev, rsp.Packet):
                return ev.data
            if isinstance(ev, rsp.Nak):
                again = self.conn.resend()
                if again:
                    await self._send(again)
            # Ack, Notification (non-stop only), BadPacket (already nak'd): go on.

    async def _reply(self) -> bytes:
        """The next reply that is not console output (``O`` packets go to `console`)."""
        while True:
            data = await self._packet()
            if data.startswith(b"O") and data != b"OK" and len(data) % 2 == 1:
                try:
                    self.console.append(rsp.hex_decode(data[1:]).decode("utf-8", "replace"))
                    continue
                except rsp.RemoteProtocolError:
                    pass
            return data

    async def request(self, payload: bytes) -> bytes:
        """Send one packet and return its reply; raises `RemoteError` on ``E``
        and `Unsupported` on the empty reply. For packets that resume the
        target use `resume`."""
        if self.running:
            raise UsageError(f"{payload[:20]!r} while the process runs: wait() or interrupt()")
        async with self._recv_lock:
            await self._send(self.conn.send_packet(payload))
            reply = await self._reply()
        return self._check(payload, reply)

    @staticmethod
    def _check(request: bytes, reply: bytes) -> bytes:
        if not reply:
            raise Unsupported(f"{request[:40].decode('ascii', 'replace')}: not supported")
        if reply[:1] == b"E":
            if reply[1:2] == b".":
                raise RemoteError(request, -1, reply[2:].decode("utf-8", "replace"))
            if len(reply) == 3 and all(c in b"0123456789abcdefABCDEF" for c in reply[1:]):
                raise RemoteError(request, int(reply[1:], 16))
        return reply

    # ------------------------------------------------------------ processes
    async def run(self, program: str, *args: str) -> Stopped:
        """Start ``program`` (a guest path) with ``args`` (vRun); it is created
        stopped at its entry point, and killed when this connection ends."""
        argv = [program, *args]
        payload = b"vRun;" + b";".join(rsp.hex_encode(a.encode()) for a in argv)
        return self._initial(await self.request(payload))

    async def attach(self, pid: int) -> Stopped:
        """Stop process ``pid`` and debug it (vAttach); detached on disconnect."""
        return self._initial(await self.request(b"vAttach;%x" % pid))

    def _initial(self, reply: bytes) -> Stopped:
        ev = self._stop_event(reply)
        if isinstance(ev, Execd):  # vRun's reply is the stop at the launcher's exec
            start = reply.index(b"exec:")
            ev = self._stop_event(reply[:start] + reply[reply.index(b";", start) + 1:])
        if not isinstance(ev, Stopped):
            raise ProtocolError(f"expected a stop, got {ev}")
        return ev

    async def detach(self, pid: int | None = None) -> None:
        """Let process ``pid`` (default: the current one) run on, undebugged."""
        pid = self._pid(pid)
        await self.request(b"D;%x" % pid)
        self._forget(pid)

    async def kill(self, pid: int | None = None) -> None:
        """Kill process ``pid`` (default: the current one)."""
        pid = self._pid(pid)
        await self.request(b"vKill;%x" % pid)
        self._forget(pid)

    def _forget(self, pid: int) -> None:
        if self.pid == pid:
            self.pid = None
            self.thread = None
        if self._hg is not None and self._hg.pid == pid:
            self._hg = None

    def _pid(self, pid: int | None) -> int:
        if pid is None:
            pid = self.pid
        if pid is None:
            raise UsageError("no process: run() or attach() first")
        return pid

    async def threads(self) -> list[ThreadId]:
        """Every thread of the processes of this connection (qfThreadInfo)."""
        out = []
        reply = await self.request(b"qfThreadInfo")
        while reply.startswith(b"m"):
            out += [parse_thread(t) for t in reply[1:].split(b",") if t]
            reply = await self.request(b"qsThreadInfo")
        return out

    async def monitor(self, command: str) -> str:
        """Run a ``monitor`` command (qRcmd) and return its output."""
        before = len(self.console)
        await self.request(b"qRcmd," + rsp.hex_encode(command.encode()))
        out = "".join(self.console[before:])
        del self.console[before:]
        return out

    # ------------------------------------------------------------ registers
    def _note_thread(self, thread: ThreadId) -> None:
        self.thread = thread
        self._hg = thread  # the stub selects the reporting thread on every stop
        if thread.pid > 0:
            self.pid = thread.pid

    async def _select(self, thread: ThreadId | None) -> None:
        if thread is not None and thread != self._hg:
            await self.request(b"Hg" + thread.encode())
            self._hg = thread

    async def read_register(self, name: str, thread: ThreadId | None = None) -> int:
        """One register by name: ``pc``, ``r4``, ``a0``, ``sp``, ``f0``, ``hi``, ...
        (`afgdb.arch.mips.REGISTERS`, plus the o32 ABI names)."""
        reg = _reg(name)
        await self._select(thread)
        reply = await self.request(b"p%x" % reg.regnum)
        if b"x" in reply:
            raise RemoteError(b"p", -1, f"register {name} is unavailable")
        return int.from_bytes(rsp.hex_decode(reply), "little")

    async def write_register(self, name: str, value: int, thread: ThreadId | None = None) -> None:
        """Set one register by name (see `read_register`)."""
        reg = _reg(name)
        await self._select(thread)
        data = (value & ((1 << reg.bitsize) - 1)).to_bytes(reg.size, "little")
        await self.request(b"P%x=%s" % (reg.regnum, rsp.hex_encode(data)))

    async def registers(self, thread: ThreadId | None = None) -> dict[str, int]:
        """Every register the stub can read, by name (one ``g`` packet)."""
        await self._select(thread)
        reply = await self.request(b"g")
        out = {}
        pos = 0
        for reg in mips.REGISTERS:
            text = reply[pos:pos + 2 * reg.size]
            pos += 2 * reg.size
            if len(text) < 2 * reg.size:
                break
            if b"x" not in text:
                out[reg.name] = int.from_bytes(rsp.hex_decode(text), "little")
        return out

    # ------------------------------------------------------------ memory
    async def read_memory(self, addr: int, length: int) -> bytes:
        """``length`` bytes at ``addr``; `RemoteError` if the first byte cannot
        be read, a shorter result if memory ends on the way."""
        out = bytearray()
        while len(out) < length:
            n = min(READ_CHUNK, length - len(out))
            try:
                chunk = rsp.hex_decode(await self.request(b"m%x,%x" % (addr + len(out), n)))
            except RemoteError:
                if out:
                    break
                raise
            if not chunk:
                break
            out += chunk
        return bytes(out)

    async def write_memory(self, addr: int, data: bytes) -> None:
        """Write ``data`` at ``addr`` (``X`` packets, binary)."""
        for i in range(0, len(data), WRITE_CHUNK):
            part = data[i:i + WRITE_CHUNK]
            await self.request(b"X%x,%x:" % (addr + i, len(part)) + part)

    async def read_u32(self, addr: int) -> int:
        """The little-endian 32-bit word at ``addr``."""
        data = await self.read_memory(addr, 4)
        if len(data) < 4:
            raise RemoteError(b"m", -1, f"cannot read 4 bytes at {addr:#x}")
        return int.from_bytes(data, "little")

    async def read_string(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at ``addr`` (without the NUL; at most ``limit`` bytes)."""
        out = bytearray()
        while len(out) < limit:
            n = min(256 - (addr + len(out)) % 256, limit - len(out))  # never cross a page
            chunk = await self.read_memory(addr + len(out), n)
            end = chunk.find(b"\0")
            if end >= 0:
                return bytes(out + chunk[:end])
            out += chunk
            if len(chunk) < n:
                break
        return bytes(out)

    # ------------------------------------------------------------ breakpoints
    async def set_breakpoint(self, addr: int, *, hardware: bool = False) -> None:
        """A breakpoint at ``addr`` (Z0, or Z1 with ``hardware``)."""
        await self.request(b"Z%d,%x,4" % (1 if hardware else 0, addr))

    async def remove_breakpoint(self, addr: int, *, hardware: bool = False) -> None:
        await self.request(b"z%d,%x,4" % (1 if hardware else 0, addr))

    async def set_watchpoint(self, addr: int, length: int = 4, kind: str = "write") -> None:
        """Stop when ``length`` bytes at ``addr`` are accessed: ``kind`` is
        ``"write"``, ``"read"`` or ``"access"`` (Z2, Z3, Z4). On MIPS the stop
        comes before the access, as gdb expects."""
        await self.request(b"Z%d,%x,%x" % (_watch_type(kind), addr, length))

    async def remove_watchpoint(self, addr: int, length: int = 4, kind: str = "write") -> None:
        await self.request(b"z%d,%x,%x" % (_watch_type(kind), addr, length))

    async def catch_syscalls(self, numbers: Iterable[int] | bool = True) -> None:
        """Stop at entry to and return from system calls (QCatchSyscalls):
        ``True`` every call, an iterable of o32 numbers those only, ``False``
        none."""
        if numbers is True:
            payload = b"QCatchSyscalls:1"
        elif numbers is False:
            payload = b"QCatchSyscalls:0"
        else:
            assert not isinstance(numbers, bool)
            nums = sorted(set(numbers))
            payload = b"QCatchSyscalls:1" + b"".join(b";%x" % n for n in nums)
        await self.request(payload)

    async def pass_signals(self, signals: Iterable[int]) -> None:
        """Deliver these guest signals without stopping (QPassSignals)."""
        nums = sorted({mips.to_gdb_signal(s) for s in signals})
        await self.request(b"QPassSignals:" + b";".join(b"%x" % n for n in nums))

    # ------------------------------------------------------------ run control
    async def resume(self, *, step: bool = False, signal: int = 0,
                     thread: ThreadId | None = None) -> None:
        """Resume the process and return at once; `wait` gets the next stop.

        ``step`` single-steps ``thread`` (default: the one that last stopped)
        while the others stay stopped; ``signal`` (a guest signal number) is
        delivered first, 0 for none.
        """
        if self.running:
            raise UsageError("already running")
        op = b"s" if step else b"c"
        if signal:
            op = op.upper() + b"%02x" % mips.to_gdb_signal(signal)
        target = thread or (self.thread if step else None)
        payload = b"vCont;" + op + (b":" + target.encode() if target is not None else b"")
        async with self._recv_lock:
            await self._send(self.conn.send_packet(payload))
            self.running = True
        # An immediate error reply (e.g. no process) comes back as the "stop reply":
        # wait() raises it.

    async def wait(self, timeout: float | None = None) -> Event:
        """The next stop event of the resumed process (like ``waitpid``).

        `SyscallEntry` events come with their arguments and `SyscallExit`
        with the result (read from the registers) unless
        ``fetch_syscall_args`` is off. ``timeout`` (seconds) raises
        `TimeoutError` and leaves the process running.
        """
        if not self.running:
            raise UsageError("nothing is running: resume() first")
        with anyio.fail_after(timeout):
            async with self._recv_lock:
                reply = await self._reply()
        self.running = False
        ev = self._stop_event(self._check(b"vCont", reply))
        if self.fetch_syscall_args and isinstance(ev, (SyscallEntry, SyscallExit)):
            ev = await self._syscall_details(ev)
        return ev

    def _stop_event(self, reply: bytes) -> Event:
        ev = parse_stop_reply(reply)
        thread = getattr(ev, "thread", None)
        if isinstance(thread, ThreadId):
            self._note_thread(thread)
        if isinstance(ev, (Exited, Killed)):
            pid = ev.pid if ev.pid is not None else self.pid
            if pid is not None:
                self._forget(pid)
        return ev

    async def _syscall_details(self, ev: SyscallEntry | SyscallExit) -> Event:
        regs = await self.registers()
        if isinstance(ev, SyscallExit):
            v0, a3 = regs.get("r2", 0), regs.get("r7", 0)
            return SyscallExit(ev.number, ev.thread, -v0 if a3 else _signed(v0))
        args = [regs.get(f"r{4 + i}", 0) for i in range(4)]
        try:
            stack = await self.read_memory((regs.get("r29", 0) + 16) & 0xFFFFFFFF, 8)
        except RemoteError:
            stack = b""
        stack = stack.ljust(8, b"\0")
        args += [int.from_bytes(stack[0:4], "little"), int.from_bytes(stack[4:8], "little")]
        return SyscallEntry(ev.number, ev.thread, tuple(args))

    async def cont(self, signal: int = 0, timeout: float | None = None) -> Event:
        """Continue and return the next stop event (PTRACE_CONT, then waitpid)."""
        await self.resume(signal=signal)
        return await self.wait(timeout)

    async def step(self, thread: ThreadId | None = None, signal: int = 0) -> Event:
        """Execute one instruction (a branch with its delay slot) and return the
        stop event (PTRACE_SINGLESTEP, then waitpid)."""
        await self.resume(step=True, thread=thread, signal=signal)
        return await self.wait()

    async def events(self) -> AsyncIterator[Event]:
        """Continue and yield every stop event until the process exits or is killed."""
        while True:
            ev = await self.cont()
            yield ev
            if isinstance(ev, (Exited, Killed)):
                return

    async def interrupt(self) -> None:
        """Ask the running process to stop (Ctrl-C); `wait` returns the stop
        (SIGINT). Safe to call from another task while one is in `wait`."""
        if not self.running:
            raise UsageError("nothing is running")
        await self._send(self.conn.send_interrupt())


def _reg(name: str) -> mips.Reg:
    try:
        return mips.lookup(name)
    except KeyError:
        raise UsageError(f"no register {name!r} on MIPS") from None


def _watch_type(kind: str) -> int:
    try:
        return _WATCH_TYPES[kind]
    except KeyError:
        raise UsageError(f"watchpoint kind is write, read or access, not {kind!r}") from None


# ------------------------------------------------------------- blocking API

T = TypeVar("T")


class SyncClient:
    """`Client` with blocking methods, for ordinary (non-async) code and tests.

    It runs its own event loop in a thread (an anyio blocking portal); every
    method has the signature and meaning of the `Client` method of the same
    name. `interrupt` may be called from another thread while one is in
    `wait` or `cont`.
    """

    def __init__(self, client: Client, portal: BlockingPortal, stop: Callable[[], object]) -> None:
        self.client = client
        self._portal = portal
        self._stop = stop

    @classmethod
    def connect(cls, address: str = DEFAULT_ADDRESS, **kw: Any) -> SyncClient:
        """Connect to ``"host:port"`` or a unix socket path (see `Client.connect`)."""
        cm = start_blocking_portal()
        portal = cm.__enter__()
        try:
            client = portal.call(lambda: Client.connect(address, **kw))
        except BaseException:
            cm.__exit__(None, None, None)
            raise
        return cls(client, portal, lambda: cm.__exit__(None, None, None))

    def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return self._portal.call(lambda: fn(*args, **kw))

    def close(self) -> None:
        """Close the connection and stop the event loop thread."""
        try:
            self._portal.call(self.client.aclose)
        finally:
            self._stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The state attributes of the client.
    @property
    def pid(self) -> int | None:
        return self.client.pid

    @property
    def thread(self) -> ThreadId | None:
        return self.client.thread

    @property
    def features(self) -> dict[str, str | bool]:
        return self.client.features

    @property
    def console(self) -> list[str]:
        return self.client.console

    def request(self, payload: bytes) -> bytes:
        r: bytes = self._call(self.client.request, payload)
        return r

    def run(self, program: str, *args: str) -> Stopped:
        r: Stopped = self._call(self.client.run, program, *args)
        return r

    def attach(self, pid: int) -> Stopped:
        r: Stopped = self._call(self.client.attach, pid)
        return r

    def detach(self, pid: int | None = None) -> None:
        self._call(self.client.detach, pid)

    def kill(self, pid: int | None = None) -> None:
        self._call(self.client.kill, pid)

    def threads(self) -> list[ThreadId]:
        r: list[ThreadId] = self._call(self.client.threads)
        return r

    def monitor(self, command: str) -> str:
        r: str = self._call(self.client.monitor, command)
        return r

    def read_register(self, name: str, thread: ThreadId | None = None) -> int:
        r: int = self._call(self.client.read_register, name, thread)
        return r

    def write_register(self, name: str, value: int, thread: ThreadId | None = None) -> None:
        self._call(self.client.write_register, name, value, thread)

    def registers(self, thread: ThreadId | None = None) -> dict[str, int]:
        r: dict[str, int] = self._call(self.client.registers, thread)
        return r

    def read_memory(self, addr: int, length: int) -> bytes:
        r: bytes = self._call(self.client.read_memory, addr, length)
        return r

    def write_memory(self, addr: int, data: bytes) -> None:
        self._call(self.client.write_memory, addr, data)

    def read_u32(self, addr: int) -> int:
        r: int = self._call(self.client.read_u32, addr)
        return r

    def read_string(self, addr: int, limit: int = 4096) -> bytes:
        r: bytes = self._call(self.client.read_string, addr, limit)
        return r

    def set_breakpoint(self, addr: int, *, hardware: bool = False) -> None:
        self._call(self.client.set_breakpoint, addr, hardware=hardware)

    def remove_breakpoint(self, addr: int, *, hardware: bool = False) -> None:
        self._call(self.client.remove_breakpoint, addr, hardware=hardware)

    def set_watchpoint(self, addr: int, length: int = 4, kind: str = "write") -> None:
        self._call(self.client.set_watchpoint, addr, length, kind)

    def remove_watchpoint(self, addr: int, length: int = 4, kind: str = "write") -> None:
        self._call(self.client.remove_watchpoint, addr, length, kind)

    def catch_syscalls(self, numbers: Iterable[int] | bool = True) -> None:
        self._call(self.client.catch_syscalls, numbers)

    def pass_signals(self, signals: Iterable[int]) -> None:
        self._call(self.client.pass_signals, list(signals))

    def resume(self, *, step: bool = False, signal: int = 0,
               thread: ThreadId | None = None) -> None:
        self._call(self.client.resume, step=step, signal=signal, thread=thread)

    def wait(self, timeout: float | None = None) -> Event:
        r: Event = self._call(self.client.wait, timeout)
        return r

    def cont(self, signal: int = 0, timeout: float | None = None) -> Event:
        r: Event = self._call(self.client.cont, signal, timeout)
        return r

    def step(self, thread: ThreadId | None = None, signal: int = 0) -> Event:
        r: Event = self._call(self.client.step, thread, signal)
        return r

    def interrupt(self) -> None:
        self._call(self.client.interrupt)

    def events(self) -> Iterator[Event]:
        """Continue and yield every stop event until the process exits or is killed."""
        while True:
            ev = self.cont()
            yield ev
            if isinstance(ev, (Exited, Killed)):
                return
