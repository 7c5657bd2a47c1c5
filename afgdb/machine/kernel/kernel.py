"""The simulated kernel: process table, scheduler, system call dispatch, virtual clock.

Deterministic by construction: LWPs run in instruction-count slices in a
fixed order, the clock advances with executed instructions (and jumps over
idle time when everything sleeps), and nothing reads host time or host
randomness on behalf of the guest.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import deque
from typing import Any, Callable, TextIO

from afgdb.machine.cpu import engine, isa
from afgdb.machine.cpu.state import CPU
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.errors import NoReturn, SyscallError, WouldBlock
from afgdb.machine.kernel.files import BufferStream, FDTable, File, HostStream
from afgdb.machine.kernel.kern_resource import RLIMIT_CPU, MachineLimits, charge_cpu
from afgdb.machine.kernel.proc import LSRUN, LSSLEEP, LSSTOP, LSZOMB, LWP, SACTIVE, Proc
from afgdb.machine.kernel.vfs import Vfs
from afgdb.machine.memory import AddressSpace, PagePool

NS_PER_INSN = 10  # the virtual CPU runs at 100 MHz
BOOT_EPOCH_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z, the guest's boot time
SLICE = 50_000  # instructions per scheduling quantum


class DebugHooks:
    """What a debugger attached to a process wants to hear about (the stub implements it).

    Every hook returns True when the process must stop for the debugger.
    """

    def on_syscall_entry(self, lwp: LWP, nr: int) -> bool:
        return False

    def on_syscall_exit(self, lwp: LWP, nr: int) -> bool:
        return False

    def on_signal(self, lwp: LWP, sig: int) -> bool:
        return False

    def on_stop_event(self, lwp: LWP, ex: engine.Exit) -> bool:
        return False

    def on_exit(self, proc: Proc) -> None:
        pass

    def on_fork(self, parent: LWP, child: Proc, kind: str) -> bool:
        return False

    def on_exec(self, lwp: LWP) -> bool:
        return False

    def on_clone(self, parent: LWP, child: LWP) -> bool:
        return False

    def on_run(self, lwp: LWP) -> bool:
        """Called before lwp runs a slice; True: the hook stopped it (it must not run)."""
        return False


_TABLE: dict[int, Any] | None = None


def _syscall_table() -> dict[int, Any]:
    """syscalls.TABLE (imported on first use: the handlers' modules import this one)."""
    global _TABLE
    if _TABLE is None:
        from afgdb.machine.kernel.syscalls import TABLE

        _TABLE = TABLE
    return _TABLE


class Kernel:
    def __init__(self, root: str, *, stdin: File | None = None, stdout: File | None = None,
                 stderr: File | None = None, trace: TextIO | None = None,
                 hostname: str = "afgdb", limits: MachineLimits | None = None) -> None:
        self.vfs = Vfs(root)
        self.limits = limits or MachineLimits()
        self.pages = PagePool(self.limits.max_pages)  # every process's frames come from here
        self.procs: dict[int, Proc] = {}
        self.next_pid = 1
        self.runq: deque[LWP] = deque()
        self.sleepers: dict[object, list[LWP]] = {}
        self.timed: list[LWP] = []
        self.insns = 0  # instructions executed by the whole machine
        self.idle_ns = 0  # clock jumps taken while everything slept
        self.stdio = (stdin or HostStream(0, 0), stdout or HostStream(1, 1),
                      stderr or HostStream(2, 1))
        self.trace = trace
        self.hostname = hostname
        self.unknown_logged: set[int] = set()
        self.log: Callable[[str], None] = lambda msg: print(f"afgdb: {msg}", file=sys.stderr)
        self.current: LWP | None = None
        self.stopped_for_debugger: list[tuple[LWP, Any]] = []
        self.on_proc_exit: list[Callable[[Proc], None]] = []
        self.extensions: dict[str, Any] = {}  # later subsystems hang their state here
        # How LWPs execute: the block engine, or the reference interpreter (same contract).
        self.cpu_run: Callable[..., engine.Exit] = engine.run
        self.init = self._make_init()

    # ------------------------------------------------------------- clock
    @property
    def clock_ns(self) -> int:
        """Nanoseconds since boot on the virtual clock."""
        return self.insns * NS_PER_INSN + self.idle_ns

    def realtime_ns(self) -> int:
        return BOOT_EPOCH_NS + self.clock_ns

    def random_bytes(self, n: int, salt: bytes) -> bytes:
        """Deterministic 'random' bytes (AT_RANDOM, getrandom): a hash of the machine state."""
        out = b""
        i = 0
        while len(out) < n:
            # The counter's first 256 values keep the one-byte form (stable AT_RANDOM);
            # longer requests (getrandom of more than 8 KiB) go on with four bytes.
            ctr = i.to_bytes(1 if i < 256 else 4, "little")
            out += hashlib.sha256(salt + self.insns.to_bytes(8, "little") + ctr).digest()
            i += 1
        return out[:n]

    # --------------------------------------------------------- processes
    def alloc_pid(self) -> int:
        while self.next_pid in self.procs:
            self.next_pid += 1
        pid = self.next_pid
        self.next_pid += 1
        return pid

    def new_proc(self, ppid: int, aspace: AddressSpace, fds: FDTable,
                 cache: engine.CodeCache | None = None) -> Proc:
        pid = self.alloc_pid()
        p = Proc(pid=pid, ppid=ppid, aspace=aspace, cache=cache or engine.CodeCache(aspace),
                 fds=fds)
        p.pgid = p.sid = pid
        p.start_ns = self.clock_ns
        self.procs[pid] = p
        parent = self.procs.get(ppid)
        if parent is not None:
            parent.children.append(p)
        return p

    def new_lwp(self, p: Proc, cpu: CPU, name: str = "") -> LWP:
        lid = p.pid if not p.lwps else self.alloc_pid()
        if lid != p.pid:
            self.procs.setdefault(lid, p)  # thread ids share the pid space, as in Linux
        t = LWP(lid=lid, proc=p, cpu=cpu, name=name or p.comm)
        p.lwps.append(t)
        self.make_runnable(t)
        self.kmem_hook("sync")  # a new process or thread (kmem.py)
        return t

    def _make_init(self) -> Proc:
        """pid 1: the parent of spawned programs and of orphans; it reaps every child.

        It runs no guest code (no LWPs); ignoring SIGCHLD makes its children vanish on
        exit, as an init that waits for everything would.
        """
        from afgdb.machine.kernel.proc import SigAction

        init = self.new_proc(0, AddressSpace(), FDTable())
        init.comm = "init"
        init.exe = "/sbin/init"
        init.argv = [b"init"]
        init.sigactions[signals.SIGCHLD] = SigAction(handler=signals.SIG_IGN)
        return init

    def spawn(self, path: str, argv: list[str], envp: list[str] | None = None,
              uid: int = 0, gid: int = 0, ppid: int = 1) -> Proc:
        """Create a process running path (a guest path), as init would."""
        from afgdb.machine.kernel import sys_exec

        fds = FDTable()
        for i, f in enumerate(self.stdio):
            fds.set(i, f)
        p = self.new_proc(ppid, AddressSpace(pool=self.pages), fds)
        p.uid = p.euid = p.suid = uid
        p.gid = p.egid = p.sgid = gid
        t = self.new_lwp(p, CPU())
        try:
            sys_exec.do_execve(self, t, path, [a.encode() for a in argv],
                               [e.encode() for e in (envp or [])])
        except SyscallError:
            self.procs.pop(p.pid, None)
            if t in self.runq:
                self.runq.remove(t)
            raise
        return p

    def proc_of(self, pid: int) -> Proc | None:
        p = self.procs.get(pid)
        return p if p is not None and p.pid == pid else None

    def lwp_of(self, tid: int) -> LWP | None:
        p = self.procs.get(tid)
        if p is None:
            return None
        for t in p.lwps:
            if t.lid == tid:
                return t
        return None

    # -------------------------------------------------------- scheduling
    def make_runnable(self, t: LWP) -> None:
        if t.state == LSZOMB:
            return
        t.state = LSRUN
        t.wchan = None
        t.wakeup_at = None
        if t not in self.runq:
            self.runq.append(t)
        self.kmem_hook("lwp_state", t)

    def sleep(self, t: LWP, wchan: object, deadline: int | None) -> None:
        t.state = LSSLEEP
        t.wchan = wchan
        t.wakeup_at = deadline
        self.sleepers.setdefault(wchan, []).append(t)
        if deadline is not None:
            self.timed.append(t)
        self.kmem_hook("lwp_state", t)

    def wakeup(self, wchan: object) -> None:
        """Wake every LWP sleeping on wchan (they re-run their system call)."""
        for t in self.sleepers.pop(wchan, []):
            if t.state == LSSLEEP and t.wchan == wchan:
                if t in self.timed:
                    self.timed.remove(t)
                self.make_runnable(t)

    def unsleep(self, t: LWP) -> None:
        if t.state != LSSLEEP:
            return
        lst = self.sleepers.get(t.wchan)
        if lst and t in lst:
            lst.remove(t)
        if t in self.timed:
            self.timed.remove(t)
        self.make_runnable(t)

    def _expire_timers(self) -> None:
        now = self.clock_ns
        for t in [t for t in self.timed if t.wakeup_at is not None and t.wakeup_at <= now]:
            self.unsleep(t)
        hook = self.extensions.get("timers")
        if hook is not None:
            hook(now)

    def runnable(self) -> bool:
        return bool(self.runq)

    def next_deadline(self) -> int | None:
        ds = [t.wakeup_at for t in self.timed if t.wakeup_at is not None]
        hook = self.extensions.get("next_timer")
        if hook is not None:
            d = hook()
            if d is not None:
                ds.append(d)
        return min(ds) if ds else None

    def run(self, budget: int, deadline: float | None = None) -> int:
        """Run the machine for up to budget instructions; returns how many ran.

        Returns early when nothing is runnable (all exited, blocked on the host,
        or stopped for a debugger), and, given a host deadline (time.perf_counter),
        once it has passed (checked between quanta and before translating code).
        When every LWP sleeps on the virtual clock, the clock jumps to the earliest
        deadline. Where a call returns does not change the schedule.
        """
        start = self.insns
        runq = self.runq
        ext = self.extensions
        while self.insns - start < budget:
            if deadline is not None and time.perf_counter() > deadline:
                break
            # An LWP whose quantum the last call's budget cut goes on first, as if that
            # call had not ended: the schedule does not depend on how callers slice time.
            resumed = bool(runq) and runq[0].slice_left > 0
            if not resumed and (self.timed or "timers" in ext):
                self._expire_timers()
            if not runq:
                d = self.next_deadline()
                if d is None:
                    break
                if d > self.clock_ns:
                    self.idle_ns += d - self.clock_ns
                continue
            t = runq.popleft()
            left, t.slice_left = t.slice_left, 0
            if t.state != LSRUN:
                continue
            p = t.proc
            tracer = p.tracer
            if tracer is not None and isinstance(tracer, DebugHooks) and tracer.on_run(t):
                continue
            self.current = t
            want = left or SLICE
            quantum = min(want, budget - (self.insns - start))
            c = t.cpu
            before = c.icount
            # Nothing is deliverable without a pending signal. Going on with a cut quantum,
            # one can be pending only from outside the guest (the debugger, the host):
            # no other LWP has run since, and timers wait for the quantum's end.
            if t.pending:
                signals.deliver_pending(self, t)
                if t.state != LSRUN:
                    self.current = None
                    continue
            if deadline is not None:
                p.cache.deadline = deadline
            ex = self.cpu_run(c, p.cache, quantum)
            p.cache.deadline = 0.0
            ran = c.icount - before
            self.insns += ran
            self.current = None
            if ex.reason == engine.X_BUDGET and ran < want and t.state == LSRUN:
                # Cut by the budget or the deadline: the rest comes first next call.
                t.slice_left = want - ran
                runq.appendleft(t)
            else:
                if ex.reason != engine.X_BUDGET:
                    self._handle_exit(t, ex)
                if RLIMIT_CPU in p.rlimits:
                    charge_cpu(self, p, NS_PER_INSN)
                if t.state == LSRUN:
                    if t.pending:
                        signals.deliver_pending(self, t)  # on the way back to user mode, as Linux does
                    if t.state == LSRUN and t not in runq:
                        runq.append(t)
            km = ext.get("kmem")
            if km is not None:
                km.switch(t)  # t left the CPU (or the machine stops here): pid 0's view (kmem.py)
        return self.insns - start

    def run_until_exit(self, p: Proc, limit: int | None = None,
                       progress: Callable[[int], None] | None = None) -> int:
        """Run until p has exited (used by `afgdb run`); returns its wait status.
        progress, if given, hears how many instructions ran after each slice."""
        total = 0
        while p.state == SACTIVE or p.state == "stopped":
            n = self.run(1_000_000)
            total += n
            if progress is not None:
                progress(n)
            if n == 0 and not self.runq and self.next_deadline() is None:
                if p.state in (SACTIVE, "stopped"):
                    self.log("deadlock: every thread is blocked and no timer is pending")
                    signals.kill_process(self, p, signals.SIGKILL)
                break
            if limit is not None and total >= limit:
                break
        return p.exit_status

    def step_lwp(self, t: LWP) -> engine.Exit:
        """Run one unit of t (an instruction, or a branch and its delay slot) and act on
        how it ended, as a slice would: the debugger's single step."""
        c = t.cpu
        before = c.icount
        ex = self.cpu_run(c, t.proc.cache, 1, step=True)
        self.insns += c.icount - before
        self.current = t
        try:
            self._handle_exit(t, ex)
        finally:
            self.current = None
        self.kmem_hook("switch", t)
        return ex

    def kmem_hook(self, name: str, *args: Any) -> None:
        """Tell kernel memory (pid 0's view, afgdb.machine.kernel.kmem) what changed."""
        km = self.extensions.get("kmem")
        if km is not None:
            getattr(km, name)(*args)

    # ----------------------------------------------------------- events
    def _handle_exit(self, t: LWP, ex: engine.Exit) -> None:
        tracer = t.proc.tracer
        if ex.reason == engine.X_BUDGET:
            return
        if ex.reason == engine.X_EVENT and ex.event == isa.EV_SYSCALL:
            self.current = t  # handlers that need the caller beyond their arguments
            try:
                self.syscall(t)
            finally:
                self.current = None
            return
        if isinstance(tracer, DebugHooks) and tracer.on_stop_event(t, ex):
            return
        signals.fault_to_signal(self, t, ex)

    def syscall(self, t: LWP) -> None:
        c = t.cpu
        r = c.r
        nr = r[2]
        handler = _syscall_table().get(nr)
        tracer = t.proc.tracer
        if tracer is not None and isinstance(tracer, DebugHooks) and t.in_syscall != nr \
                and tracer.on_syscall_entry(t, nr):
            t.in_syscall = nr
            return  # re-dispatched when the debugger resumes (pc still at the syscall)
        t.in_syscall = nr
        args = [r[4], r[5], r[6], r[7]]
        nargs = handler.nargs if handler is not None else 4
        if nargs > 4:
            try:
                args += [t.proc.aspace.read_u32((r[29] + 16 + 4 * i) & 0xFFFFFFFF)
                         for i in range(nargs - 4)]
            except Exception:
                args += [0] * (nargs - 4)
        c.pc = (c.pc + 4) & 0xFFFFFFFF
        try:
            if handler is None:
                if nr not in self.unknown_logged:
                    self.unknown_logged.add(nr)
                    name = E.SYSCALL_NAMES.get(nr - E.SYSCALL_BASE, "?")
                    self.log(f"pid {t.proc.pid}: unimplemented system call {nr} ({name}): ENOSYS")
                raise SyscallError(E.ENOSYS)
            try:
                res = handler.fn(self, t, *args[:nargs])
            except (SyscallError, WouldBlock, NoReturn):
                raise
            except Exception as e:  # a kernel bug must not take the machine down
                self.log(f"pid {t.proc.pid}: internal error in {handler.name}: "
                         f"{type(e).__name__}: {e}; returning EIO")
                raise SyscallError(E.EIO) from e
        except WouldBlock as wb:
            c.pc = (c.pc - 4) & 0xFFFFFFFF  # re-run the call when woken
            self.sleep(t, wb.wchan, wb.deadline)
            return
        except NoReturn:
            t.in_syscall = -1
            if self.trace and handler is not None:
                self._trace(t, handler, args, None, None)
            return
        except SyscallError as e:
            r[2] = e.errno
            r[7] = 1
            if self.trace:
                self._trace(t, handler, args, None, e.errno)
        else:
            r[2] = res & 0xFFFFFFFF
            r[7] = 0
            if self.trace and handler is not None:
                self._trace(t, handler, args, res, None)
        t.in_syscall = -1
        if tracer is not None and isinstance(tracer, DebugHooks) and t.state == LSRUN:
            tracer.on_syscall_exit(t, nr)

    def _trace(self, t: LWP, handler: Any, args: list[int], res: int | None,
               err: int | None) -> None:
        assert self.trace is not None
        name = handler.name if handler else E.SYSCALL_NAMES.get(t.cpu.r[2] - E.SYSCALL_BASE, "?")
        shown = handler.format_args(self, t, args) if handler else ", ".join(map(hex, args))
        if err is not None:
            out = f"-1 {E.ERRNO_NAMES.get(err, err)}"
        elif res is None:
            out = "?"
        else:
            out = str(res - (1 << 32) if res & 0x80000000 and res > 0xFFFFF000 else res)
        print(f"{t.proc.pid} {name}({shown}) = {out}", file=self.trace)

    # ------------------------------------------------------------ stdio
    def capture_stdio(self) -> BufferStream:
        """Replace the host stdio for new processes with a buffer (the server uses it)."""
        buf = BufferStream(2)
        self.stdio = (buf, buf, buf)
        return buf


__all__ = ["Kernel", "DebugHooks", "LWP", "Proc", "LSRUN", "LSSLEEP", "LSSTOP"]
