"""Resource limits (kern_resource.c): a process's rlimits and the machine's own caps.

Per process, Linux o32 numbering and errnos: RLIMIT_NPROC (tasks of a real
uid; fork and clone fail with EAGAIN, root exempt as on Linux), RLIMIT_AS
(mmap, mremap and brk fail with ENOMEM), RLIMIT_NOFILE (the descriptor
table's size: EMFILE, or EBADF/EINVAL for dup2/F_DUPFD past it) and
RLIMIT_CPU (SIGXCPU each virtual second past the soft limit, SIGKILL at the
hard one). Machine-wide, for every uid (`MachineLimits`): processes and
threads (EAGAIN, Linux's threads-max), host descriptors held by guest files
(ENFILE: the host process has one descriptor table for every guest), and
the page pool (afgdb.machine.memory.PagePool): a fault that needs a frame
from an empty pool kills the faulting process with SIGKILL, as Linux's OOM
killer would, and a mapping larger than the whole pool fails with ENOMEM.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.files import HostFile
from afgdb.machine.kernel.proc import LSZOMB, SDEAD, Proc
from afgdb.machine.memory import PAGE_SHIFT

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE = 0, 1, 2, 3, 4
RLIMIT_NOFILE, RLIMIT_AS, RLIMIT_RSS, RLIMIT_NPROC = 5, 6, 7, 8  # MIPS order
RLIM_NLIMITS = 16
RLIM_INFINITY = (1 << 64) - 1
RLIM_INFINITY32 = 0x7FFFFFFF  # o32 getrlimit's RLIM_INFINITY

DEFAULT_RLIMITS = {RLIMIT_STACK: (8 << 20, RLIM_INFINITY), RLIMIT_NOFILE: (1024, 1024),
                   RLIMIT_CORE: (RLIM_INFINITY, RLIM_INFINITY)}


@dataclass
class MachineLimits:
    """Caps of the whole machine, whatever the guest's rlimits say."""

    max_procs: int = 256  # processes, zombies included (NetBSD maxproc)
    max_lwps: int = 1024  # threads of every process together (Linux threads-max)
    max_pages: int = 1 << 18  # guest page frames: 1 GiB
    max_files: int = 4096  # host descriptors held open for guest files (file-max)
    nr_open: int = 65536  # the highest RLIMIT_NOFILE anyone may set (fs.nr_open)


def limit(k: Kernel, p: Proc, res: int) -> tuple[int, int]:
    """(soft, hard) of resource res for p."""
    got = p.rlimits.get(res)
    if got is not None:
        return got
    if res == RLIMIT_NPROC:
        return k.limits.max_procs, k.limits.max_procs
    return DEFAULT_RLIMITS.get(res, (RLIM_INFINITY, RLIM_INFINITY))


def set_limit(k: Kernel, t: LWP, p: Proc, res: int, cur: int, mx: int) -> None:
    """setrlimit/prlimit64 by t on p (the caller checked res and may-signal)."""
    _, old_max = limit(k, p, res)
    if cur > mx:
        raise SyscallError(E.EINVAL)
    if mx > old_max and t.proc.euid != 0:
        raise SyscallError(E.EPERM)
    if res == RLIMIT_NOFILE and mx > k.limits.nr_open:
        raise SyscallError(E.EPERM)
    p.rlimits[res] = (cur, mx)
    if res == RLIMIT_NOFILE:
        p.fds.limit = cur
    if res == RLIMIT_CPU:
        p.xcpu_at = -1


def sys_getrlimit(k: Kernel, t: LWP, res: int, addr: int) -> int:
    from afgdb.machine.kernel.uaccess import copyout

    if res >= RLIM_NLIMITS:
        raise SyscallError(E.EINVAL)
    cur, mx = limit(k, t.proc, res)
    copyout(t, addr, struct.pack("<II", min(cur, RLIM_INFINITY32), min(mx, RLIM_INFINITY32)))
    return 0


def sys_setrlimit(k: Kernel, t: LWP, res: int, addr: int) -> int:
    from afgdb.machine.kernel.uaccess import copyin

    if res >= RLIM_NLIMITS:
        raise SyscallError(E.EINVAL)
    cur, mx = struct.unpack("<II", copyin(t, addr, 8))
    cur = RLIM_INFINITY if cur == RLIM_INFINITY32 else cur
    mx = RLIM_INFINITY if mx == RLIM_INFINITY32 else mx
    set_limit(k, t, t.proc, res, cur, mx)
    return 0


def sys_prlimit64(k: Kernel, t: LWP, pid: int, res: int, new: int, old: int) -> int:
    from afgdb.machine.kernel.uaccess import copyin, copyout

    p = t.proc if pid == 0 else k.proc_of(pid)
    if p is None:
        raise SyscallError(E.ESRCH)
    if res >= RLIM_NLIMITS:
        raise SyscallError(E.EINVAL)
    if p is not t.proc and t.proc.euid != 0 and t.proc.uid not in (p.uid, p.suid):
        raise SyscallError(E.EPERM)
    nlim = struct.unpack("<QQ", copyin(t, new, 16)) if new else None
    if old:
        copyout(t, old, struct.pack("<QQ", *limit(k, p, res)))
    if nlim is not None:
        set_limit(k, t, p, res, nlim[0], nlim[1])
    return 0


# ----------------------------------------------------------------- tasks
def _live_procs(k: Kernel) -> list[Proc]:
    return [p for pid, p in k.procs.items() if p.pid == pid and p.state != SDEAD]


def check_fork(k: Kernel, t: LWP, thread: bool) -> None:
    """EAGAIN when a new process (or thread) would pass a cap (copy_process's checks)."""
    procs = _live_procs(k)
    if not thread and len(procs) >= k.limits.max_procs:
        raise SyscallError(E.EAGAIN, "machine process limit")
    nlwps = sum(1 for p in procs for u in p.lwps if u.state != LSZOMB)
    if nlwps >= k.limits.max_lwps:
        raise SyscallError(E.EAGAIN, "machine thread limit")
    p = t.proc
    if p.uid != 0:  # root passes RLIMIT_NPROC (CAP_SYS_RESOURCE), as on Linux
        mine = sum(1 for q in procs if q.uid == p.uid for u in q.lwps if u.state != LSZOMB)
        if mine >= limit(k, p, RLIMIT_NPROC)[0]:
            raise SyscallError(E.EAGAIN, "RLIMIT_NPROC")


# ---------------------------------------------------------------- memory
def mapped_bytes(p: Proc) -> int:
    return sum(r.end - r.start for r in p.aspace.regions)


def check_vm(k: Kernel, p: Proc, grow: int) -> None:
    """ENOMEM when mapping grow more bytes would pass RLIMIT_AS or the whole pool."""
    if grow <= 0:
        return
    if grow >> PAGE_SHIFT > k.limits.max_pages:
        raise SyscallError(E.ENOMEM, "larger than the machine's memory")
    cur = limit(k, p, RLIMIT_AS)[0]
    if cur != RLIM_INFINITY and mapped_bytes(p) + grow > cur:
        raise SyscallError(E.ENOMEM, "RLIMIT_AS")


# ----------------------------------------------------------------- files
def check_nfile(k: Kernel) -> None:
    """ENFILE when guest files already hold the machine's share of host descriptors."""
    if HostFile.open_count >= k.limits.max_files:
        raise SyscallError(E.ENFILE)


# ------------------------------------------------------------------- cpu
def charge_cpu(k: Kernel, p: Proc, ns_per_insn: int) -> None:
    """After a slice of p: RLIMIT_CPU on virtual time (SIGXCPU past soft, SIGKILL at hard)."""
    cur, mx = p.rlimits[RLIMIT_CPU]
    if (cur == RLIM_INFINITY and mx == RLIM_INFINITY) or not p.alive:
        return
    secs = p.icount() * ns_per_insn // 1_000_000_000
    if secs >= mx:
        signals.post_proc(k, p, signals.SIGKILL, signals.SI_KERNEL)
    elif secs >= cur and secs > p.xcpu_at:
        p.xcpu_at = secs  # Linux repeats SIGXCPU once a second until the hard limit
        signals.post_proc(k, p, signals.SIGXCPU, signals.SI_KERNEL)
