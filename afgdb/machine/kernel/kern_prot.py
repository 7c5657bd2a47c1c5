"""Credentials, process groups and sessions (kern_prot.c), with Linux's rules.

Privilege is euid 0 (Linux's CAP_SETUID/CAP_SETGID for a process without
user namespaces). Every change of an id sets ``proc.setuid_changed`` (the
process is then no longer dumpable by others). Credentials are copied on
fork and kept across exec (no set-id executables in the guest root).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.uaccess import copyin, copyout

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc

NGROUPS_MAX = 65536
KEEP = 0xFFFFFFFF  # -1: leave this id unchanged


def _priv(p: Proc) -> bool:
    return p.euid == 0


def _changed(p: Proc, before: tuple[int, ...], after: tuple[int, ...]) -> None:
    if before != after:
        p.setuid_changed = True


# ------------------------------------------------------------------ uids
def _set_uids(p: Proc, r: int, e: int, s: int) -> None:
    before = (p.uid, p.euid, p.suid)
    p.uid, p.euid, p.suid = r, e, s
    _changed(p, before, (r, e, s))


def sys_setuid(k: Kernel, t: LWP, uid: int) -> int:
    p = t.proc
    if uid == KEEP:
        raise SyscallError(E.EINVAL)
    if _priv(p):
        _set_uids(p, uid, uid, uid)
    elif uid in (p.uid, p.suid):
        _set_uids(p, p.uid, uid, p.suid)
    else:
        raise SyscallError(E.EPERM)
    return 0


def sys_setreuid(k: Kernel, t: LWP, ruid: int, euid: int) -> int:
    p = t.proc
    r = p.uid if ruid == KEEP else ruid
    e = p.euid if euid == KEEP else euid
    if not _priv(p):
        if ruid != KEEP and ruid not in (p.uid, p.euid):
            raise SyscallError(E.EPERM)
        if euid != KEEP and euid not in (p.uid, p.euid, p.suid):
            raise SyscallError(E.EPERM)
    s = p.suid
    if ruid != KEEP or (euid != KEEP and euid != p.uid):
        s = e
    _set_uids(p, r, e, s)
    return 0


def sys_setresuid(k: Kernel, t: LWP, ruid: int, euid: int, suid: int) -> int:
    p = t.proc
    if not _priv(p):
        allowed = (p.uid, p.euid, p.suid)
        for v in (ruid, euid, suid):
            if v != KEEP and v not in allowed:
                raise SyscallError(E.EPERM)
    _set_uids(p, p.uid if ruid == KEEP else ruid, p.euid if euid == KEEP else euid,
              p.suid if suid == KEEP else suid)
    return 0


# ------------------------------------------------------------------ gids
def _set_gids(p: Proc, r: int, e: int, s: int) -> None:
    before = (p.gid, p.egid, p.sgid)
    p.gid, p.egid, p.sgid = r, e, s
    _changed(p, before, (r, e, s))


def sys_setgid(k: Kernel, t: LWP, gid: int) -> int:
    p = t.proc
    if gid == KEEP:
        raise SyscallError(E.EINVAL)
    if _priv(p):
        _set_gids(p, gid, gid, gid)
    elif gid in (p.gid, p.sgid):
        _set_gids(p, p.gid, gid, p.sgid)
    else:
        raise SyscallError(E.EPERM)
    return 0


def sys_setregid(k: Kernel, t: LWP, rgid: int, egid: int) -> int:
    p = t.proc
    r = p.gid if rgid == KEEP else rgid
    e = p.egid if egid == KEEP else egid
    if not _priv(p):
        if rgid != KEEP and rgid not in (p.gid, p.egid):
            raise SyscallError(E.EPERM)
        if egid != KEEP and egid not in (p.gid, p.egid, p.sgid):
            raise SyscallError(E.EPERM)
    s = p.sgid
    if rgid != KEEP or (egid != KEEP and egid != p.gid):
        s = e
    _set_gids(p, r, e, s)
    return 0


def sys_setresgid(k: Kernel, t: LWP, rgid: int, egid: int, sgid: int) -> int:
    p = t.proc
    if not _priv(p):
        allowed = (p.gid, p.egid, p.sgid)
        for v in (rgid, egid, sgid):
            if v != KEEP and v not in allowed:
                raise SyscallError(E.EPERM)
    _set_gids(p, p.gid if rgid == KEEP else rgid, p.egid if egid == KEEP else egid,
              p.sgid if sgid == KEEP else sgid)
    return 0


def sys_setfsuid(k: Kernel, t: LWP, uid: int) -> int:
    return t.proc.euid  # the fs ids follow the effective ones; changing them is not modelled


def sys_setfsgid(k: Kernel, t: LWP, gid: int) -> int:
    return t.proc.egid


def sys_getgroups(k: Kernel, t: LWP, size: int, lst: int) -> int:
    groups = t.proc.groups
    if size & 0x80000000:
        raise SyscallError(E.EINVAL)
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise SyscallError(E.EINVAL)
    if groups:
        copyout(t, lst, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


def sys_setgroups(k: Kernel, t: LWP, size: int, lst: int) -> int:
    p = t.proc
    if not _priv(p):
        raise SyscallError(E.EPERM)
    if size > NGROUPS_MAX:
        raise SyscallError(E.EINVAL)
    raw = copyin(t, lst, 4 * size) if size else b""
    new = sorted(struct.unpack(f"<{size}I", raw)) if size else []
    if new != p.groups:
        p.setuid_changed = True
    p.groups = new
    return 0


# ---------------------------------------------------- process groups, sessions
def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def sys_setpgid(k: Kernel, t: LWP, pid: int, pgid: int) -> int:
    me = t.proc
    pid, pgid = _s32(pid), _s32(pgid)
    if pgid < 0:
        raise SyscallError(E.EINVAL)
    target = me if pid == 0 else k.proc_of(pid)
    if target is None or not target.alive or (target is not me and target.ppid != me.pid):
        raise SyscallError(E.ESRCH)
    if target is not me and target.sid != me.sid:
        raise SyscallError(E.EPERM)
    if target.sid == target.pid:
        raise SyscallError(E.EPERM)  # a session leader keeps its group
    if pgid == 0:
        pgid = target.pid
    if pgid != target.pid and not any(
            q.pgid == pgid and q.sid == me.sid and q.alive for q in k.procs.values()):
        raise SyscallError(E.EPERM)
    target.pgid = pgid
    return 0


def sys_setsid(k: Kernel, t: LWP) -> int:
    p = t.proc
    if any(q.pgid == p.pid and q.alive for q in k.procs.values()):
        raise SyscallError(E.EPERM)
    p.sid = p.pgid = p.pid
    return p.sid


# ----------------------------------------------------------------- scheduler
def sys_sched_getaffinity(k: Kernel, t: LWP, pid: int, size: int, mask: int) -> int:
    if pid and k.lwp_of(pid) is None:
        raise SyscallError(E.ESRCH)
    if size < 4 or size & 3:
        raise SyscallError(E.EINVAL)
    copyout(t, mask, struct.pack("<I", 1))
    return 4


def sys_sched_setaffinity(k: Kernel, t: LWP, pid: int, size: int, mask: int) -> int:
    if pid and k.lwp_of(pid) is None:
        raise SyscallError(E.ESRCH)
    bits = copyin(t, mask, min(size, 128))
    if not bits or not bits[0] & 1:
        raise SyscallError(E.EINVAL)  # the machine has one CPU, number 0
    return 0


def sys_getcpu(k: Kernel, t: LWP, cpu: int, node: int, cache: int) -> int:
    if cpu:
        copyout(t, cpu, bytes(4))
    if node:
        copyout(t, node, bytes(4))
    return 0
