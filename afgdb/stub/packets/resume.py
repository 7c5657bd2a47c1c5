"""Run control: vCont, c/C/s/S, ?, k, vKill, D, vRun, vAttach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.arch import mips
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets.common import (
    NO_REPLY,
    OK,
    RESUMED,
    ErrorReply,
    PacketSpec,
    Reply,
    ThreadId,
    hex_int,
    no_args,
    optional_pid,
    parse_thread_id,
    split,
)
from afgdb.targets.caps import Action, Launcher, Stopped, TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session


def _signal(s: bytes) -> int:
    g = hex_int(s, "signal")
    sig = mips.from_gdb_signal(g)
    if sig is None:
        raise rsp.RemoteProtocolError(f"signal {g} does not exist on this target")
    return sig


# ----------------------------------------------------------------- vCont

@dataclass(frozen=True)
class VCont:
    actions: tuple[tuple[Action, ThreadId | None], ...]


def _action(text: bytes) -> Action:
    op = text[:1]
    if op == b"c" and len(text) == 1:
        return Action("c")
    if op == b"s" and len(text) == 1:
        return Action("s")
    if op == b"t" and len(text) == 1:
        return Action("t")
    if op == b"C":
        return Action("c", _signal(text[1:]))
    if op == b"S":
        return Action("s", _signal(text[1:]))
    if op == b"r":
        a, b = split(text[1:], b",", 2, "vCont;r")
        return Action("r", 0, hex_int(a, "address"), hex_int(b, "address"))
    raise rsp.RemoteProtocolError(f"bad vCont action {text[:20]!r}")


def parse_vcont(rest: bytes) -> VCont:
    out = []
    for item in rest.split(b";"):
        if not item:
            raise rsp.RemoteProtocolError("empty vCont action")
        act, colon, th = item.partition(b":")
        out.append((_action(act), parse_thread_id(th) if colon else None))
    return VCont(tuple(out))


def handle_vcont_query(s: Session, _: None) -> Reply:
    return b"vCont;c;C;s;S;t;r"


def handle_vcont(s: Session, v: VCont) -> Reply:
    return s.resume(list(v.actions))


# ------------------------------------------------------ legacy c/C/s/S

@dataclass(frozen=True)
class Legacy:
    step: bool
    signal: int
    addr: int | None


def _legacy(rest: bytes, step: bool, with_signal: bool) -> Legacy:
    sig = 0
    if with_signal:
        sig_s, _, rest = rest.partition(b";")
        sig = _signal(sig_s)
    return Legacy(step, sig, hex_int(rest, "address") if rest else None)


def handle_legacy(s: Session, c: Legacy) -> Reply:
    t = s.current_target(s.c_thread if s.c_thread.pid not in (None, -1) else None)
    if c.addr is not None:
        write = getattr(t, "write_register", None)
        if write is None:
            raise TargetError(E.EPERM, "read-only target")
        write(s.current_tid(t), mips.PC, c.addr)
    action = Action("s" if c.step else "c", c.signal)
    if c.step:
        tid = s.current_tid(t, s.c_thread if s.c_thread.tid not in (0, -1) else None)
        return s.resume([(action, ThreadId(t.pid, tid))])
    return s.resume([(action, None)])


# ----------------------------------------------------------- ? k D vKill

def handle_status(s: Session, _: None) -> Reply:
    if not s.targets:
        return b"W00"
    t = s.current_target()
    ev = t.stop_event()
    if ev is None:
        return ErrorReply(E.EBUSY, "the target is running")
    if isinstance(ev, Stopped) and ev.signal == 0 and not ev.reason:
        ev = Stopped(ev.tid, 5)
    s.reported[t.pid] = ev
    return s.stop_reply(t, ev)


def handle_kill(s: Session, _: None) -> Reply:
    for pid, t in list(s.targets.items()):
        fn = getattr(t, "kill", None)
        if fn is not None:
            fn()
        s.remove_target(pid)
    s.running = False
    return NO_REPLY


def parse_pid(rest: bytes) -> int:
    return hex_int(rest, "pid")


def handle_vkill(s: Session, pid: int) -> Reply:
    t = s.targets.get(pid)
    if t is None:
        return ErrorReply(E.ESRCH, f"no process {pid} in this session")
    fn = getattr(t, "kill", None)
    if fn is None:
        raise TargetError(E.EPERM, f"process {pid} cannot be killed")
    fn()
    s.remove_target(pid)
    return OK


def parse_detach(rest: bytes) -> int | None:
    return optional_pid(rest, b";", "D packet")


def handle_detach(s: Session, pid: int | None) -> Reply:
    if pid is None:
        if not s.targets:
            return ErrorReply(E.ESRCH, "no process")
        pids = list(s.targets)
    elif pid in s.targets:
        pids = [pid]
    else:
        return ErrorReply(E.ESRCH, f"no process {pid} in this session")
    for p in pids:
        t = s.targets[p]
        fn = getattr(t, "detach", None)
        if fn is not None:
            fn()
        s.remove_target(p)
    return OK


# ---------------------------------------------------------- vRun vAttach

def parse_run(rest: bytes) -> tuple[str, ...]:
    parts = rest.split(b";")
    return tuple(rsp.hex_decode(p).decode("utf-8", "surrogateescape") for p in parts)


def handle_run(s: Session, argv: tuple[str, ...]) -> Reply:
    launcher = s.system
    assert isinstance(launcher, Launcher)  # the packets are live only with a Launcher
    args = list(argv)
    if args and args[0].startswith("target:"):
        args[0] = args[0][len("target:"):]
    start = getattr(launcher, "start", None)
    if start is None:  # a system without a launcher process: created stopped
        t = launcher.launch(args, s.name)  # type: ignore[call-arg]
        s.add_target(t, created=True)
        ev = t.stop_event()
        assert ev is not None
        s.reported[t.pid] = ev
        return s.stop_reply(t, ev)
    # The seed's `run`: a launcher process, connected to and continued; the reply is
    # the stop at its exec (T05exec:...), sent when the machine has run that far.
    t = start(args, s.name, uid=s.uid)
    s.add_target(t, created=True)
    s.running = True
    s.resumed.add(t.pid)
    s.reported.pop(t.pid, None)
    return RESUMED


def handle_attach(s: Session, pid: int) -> Reply:
    launcher = s.system
    assert isinstance(launcher, Launcher)  # the packets are live only with a Launcher
    if pid in s.targets:
        return ErrorReply(E.EBUSY, f"already debugging process {pid}")
    t = launcher.attach(pid, s.name, uid=s.uid)  # type: ignore[call-arg]
    s.add_target(t, created=False)
    ev = t.stop_event()
    assert ev is not None
    s.reported[t.pid] = ev
    return s.stop_reply(t, ev)


PACKETS = [
    PacketSpec(b"vCont?", no_args, handle_vcont_query, needs="Resumable"),
    PacketSpec(b"vCont;", parse_vcont, handle_vcont, needs="Resumable", missing="error"),
    PacketSpec(b"c", lambda r: _legacy(r, False, False), handle_legacy, needs="Resumable",
               missing="error"),
    PacketSpec(b"C", lambda r: _legacy(r, False, True), handle_legacy, needs="Resumable",
               missing="error"),
    PacketSpec(b"s", lambda r: _legacy(r, True, False), handle_legacy, needs="Resumable",
               missing="error"),
    PacketSpec(b"S", lambda r: _legacy(r, True, True), handle_legacy, needs="Resumable",
               missing="error"),
    PacketSpec(b"?", no_args, handle_status),
    PacketSpec(b"k", no_args, handle_kill),
    PacketSpec(b"vKill;", parse_pid, handle_vkill),
    PacketSpec(b"D", parse_detach, handle_detach),
    PacketSpec(b"vRun;", parse_run, handle_run, needs="Launcher", scope="system"),
    PacketSpec(b"vAttach;", parse_pid, handle_attach, needs="Launcher", scope="system"),
]
