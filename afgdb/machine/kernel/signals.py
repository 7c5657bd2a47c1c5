"""Signals: posting, default actions, delivery to handlers, and process exit (kern_sig.c).

Linux MIPS numbering (SIGBUS is 10, SIGCHLD 18, SIGSTOP 23, ...).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from afgdb.machine.cpu import engine, isa
from afgdb.machine.kernel.proc import LSRUN, LSSLEEP, LSSTOP, LSZOMB, LWP, SZOMB, Proc
from afgdb.machine.memory import USER_TOP, OutOfMemory

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.memory import AddressSpace

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGEMT, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGKILL, SIGBUS, SIGSEGV, SIGSYS, SIGPIPE, SIGALRM, SIGTERM = 9, 10, 11, 12, 13, 14, 15
SIGUSR1, SIGUSR2, SIGCHLD, SIGPWR, SIGWINCH, SIGURG, SIGIO = 16, 17, 18, 19, 20, 21, 22
SIGSTOP, SIGTSTP, SIGCONT, SIGTTIN, SIGTTOU, SIGVTALRM, SIGPROF = 23, 24, 25, 26, 27, 28, 29
SIGXCPU, SIGXFSZ = 30, 31

NAMES = {v: k for k, v in dict(globals()).items() if k.startswith("SIG") and isinstance(v, int)}

CORE = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGEMT, SIGFPE, SIGBUS, SIGSEGV, SIGSYS, SIGXCPU,
        SIGXFSZ}
IGNORE = {SIGCHLD, SIGPWR, SIGWINCH, SIGURG, SIGCONT}
STOP = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}
UNCATCHABLE = {SIGKILL, SIGSTOP}

# si_code values
SI_USER, SI_TKILL, SI_KERNEL = 0, -6, 0x80
SEGV_MAPERR, SEGV_ACCERR = 1, 2
BUS_ADRALN = 1
ILL_ILLOPC, ILL_PRVREG = 1, 6
FPE_INTDIV, FPE_INTOVF, FPE_FLTINV = 1, 2, 7
TRAP_BRKPT = 1

SIG_DFL, SIG_IGN = 0, 1
NSIG_MAX = 127


def bit(sig: int) -> int:
    return 1 << (sig - 1)


def post(k: Kernel, t: LWP, sig: int, code: int = SI_USER, addr: int = 0, sender: int = 0
         ) -> None:
    """Make sig pending on thread t, waking it if it sleeps interruptibly."""
    if sig >= 32 or not t.pending & bit(sig):  # a pending standard signal keeps its first info
        t.siginfo[sig] = (code, addr, sender)
    t.pending |= bit(sig)
    if sig in (SIGKILL, SIGCONT):
        for u in t.proc.lwps:
            if u.state == LSSTOP:
                k.make_runnable(u)
        if sig == SIGCONT:
            continue_process(k, t.proc)
    if t.state == LSSLEEP and (not t.sigmask & bit(sig) or sig in UNCATCHABLE
                               or t.sigwait & bit(sig)):
        k.unsleep(t)


def force(k: Kernel, t: LWP, sig: int, info: tuple[int, int, int]) -> None:
    """A signal that t can neither catch, block nor ignore (Linux's force_sig_seccomp with
    HANDLER_EXIT): its default action (death, with core for SIGSYS) is taken, with this
    info, on t's way back to user mode. A debugger still sees it first."""
    t.forced[sig] = info
    post(k, t, sig, *info)
    t.siginfo[sig] = info  # over any earlier pending instance's info


def ignored(p: Proc, sig: int) -> bool:
    """A signal the process would discard on arrival (ignored and not blocked, not traced)."""
    if sig in UNCATCHABLE or p.tracer is not None:
        return False
    act = p.sigactions.get(sig)
    handler = act.handler if act else SIG_DFL
    if not (handler == SIG_IGN or (handler == SIG_DFL and sig in IGNORE)):
        return False
    live = p.live_lwps()
    return not live or not live[0].sigmask & bit(sig)


def post_proc(k: Kernel, p: Proc, sig: int, code: int = SI_USER, sender: int = 0) -> None:
    """A process-directed signal goes to the first thread that does not block it."""
    live = p.live_lwps()
    if not live:
        return
    target = next((t for t in live if not t.sigmask & bit(sig)), live[0])
    post(k, target, sig, code, 0, sender)


def deliver_pending(k: Kernel, t: LWP) -> None:
    """Act on t's deliverable pending signals before it runs (lowest number first)."""
    while True:
        deliverable = t.pending & ~t.sigmask | (t.pending & (bit(SIGKILL) | bit(SIGSTOP)))
        if t.forced:
            deliverable |= t.pending & sum(bit(s) for s in t.forced)
        if not deliverable:
            return
        sig = (deliverable & -deliverable).bit_length()
        t.pending &= ~bit(sig)
        info = t.siginfo.pop(sig, (SI_USER, 0, 0))
        forced = t.forced.get(sig) if t.forced else None
        if forced is not None:
            info = forced  # kept across a debugger's stop and re-post
        tracer = t.proc.tracer
        if tracer is not None and sig != SIGKILL and tracer.on_signal(t, sig):  # type: ignore[attr-defined]
            return  # the debugger decides; it re-posts or drops the signal
        act = t.proc.sigactions.get(sig)
        handler = act.handler if act else SIG_DFL
        if sig in UNCATCHABLE or forced is not None:
            handler = SIG_DFL
            t.forced.pop(sig, None)
        if handler == SIG_IGN:
            continue
        if handler == SIG_DFL:
            if sig in IGNORE:
                continue
            if sig in STOP:
                stop_process(k, t.proc, sig)
                return
            prev, k.current = k.current, t  # the core's first thread is the one signalled
            try:
                kill_process(k, t.proc, sig, core=sig in CORE, info=info)
            finally:
                k.current = prev
            return
        from afgdb.machine.kernel import sigframe

        sigframe.setup(k, t, sig, info, act)  # type: ignore[arg-type]


def stop_process(k: Kernel, p: Proc, sig: int) -> None:
    for u in p.live_lwps():
        if u.state == LSSLEEP:
            k.unsleep(u)
        u.state = LSSTOP
    p.state = "stopped"
    p.exit_status = (sig << 8) | 0x7F
    p.stop_unreported = True
    p.cont_unreported = False
    notify_parent(k, p, stopped=True)
    k.kmem_hook("sync")  # LWPs stopped (kmem.py)


def continue_process(k: Kernel, p: Proc) -> None:
    if p.state == "stopped":
        p.state = "active"
        p.stop_unreported = False
        p.cont_unreported = True
        for u in p.live_lwps():
            if u.state == LSSTOP:
                k.make_runnable(u)
        notify_parent(k, p, stopped=True, code=6)  # CLD_CONTINUED
        k.kmem_hook("sync")


def fault_to_signal(k: Kernel, t: LWP, ex: engine.Exit) -> None:
    """A CPU exception becomes a synchronous signal to the thread that caused it."""
    c = t.cpu
    if ex.reason == engine.X_FAULT and ex.fault is not None:
        f = ex.fault
        if isinstance(f, OutOfMemory):  # the page pool is empty: the OOM killer's verdict
            k.log(f"pid {t.proc.pid}: out of memory, killed")
            kill_process(k, t.proc, SIGKILL)
            return
        sig, code, addr = SIGSEGV, SEGV_ACCERR if f.mapped else SEGV_MAPERR, f.addr
        fetch = not f.write and f.addr == ex.pc
        if f.addr >= USER_TOP or (fetch and f.addr & 3):
            # An address error, not a TLB fault: Linux's do_ade sends SIGBUS for a
            # kernel-segment access and for an unaligned instruction fetch.
            sig, code = SIGBUS, BUS_ADRALN
    elif ex.reason == engine.X_EVENT:
        ev = ex.event
        addr = ex.pc
        if ev == isa.EV_BREAK:
            sig, code = SIGTRAP, TRAP_BRKPT
            # break's code field 7 is gcc's divide-by-zero check -> SIGFPE, as Linux does
            try:
                word = t.proc.aspace.fetch(ex.pc)
                bcode = (word >> 16) & 0x3FF
                if bcode == 7:
                    sig, code = SIGFPE, FPE_INTDIV
                elif bcode == 6:
                    sig, code = SIGFPE, FPE_INTOVF
            except Exception:
                pass
            c.pc = ex.pc  # Linux reports the break's own address
        elif ev == isa.EV_TRAP:
            sig, code = SIGTRAP, TRAP_BRKPT
            try:
                word = t.proc.aspace.fetch(ex.pc)
                tcode = (word >> 6) & 0x3FF
                if tcode == 7:  # gcc -mcheck-zero-division emits teq ..., 7
                    sig, code = SIGFPE, FPE_INTDIV
                elif tcode == 6:
                    sig, code = SIGFPE, FPE_INTOVF
            except Exception:
                pass
        elif ev == isa.EV_OVERFLOW:
            sig, code = SIGFPE, FPE_INTOVF
        elif ev == isa.EV_FPE:
            sig, code = SIGFPE, FPE_FLTINV
        elif ev in (isa.EV_ADEL, isa.EV_ADES):
            sig, code, addr = SIGBUS, BUS_ADRALN, c.badvaddr
        elif ev == isa.EV_RESERVED:
            sig, code = SIGILL, ILL_ILLOPC
        else:
            sig, code = SIGILL, ILL_PRVREG
    else:
        return
    act = t.proc.sigactions.get(sig)
    # A synchronous signal that is blocked or ignored still kills (Linux force_sig).
    if t.sigmask & bit(sig) or (act is not None and act.handler == SIG_IGN):
        t.sigmask &= ~bit(sig)
        if act is not None:
            act.handler = SIG_DFL
    post(k, t, sig, code, addr)
    deliver_pending(k, t)


def exit_lwp(k: Kernel, t: LWP) -> None:
    """One thread ends (exit, not exit_group): CLONE_CHILD_CLEARTID and futex wake."""
    if t.state == LSZOMB:
        return
    if t.state == LSSLEEP:
        k.unsleep(t)
    t.state = LSZOMB
    if t in k.runq:
        k.runq.remove(t)
    if t.clear_child_tid and t.proc.state != SZOMB:
        with contextlib.suppress(Exception):
            t.proc.aspace.write_u32(t.clear_child_tid, 0)
        futex_wake = k.extensions.get("futex_wake")
        if futex_wake is not None:
            futex_wake(t.proc, t.clear_child_tid, 1)
    if t.lid != t.proc.pid and k.procs.get(t.lid) is t.proc:
        del k.procs[t.lid]
    if not t.proc.live_lwps() and t.proc.state != SZOMB:
        exit_process(k, t.proc, t.proc.exit_status)


def exit_process(k: Kernel, p: Proc, status: int) -> None:
    """The whole process ends with wait status word `status`."""
    if p.state == SZOMB or p.state == "dead":
        return
    p.exit_status = status
    p.state = SZOMB
    for t in p.lwps:
        if t.state != LSZOMB:
            if t.state == LSSLEEP:
                k.unsleep(t)
            t.state = LSZOMB
            if t in k.runq:
                k.runq.remove(t)
        p.lwp_icounts[t.lid] = t.cpu.icount
        p.icount_dead += t.cpu.icount
        t.cpu.icount = 0
        if t.lid != p.pid and k.procs.get(t.lid) is p:
            del k.procs[t.lid]
    for hook in list(p.exit_hooks):
        hook(p)
    p.fds.close_all()
    release_vm(k, p)
    p.cache.invalidate_all()
    for hook in list(k.on_proc_exit):
        hook(p)
    tracer = p.tracer
    if tracer is not None:
        tracer.on_exit(p)  # type: ignore[attr-defined]
    # Orphans go to init (pid 1), or vanish when there is none.
    init = k.proc_of(1)
    for child in p.children:
        child.ppid = 1 if init is not None and init is not p else 0
        if init is not None and init is not p:
            init.children.append(child)
    p.children = []
    notify_parent(k, p, stopped=False)
    k.kmem_hook("sync")  # a zombie, or reaped already (kmem.py)


def release_vm(k: Kernel, p: Proc,
               succ: tuple[AddressSpace, engine.CodeCache] | None = None) -> None:
    """Drop p's address space unless a vfork child or parent still runs in it; its
    translated code may be kept for the next exec of the program or fork of the parent.
    succ: the space and code an exec'ing p goes on with (p may be given them here)."""
    from afgdb.machine.kernel import image_cache, kern_fork, vm_reuse

    vm_reuse.unpin(p.fork_spare)
    p.fork_spare = None
    seen = False  # by a zombie that shared it: then it must not be reused
    for q in k.procs.values():
        if q is not p and q.aspace is p.aspace:
            if q.state in ("active", "stopped"):
                return
            seen = True
    if seen or not (image_cache.recycle(k, p, succ)
                    or kern_fork.keep_for_next_fork(k, p, succ)):
        p.aspace.release()


def notify_parent(k: Kernel, p: Proc, stopped: bool, code: int = 0) -> None:
    parent = k.proc_of(p.ppid)
    if parent is None:
        if not stopped and p.state == SZOMB:
            p.state = "dead"  # nobody will wait: reap at once
            k.procs.pop(p.pid, None)
        return
    act = parent.sigactions.get(SIGCHLD)
    nocldwait = act is not None and (act.handler == SIG_IGN or act.flags & 0x10000)
    if not stopped and nocldwait:
        p.state = "dead"
        k.procs.pop(p.pid, None)
        parent.children = [c for c in parent.children if c is not p]
    if not code:
        code = 5 if stopped else (1 if not p.exit_status & 0x7F
                                  else 3 if p.exit_status & 0x80 else 2)
    sig = SIGCHLD if stopped else p.exit_signal
    nocldstop = stopped and act is not None and act.flags & 1
    if sig and not nocldstop and not ignored(parent, sig):
        post_proc(k, parent, sig, code=code, sender=p.pid)
    k.wakeup(("wait", parent.pid))


def kill_process(k: Kernel, p: Proc, sig: int, core: bool = False,
                 info: tuple[int, int, int] = (SI_USER, 0, 0)) -> None:
    """Terminate p by signal sig (dumping core first when the action says so)."""
    if core:
        dumper = k.extensions.get("coredump")
        if dumper is not None:
            try:
                core = bool(dumper(p, sig, info))
            except Exception as e:  # a failing dump never takes the machine down
                k.log(f"pid {p.pid}: core dump failed: {e}")
                core = False
        else:
            core = True  # the status says "core dumped" as Linux with a core pattern would
    exit_process(k, p, sig | (0x80 if core else 0))


def is_running(t: LWP) -> bool:
    return t.state == LSRUN
