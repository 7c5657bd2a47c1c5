"""Signal system calls (kern_sig.c): kill/tkill/tgkill, sigqueue, sigreturn, sigaltstack,
sigsuspend/pause, sigpending, sigtimedwait, and ITIMER_REAL/alarm on the virtual clock.

Posting, default actions and process exit live in ``signals.py``; the frame
layout in ``sigframe.py``. This module also decides what happens to a system
call that a handled signal interrupts (``syscall_interrupted``): it is
restarted (SA_RESTART, or calls Linux always restarts) or returns EINTR.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import sigframe, signals
from afgdb.machine.kernel.errors import NoReturn, SyscallError, WouldBlock
from afgdb.machine.kernel.proc import LWP, Proc, SigAction
from afgdb.machine.kernel.uaccess import copyin, copyout
from afgdb.machine.memory import MemFault

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel

B = E.SYSCALL_BASE
# Calls that return EINTR after a handler even with SA_RESTART (Linux's
# ERESTARTNOHAND / ERESTART_RESTARTBLOCK / plain EINTR cases).
NO_RESTART = {B + n for n in (29, 72, 166, 199, 197, 421, 265, 407, 188, 302, 414, 142, 301,
                              413, 250, 313)}
# Calls whose sleep is not interruptible: re-run after the handler (vfork's wait).
ALWAYS_RESTART = {B + 2, B + 120}
SYSCALL_INSN = 0x0000000C
UNSTOPPABLE = signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP)
MINSIGSTKSZ = 2048
_M32 = 0xFFFFFFFF


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _sigset(t: LWP, addr: int, size: int) -> int:
    if size != 16:
        raise SyscallError(E.EINVAL)
    lo, hi = struct.unpack("<QQ", copyin(t, addr, 16))
    return int(lo | (hi << 64))


def _put_sigset(t: LWP, addr: int, s: int) -> None:
    copyout(t, addr, struct.pack("<QQ", s & ((1 << 64) - 1), s >> 64))


def deliverable(t: LWP) -> int:
    return t.pending & ~t.sigmask | (t.pending & UNSTOPPABLE)


# ------------------------------------------------------ interrupted calls
def syscall_interrupted(k: Kernel, t: LWP, act: SigAction) -> None:
    """t was asleep in a system call when a handled signal arrived: EINTR or restart."""
    nr = t.in_syscall
    if nr < 0:
        return
    c = t.cpu
    try:
        word = t.proc.aspace.read_u32(c.pc)
    except MemFault:
        return
    if word & 0xFC00003F != SYSCALL_INSN or c.r[2] != nr:
        return  # not parked on the call (it completed, or a debugger moved it)
    t.in_syscall = -1
    from afgdb.machine.kernel import futex

    futex.cancel(k, t)
    t.sigwait = 0
    remaining = None
    if t.sleep_deadline is not None:
        remaining = max(0, t.sleep_deadline - k.clock_ns)
        t.sleep_deadline = None
    if nr in ALWAYS_RESTART or (act.flags & sigframe.SA_RESTART and nr not in NO_RESTART):
        return  # pc still at the syscall: it runs again when the handler returns
    if remaining is not None:
        _write_rem(t, nr, remaining)
    c.r[2] = E.EINTR
    c.r[7] = 1
    c.pc = (c.pc + 4) & _M32


def _write_rem(t: LWP, nr: int, ns: int) -> None:
    c = t.cpu
    try:
        if nr == B + 166 and c.r[5]:
            copyout(t, c.r[5], struct.pack("<ii", ns // 10**9, ns % 10**9))
        elif nr == B + 265 and c.r[7] and not c.r[5] & 1:
            copyout(t, c.r[7], struct.pack("<ii", ns // 10**9, ns % 10**9))
        elif nr == B + 407 and c.r[7] and not c.r[5] & 1:
            copyout(t, c.r[7], struct.pack("<qq", ns // 10**9, ns % 10**9))
    except SyscallError:
        pass


# ----------------------------------------------------------------- posting
def psignal(k: Kernel, p: Proc, sig: int, code: int = signals.SI_USER, value: int = 0,
            sender: int = 0) -> None:
    """Send a process-directed signal (kill), with stop/continue side effects."""
    if sig == 0 or not p.alive:
        return
    _stop_cont_effects(k, p, sig)
    if signals.ignored(p, sig):
        return
    live = p.live_lwps()
    if not live:
        return
    b = signals.bit(sig)
    target = next((u for u in live if not u.sigmask & b), None)
    if target is None:
        target = next((u for u in live if u.sigwait & b), live[0])
    signals.post(k, target, sig, code, value, sender)


def tsignal(k: Kernel, t: LWP, sig: int, code: int = signals.SI_TKILL, value: int = 0,
            sender: int = 0) -> None:
    """Send a thread-directed signal (tkill, tgkill, raise)."""
    if sig == 0 or t.state == "zombie":
        return
    _stop_cont_effects(k, t.proc, sig)
    if signals.ignored(t.proc, sig):
        return
    signals.post(k, t, sig, code, value, sender)


def _stop_cont_effects(k: Kernel, p: Proc, sig: int) -> None:
    if sig in signals.STOP:
        for u in p.lwps:
            u.pending &= ~signals.bit(signals.SIGCONT)
    elif sig == signals.SIGCONT:
        stops = 0
        for s in signals.STOP:
            stops |= signals.bit(s)
        for u in p.lwps:
            u.pending &= ~stops
        signals.continue_process(k, p)


def can_signal(src: Proc, dst: Proc, sig: int) -> bool:
    if src.euid == 0 or src is dst:
        return True
    if sig == signals.SIGCONT and src.sid == dst.sid:
        return True
    return src.uid in (dst.uid, dst.suid) or src.euid in (dst.uid, dst.suid)


def _check_sig(sig: int) -> None:
    if not 0 <= sig <= signals.NSIG_MAX:
        raise SyscallError(E.EINVAL)


def sys_kill(k: Kernel, t: LWP, pid: int, sig: int) -> int:
    _check_sig(sig)
    me = t.proc
    pid = _s32(pid)
    if pid > 0:
        target = k.procs.get(pid)  # a thread id names its process; a zombie takes it silently
        if target is None or target.state == "dead":
            raise SyscallError(E.ESRCH)
        targets = [target]
    elif pid == -1:
        targets = [p for p in _live(k) if p.pid != 1 and p is not me]
    else:
        pgid = me.pgid if pid == 0 else -pid
        targets = [p for p in _live(k) if p.pgid == pgid]
    if not targets:
        raise SyscallError(E.ESRCH)
    allowed = [p for p in targets if can_signal(me, p, sig)]
    if not allowed:
        raise SyscallError(E.EPERM)
    for p in allowed:
        psignal(k, p, sig, signals.SI_USER, 0, me.pid)
    return 0


def _live(k: Kernel) -> list[Proc]:
    return [p for pid, p in sorted(k.procs.items()) if p.pid == pid and p.alive]


def _thread(k: Kernel, tgid: int, tid: int) -> LWP:
    u = k.lwp_of(_s32(tid)) if _s32(tid) > 0 else None
    if u is None or u.state == "zombie" or (tgid != -1 and u.proc.pid != tgid):
        raise SyscallError(E.ESRCH if _s32(tid) > 0 else E.EINVAL)
    return u


def sys_tkill(k: Kernel, t: LWP, tid: int, sig: int) -> int:
    _check_sig(sig)
    u = _thread(k, -1, tid)
    if not can_signal(t.proc, u.proc, sig):
        raise SyscallError(E.EPERM)
    tsignal(k, u, sig, signals.SI_TKILL, 0, t.proc.pid)
    return 0


def sys_tgkill(k: Kernel, t: LWP, tgid: int, tid: int, sig: int) -> int:
    _check_sig(sig)
    if _s32(tgid) <= 0:
        raise SyscallError(E.EINVAL)
    u = _thread(k, _s32(tgid), tid)
    if not can_signal(t.proc, u.proc, sig):
        raise SyscallError(E.EPERM)
    tsignal(k, u, sig, signals.SI_TKILL, 0, t.proc.pid)
    return 0


def _queueinfo(t: LWP, uinfo: int, sig: int, target: Proc) -> tuple[int, int]:
    raw = copyin(t, uinfo, 128)
    code = struct.unpack_from("<i", raw, 4)[0]
    value = struct.unpack_from("<I", raw, 20)[0]
    if (code >= 0 or code == signals.SI_TKILL) and target is not t.proc:
        raise SyscallError(E.EPERM)
    return code, value


def sys_rt_sigqueueinfo(k: Kernel, t: LWP, pid: int, sig: int, uinfo: int) -> int:
    _check_sig(sig)
    p = k.proc_of(_s32(pid))
    if p is None or not p.alive:
        raise SyscallError(E.ESRCH)
    code, value = _queueinfo(t, uinfo, sig, p)
    if not can_signal(t.proc, p, sig):
        raise SyscallError(E.EPERM)
    psignal(k, p, sig, code, value, t.proc.pid)
    return 0


def sys_rt_tgsigqueueinfo(k: Kernel, t: LWP, tgid: int, tid: int, sig: int, uinfo: int) -> int:
    _check_sig(sig)
    u = _thread(k, _s32(tgid), tid)
    code, value = _queueinfo(t, uinfo, sig, u.proc)
    tsignal(k, u, sig, code, value, t.proc.pid)
    return 0


# ------------------------------------------------------- mask and waiting
def sys_rt_sigreturn(k: Kernel, t: LWP) -> int:
    sigframe.sigreturn(k, t)
    raise NoReturn


def sys_rt_sigpending(k: Kernel, t: LWP, set_: int, size: int) -> int:
    if size > 16:
        raise SyscallError(E.EINVAL)
    _put_sigset(t, set_, (t.pending | t.proc.pending) & t.sigmask)
    return 0


def sys_rt_sigsuspend(k: Kernel, t: LWP, mask: int, size: int) -> int:
    new = _sigset(t, mask, size) & ~UNSTOPPABLE
    if t.saved_sigmask is None:
        t.saved_sigmask = t.sigmask
    t.sigmask = new
    if deliverable(t):
        raise SyscallError(E.EINTR)  # the frame built next restores the saved mask
    raise WouldBlock(("pause", t.lid))


def sys_pause(k: Kernel, t: LWP) -> int:
    if deliverable(t):
        raise SyscallError(E.EINTR)
    raise WouldBlock(("pause", t.lid))


def _sigtimedwait(k: Kernel, t: LWP, set_: int, uinfo: int, timeout_ns: int | None,
                  size: int) -> int:
    want = _sigset(t, set_, size) & ~UNSTOPPABLE
    pend = t.pending & want
    if pend:
        sig = (pend & -pend).bit_length()
        t.pending &= ~signals.bit(sig)
        info = t.siginfo.pop(sig, (signals.SI_USER, 0, 0))
        t.sigwait = 0
        t.sleep_deadline = None
        if uinfo:
            copyout(t, uinfo, sigframe.siginfo_bytes(k, sig, info))
        return sig
    deadline = None
    if timeout_ns is not None:
        if t.sleep_deadline is None:
            t.sleep_deadline = k.clock_ns + timeout_ns
        deadline = t.sleep_deadline
        if k.clock_ns >= deadline:
            t.sleep_deadline = None
            t.sigwait = 0
            raise SyscallError(E.EAGAIN)
    t.sigwait = want
    raise WouldBlock(("sigwait", t.lid), deadline)


def _timespec(t: LWP, addr: int, fmt: str) -> int | None:
    if not addr:
        return None
    s, ns = (int(x) for x in struct.unpack(fmt, copyin(t, addr, struct.calcsize(fmt))))
    if s < 0 or not 0 <= ns < 10**9:
        raise SyscallError(E.EINVAL)
    return s * 10**9 + ns


def sys_rt_sigtimedwait(k: Kernel, t: LWP, set_: int, uinfo: int, uts: int, size: int) -> int:
    return _sigtimedwait(k, t, set_, uinfo, _timespec(t, uts, "<ii"), size)


def sys_rt_sigtimedwait64(k: Kernel, t: LWP, set_: int, uinfo: int, uts: int, size: int) -> int:
    return _sigtimedwait(k, t, set_, uinfo, _timespec(t, uts, "<qq"), size)


def sys_sigaltstack(k: Kernel, t: LWP, uss: int, uoss: int) -> int:
    sp = t.cpu.r[29]
    onstack = sigframe.on_altstack(t, sp)
    new = None
    if uss:
        ss_sp, ss_size, ss_flags = struct.unpack("<IIi", copyin(t, uss, 12))
        if onstack:
            raise SyscallError(E.EPERM)
        mode = ss_flags & ~(1 << 31)  # SS_AUTODISARM is accepted and ignored
        if mode not in (0, sigframe.SS_DISABLE, sigframe.SS_ONSTACK):
            raise SyscallError(E.EINVAL)
        if mode == sigframe.SS_DISABLE:
            new = (0, sigframe.SS_DISABLE, 0)
        else:
            if ss_size < MINSIGSTKSZ:
                raise SyscallError(E.ENOMEM)
            new = (ss_sp, 0, ss_size)
    if uoss:
        o_sp, o_flags, o_size = t.sigaltstack
        flags = sigframe.SS_ONSTACK if onstack else (o_flags & sigframe.SS_DISABLE)
        copyout(t, uoss, struct.pack("<IIi", o_sp, o_size, flags))
    if new is not None:
        t.sigaltstack = new
    return 0


# ------------------------------------------------- interval timers (REAL)
ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2


def _itimers(k: Kernel) -> dict[int, list[int]]:
    """pid -> [deadline ns, interval ns] of armed ITIMER_REAL timers (installs the hooks)."""
    timers: dict[int, list[int]] | None = k.extensions.get("itimers")
    if timers is None:
        timers = {}
        k.extensions["itimers"] = timers
        prev_fire = k.extensions.get("timers")
        prev_next = k.extensions.get("next_timer")

        def fire(now: int) -> None:
            assert timers is not None
            for pid in list(timers):
                entry = timers.get(pid)
                p = k.proc_of(pid)
                if entry is None:
                    continue
                if p is None or not p.alive:
                    del timers[pid]
                    continue
                if entry[0] <= now:
                    if entry[1]:
                        while entry[0] <= now:
                            entry[0] += entry[1]
                    else:
                        del timers[pid]
                    psignal(k, p, signals.SIGALRM, signals.SI_KERNEL, 0, 0)
            if prev_fire is not None:
                prev_fire(now)

        def next_deadline() -> int | None:
            assert timers is not None
            ds = [e[0] for pid, e in timers.items()
                  if (q := k.proc_of(pid)) is not None and q.alive]
            if prev_next is not None:
                d = prev_next()
                if d is not None:
                    ds.append(d)
            return min(ds) if ds else None

        k.extensions["timers"] = fire
        k.extensions["next_timer"] = next_deadline
    return timers


def _itimer_get(k: Kernel, p: Proc) -> tuple[int, int]:
    e = _itimers(k).get(p.pid)
    if e is None:
        return 0, 0
    return max(1000, e[0] - k.clock_ns), e[1]


def _itimer_set(k: Kernel, p: Proc, value: int, interval: int) -> None:
    timers = _itimers(k)
    if value:
        timers[p.pid] = [k.clock_ns + value, interval]
    else:
        timers.pop(p.pid, None)


def _timeval(ns: int) -> tuple[int, int]:
    return ns // 10**9, (ns // 1000) % 10**6


def sys_alarm(k: Kernel, t: LWP, seconds: int) -> int:
    left, _iv = _itimer_get(k, t.proc)
    _itimer_set(k, t.proc, seconds * 10**9, 0)
    s, us = _timeval(left)
    if us >= 500_000 or (left and not s):
        s += 1
    return s


def sys_getitimer(k: Kernel, t: LWP, which: int, value: int) -> int:
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise SyscallError(E.EINVAL)
    left, iv = _itimer_get(k, t.proc) if which == ITIMER_REAL else (0, 0)
    copyout(t, value, struct.pack("<iiii", *_timeval(iv), *_timeval(left)))
    return 0


def sys_setitimer(k: Kernel, t: LWP, which: int, new: int, old: int) -> int:
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        raise SyscallError(E.EINVAL)
    nv = None
    if new:
        is_, ius, vs, vus = struct.unpack("<iiii", copyin(t, new, 16))
        if not (0 <= ius < 10**6 and 0 <= vus < 10**6) or is_ < 0 or vs < 0:
            raise SyscallError(E.EINVAL)
        nv = (vs * 10**9 + vus * 1000, is_ * 10**9 + ius * 1000)
    if which != ITIMER_REAL:  # CPU-time timers are accepted but never fire
        if old:
            copyout(t, old, bytes(16))
        return 0
    if old:
        left, iv = _itimer_get(k, t.proc)
        copyout(t, old, struct.pack("<iiii", *_timeval(iv), *_timeval(left)))
    if nv is not None:
        _itimer_set(k, t.proc, nv[0], nv[1])
    return 0
