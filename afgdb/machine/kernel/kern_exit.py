"""wait4/waitpid/waitid (kern_exit.c): collecting children's exits, stops and continues.

Children are examined in fork order. A zombie is reaped (its pid freed and
its instruction count added to the parent's RUSAGE_CHILDREN) unless WNOWAIT.
Exit itself, reparenting to init and SIGCHLD are in ``signals.exit_process``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.errors import SyscallError, WouldBlock
from afgdb.machine.kernel.proc import LWP, SZOMB, Proc
from afgdb.machine.kernel.uaccess import copyout

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel

WNOHANG = 0x1
WUNTRACED = WSTOPPED = 0x2
WEXITED = 0x4
WCONTINUED = 0x8
WNOWAIT = 0x01000000
WNOTHREAD = 0x20000000
WALL = 0x40000000
WCLONE = 0x80000000

P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def rusage_bytes(insns: int) -> bytes:
    """struct rusage (o32, 72 bytes) with the user time of `insns` on the virtual CPU."""
    us = insns * 10 // 1000
    return struct.pack("<ii", us // 1_000_000, us % 1_000_000) + bytes(64)


def _candidates(p: Proc, idtype: int, ident: int, options: int) -> list[Proc]:
    out = []
    for c in p.children:
        if c.state == "dead":
            continue
        if idtype == P_PID and c.pid != ident:
            continue
        if idtype == P_PGID and c.pgid != ident:
            continue
        if not options & WALL:
            is_clone = c.exit_signal != signals.SIGCHLD
            if bool(options & WCLONE) != is_clone:
                continue
        out.append(c)
    return out


def _find(k: Kernel, t: LWP, idtype: int, ident: int, options: int) -> tuple[Proc, str] | None:
    kids = _candidates(t.proc, idtype, ident, options)
    if not kids:
        raise SyscallError(E.ECHILD)
    for c in kids:
        if c.state == SZOMB and options & WEXITED:
            return c, "exit"
        if c.state == "stopped" and c.stop_unreported and options & WSTOPPED:
            return c, "stop"
        if c.cont_unreported and options & WCONTINUED:
            return c, "cont"
    return None


def _reap(k: Kernel, p: Proc, c: Proc) -> None:
    p.children = [x for x in p.children if x is not c]
    c.state = "dead"
    if k.procs.get(c.pid) is c:
        del k.procs[c.pid]
    p.cutime_insns += c.icount() + c.cutime_insns


def _wait_for(k: Kernel, t: LWP, idtype: int, ident: int, options: int
              ) -> tuple[Proc, str] | None:
    found = _find(k, t, idtype, ident, options)
    if found is None:
        if options & WNOHANG:
            return None
        raise WouldBlock(("wait", t.proc.pid))
    c, kind = found
    if not options & WNOWAIT:
        if kind == "stop":
            c.stop_unreported = False
        elif kind == "cont":
            c.cont_unreported = False
    return c, kind


def _id_of(t: LWP, pid: int) -> tuple[int, int]:
    if pid < -1:
        return P_PGID, -pid
    if pid == -1:
        return P_ALL, 0
    if pid == 0:
        return P_PGID, t.proc.pgid
    return P_PID, pid


def sys_wait4(k: Kernel, t: LWP, pid: int, status: int, options: int, rusage: int) -> int:
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE):
        raise SyscallError(E.EINVAL)
    idtype, ident = _id_of(t, _s32(pid))
    got = _wait_for(k, t, idtype, ident, options | WEXITED)
    if got is None:
        return 0
    c, kind = got
    word = 0xFFFF if kind == "cont" else c.exit_status & 0xFFFF
    if status:
        copyout(t, status, struct.pack("<i", word))
    if rusage:
        copyout(t, rusage, rusage_bytes(c.icount()))
    if kind == "exit":
        _reap(k, t.proc, c)
    return c.pid


def sys_waitpid(k: Kernel, t: LWP, pid: int, status: int, options: int) -> int:
    return sys_wait4(k, t, pid, status, options, 0)


def sys_waitid(k: Kernel, t: LWP, idtype: int, ident: int, infop: int, options: int,
               rusage: int) -> int:
    if options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | WNOTHREAD | WALL
                   | WCLONE) or not options & (WEXITED | WSTOPPED | WCONTINUED):
        raise SyscallError(E.EINVAL)
    if idtype == P_ALL:
        ident = 0
    elif idtype in (P_PID, P_PGID):
        if _s32(ident) <= 0 and not (idtype == P_PGID and ident == 0):
            raise SyscallError(E.EINVAL)
        if idtype == P_PGID and ident == 0:
            ident = t.proc.pgid
    else:
        raise SyscallError(E.EINVAL)
    got = _wait_for(k, t, idtype, ident, options)
    if got is None:
        if infop:
            copyout(t, infop, bytes(24))
        return 0
    c, kind = got
    st = c.exit_status
    if kind == "exit":
        if st & 0x7F:
            code, value = (CLD_DUMPED if st & 0x80 else CLD_KILLED), st & 0x7F
        else:
            code, value = CLD_EXITED, (st >> 8) & 0xFF
    elif kind == "stop":
        code, value = CLD_STOPPED, (st >> 8) & 0xFF
    else:
        code, value = CLD_CONTINUED, signals.SIGCONT
    if infop:
        copyout(t, infop, struct.pack("<iiiiIi", signals.SIGCHLD, code, 0, c.pid, c.uid, value))
    if rusage:
        copyout(t, rusage, rusage_bytes(c.icount()))
    if kind == "exit" and not options & WNOWAIT:
        _reap(k, t.proc, c)
    return 0
