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


def _ids(p: Proc, attrs: tuple[str, str, str]) -> tuple[int, int, int]:
    r, e, s = (getattr(p, a) for a in attrs)
    return r, e, s


def _store(p: Proc, attrs: tuple[str, str, str], new: tuple[int, int, int]) -> None:
    if _ids(p, attrs) != new:
        p.setuid_changed = True
    for a, v in zip(attrs, new):
        setattr(p, a, v)


# The same rules govern user and group ids: the three calls below take which.
UIDS = ("uid", "euid", "suid")
GIDS = ("gid", "egid", "sgid")


def _set_id(p: Proc, attrs: tuple[str, str, str], v: int) -> int:
    """setuid/setgid: privileged sets all three; otherwise only the effective id,
    to the real or saved one."""
    r, _e, s = _ids(p, attrs)
    if v == KEEP:
        raise SyscallError(E.EINVAL)
    if _priv(p):
        _store(p, attrs, (v, v, v))
    elif v in (r, s):
        _store(p, attrs, (r, v, s))
    else:
        raise SyscallError(E.EPERM)
    return 0


def _set_re_id(p: Proc, attrs: tuple[str, str, str], rv: int, ev: int) -> int:
    """setreuid/setregid, with Linux's rule for when the saved id follows."""
    r0, e0, s0 = _ids(p, attrs)
    r = r0 if rv == KEEP else rv
    e = e0 if ev == KEEP else ev
    if not _priv(p):
        if rv != KEEP and rv not in (r0, e0):
            raise SyscallError(E.EPERM)
        if ev != KEEP and ev not in (r0, e0, s0):
            raise SyscallError(E.EPERM)
    s = s0
    if rv != KEEP or (ev != KEEP and ev != r0):
        s = e
    _store(p, attrs, (r, e, s))
    return 0


def _set_res_id(p: Proc, attrs: tuple[str, str, str], rv: int, ev: int, sv: int) -> int:
    """setresuid/setresgid: unprivileged, each new id must be one of the current three."""
    cur = _ids(p, attrs)
    if not _priv(p):
        for v in (rv, ev, sv):
            if v != KEEP and v not in cur:
                raise SyscallError(E.EPERM)
    r, e, s = (c if v == KEEP else v for c, v in zip(cur, (rv, ev, sv)))
    _store(p, attrs, (r, e, s))
    return 0


def sys_setuid(k: Kernel, t: LWP, uid: int) -> int:
    return _set_id(t.proc, UIDS, uid)


def sys_setgid(k: Kernel, t: LWP, gid: int) -> int:
    return _set_id(t.proc, GIDS, gid)


def sys_setreuid(k: Kernel, t: LWP, ruid: int, euid: int) -> int:
    return _set_re_id(t.proc, UIDS, ruid, euid)


def sys_setregid(k: Kernel, t: LWP, rgid: int, egid: int) -> int:
    return _set_re_id(t.proc, GIDS, rgid, egid)


def sys_setresuid(k: Kernel, t: LWP, ruid: int, euid: int, suid: int) -> int:
    return _set_res_id(t.proc, UIDS, ruid, euid, suid)


def sys_setresgid(k: Kernel, t: LWP, rgid: int, egid: int, sgid: int) -> int:
    return _set_res_id(t.proc, GIDS, rgid, egid, sgid)


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
