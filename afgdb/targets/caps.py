"""What the stub can ask of a debug target: a small base protocol and optional capabilities.

Modelled on the Rust ``gdbstub`` crate's extension traits: a target
implements `Target` and any of the capability protocols below; the stub
probes it once per connection (`probe`) and advertises in ``qSupported``
exactly what it found. pid 0 (the kernel) implements only reading, so
writes, breakpoints and resumption get an error there without any special
case in the stub.

Values crossing this boundary are plain: guest (Linux MIPS) signal
numbers, register values in `afgdb.arch.mips.REGISTERS` order, bytes for
memory. Nothing here knows of packets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Union, runtime_checkable

from afgdb.machine.kernel import linux_abi as E


class TargetError(Exception):
    """A request the target refuses; ``errno`` is a Linux errno, ``msg`` says why."""

    def __init__(self, errno: int, msg: str) -> None:
        super().__init__(msg)
        self.errno = errno
        self.msg = msg


def refused(msg: str) -> TargetError:
    return TargetError(E.EPERM, msg)


# ----------------------------------------------------------------- events

@dataclass(frozen=True)
class Stopped:
    """The process stopped (all its threads): ``tid`` is the thread that reported."""

    tid: int
    signal: int  # Linux signal number; 0 for "no signal" (e.g. a vAttach stop)
    reason: str = ""  # "", "swbreak", "hwbreak", "watch", "rwatch", "awatch",
    #                   "syscall_entry", "syscall_return"
    value: int = 0  # data address for watchpoints, syscall number for syscalls


@dataclass(frozen=True)
class Exited:
    """The process ended with exit(code)."""

    code: int


@dataclass(frozen=True)
class Killed:
    """The process ended by signal (Linux number)."""

    signal: int


StopEvent = Union[Stopped, Exited, Killed]


@dataclass(frozen=True)
class Action:
    """How one thread resumes: ``kind`` is "c" (continue), "s" (step), "r" (range
    step within [start, end)) or "t" (stay stopped); ``signal`` is delivered first."""

    kind: str
    signal: int = 0
    start: int = 0
    end: int = 0


@dataclass
class ThreadInfo:
    tid: int
    name: str = ""
    extra: str = ""  # what `info threads` shows in brackets
    core: int = 0


@dataclass
class ProcessInfo:
    """One row of `info os processes` / `monitor ps`."""

    pid: int
    ppid: int
    user: str
    command: str
    state: str
    threads: int
    debugger: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ base

@runtime_checkable
class Target(Protocol):
    """A debuggable thing: one process, readable. Everything else is optional."""

    pid: int

    def threads(self) -> list[ThreadInfo]: ...

    def read_registers(self, tid: int) -> list[int | None]:
        """Values in `REGISTERS` order; None for a register that cannot be read."""
        ...

    def read_memory(self, addr: int, length: int) -> bytes:
        """Up to length bytes from addr; shorter if memory ends; TargetError if none."""
        ...

    def stop_event(self) -> StopEvent | None:
        """Why the target is stopped now (None while it runs)."""
        ...


# ---------------------------------------------------------- capabilities

@runtime_checkable
class Writable(Protocol):
    def write_register(self, tid: int, regnum: int, value: int) -> None: ...

    def write_memory(self, addr: int, data: bytes) -> None: ...


@runtime_checkable
class Resumable(Protocol):
    """Run control: resume per thread, interrupt, and hear about the next stop."""

    def resume(self, actions: dict[int, Action], default: Action | None) -> None: ...

    def interrupt(self) -> None:
        """Stop now and report SIGINT."""
        ...

    def halt(self) -> None:
        """Stop now without reporting anything (another process of the session stopped)."""
        ...

    def set_stop_listener(self, fn: Callable[[], None] | None) -> None: ...


@runtime_checkable
class SwBreakpoints(Protocol):
    def add_sw_breakpoint(self, addr: int, kind: int) -> None: ...

    def remove_sw_breakpoint(self, addr: int, kind: int) -> None: ...


@runtime_checkable
class HwBreakpoints(Protocol):
    def add_hw_breakpoint(self, addr: int, kind: int) -> None: ...

    def remove_hw_breakpoint(self, addr: int, kind: int) -> None: ...


@runtime_checkable
class Watchpoints(Protocol):
    """kind: 2 write, 3 read, 4 access (the Z packet numbers)."""

    def add_watchpoint(self, addr: int, length: int, kind: int) -> None: ...

    def remove_watchpoint(self, addr: int, length: int, kind: int) -> None: ...


@runtime_checkable
class Threads(Protocol):
    def thread_extra_info(self, tid: int) -> str: ...


@runtime_checkable
class ThreadMemory(Protocol):
    """Memory as a given thread sees it (pid 0: threads of many processes)."""

    def read_thread_memory(self, tid: int, addr: int, length: int) -> bytes: ...


@runtime_checkable
class ReadOnly(Protocol):
    """A target that refuses every change (pid 0): `refusal` is the reason it gives."""

    def refusal(self) -> str: ...


@runtime_checkable
class ExecFile(Protocol):
    def exec_file(self) -> str:
        """Guest path of the program (what gdb opens over vFile)."""
        ...


@runtime_checkable
class Auxv(Protocol):
    def auxv(self) -> bytes: ...


@runtime_checkable
class CatchSyscalls(Protocol):
    def catch_syscalls(self, numbers: set[int] | None) -> None:
        """None: catch none; empty set: catch every system call."""
        ...


@runtime_checkable
class PassSignals(Protocol):
    def pass_signals(self, signals: set[int]) -> None:
        """Signals (Linux numbers) delivered without stopping for the debugger."""
        ...


@runtime_checkable
class Killable(Protocol):
    def kill(self) -> None: ...


@runtime_checkable
class Detachable(Protocol):
    def detach(self) -> None: ...


@runtime_checkable
class ForkEvents(Protocol):
    def report_forks(self, fork: bool, vfork: bool) -> None: ...


@runtime_checkable
class ExecEvents(Protocol):
    def report_execs(self, on: bool) -> None: ...


@runtime_checkable
class ThreadEvents(Protocol):
    def report_threads(self, on: bool) -> None:
        """Stop and report when a thread is created (QThreadEvents)."""
        ...


@runtime_checkable
class HostIO(Protocol):
    """File access for vFile: paths are the target's (guest) paths."""

    def resolve_path(self, path: str, follow: bool = True) -> str:
        """Host path of a guest path, never outside the guest root (TargetError if bad)."""
        ...


@runtime_checkable
class Monitor(Protocol):
    def monitor(self, command: str) -> str:
        """Run a `monitor` command; returns its output (TargetError on failure)."""
        ...


@runtime_checkable
class Launcher(Protocol):
    """The machine as extended-remote sees it: start, attach, list processes."""

    def launch(self, argv: list[str]) -> Target: ...

    def attach(self, pid: int, owner: str) -> Target: ...

    def processes(self) -> list[ProcessInfo]: ...


CAPABILITIES: tuple[type, ...] = (
    Writable, Resumable, SwBreakpoints, HwBreakpoints, Watchpoints, Threads, ExecFile,
    Auxv, CatchSyscalls, PassSignals, Killable, Detachable, ForkEvents, ExecEvents,
    ThreadEvents, HostIO,
    Monitor,
)


def probe(obj: object) -> frozenset[str]:
    """Names of the capability protocols obj implements (what the stub may advertise)."""
    return frozenset(cap.__name__ for cap in CAPABILITIES if isinstance(obj, cap))
