"""General queries and settings: qSupported, threads, qAttached, signals, modes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.arch import mips
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets.common import (
    EMPTY,
    OK,
    ErrorReply,
    PacketSpec,
    Reply,
    ThreadId,
    hex_int,
    no_args,
    optional_pid,
    parse_thread_id,
    raw,
)
from afgdb.targets.caps import TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session


# ------------------------------------------------------------ qSupported

@dataclass(frozen=True)
class Supported:
    features: frozenset[str]  # what gdb offered ("multiprocess+", "xmlRegisters=mips", ...)


def parse_supported(rest: bytes) -> Supported:
    items = rest[1:].split(b";") if rest.startswith(b":") else []
    return Supported(frozenset(i.decode("ascii", "replace") for i in items if i))


def supported_features(s: Session, offered: frozenset[str]) -> list[str]:
    """Our qSupported reply: derived from the capabilities probed, never hand-written."""
    caps = s.all_caps()
    feats = [f"PacketSize={rsp.PACKET_SIZE:x}", "QStartNoAckMode+", "qXfer:features:read+",
             "qXfer:threads:read+"]
    if "multiprocess+" in offered and s.multiprocess_ok:
        feats.append("multiprocess+")
    if "swbreak+" in offered and "SwBreakpoints" in caps:
        feats.append("swbreak+")
    if "hwbreak+" in offered and "HwBreakpoints" in caps:
        feats.append("hwbreak+")
    if "Auxv" in caps:
        feats.append("qXfer:auxv:read+")
    if "ExecFile" in caps:
        feats.append("qXfer:exec-file:read+")
    if "Launcher" in caps:
        feats.append("qXfer:osdata:read+")
    if "Resumable" in caps:
        feats += ["vContSupported+", "QProgramSignals+"]
    if "PassSignals" in caps:
        feats.append("QPassSignals+")
    if "CatchSyscalls" in caps:
        feats.append("QCatchSyscalls+")
    if "ForkEvents" in caps:
        for f in ("fork-events+", "vfork-events+"):
            if f in offered:
                feats.append(f)
    if "ExecEvents" in caps and "exec-events+" in offered:
        feats.append("exec-events+")
    if "ThreadEvents" in caps:
        feats.append("QThreadEvents+")
    if "error-message+" in offered:
        feats.append("error-message+")
    return feats


def handle_supported(s: Session, q: Supported) -> Reply:
    s.gdb_features = set(q.features)
    feats = supported_features(s, q.features)
    s.multiprocess = "multiprocess+" in feats
    s.swbreak = "swbreak+" in feats
    s.hwbreak = "hwbreak+" in feats
    s.error_message = "error-message+" in feats
    s.fork_events = "fork-events+" in feats
    s.vfork_events = "vfork-events+" in feats
    s.exec_events = "exec-events+" in feats
    for t in s.targets.values():
        s.apply_events(t)
    return ";".join(feats).encode()


# --------------------------------------------------------------- threads

def handle_qc(s: Session, _: None) -> Reply:
    if not s.targets:
        return EMPTY
    t = s.current_target()
    return b"QC" + s.encode_tid(t.pid, s.current_tid(t))


def _all_threads(s: Session) -> list[ThreadId]:
    out = []
    for t in s.targets.values():
        for th in t.threads():
            out.append(ThreadId(t.pid, th.tid))
    return out


def handle_first_thread(s: Session, _: None) -> Reply:
    s.thread_cursor = _all_threads(s)
    return handle_next_thread(s, None)


def handle_next_thread(s: Session, _: None) -> Reply:
    if not s.thread_cursor:
        return b"l"
    batch, s.thread_cursor = s.thread_cursor[:200], s.thread_cursor[200:]
    return b"m" + b",".join(th.encode(s.multiprocess) for th in batch)


def handle_extra_info(s: Session, th: ThreadId) -> Reply:
    t = s.current_target(th)
    tid = s.current_tid(t, th)
    fn = getattr(t, "thread_extra_info", None)
    text = fn(tid) if fn is not None else ""
    return rsp.hex_encode(text.encode())


def handle_thread_alive(s: Session, th: ThreadId) -> Reply:
    try:
        t = s.current_target(th)
    except TargetError:
        return ErrorReply(E.ESRCH, "no such thread")
    if any(x.tid == th.tid for x in t.threads()):
        return OK
    return ErrorReply(E.ESRCH, f"thread {th.tid} is gone")


@dataclass(frozen=True)
class SetThread:
    op: str  # "g" or "c"
    thread: ThreadId


def parse_set_thread(rest: bytes) -> SetThread:
    if len(rest) < 2 or rest[:1] not in (b"g", b"c"):
        raise rsp.RemoteProtocolError(f"bad H packet: {rest[:40]!r}")
    return SetThread(rest[:1].decode(), parse_thread_id(rest[1:]))


def handle_set_thread(s: Session, h: SetThread) -> Reply:
    th = h.thread
    if th.tid not in (0, -1) and s.targets:
        t = s.current_target(th)
        if not any(x.tid == th.tid for x in t.threads()):
            return ErrorReply(E.ESRCH, f"no thread {th.tid}")
        th = ThreadId(t.pid, th.tid)
    if h.op == "g":
        s.g_thread = th
    else:
        s.c_thread = th
    return OK


# ---------------------------------------------------------------- misc

def parse_attached(rest: bytes) -> int | None:
    return optional_pid(rest, b":", "qAttached")


def handle_attached(s: Session, pid: int | None) -> Reply:
    if pid is None:
        if not s.targets:
            return ErrorReply(E.ESRCH, "no process")
        pid = s.current_target().pid
    if pid not in s.targets:
        return ErrorReply(E.ESRCH, f"no process {pid}")
    return b"0" if pid in s.created else b"1"


def handle_offsets(s: Session, _: None) -> Reply:
    return b"Text=0;Data=0;Bss=0"  # static executables are loaded where linked


def handle_symbol(s: Session, _: bytes) -> Reply:
    return OK  # no symbol lookups needed


def handle_empty(s: Session, _: None) -> Reply:
    return EMPTY


def handle_no_ack(s: Session, _: None) -> Reply:
    s.no_ack_pending = True
    return OK


def handle_extended(s: Session, _: None) -> Reply:
    s.extended = True
    return OK


def parse_non_stop(rest: bytes) -> bool:
    if rest not in (b"0", b"1"):
        raise rsp.RemoteProtocolError("QNonStop takes 0 or 1")
    return rest == b"1"


def handle_non_stop(s: Session, on: bool) -> Reply:
    if on:
        return ErrorReply(E.EINVAL, "non-stop mode is not supported (all-stop only)")
    return OK


def parse_signal_list(rest: bytes) -> frozenset[int]:
    out = set()
    for item in rest.split(b";"):
        if item:
            sig = mips.from_gdb_signal(hex_int(item, "signal"))
            if sig:
                out.add(sig)
    return frozenset(out)


def handle_pass_signals(s: Session, sigs: frozenset[int]) -> Reply:
    s.pass_signals = set(sigs)
    for t in s.targets.values():
        fn = getattr(t, "pass_signals", None)
        if fn is not None:
            fn(s.pass_signals)
    return OK


def handle_program_signals(s: Session, sigs: frozenset[int]) -> Reply:
    return OK  # signals given to `C`/`S` are always delivered


@dataclass(frozen=True)
class CatchSyscalls:
    numbers: frozenset[int] | None  # None: off; empty: all


def parse_catch(rest: bytes) -> CatchSyscalls:
    if rest.startswith(b":"):
        rest = rest[1:]
    if rest == b"0":
        return CatchSyscalls(None)
    if rest == b"1":
        return CatchSyscalls(frozenset())
    if rest.startswith(b"1;"):
        return CatchSyscalls(frozenset(hex_int(x, "syscall") for x in rest[2:].split(b";") if x))
    raise rsp.RemoteProtocolError(f"bad QCatchSyscalls: {rest[:40]!r}")


def handle_catch(s: Session, c: CatchSyscalls) -> Reply:
    s.catch_syscalls = None if c.numbers is None else set(c.numbers)
    for t in s.targets.values():
        fn = getattr(t, "catch_syscalls", None)
        if fn is not None:
            fn(s.catch_syscalls)
    return OK


def parse_thread_events(rest: bytes) -> bool:
    if rest not in (b"0", b"1"):
        raise rsp.RemoteProtocolError("QThreadEvents takes 0 or 1")
    return rest == b"1"


def handle_thread_events(s: Session, on: bool) -> Reply:
    s.thread_events = on
    for t in s.targets.values():
        s.apply_events(t)
    return OK


PACKETS = [
    PacketSpec(b"qSupported", parse_supported, handle_supported),
    PacketSpec(b"qC", no_args, handle_qc),
    PacketSpec(b"qfThreadInfo", no_args, handle_first_thread),
    PacketSpec(b"qsThreadInfo", no_args, handle_next_thread),
    PacketSpec(b"qThreadExtraInfo,", parse_thread_id, handle_extra_info),
    PacketSpec(b"T", parse_thread_id, handle_thread_alive),
    PacketSpec(b"H", parse_set_thread, handle_set_thread),
    PacketSpec(b"qAttached", parse_attached, handle_attached),
    PacketSpec(b"qOffsets", no_args, handle_offsets),
    PacketSpec(b"qSymbol:", raw, handle_symbol),
    PacketSpec(b"vMustReplyEmpty", no_args, handle_empty),
    PacketSpec(b"QStartNoAckMode", no_args, handle_no_ack),
    PacketSpec(b"!", no_args, handle_extended),
    PacketSpec(b"QNonStop:", parse_non_stop, handle_non_stop),
    PacketSpec(b"QPassSignals:", parse_signal_list, handle_pass_signals, needs="PassSignals"),
    PacketSpec(b"QProgramSignals:", parse_signal_list, handle_program_signals,
               needs="Resumable"),
    PacketSpec(b"QCatchSyscalls:", parse_catch, handle_catch, needs="CatchSyscalls"),
    PacketSpec(b"QThreadEvents:", parse_thread_events, handle_thread_events,
               needs="ThreadEvents"),
]
