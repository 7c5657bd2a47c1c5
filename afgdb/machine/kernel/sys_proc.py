"""Process identity, credentials, thread setup and signal bookkeeping calls (limits:
kern_resource)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.errors import NoReturn, SyscallError
from afgdb.machine.kernel.proc import LWP, SigAction
from afgdb.machine.kernel.uaccess import copyin, copyout

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel



def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def sys_exit(k: Kernel, t: LWP, status: int) -> int:
    t.proc.exit_status = (status & 0xFF) << 8
    signals.exit_lwp(k, t)
    raise NoReturn


def sys_exit_group(k: Kernel, t: LWP, status: int) -> int:
    signals.exit_process(k, t.proc, (status & 0xFF) << 8)
    raise NoReturn


def sys_getpid(k: Kernel, t: LWP) -> int:
    return t.proc.pid


def sys_gettid(k: Kernel, t: LWP) -> int:
    return t.lid


def sys_getppid(k: Kernel, t: LWP) -> int:
    return t.proc.ppid


def sys_getuid(k: Kernel, t: LWP) -> int:
    return t.proc.uid


def sys_geteuid(k: Kernel, t: LWP) -> int:
    return t.proc.euid


def sys_getgid(k: Kernel, t: LWP) -> int:
    return t.proc.gid


def sys_getegid(k: Kernel, t: LWP) -> int:
    return t.proc.egid


def sys_getresuid(k: Kernel, t: LWP, r: int, e: int, s: int) -> int:
    p = t.proc
    for addr, v in ((r, p.uid), (e, p.euid), (s, p.suid)):
        copyout(t, addr, struct.pack("<I", v))
    return 0


def sys_getresgid(k: Kernel, t: LWP, r: int, e: int, s: int) -> int:
    p = t.proc
    for addr, v in ((r, p.gid), (e, p.egid), (s, p.sgid)):
        copyout(t, addr, struct.pack("<I", v))
    return 0


def sys_getpgrp(k: Kernel, t: LWP) -> int:
    return t.proc.pgid


def sys_getpgid(k: Kernel, t: LWP, pid: int) -> int:
    p = t.proc if pid == 0 else k.proc_of(pid)
    if p is None:
        raise SyscallError(E.ESRCH)
    return p.pgid


def sys_getsid(k: Kernel, t: LWP, pid: int) -> int:
    p = t.proc if pid == 0 else k.proc_of(pid)
    if p is None:
        raise SyscallError(E.ESRCH)
    return p.sid


def sys_umask(k: Kernel, t: LWP, mask: int) -> int:
    old = t.proc.umask
    t.proc.umask = mask & 0o777
    return old


def sys_sched_yield(k: Kernel, t: LWP) -> int:
    return 0


def sys_set_thread_area(k: Kernel, t: LWP, addr: int) -> int:
    t.cpu.ulr = addr
    return 0


def sys_set_tid_address(k: Kernel, t: LWP, tidptr: int) -> int:
    t.clear_child_tid = tidptr
    return t.lid


def sys_set_robust_list(k: Kernel, t: LWP, head: int, length: int) -> int:
    if length != 12:
        raise SyscallError(E.EINVAL)
    t.robust_list = head
    return 0


def sys_getrusage(k: Kernel, t: LWP, who: int, addr: int) -> int:
    us = t.proc.icount() * 10 // 1000  # virtual microseconds of user time
    ru = struct.pack("<ii", us // 1_000_000, us % 1_000_000) + bytes(8) + bytes(56)
    copyout(t, addr, ru)
    return 0


def sys_rt_sigaction(k: Kernel, t: LWP, sig: int, act: int, oact: int, size: int) -> int:
    if not 1 <= sig <= signals.NSIG_MAX or size != 16:
        raise SyscallError(E.EINVAL)
    if act and sig in signals.UNCATCHABLE:
        raise SyscallError(E.EINVAL)
    cur = t.proc.sigactions.get(sig, SigAction())
    if oact:
        copyout(t, oact, struct.pack("<II", cur.flags, cur.handler)
             + struct.pack("<QQ", cur.mask & ((1 << 64) - 1), cur.mask >> 64))
    if act:
        flags, handler = struct.unpack("<II", copyin(t, act, 8))
        lo, hi = struct.unpack("<QQ", copyin(t, act + 8, 16))
        mask = (lo | (hi << 64)) & ~(signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP))
        t.proc.sigactions[sig] = SigAction(handler, flags, mask)
        if handler == signals.SIG_IGN or (handler == signals.SIG_DFL and sig in signals.IGNORE):
            for u in t.proc.lwps:  # ignoring a signal discards it when pending
                u.pending &= ~signals.bit(sig)
    return 0


def sys_rt_sigprocmask(k: Kernel, t: LWP, how: int, set_: int, oset: int, size: int) -> int:
    if size != 16:
        raise SyscallError(E.EINVAL)
    old = t.sigmask
    if set_:
        lo, hi = struct.unpack("<QQ", copyin(t, set_, 16))
        s = (lo | (hi << 64)) & ~(signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP))
        if how == 1:  # SIG_BLOCK
            t.sigmask |= s
        elif how == 2:  # SIG_UNBLOCK
            t.sigmask &= ~s
        elif how == 3:  # SIG_SETMASK
            t.sigmask = s
        else:
            raise SyscallError(E.EINVAL)
    if oset:
        copyout(t, oset, struct.pack("<QQ", old & ((1 << 64) - 1), old >> 64))
    return 0
