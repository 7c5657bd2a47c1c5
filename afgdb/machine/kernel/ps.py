"""The process table as the debugger layer sees it: plain records, copied out.

This is the one place outside the kernel proper that reads LWP register
state; the records are snapshots (lists of ints), so callers cannot reach
into CPU internals or change the machine through them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc


@dataclass(frozen=True)
class LWPInfo:
    lid: int
    name: str
    state: str  # run | sleep | stop | zombie
    wchan: str  # what a sleeping LWP waits on ("" otherwise)
    pc: int
    regs: tuple[int, ...]  # r0..r31, lo, hi (gdb's order puts sr/lo/hi/bad/cause/pc after)
    fregs: tuple[int, ...]  # 32 raw FPR words
    fcsr: int
    ulr: int  # UserLocal (the thread pointer)
    icount: int  # instructions executed by this LWP
    sigmask: int
    pending: int
    in_syscall: int  # syscall number while blocked in one, else -1


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    sid: int
    uid: int
    euid: int
    gid: int
    egid: int
    state: str  # active | stopped | zombie
    comm: str
    exe: str
    cmdline: tuple[str, ...]
    exit_status: int
    icount: int
    children: tuple[int, ...]
    lwps: tuple[LWPInfo, ...] = field(default_factory=tuple)
    nospawn: int = 0  # bit 0 no fork, bit 1 no exec (kern_nospawn), in force
    nospawn_on_exec: int = 0  # requested, applied by the next successful exec


def _wchan(w: object) -> str:
    if w is None:
        return ""
    if isinstance(w, tuple) and w and isinstance(w[0], str):
        return w[0]
    return type(w).__name__


def lwp_info(t: LWP) -> LWPInfo:
    c = t.cpu
    return LWPInfo(
        lid=t.lid, name=t.name, state=t.state,
        wchan=_wchan(t.wchan) if t.state == "sleep" else "",
        pc=c.pc, regs=tuple(c.r), fregs=tuple(c.f), fcsr=c.fcsr, ulr=c.ulr, icount=c.icount,
        sigmask=t.sigmask, pending=t.pending, in_syscall=t.in_syscall)


def proc_info(p: Proc) -> ProcInfo:
    return ProcInfo(
        pid=p.pid, ppid=p.ppid, pgid=p.pgid, sid=p.sid, uid=p.uid, euid=p.euid, gid=p.gid,
        egid=p.egid, state=p.state, comm=p.comm, exe=p.exe,
        cmdline=tuple(a.decode("utf-8", "replace") for a in p.argv),
        exit_status=p.exit_status, icount=p.icount(),
        children=tuple(c.pid for c in p.children),
        lwps=tuple(lwp_info(t) for t in p.lwps if t.state != "zombie"),
        nospawn=p.nospawn, nospawn_on_exec=p.nospawn_on_exec)


def processes(k: Kernel) -> list[ProcInfo]:
    """Every process that has not been reaped, by pid (threads are not listed twice)."""
    return [proc_info(p) for pid, p in sorted(k.procs.items())
            if p.pid == pid and p.state != "dead"]


def lwp_icounts(p: Proc) -> dict[int, int]:
    """Instructions per LWP: live ones now, exited ones as they were when they ended."""
    out = dict(p.lwp_icounts)
    for t in p.lwps:
        if t.cpu.icount or t.lid not in out:
            out[t.lid] = t.cpu.icount
    return out
