"""execve: replace a process image in place (same pid), as kern_exec.c does."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from afgdb.machine.cpu.state import CPU
from afgdb.machine.kernel import image_cache, kern_exec, kern_nospawn
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import NoReturn, SyscallError
from afgdb.machine.kernel.proc import SigAction
from afgdb.machine.kernel.uaccess import copyin_u32, copyinstr
from afgdb.machine.memory import MemFault, OutOfMemory

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

ARG_MAX = 128 * 1024
MAX_EXEC_SIZE = 64 << 20


def _check_program(k: Kernel, cwd: str, path: str) -> tuple[str, str, os.stat_result]:
    """(guest path, host path, stat) of an executable, with execve's errors."""
    guest, st = k.vfs.lookup(path, cwd, must_exist=True)
    host = k.vfs.host(guest)
    if st is None or stat.S_ISLNK(st.st_mode):  # else the walk's lstat is the file's stat
        try:
            st = os.stat(host)
        except OSError:
            st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise SyscallError(E.EACCES, f"{guest} is a directory")
    if st is None or not os.access(host, os.X_OK):
        raise SyscallError(E.EACCES, f"{guest} is not executable")
    if st.st_size > MAX_EXEC_SIZE:
        raise SyscallError(E.E2BIG if hasattr(E, "E2BIG") else E.ENOMEM, "program too large")
    return guest, host, st


def _read(guest: str, host: str) -> bytes:
    try:
        with open(host, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise SyscallError(E.EACCES, str(e)) from None
    if data[:2] == b"#!":
        raise kern_exec.ExecFormatError("interpreter scripts (#!) are not supported; "
                                        "run the interpreter with the script as argument")
    return data


def read_program(k: Kernel, cwd: str, path: str) -> tuple[str, bytes]:
    """(guest path, file bytes) of an executable, with execve's errors."""
    guest, host, _st = _check_program(k, cwd, path)
    return guest, _read(guest, host)


def open_image(k: Kernel, cwd: str, path: str) -> tuple[str, image_cache.CachedImage]:
    """(guest path, checked and loaded image) of an executable, with execve's errors;
    the file is read and parsed only the first time this version of it is run."""
    guest, host, st = _check_program(k, cwd, path)
    version = image_cache.file_version(host, st)
    entry = image_cache.lookup(k, version)
    if entry is None:
        data = _read(guest, host)
        entry = image_cache.add(k, version, data, kern_exec.parse(data), guest)
    return guest, entry


def do_execve(k: Kernel, t: LWP, path: str, argv: list[bytes], envp: list[bytes]) -> None:
    """Load path into t's process; on success t is the only LWP, at the entry point."""
    p = t.proc
    guest, entry = open_image(k, p.cwd, path)
    img = entry.img
    if sum(len(a) + 1 for a in argv + envp) > ARG_MAX:
        raise SyscallError(getattr(E, "E2BIG", 7))
    # Point of no return: build the new image, then drop the old one.
    aspace, cache = image_cache.instantiate(k, entry)
    name = os.path.basename(guest)
    try:
        sp, auxv = kern_exec.build_stack(aspace, img, argv, envp, guest.encode(),
                                         (p.uid, p.euid, p.gid, p.egid),
                                         k.random_bytes(16, b"at_random%d" % p.pid))
    except OutOfMemory:  # the machine's page pool ran dry while building the image
        aspace.release()
        raise SyscallError(E.ENOMEM) from None
    from afgdb.machine.kernel import kern_fork, signals

    for other in list(p.lwps):
        if other is not t and other.state != "zombie":
            signals.exit_lwp(k, other)
    p.lwps = [t]
    if t.lid != p.pid:  # a thread that execs takes over the process id (de_thread)
        if k.procs.get(t.lid) is p:
            del k.procs[t.lid]
        t.lid = p.pid
    signals.release_vm(k, p, (aspace, cache))  # not while a vfork parent still runs in it
    p.aspace = aspace
    p.cache = cache
    p.image = entry
    p.fork_of = None
    kern_fork.vfork_release(k, p)
    p.fds.close_on_exec()
    p.sigactions = {sig: SigAction() if act.handler > 1 else act  # unshared, as on Linux
                    for sig, act in p.sigactions.items()}
    p.exe = guest
    p.comm = name[:15]
    p.argv = list(argv)
    p.envp = list(envp)
    p.auxv = auxv
    p.entry = img.entry
    if p.nospawn_on_exec:
        p.nospawn |= p.nospawn_on_exec
        p.nospawn_on_exec = 0
    cpu = CPU()
    cpu.icount = t.cpu.icount
    cpu.r[29] = sp
    cpu.pc = img.entry
    t.cpu = cpu
    t.name = p.comm
    t.clear_child_tid = 0
    t.robust_list = 0
    t.sigaltstack = (0, 2, 0)
    t.saved_sigmask = None
    t.sigwait = 0
    k.kmem_hook("lwp_changed", t)  # new comm, name and registers (kmem.py)


def _strvec(t: LWP, addr: int) -> list[bytes]:
    out: list[bytes] = []
    if not addr:
        return out
    while True:
        ptr = copyin_u32(t, addr + 4 * len(out))
        if not ptr:
            return out
        if len(out) > 65536:
            raise SyscallError(getattr(E, "E2BIG", 7))
        try:
            out.append(t.proc.aspace.read_cstr(ptr, ARG_MAX))
        except MemFault:
            raise SyscallError(E.EFAULT) from None


def sys_execve(k: Kernel, t: LWP, path: int, argv: int, envp: int) -> int:
    if t.proc.nospawn & kern_nospawn.NOSPAWN_EXEC:
        kern_nospawn.deny(k, t, "execve")  # raises ENOSYS, SIGSYS kills the process
    name = copyinstr(t, path)
    args = _strvec(t, argv)
    env = _strvec(t, envp)
    hook = k.extensions.get("exec_check")
    if hook is not None:
        hook(t)  # e.g. exec disabled for this process: raises
    do_execve(k, t, name, args, env)
    tracer = t.proc.tracer
    if tracer is not None:
        tracer.on_exec(t)  # type: ignore[attr-defined]
    raise NoReturn


def sys_execveat(k: Kernel, t: LWP, dirfd: int, path: int, argv: int, envp: int,
                 flags: int) -> int:
    """execveat: a path relative to dirfd, or the open file itself with AT_EMPTY_PATH."""
    from afgdb.machine.kernel import sys_file

    if t.proc.nospawn & kern_nospawn.NOSPAWN_EXEC:
        kern_nospawn.deny(k, t, "execveat")
    if flags & ~(0x100 | 0x1000):  # AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH
        raise SyscallError(E.EINVAL)
    name = copyinstr(t, path)
    if not name and flags & 0x1000:
        name = t.proc.fds.get(dirfd).path
    elif not name.startswith("/"):
        base = sys_file._base(k, t, dirfd, name)
        name = base.rstrip("/") + "/" + name
    if name.startswith("/proc/") or not name:
        raise SyscallError(E.ENOENT)
    args = _strvec(t, argv)
    env = _strvec(t, envp)
    hook = k.extensions.get("exec_check")
    if hook is not None:
        hook(t)
    do_execve(k, t, name, args, env)
    tracer = t.proc.tracer
    if tracer is not None:
        tracer.on_exec(t)  # type: ignore[attr-defined]
    raise NoReturn
