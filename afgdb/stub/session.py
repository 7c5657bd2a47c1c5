"""One debugger connection: bytes in, bytes out, against targets (sans-IO).

`Session.receive(bytes)` feeds the RSP codec, dispatches every packet to
its family's handler (afgdb.stub.packets) and returns the bytes to send;
`Session.poll()` returns the stop reply once a resumed target has stopped
(the server calls it when the session's waker fires). Nothing here blocks
or touches a socket; the server (afgdb.server) owns the I/O.

State kept per connection: the targets (processes) it debugs, the threads
selected with ``H``, what gdb said it supports in ``qSupported``, signal
and syscall-catch settings, open vFile descriptors, and whether a resumed
target is awaited.

Disconnect (`close`): a process the session created (vRun, or the program
given to ``afgdb serve``) is killed; an attached one is detached and runs
on, as gdbserver does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
from typing import Callable

from afgdb import rsp
from afgdb.arch import mips
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets import REGISTRY
from afgdb.stub.packets.common import (
    ALL,
    ANY,
    EMPTY,
    NO_REPLY,
    RESUMED,
    ErrorReply,
    Output,
    PacketSpec,
    Reply,
    ThreadId,
)
from afgdb.targets.caps import (
    Action,
    Exited,
    Killed,
    Launcher,
    ReadOnly,
    StopEvent,
    Stopped,
    Target,
    TargetError,
    probe,
)

log = logging.getLogger("afgdb.stub")

_EXPEDITE_FMT = b"".join(b"%02x:%%08x;" % n for n in mips.EXPEDITED)
_LITTLE = struct.Struct(f"<{len(mips.EXPEDITED)}I")
_BIG = struct.Struct(f">{len(mips.EXPEDITED)}I")

MIN_RUN = 200_000  # machine instructions a resumed program runs before a Ctrl-C is taken


class Session:
    """The stub side of one RSP connection."""

    def __init__(self, system: object | None = None, *, name: str = "gdb",
                 targets: tuple[Target, ...] = (), multiprocess_ok: bool = True,
                 error_text: bool = False,
                 max_packet_size: int = rsp.DEFAULT_MAX_PACKET_SIZE) -> None:
        self.conn = rsp.Connection(rsp.SERVER, max_packet_size=max_packet_size)
        self.system = system
        self.name = name
        self.targets: dict[int, Target] = {}
        self.created: set[int] = set()  # pids this session started (killed on close)
        self.multiprocess_ok = multiprocess_ok  # pid 0 sessions: plain thread ids
        # What gdb said it supports (qSupported).
        self.gdb_features: set[str] = set()
        self.multiprocess = False
        self.swbreak = False
        self.hwbreak = False
        self.error_message = False
        # E.text even when gdb did not offer error-message+ (gdb 13 does not, yet it takes
        # "E." as an error everywhere and prints the text in some places): pid 0 sessions.
        self.error_text = error_text
        self.extended = False
        self.no_ack_pending = False
        # Events gdb asked for (qSupported, QThreadEvents), passed on to every target.
        self.fork_events = False
        self.vfork_events = False
        self.exec_events = False
        self.thread_events = False
        self.uid = 0  # the guest uid this connection debugs as (AF_GDB permission rules)
        # Thread selection (H) and the qfThreadInfo cursor.
        self.g_thread = ThreadId(None, ANY)
        self.c_thread = ThreadId(None, ALL)
        self.thread_cursor: list[ThreadId] = []
        # Run control.
        # Machine instructions executed so far (the server sets it): a Ctrl-C that comes
        # right after a resume waits until the program has had MIN_RUN of them (or the
        # machine idles), so "continue, then interrupt" always lets it move.
        self.progress: Callable[[], int] = lambda: 0
        self.interrupt_pending = False
        self._resumed_at = 0
        self.running = False
        self.resumed: set[int] = set()
        self.reported: dict[int, StopEvent] = {}
        self.pass_signals: set[int] = set()
        self.catch_syscalls: set[int] | None = None
        # vFile descriptors (host fds) and the process whose files they are.
        self.vfile_fds: dict[int, int] = {}
        self.vfile_next = 1
        self.waker: Callable[[], None] = lambda: None
        self.closed = False
        self._caps_cache: dict[type, frozenset[str]] = {}
        self._impl_cache: dict[tuple[type, type], bool] = {}
        for t in targets:
            self.add_target(t, created=False)

    # ------------------------------------------------------------ bytes
    def receive(self, data: bytes, limit: int = 1 << 18) -> bytes:
        """Feed bytes from gdb; returns the bytes to send back (acks, replies).

        Stops answering once about `limit` bytes of replies are ready: the rest of
        what was fed waits in the codec for the next call (``receive(b"")``), so a
        peer that pipelines requests and does not read gets back-pressure, not a
        server that buffers every reply.
        """
        payload = self.conn.single_packet(data)
        if payload is not None:  # the usual case: one request, answered at once
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: <- %r", self.name, payload[:200])
            return self._answer(payload) + self.conn.data_to_send() + self.poll()
        self.conn.feed(data)
        out = bytearray()
        while len(out) < limit:
            ev = self.conn.next_event()
            if ev is rsp.NEED_DATA:
                break
            if isinstance(ev, rsp.Packet):
                log.debug("%s: <- %r", self.name, ev.data[:200])
                out += self._answer(ev.data)
            elif isinstance(ev, rsp.Interrupt):
                log.debug("%s: <- interrupt (running=%s)", self.name, self.running)
                self.request_interrupt()
            elif isinstance(ev, rsp.Nak):
                out += self.conn.resend()
            elif isinstance(ev, rsp.BadPacket):
                log.debug("%s: dropped a bad frame: %s", self.name, ev.reason)
        out += self.conn.data_to_send()
        out += self.poll()
        return bytes(out)

    def poll(self) -> bytes:
        """The stop reply, framed, if a resumed target has stopped; else b""."""
        if not self.running:
            return b""
        payload = self._take_stop()
        if payload is None:
            return b""
        log.debug("%s: -> %r", self.name, payload[:200])
        return self.conn.send_packet(payload)

    def _answer(self, data: bytes) -> bytes:
        reply = self.dispatch(data)
        if reply is NO_REPLY or reply is RESUMED:
            return self.conn.data_to_send()
        if isinstance(reply, Output):
            out = bytearray()
            text = reply.text.encode()
            for i in range(0, len(text), 4000):
                out += self.conn.send_packet(b"O" + rsp.hex_encode(text[i:i + 4000]))
            out += self.conn.send_packet(self.encode(reply.final))
            return bytes(out)
        assert isinstance(reply, (bytes, ErrorReply))
        framed = self.conn.send_packet(self.encode(reply), zero_runs=True)
        if self.no_ack_pending:
            self.no_ack_pending = False
            self.conn.start_no_ack_mode()
        return framed

    def encode(self, reply: bytes | ErrorReply) -> bytes:
        if isinstance(reply, ErrorReply):
            if self.error_message or self.error_text:
                text = reply.text.encode("ascii", "replace")[:400]
                return b"E." + text
            return b"E%02x" % (reply.errno & 0xFF)
        return reply

    # ---------------------------------------------------------- dispatch
    def dispatch(self, data: bytes) -> Reply:
        """Parse and handle one packet; never raises."""
        spec = REGISTRY.lookup(data)
        if spec is None:
            return EMPTY
        try:
            missing = self._missing(spec)
            if missing is not None:
                return missing
            arg = spec.parse(data[len(spec.prefix):])
            return spec.handle(self, arg)
        except rsp.RemoteProtocolError as e:
            return ErrorReply(E.EINVAL, e.msg)
        except TargetError as e:
            return ErrorReply(e.errno, e.msg)
        except Exception as e:  # a bug of ours must not end the session
            log.exception("%s: internal error handling %r", self.name, data[:80])
            return ErrorReply(E.EIO, f"internal error: {type(e).__name__}: {e}")

    def _missing(self, spec: PacketSpec) -> Reply | None:
        if spec.needs is None:
            return None
        if spec.scope == "system":
            if spec.needs in self.system_caps():
                return None
        else:
            if not self.targets:
                if spec.missing == "empty" and spec.needs not in self.all_caps():
                    return EMPTY
                return None  # the handler says "no process"
            if spec.needs in self.caps(self.current_target()):
                return None
        if spec.missing == "empty":
            return EMPTY
        if self.targets and isinstance(self.current_target(), ReadOnly):
            return ErrorReply(E.EPERM, self.current_target().refusal())  # type: ignore[attr-defined]
        return ErrorReply(E.EPERM, f"not supported by this target ({spec.needs})")

    # -------------------------------------------------------- capabilities
    def caps(self, target: object) -> frozenset[str]:
        kind = type(target)
        c = self._caps_cache.get(kind)
        if c is None:
            c = self._caps_cache[kind] = probe(target)
        return c

    def implements(self, obj: object, proto: type) -> bool:
        """isinstance(obj, proto) for a runtime Protocol, remembered per class (the
        check itself walks the protocol's members: too slow for every packet)."""
        key = (type(obj), proto)
        ok = self._impl_cache.get(key)
        if ok is None:
            ok = self._impl_cache[key] = isinstance(obj, proto)
        return ok

    def system_caps(self) -> frozenset[str]:
        if self.system is None:
            return frozenset()
        caps = set(self.caps(self.system))
        if isinstance(self.system, Launcher):
            caps.add("Launcher")
        return frozenset(caps)

    def all_caps(self) -> frozenset[str]:
        """What this session can do: its targets' capabilities, or what a launched
        process would have (extended-remote before `run`)."""
        caps = set(self.system_caps())
        for t in self.targets.values():
            caps |= self.caps(t)
        if "Launcher" in caps:
            from afgdb.targets.process import ProcessTarget

            caps |= probe_class(ProcessTarget)
        return frozenset(caps)

    # ------------------------------------------------------------ targets
    def add_target(self, t: Target, created: bool) -> None:
        self.targets[t.pid] = t
        if created:
            self.created.add(t.pid)
        setter = getattr(t, "set_stop_listener", None)
        if setter is not None:
            setter(self._on_target_stop)
        if self.pass_signals and hasattr(t, "pass_signals"):
            t.pass_signals(self.pass_signals)
        if self.catch_syscalls is not None and hasattr(t, "catch_syscalls"):
            t.catch_syscalls(self.catch_syscalls)
        self.apply_events(t)
        ev = t.stop_event()
        if ev is not None:
            self.reported[t.pid] = ev
        live = [th.tid for th in t.threads()]
        tid = ev.tid if isinstance(ev, Stopped) else (live[0] if live else t.pid)
        self.g_thread = ThreadId(t.pid, tid)
        self.c_thread = ThreadId(t.pid, ALL)

    def apply_events(self, t: Target) -> None:
        """Tell t which fork/exec/thread events this connection wants reported."""
        fn = getattr(t, "report_forks", None)
        if fn is not None:
            fn(self.fork_events, self.vfork_events)
        fn = getattr(t, "report_execs", None)
        if fn is not None:
            fn(self.exec_events)
        fn = getattr(t, "report_threads", None)
        if fn is not None:
            fn(self.thread_events)

    def remove_target(self, pid: int) -> None:
        t = self.targets.pop(pid, None)
        self.created.discard(pid)
        self.resumed.discard(pid)
        self.reported.pop(pid, None)
        if t is not None:
            setter = getattr(t, "set_stop_listener", None)
            if setter is not None:
                setter(None)
        if self.g_thread.pid == pid:
            self.g_thread = ThreadId(None, ANY)

    def _on_target_stop(self) -> None:
        if self.running:
            self.waker()

    def current_target(self, thread: ThreadId | None = None) -> Target:
        """The target a packet is about: thread's pid, else Hg's, else the only one."""
        th = thread or self.g_thread
        if th.pid not in (None, ALL, ANY):
            t = self.targets.get(th.pid)
            if t is None:
                raise TargetError(E.ESRCH, f"no process {th.pid} in this session")
            return t
        if th.tid not in (ALL, ANY):
            for t in self.targets.values():
                if any(x.tid == th.tid for x in t.threads()):
                    return t
        if not self.targets:
            raise TargetError(E.ESRCH, "no process (use `run` or `attach`)")
        if self.g_thread.pid in self.targets:
            return self.targets[self.g_thread.pid]
        return next(iter(self.targets.values()))

    def current_tid(self, target: Target, thread: ThreadId | None = None) -> int:
        th = thread or self.g_thread
        if th.tid not in (ALL, ANY) and (th.pid in (None, ALL, ANY, target.pid)):
            return th.tid
        ev = target.stop_event()
        if isinstance(ev, Stopped):
            return ev.tid
        threads = target.threads()
        if not threads:
            raise TargetError(E.ESRCH, f"process {target.pid} has no threads")
        return threads[0].tid

    def thread_id(self, pid: int, tid: int) -> ThreadId:
        return ThreadId(pid, tid)

    def encode_tid(self, pid: int, tid: int) -> bytes:
        return ThreadId(pid, tid).encode(self.multiprocess)

    # ---------------------------------------------------------- stop replies
    def stop_reply(self, target: Target, ev: StopEvent) -> bytes:
        pid = target.pid
        suffix = b";process:%x" % pid if self.multiprocess else b""
        if isinstance(ev, Exited):
            return b"W%02x" % (ev.code & 0xFF) + suffix
        if isinstance(ev, Killed):
            return b"X%02x" % (mips.to_gdb_signal(ev.signal) & 0xFF) + suffix
        out = bytearray(b"T%02x" % mips.to_gdb_signal(ev.signal))
        try:
            regs = target.read_registers(ev.tid)
        except TargetError:
            regs = []
        try:
            # One format for every expedited register: values byte-swapped, so that
            # %08x prints each one's target (little-endian) bytes.
            out += _EXPEDITE_FMT % _BIG.unpack(_LITTLE.pack(*[regs[n] for n in mips.EXPEDITED]))
        except (IndexError, TypeError, struct.error):  # a register unknown or out of range
            for n in mips.EXPEDITED:
                if n < len(regs) and regs[n] is not None:
                    out += b"%02x:%s;" % (n, (regs[n] or 0).to_bytes(4, "little").hex().encode())
        out += b"thread:" + self.encode_tid(pid, ev.tid) + b";"
        if ev.reason in ("watch", "rwatch", "awatch"):
            out += ev.reason.encode() + b":%x;" % ev.value
        elif ev.reason == "swbreak" and self.swbreak:
            out += b"swbreak:;"
        elif ev.reason == "hwbreak" and self.hwbreak:
            out += b"hwbreak:;"
        elif ev.reason in ("syscall_entry", "syscall_return"):
            out += ev.reason.encode() + b":%x;" % ev.value
        elif ev.reason in ("fork", "vfork"):
            out += ev.reason.encode() + b":" + self.encode_tid(ev.value, ev.value) + b";"
        elif ev.reason == "vforkdone":
            out += b"vforkdone:;"
        elif ev.reason == "exec":
            exe = getattr(target, "exec_file", lambda: "")()
            out += b"exec:" + rsp.hex_encode(exe.encode()) + b";"
        elif ev.reason == "create":
            out += b"create:;"
        out += b"core:0;"
        self.g_thread = ThreadId(pid, ev.tid)
        return bytes(out)

    def _reportable(self, pid: int) -> StopEvent | None:
        t = self.targets.get(pid)
        if t is None:
            return None
        ev = t.stop_event()
        if ev is None or ev is self.reported.get(pid):
            return None
        if isinstance(ev, Stopped) and ev.signal == 0 and not ev.reason:
            return None  # a halt: nothing to say
        return ev

    def pending_stop(self) -> int | None:
        """A pid whose stop has not been reported yet (reported before resuming again)."""
        for pid in self.targets:
            if self._reportable(pid) is not None:
                return pid
        return None

    def _take_stop(self) -> bytes | None:
        for pid in list(self.resumed) + [p for p in self.targets if p not in self.resumed]:
            ev = self._reportable(pid)
            if ev is None:
                continue
            t = self.targets[pid]
            self.reported[pid] = ev
            self.running = False
            if isinstance(ev, Stopped) and ev.reason in ("fork", "vfork"):
                self._adopt(t, ev.value)
            # All-stop: every other process of this session stops too, quietly.
            for other in self.resumed:
                if other != pid:
                    o = self.targets.get(other)
                    halt = getattr(o, "halt", None)
                    if halt is not None:
                        halt()
            self.resumed.clear()
            payload = self.stop_reply(t, ev)
            if isinstance(ev, (Exited, Killed)):
                self.remove_target(pid)
            return payload
        return None

    def _adopt(self, parent: Target, pid: int) -> None:
        """The child of a reported fork joins this session (gdb detaches or keeps it)."""
        take = getattr(parent, "take_child", None)
        child = take(pid) if take is not None else None
        if child is None:
            return
        g, c = self.g_thread, self.c_thread
        self.add_target(child, created=parent.pid in self.created)  # its quiet stop: reported
        self.g_thread, self.c_thread = g, c

    # ----------------------------------------------------------- run control
    def resume(self, actions: list[tuple[Action, ThreadId | None]]) -> Reply:
        """Resume targets per vCont actions (first matching action wins per thread)."""
        if not self.targets:
            raise TargetError(E.ESRCH, "the program is not being run")
        if self.pending_stop() is not None:
            self.running = True  # report the stop we still owe before running anything
            return RESUMED
        todo: list[tuple[Target, dict[int, Action], Action | None]] = []
        for t in self.targets.values():
            if not hasattr(t, "resume"):
                raise TargetError(E.EPERM, f"process {t.pid} cannot be resumed (read-only)")
            per: dict[int, Action] = {}
            default: Action | None = None
            tids = [th.tid for th in t.threads()]
            for action, th in actions:
                if th is None or (th.pid in (None, ALL) and th.tid == ALL) or \
                        (th.pid == t.pid and th.tid == ALL):
                    if default is None:
                        default = action
                    continue
                if th.pid not in (None, ALL, t.pid):
                    continue
                tid = th.tid
                if tid == ANY:
                    tid = self.current_tid(t)
                if tid in tids and tid not in per:
                    per[tid] = action
            if per or default is not None:
                todo.append((t, per, default))
        if not todo:
            raise TargetError(E.EINVAL, "vCont names no thread of this session")
        self.running = True
        self._resumed_at = self.progress()
        self.interrupt_pending = False  # a Ctrl-C held for an earlier run that stopped anyway
        for t, per, default in todo:
            self.resumed.add(t.pid)
            self.reported.pop(t.pid, None)
            t.resume(per, default)  # type: ignore[attr-defined]
        return RESUMED

    def request_interrupt(self) -> None:
        """Ctrl-C from gdb: at once, or after the program has run a little (see progress)."""
        if self.running and self.progress() - self._resumed_at < MIN_RUN:
            self.interrupt_pending = True
        else:
            self.interrupt()

    def tick(self, idle: bool) -> bool:
        """The machine ran (or went idle): take a pending Ctrl-C now? True if it was."""
        if self.interrupt_pending and (idle or self.progress() - self._resumed_at >= MIN_RUN):
            self.interrupt_pending = False
            self.interrupt()
            return True
        return False

    def interrupt(self) -> None:
        """Ctrl-C: stop the resumed targets (SIGINT)."""
        self.interrupt_pending = False
        if not self.running:
            return
        for pid in list(self.resumed):
            t = self.targets.get(pid)
            fn = getattr(t, "interrupt", None)
            if fn is not None:
                fn()

    # --------------------------------------------------------------- close
    def close(self) -> None:
        """The connection ended: kill what we started, detach what we attached."""
        if self.closed:
            return
        self.closed = True
        for pid, t in list(self.targets.items()):
            try:
                if pid in self.created and hasattr(t, "kill"):
                    t.kill()
                elif hasattr(t, "detach"):
                    t.detach()
            except TargetError:
                pass
            self.remove_target(pid)
        for fd in self.vfile_fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.vfile_fds.clear()


_class_caps: dict[type, frozenset[str]] = {}


def probe_class(cls: type) -> frozenset[str]:
    """Capabilities of a target class, by its methods (for qSupported before `run`)."""
    c = _class_caps.get(cls)
    if c is None:
        from afgdb.targets.caps import CAPABILITIES

        names = set()
        for cap in CAPABILITIES:
            members = [m for m in vars(cap) if not m.startswith("_")]
            if all(hasattr(cls, m) for m in members if callable(getattr(cap, m, None))):
                names.add(cap.__name__)
        c = _class_caps[cls] = frozenset(names)
    return c
