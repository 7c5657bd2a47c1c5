"""fork, vfork and clone (kern_fork.c): new processes and new threads.

o32 ``clone(flags, newsp, parent_tidptr, tls, child_tidptr)``: the fifth
argument comes from the caller's stack at sp+16 (Linux's
CONFIG_CLONE_BACKWARDS order). The child returns 0 in v0 with a3 = 0.

A forked process gets a copy-on-write copy of the address space
(``AddressSpace.fork``); CLONE_VM without CLONE_THREAD (vfork, glibc's
posix_spawn) shares the parent's. A CLONE_VFORK parent sleeps, with every
signal but SIGKILL/SIGSTOP held back, until the child execs or exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from afgdb.machine.kernel import kern_nospawn, kern_resource, signals, vm_reuse
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError, WouldBlock
from afgdb.machine.kernel.proc import LWP, Proc, SigAction
from afgdb.machine.kernel.uaccess import copyout_u32

if TYPE_CHECKING:
    from afgdb.machine.cpu.engine import CodeCache
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.memory import AddressSpace

CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_PIDFD = 0x00001000
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_SYSVSEM = 0x00040000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_DETACHED = 0x00400000
CLONE_UNTRACED = 0x00800000
CLONE_CHILD_SETTID = 0x01000000
CLONE_IO = 0x80000000
NAMESPACES = 0x7E020080  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
SUPPORTED = (0xFF | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_PTRACE
             | CLONE_VFORK | CLONE_PARENT | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS
             | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_UNTRACED
             | CLONE_CHILD_SETTID | CLONE_IO)
ALL_SIGNALS = (1 << 128) - 1


def _vforks(k: Kernel) -> dict[int, tuple[Proc, int]]:
    """Parent lid -> (vfork child, the parent's signal mask before it slept)."""
    d: dict[int, tuple[Proc, int]] | None = k.extensions.get("vfork")
    if d is None:
        d = {}
        k.extensions["vfork"] = d
    return d


def vfork_release(k: Kernel, child: Proc) -> None:
    """The vfork child exec'd or exited: its parent may run again."""
    waiter = child.vfork_waiter
    if waiter is None:
        return
    child.vfork_waiter = None
    k.wakeup(("vfork", child.pid))


def fork1(k: Kernel, t: LWP, flags: int, newsp: int, ptid: int, tls: int, ctid: int) -> int:
    p = t.proc
    pending = _vforks(k)
    if t.lid in pending:  # a vfork parent re-running its call after the wait
        child, oldmask = pending[t.lid]
        if child.vfork_waiter is t:
            raise WouldBlock(("vfork", child.pid))
        del pending[t.lid]
        t.sigmask = oldmask
        return child.pid
    if flags & ~SUPPORTED & 0xFFFFFFFF:
        raise SyscallError(E.EINVAL if flags & NAMESPACES == 0 else E.EPERM)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise SyscallError(E.EINVAL)
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise SyscallError(E.EINVAL)
    if not flags & CLONE_THREAD and p.nospawn & kern_nospawn.NOSPAWN_FORK:
        kern_nospawn.deny(k, t, "vfork" if flags & CLONE_VFORK else "")  # raises ENOSYS
    kern_resource.check_fork(k, t, bool(flags & CLONE_THREAD))
    cpu = t.cpu.copy()
    cpu.r[2] = 0
    cpu.r[7] = 0
    cpu.icount = 0
    if newsp:
        cpu.r[29] = newsp
    if flags & CLONE_SETTLS:
        cpu.ulr = tls
    tracer = p.tracer
    if flags & CLONE_THREAD:
        u = k.new_lwp(p, cpu, name=t.name)
        u.sigmask = t.sigmask
        if flags & CLONE_CHILD_SETTID:
            copyout_u32(u, ctid, u.lid)
        if flags & CLONE_CHILD_CLEARTID:
            u.clear_child_tid = ctid
        if flags & CLONE_PARENT_SETTID:
            copyout_u32(t, ptid, u.lid)
        if tracer is not None:
            tracer.on_clone(t, u)  # type: ignore[attr-defined]
        return u.lid
    child = _copy_proc(k, t, flags)
    u = k.new_lwp(child, cpu, name=t.name)
    u.sigmask = t.sigmask
    if not flags & CLONE_VM or flags & CLONE_VFORK:
        u.sigaltstack = t.sigaltstack
    if flags & CLONE_CHILD_SETTID:
        copyout_u32(u, ctid, child.pid)  # into the child's (copy-on-write) memory
    if flags & CLONE_CHILD_CLEARTID:
        u.clear_child_tid = ctid
    if flags & CLONE_PARENT_SETTID:
        copyout_u32(t, ptid, child.pid)
    if tracer is not None:
        tracer.on_fork(t, child, "vfork" if flags & CLONE_VFORK else "fork")  # type: ignore[attr-defined]
    if flags & CLONE_VFORK:
        child.vfork_waiter = t
        child.exit_hooks.append(lambda c: vfork_release(k, c))
        pending[t.lid] = (child, t.sigmask)
        t.sigmask = ALL_SIGNALS & ~(signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP))
        raise WouldBlock(("vfork", child.pid))
    return child.pid


def _copy_proc(k: Kernel, t: LWP, flags: int) -> Proc:
    p = t.proc
    cache: CodeCache | None
    if flags & CLONE_VM:
        aspace, cache = p.aspace, p.cache
    else:
        aspace, cache = _fork_vm(p)
    fds = p.fds if flags & CLONE_FILES else p.fds.fork()
    ppid = p.ppid if flags & CLONE_PARENT else p.pid
    c = k.new_proc(ppid, aspace, fds, cache)
    if not flags & CLONE_VM:
        c.fork_of = p.aspace
    c.cwd = p.cwd
    c.comm = p.comm
    c.argv = list(p.argv)
    c.envp = list(p.envp)
    c.exe = p.exe
    c.uid, c.euid, c.suid = p.uid, p.euid, p.suid
    c.gid, c.egid, c.sgid = p.gid, p.egid, p.sgid
    c.groups = list(p.groups)
    c.umask = p.umask
    c.pgid, c.sid = p.pgid, p.sid
    c.rlimits = dict(p.rlimits)
    c.nospawn = p.nospawn
    c.nospawn_on_exec = p.nospawn_on_exec
    c.setuid_changed = p.setuid_changed
    c.auxv = p.auxv
    c.entry = p.entry
    c.exit_signal = flags & 0xFF
    if flags & CLONE_SIGHAND:
        c.sigactions = p.sigactions
    else:
        c.sigactions = {s: SigAction(a.handler, a.flags, a.mask, a.restorer)
                        for s, a in p.sigactions.items()}
    return c


def _fork_vm(p: Proc) -> tuple[AddressSpace, CodeCache | None]:
    """A copy-on-write copy of p's space, with the code of p's last child when kept."""
    spare, p.fork_spare = p.fork_spare, None
    if spare is not None:
        if p.tracer is None:
            return vm_reuse.revive(spare, p.aspace)
        vm_reuse.unpin(spare)
    return p.aspace.fork(), None


def keep_for_next_fork(k: Kernel, p: Proc,
                       succ: tuple[AddressSpace, CodeCache] | None = None) -> bool:
    """p, a fork, is done with its space: keep its code for its parent's next fork.
    False if the space must simply be released (the caller checked nobody shares it).
    succ: the pair an exec'ing p goes on with (vm_reuse.stash)."""
    parent = k.proc_of(p.ppid)
    if parent is None or p.fork_of is None or parent.aspace is not p.fork_of \
            or not parent.alive or parent.tracer is not None or not vm_reuse.keepable(k, p):
        return False
    vm_reuse.unpin(parent.fork_spare)
    parent.fork_spare = vm_reuse.stash(p, parent.aspace, succ=succ)
    p.fork_of = None
    return True


def sys_fork(k: Kernel, t: LWP) -> int:
    return fork1(k, t, signals.SIGCHLD, 0, 0, 0, 0)


def sys_vfork(k: Kernel, t: LWP) -> int:
    return fork1(k, t, CLONE_VM | CLONE_VFORK | signals.SIGCHLD, 0, 0, 0, 0)


def sys_clone(k: Kernel, t: LWP, flags: int, newsp: int, ptid: int, tls: int, ctid: int) -> int:
    return fork1(k, t, flags, newsp, ptid, tls, ctid)
