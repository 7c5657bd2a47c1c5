"""A simulated process as a debug target (all-stop): the ptrace of afgdb.

`ProcessTarget` holds one `Proc` of the machine: it is the process's
``tracer`` (it implements the kernel's `DebugHooks`), so breakpoints,
watchpoints, signals, caught system calls and exit stop the process and
are recorded as a stop event. When any thread stops, every thread of the
process stops (all-stop): running threads are set to ``LSSTOP`` and
remembered; sleeping threads keep sleeping and are held by ``on_run`` if
they wake while the process is stopped.

Single steps run here, synchronously, one unit (an instruction, or a
branch with its delay slot) through ``engine.run(step=True)``.

Must not: import anyio or anything of the stub; know packet formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from afgdb.arch import mips
from afgdb.machine.cpu import engine
from afgdb.machine.cpu.state import FIR_VALUE, HI, LO
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.kernel import DebugHooks
from afgdb.machine.kernel.proc import LSRUN, LSSLEEP, LSSTOP, LSZOMB, LWP, Proc
from afgdb.machine.memory import PAGE_SIZE, MemFault
from afgdb.targets.caps import (
    Action,
    Exited,
    Killed,
    StopEvent,
    Stopped,
    TargetError,
    ThreadInfo,
)

if TYPE_CHECKING:
    from afgdb.targets.system import System

SIGTRAP = signals.SIGTRAP
SIGINT = signals.SIGINT
SIGKILL = signals.SIGKILL
NR_VFORK = E.SYSCALL_BASE + 190
NR_CLONE = E.SYSCALL_BASE + 120
# A range step reports a stop after this many units anyway, and gdb steps on; the steps
# run inside one packet, so every connection waits for them (~0.1 s at most, ~0.4 s for
# 10 000 when their code is new to the translator).
MAX_RANGE_STEPS = 2_000

_WATCH_NAMES = {2: "watch", 3: "rwatch", 4: "awatch"}
# Every watchpoint change recomputes the watched pages of all of them: a bound keeps a
# client that inserts watchpoints in a loop from making that cost grow without end.
MAX_WATCHPOINTS = 64


def _wait_status_event(status: int) -> Exited | Killed:
    if status & 0x7F:
        return Killed(status & 0x7F)
    return Exited((status >> 8) & 0xFF)


class ProcessTarget(DebugHooks):
    """One debugged process of the simulated machine."""

    def __init__(self, system: System, proc: Proc, owner: str, created: bool) -> None:
        if proc.tracer is not None:
            raise TargetError(E.EBUSY, f"process {proc.pid} is already being debugged")
        self.system = system
        self.kernel = system.kernel
        self.proc = proc
        self.pid = proc.pid
        self.owner = owner
        self.created = created  # started for the debugger (killed when it leaves)
        self._event: StopEvent | None = None
        self._holding = False
        self._held: set[int] = set()  # lids this target set to LSSTOP
        self._resume_pc: dict[int, int] = {}
        self._deliver: dict[int, int] = {}  # lid -> signal to deliver without stopping
        self._step_on_return: set[int] = set()  # stepped into a blocking syscall
        self._pass: set[int] = set()
        self._catch: set[int] | None = None
        self._sw: set[int] = set()
        self._hw: set[int] = set()
        self._watch: list[tuple[int, int, int]] = []
        self._listener: Callable[[], None] | None = None
        # Events gdb asked to hear about (fork-events, vfork-events, exec-events,
        # QThreadEvents); a forked child is attached and waits here for the session.
        self._report_fork = False
        self._report_vfork = False
        self._report_exec = False
        self._exec_once = False  # the launcher: report its exec whatever gdb asked
        self._report_threads = False
        self._children: dict[int, ProcessTarget] = {}
        self._vfork_wait: set[int] = set()  # lids whose vfork was reported: vforkdone next
        proc.tracer = self

    # ------------------------------------------------------------- state
    @property
    def alive(self) -> bool:
        return self.proc.alive and not isinstance(self._event, (Exited, Killed))

    def stop_event(self) -> StopEvent | None:
        return self._event

    def set_stop_listener(self, fn: Callable[[], None] | None) -> None:
        self._listener = fn

    def _lwp(self, tid: int) -> LWP:
        for t in self.proc.lwps:
            if t.lid == tid and t.state != LSZOMB:
                return t
        if tid in (0, -1) or tid == self.pid:
            live = self.proc.live_lwps()
            if live:
                return live[0]
        raise TargetError(E.ESRCH, f"no thread {tid} in process {self.pid}")

    def _stop(self, event: StopEvent) -> None:
        """Stop every thread of the process and record why (all-stop)."""
        self._holding = True
        for t in self.proc.live_lwps():
            if t.state == LSRUN:
                t.state = LSSTOP
                if t in self.kernel.runq:
                    self.kernel.runq.remove(t)
                self._held.add(t.lid)
        if self._event is None or not isinstance(event, Stopped) or event.signal:
            self._event = event
        self.kernel.kmem_hook("sync")  # held LWPs show as stopped on pid 0
        if self._listener is not None:
            self._listener()

    def stop_at_start(self, signal: int) -> None:
        """Stop a process that has not run yet (or a running one, for attach)."""
        live = self.proc.live_lwps()
        tid = live[0].lid if live else self.pid
        self._stop(Stopped(tid, signal))

    # ----------------------------------------------------- DebugHooks
    def on_run(self, lwp: LWP) -> bool:
        if self._holding and not lwp.pending & signals.bit(SIGKILL):
            lwp.state = LSSTOP
            self._held.add(lwp.lid)
            self.kernel.kmem_hook("lwp_state", lwp)
            return True
        rp = self._resume_pc.pop(lwp.lid, None)
        pc = lwp.cpu.pc
        if pc in self.proc.cache.breakpoints and rp != pc:
            # A breakpoint at the first instruction of a slice (after a system call,
            # a slice boundary or a signal frame): the engine only checks later ones.
            self._stop(Stopped(lwp.lid, SIGTRAP, "swbreak" if pc in self._sw else "hwbreak"))
            return True
        return False

    def on_stop_event(self, lwp: LWP, ex: engine.Exit) -> bool:
        if ex.reason == engine.X_BREAKPOINT:
            reason = "swbreak" if ex.pc in self._sw else "hwbreak"
            self._stop(Stopped(lwp.lid, SIGTRAP, reason))
            return True
        if ex.reason == engine.X_WATCH and ex.watch is not None:
            addr, size, write = ex.watch
            kind = 2
            for waddr, wlen, wkind in self._watch:
                overlaps = addr < waddr + wlen and waddr < addr + size
                if overlaps and ((wkind == 2 and write) or (wkind == 3 and not write)
                                 or wkind == 4):
                    kind = wkind
                    break
            self._stop(Stopped(lwp.lid, SIGTRAP, _WATCH_NAMES[kind], addr))
            return True
        return False

    def on_signal(self, lwp: LWP, sig: int) -> bool:
        if self._deliver.get(lwp.lid) == sig:
            del self._deliver[lwp.lid]
            return False
        if sig in self._pass:
            return False
        self._stop(Stopped(lwp.lid, sig))
        return True

    def on_syscall_entry(self, lwp: LWP, nr: int) -> bool:
        if self._catch is not None and (not self._catch or nr in self._catch):
            self._stop(Stopped(lwp.lid, SIGTRAP, "syscall_entry", nr))
            return True
        return False

    def on_syscall_exit(self, lwp: LWP, nr: int) -> bool:
        if lwp.lid in self._vfork_wait and nr in (NR_VFORK, NR_CLONE):
            self._vfork_wait.discard(lwp.lid)  # the vfork child exec'd or exited
            if self._report_vfork:
                self._stop(Stopped(lwp.lid, SIGTRAP, "vforkdone"))
                return True
        if lwp.lid in self._step_on_return:
            self._step_on_return.discard(lwp.lid)
            self._stop(Stopped(lwp.lid, SIGTRAP))
            return True
        if self._catch is not None and (not self._catch or nr in self._catch):
            self._stop(Stopped(lwp.lid, SIGTRAP, "syscall_return", nr))
            return True
        return False

    def on_exit(self, proc: Proc) -> None:
        self._vfork_wait.clear()
        self._held.clear()
        self._holding = False
        self._event = _wait_status_event(proc.exit_status)
        proc.tracer = None
        if self._listener is not None:
            self._listener()

    def on_exec(self, lwp: LWP) -> bool:
        # The new image has a new code cache: the old breakpoint addresses mean nothing.
        self._sw.clear()
        self._hw.clear()
        self._watch.clear()
        self._vfork_wait.clear()
        report = self._report_exec or self._exec_once
        self._exec_once = False
        if report:
            self._stop(Stopped(lwp.lid, SIGTRAP, "exec"))
        return report

    def on_fork(self, parent: LWP, child: Proc, kind: str) -> bool:
        if not (self._report_vfork if kind == "vfork" else self._report_fork):
            return False  # not asked for: the child runs undebugged
        ct = ProcessTarget(self.system, child, self.owner, self.created)
        ct._inherit(self)
        ct.stop_at_start(0)  # quietly held: gdb learns of it from the fork event
        self._children[child.pid] = ct
        if kind == "vfork":
            self._vfork_wait.add(parent.lid)
        self._stop(Stopped(parent.lid, SIGTRAP, kind, child.pid))
        return True

    def on_clone(self, parent: LWP, child: LWP) -> bool:
        if not self._report_threads:
            return False
        self._stop(Stopped(child.lid, SIGTRAP, "create"))
        return True

    def _inherit(self, parent: ProcessTarget) -> None:
        """A forked child: the parent's settings, and its breakpoints (fork copied the
        memory they are in, so gdb takes them to be inserted in the child too)."""
        self._pass = set(parent._pass)
        self._catch = None if parent._catch is None else set(parent._catch)
        self._report_fork, self._report_vfork = parent._report_fork, parent._report_vfork
        self._report_exec = parent._report_exec
        self._report_threads = parent._report_threads
        self._sw, self._hw = set(parent._sw), set(parent._hw)
        self._watch = list(parent._watch)
        if self.proc.cache is not parent.proc.cache:  # fork; a vfork child shares them
            for addr in self._sw | self._hw:
                self.proc.cache.add_breakpoint(addr)
            if self._watch:
                self.proc.cache.set_watchpoints(self._watch)

    def take_child(self, pid: int) -> ProcessTarget | None:
        """The target of a child whose fork was reported (the session adopts it)."""
        return self._children.pop(pid, None)

    def report_forks(self, fork: bool, vfork: bool) -> None:
        self._report_fork, self._report_vfork = fork, vfork

    def report_execs(self, on: bool) -> None:
        self._report_exec = on

    def report_threads(self, on: bool) -> None:
        self._report_threads = on

    def expect_exec(self) -> None:
        """Report the next exec even if gdb did not ask (the launcher of `run`)."""
        self._exec_once = True

    def plain_stop(self) -> None:
        """Report the current stop as a plain SIGTRAP (a started program, as gdbserver)."""
        ev = self._event
        if isinstance(ev, Stopped):
            self._event = Stopped(ev.tid, SIGTRAP)

    # ------------------------------------------------------- threads
    def threads(self) -> list[ThreadInfo]:
        return [ThreadInfo(t.lid, t.name, self.thread_extra_info(t.lid))
                for t in self.proc.live_lwps()]

    def thread_extra_info(self, tid: int) -> str:
        t = self._lwp(tid)
        state = {LSRUN: "running", LSSLEEP: "sleeping", LSSTOP: "stopped"}.get(t.state, t.state)
        if t.in_syscall >= 0:
            name = E.SYSCALL_NAMES.get(t.in_syscall - E.SYSCALL_BASE, str(t.in_syscall))
            state += f" in {name}"
        return f"{t.name} {state}" if t.name else state

    # ----------------------------------------------------- registers
    def read_registers(self, tid: int) -> list[int | None]:
        c = self._lwp(tid).cpu
        vals: list[int | None] = list(c.r[:32])
        vals += [mips.USER_STATUS, c.r[LO], c.r[HI], c.badvaddr, 0, c.pc]
        vals += list(c.f)
        vals += [c.fcsr, FIR_VALUE, 0]
        return vals

    def write_register(self, tid: int, regnum: int, value: int) -> None:
        self._require_stopped()
        t = self._lwp(tid)
        c = t.cpu
        value &= 0xFFFFFFFF
        reg = mips.BY_NUM.get(regnum)
        if reg is None:
            raise TargetError(E.EINVAL, f"no register {regnum}")
        name = reg.name
        if name == "r0":
            return
        if name.startswith("r") and name[1:].isdigit():  # not "restart"
            c.r[int(name[1:])] = value
        elif name == "lo":
            c.r[LO] = value
        elif name == "hi":
            c.r[HI] = value
        elif name == "pc":
            c.pc = value
        elif name.startswith("f") and name[1:].isdigit():
            c.f[int(name[1:])] = value
        elif name == "fcsr":
            c.fcsr = value
        elif name == "badvaddr":
            c.badvaddr = value
        self.kernel.kmem_hook("lwp_changed", t)  # its trapframe on pid 0
        # status, cause, fir and restart are read-only here: writes are ignored
        # (gdb writes restart=0 with every pc change, as on a real Linux kernel).

    # -------------------------------------------------------- memory
    def read_memory(self, addr: int, length: int) -> bytes:
        if not self.proc.alive:
            raise TargetError(E.ESRCH, "the process has exited")
        aspace = self.proc.aspace
        out = bytearray()
        while length > 0:
            n = min(length, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            try:
                out += aspace.read(addr, n, check=False)
            except MemFault:
                break
            addr = (addr + n) & 0xFFFFFFFF
            length -= n
            if addr == 0:
                break
        if not out and length:
            raise TargetError(E.EFAULT, f"cannot read memory at {addr:#x}")
        return bytes(out)

    def write_memory(self, addr: int, data: bytes) -> None:
        if not self.proc.alive:
            raise TargetError(E.ESRCH, "the process has exited")
        try:
            self.proc.aspace.write(addr, data, check=False)
        except MemFault as e:
            raise TargetError(E.EFAULT, f"cannot write memory at {e.addr:#x}") from None

    # --------------------------------------------------- breakpoints
    def _sync_breakpoints(self, addr: int) -> None:
        cache = self.proc.cache
        if addr in self._sw or addr in self._hw:
            cache.add_breakpoint(addr)
        else:
            cache.remove_breakpoint(addr)

    def add_sw_breakpoint(self, addr: int, kind: int) -> None:
        if kind != 4:
            raise TargetError(E.EINVAL, f"breakpoint kind {kind}: only MIPS32 (4) is supported")
        self._sw.add(addr)
        self._sync_breakpoints(addr)

    def remove_sw_breakpoint(self, addr: int, kind: int) -> None:
        self._sw.discard(addr)
        self._sync_breakpoints(addr)

    def add_hw_breakpoint(self, addr: int, kind: int) -> None:
        self._hw.add(addr)
        self._sync_breakpoints(addr)

    def remove_hw_breakpoint(self, addr: int, kind: int) -> None:
        self._hw.discard(addr)
        self._sync_breakpoints(addr)

    def add_watchpoint(self, addr: int, length: int, kind: int) -> None:
        if length <= 0 or kind not in _WATCH_NAMES:
            raise TargetError(E.EINVAL, "bad watchpoint")
        if len(self._watch) >= MAX_WATCHPOINTS:
            raise TargetError(E.ENOSPC, f"at most {MAX_WATCHPOINTS} watchpoints per process")
        self._watch.append((addr, length, kind))
        self.proc.cache.set_watchpoints(self._watch)

    def remove_watchpoint(self, addr: int, length: int, kind: int) -> None:
        try:
            self._watch.remove((addr, length, kind))
        except ValueError:
            raise TargetError(E.ENOENT, "no such watchpoint") from None
        self.proc.cache.set_watchpoints(self._watch)

    # ------------------------------------------------------- options
    def pass_signals(self, sigs: set[int]) -> None:
        self._pass = set(sigs)

    def catch_syscalls(self, numbers: set[int] | None) -> None:
        self._catch = None if numbers is None else set(numbers)

    def exec_file(self) -> str:
        return self.proc.exe

    def auxv(self) -> bytes:
        return self.proc.auxv

    # --------------------------------------------------- run control
    def _require_stopped(self) -> None:
        if not self.proc.alive:
            raise TargetError(E.ESRCH, f"process {self.pid} has exited")

    def resume(self, actions: dict[int, Action], default: Action | None) -> None:
        self._require_stopped()
        live = self.proc.live_lwps()
        plan = {t.lid: actions.get(t.lid, default) for t in live}
        self._event = None
        for t in live:
            a = plan[t.lid]
            if a is not None and a.signal:
                signals.post(self.kernel, t, a.signal)
                self._deliver[t.lid] = a.signal
        stepper = next((t for t in live if (a := plan[t.lid]) is not None
                        and a.kind in ("s", "r")), None)
        if stepper is not None:
            a = plan[stepper.lid]
            assert a is not None
            self._holding = True
            if self._step(stepper, a):
                return  # the step ended in a stop (the usual case)
        self._holding = False
        for t in live:
            a = plan[t.lid]
            if a is None or a.kind == "t":
                continue
            self._resume_pc[t.lid] = t.cpu.pc
            if t.lid in self._held:
                self._held.discard(t.lid)
                if t.state == LSSTOP:
                    self.kernel.make_runnable(t)
        self.system.kick()

    def _step(self, t: LWP, a: Action) -> bool:
        """Step t (one unit, or while pc stays in the range); True if it stopped."""
        k = self.kernel
        if t.state == LSSTOP:
            t.state = LSRUN
            self._held.discard(t.lid)
        signals.deliver_pending(k, t)
        steps = 0
        while True:
            if self._event is not None:
                return True
            if t.state != LSRUN:
                break
            c = t.cpu
            k.step_lwp(t)
            steps += 1
            if self._event is not None:
                return True
            if t.state != LSRUN:
                break
            if a.kind != "r" or not a.start <= c.pc < a.end or steps >= MAX_RANGE_STEPS:
                self._stop(Stopped(t.lid, SIGTRAP))
                return True
        if t.state == LSSLEEP:
            # Stepped into a blocking system call: the step ends when it returns.
            self._step_on_return.add(t.lid)
            return False
        if self._event is None and self.proc.alive:
            self._stop(Stopped(t.lid, SIGTRAP))
        return True

    def interrupt(self) -> None:
        if self._event is None and self.proc.alive:
            live = self.proc.live_lwps()
            self._stop(Stopped(live[0].lid if live else self.pid, SIGINT))

    def halt(self) -> None:
        if self._event is None and self.proc.alive:
            live = self.proc.live_lwps()
            self._stop(Stopped(live[0].lid if live else self.pid, 0))

    def kill(self) -> None:
        if self.proc.alive:
            signals.kill_process(self.kernel, self.proc, SIGKILL)
        self.system.kick()

    def detach(self) -> None:
        """Forget every breakpoint and let the process run on (undelivered stops are dropped)."""
        cache = self.proc.cache
        for addr in self._sw | self._hw:
            cache.remove_breakpoint(addr)
        self._sw.clear()
        self._hw.clear()
        self._watch.clear()
        cache.set_watchpoints([])
        if self.proc.tracer is self:
            self.proc.tracer = None
        self._holding = False
        for t in self.proc.live_lwps():
            if t.lid in self._held and t.state == LSSTOP:
                self.kernel.make_runnable(t)
        self._held.clear()
        self._listener = None
        for child in list(self._children.values()):  # forks the session never adopted
            child.detach()
        self._children.clear()
        self.system.kick()
