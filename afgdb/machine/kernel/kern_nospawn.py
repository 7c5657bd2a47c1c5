"""Disabling fork/exec: a process switches off its own ability to spawn (docs/nospawn.md).

Owns the nospawn flags' rules and their two interfaces, both declared in
``include/afgdb.h`` (section nospawn):

* the system call ``afgdb_nospawn(flags, when)`` (number `NR`, afgdb's
  private range): ``when`` is NOSPAWN_NOW (flags in force at once),
  NOSPAWN_AT_EXEC (a one-shot request the next successful exec applies; what
  the ``nospawn`` launcher uses) or NOSPAWN_GET (a query);
* the sysctl ``proc.curproc.nospawn``, which on this Linux-ABI machine is the
  file ``/proc/self/nospawn``: a process writes words to it for itself
  (``fork``, ``exec``, ``fork,exec``, optionally after ``at-exec``) and reads
  the flags back (`ProcNospawnFile`).

Flags are added, never removed (`add`); there is no call or word that
clears them (``none``, ``-exec``, ``0``: EPERM). They belong to the process,
so every thread has them; fork/vfork/clone children inherit them and the
pending request (kern_fork._copy_proc), and exec keeps them (sys_exec
applies the request), like Linux's NO_NEW_PRIVS.

`deny` is what the fork and exec paths call when a flag forbids them: the
call fails with ENOSYS and the calling thread gets a SIGSYS that it cannot
catch, block or ignore (`signals.force`), which kills the process with a
core whose siginfo is Linux's ``_sigsys``: si_code SYS_NOSPAWN, si_call_addr
(the address after the syscall instruction, as Linux reports it),
si_syscall (the call's number) and si_arch (AUDIT_ARCH_MIPSEL).

Must not touch: how fork, exec, signals or cores work otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.files import (
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_TRUNC,
    O_WRONLY,
    File,
)

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc

NR = 4910  # AFGDB_SYS_nospawn: syscalls.AFGDB_BASE + 10

NOSPAWN_FORK = 0x1  # fork, vfork, clone without CLONE_THREAD
NOSPAWN_EXEC = 0x2  # execve, execveat
NOSPAWN_ALL = NOSPAWN_FORK | NOSPAWN_EXEC

NOSPAWN_NOW, NOSPAWN_AT_EXEC, NOSPAWN_GET = 0, 1, 2  # afgdb_nospawn's `when`

SYS_NOSPAWN = 3  # SIGSYS si_code (Linux has SYS_SECCOMP 1 and SYS_USER_DISPATCH 2)
AUDIT_ARCH_MIPSEL = 0x40000008  # EM_MIPS | __AUDIT_ARCH_LE, si_arch

_WORDS = {"fork": NOSPAWN_FORK, "exec": NOSPAWN_EXEC}
_CLEARING = {"none", "0", "off", "clear", "-fork", "-exec", "!fork", "!exec"}
SYSCTL = "proc.curproc.nospawn"
PROC_FILE = "/proc/self/nospawn"


def names(flags: int) -> str:
    """'fork,exec', 'fork', 'exec' or '-' (what ps shows)."""
    words = [w for w, b in _WORDS.items() if flags & b]
    return ",".join(words) or "-"


def add(k: Kernel, p: Proc, flags: int, at_exec: bool = False) -> None:
    """Add flags to p, now or at its next successful exec; never clears one."""
    if flags & ~NOSPAWN_ALL:
        raise SyscallError(E.EINVAL, f"unknown nospawn flag bits {flags & ~NOSPAWN_ALL:#x}")
    if at_exec:
        p.nospawn_on_exec |= flags
    else:
        p.nospawn |= flags


def deny(k: Kernel, t: LWP, what: str) -> None:
    """The call (`what`, or the system call's name) is disabled: SIGSYS to t that kills it,
    and ENOSYS (raised)."""
    from afgdb.machine.kernel.syscalls import TABLE

    nr = t.in_syscall if t.in_syscall >= 0 else t.cpu.r[2]
    sc = TABLE.get(nr)
    what = what or (sc.name if sc is not None else str(nr))
    p = t.proc
    k.log(f"pid {p.pid} ({p.comm}): {what} refused, nospawn={names(p.nospawn)}: "
          f"ENOSYS and SIGSYS")
    signals.force(k, t, signals.SIGSYS, (SYS_NOSPAWN, t.cpu.pc & 0xFFFFFFFF, nr))
    raise SyscallError(E.ENOSYS, f"{what} is disabled for this process (nospawn)")


def sys_afgdb_nospawn(k: Kernel, t: LWP, flags: int, when: int) -> int:
    """afgdb_nospawn(flags, when): the flags in force (or requested) after the call."""
    p = t.proc
    if when == NOSPAWN_GET:
        if flags:
            raise SyscallError(E.EINVAL)
        return p.nospawn | (p.nospawn_on_exec << 8)
    if when not in (NOSPAWN_NOW, NOSPAWN_AT_EXEC):
        raise SyscallError(E.EINVAL)
    add(k, p, flags, at_exec=when == NOSPAWN_AT_EXEC)
    return p.nospawn_on_exec if when == NOSPAWN_AT_EXEC else p.nospawn


def parse(text: str) -> tuple[int, bool]:
    """Words written to /proc/self/nospawn -> (flags, at next exec). EPERM for any
    attempt to clear, EINVAL for anything else unknown."""
    words = text.replace(",", " ").split()
    at_exec = bool(words) and words[0] in ("at-exec", "onexec")
    if at_exec:
        words = words[1:]
    flags = 0
    for w in words:
        if w in _WORDS:
            flags |= _WORDS[w]
        elif w in _CLEARING:
            raise SyscallError(E.EPERM, "nospawn flags cannot be cleared")
        else:
            raise SyscallError(E.EINVAL, f"unknown nospawn word {w!r}")
    return flags, at_exec


class ProcNospawnFile(File):
    """/proc/self/nospawn (and /proc/PID/nospawn): the sysctl proc.curproc.nospawn.

    Reading gives ``fork,exec`` (or ``-``) and, when a request waits for the
    next exec, `` at-exec=WORDS``, then a newline. Writing adds flags; only
    the process itself may write (the writer is checked at each write, so a
    descriptor passed to a child cannot set its parent's flags)."""

    kind = "proc"

    def __init__(self, k: Kernel, proc: Proc, flags: int) -> None:
        super().__init__(flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC))
        self.k = k
        self.proc = proc
        self.path = f"/proc/{proc.pid}/nospawn"
        self.pos = 0

    def text(self) -> bytes:
        p = self.proc
        s = names(p.nospawn)
        if p.nospawn_on_exec:
            s += f" at-exec={names(p.nospawn_on_exec)}"
        return (s + "\n").encode()

    def read(self, n: int) -> bytes:
        if self.flags & O_ACCMODE == O_WRONLY:
            raise SyscallError(E.EBADF)
        data = self.text()[self.pos:self.pos + n]
        self.pos += len(data)
        return data

    def pread(self, n: int, off: int) -> bytes:
        return self.text()[off:off + n]

    def seek(self, off: int, whence: int) -> int:
        if whence != 0 or off < 0:
            raise SyscallError(E.EINVAL)
        self.pos = off
        return off

    def write(self, data: bytes) -> int:
        if self.flags & O_ACCMODE == O_RDONLY:
            raise SyscallError(E.EBADF)
        cur = self.k.current
        if cur is None or cur.proc is not self.proc:
            raise SyscallError(E.EPERM, "a process sets only its own nospawn flags")
        flags, at_exec = parse(data.decode("ascii", "replace"))
        add(self.k, self.proc, flags, at_exec)
        return len(data)

    def truncate(self, length: int) -> None:
        pass  # `echo exec > /proc/self/nospawn` opens with O_TRUNC


def open_proc_file(k: Kernel, t: LWP, proc: Proc, flags: int) -> File:
    """procfs: open /proc/<proc>/nospawn for t (another process's is read-only)."""
    if proc is not t.proc and flags & O_ACCMODE != O_RDONLY:
        raise SyscallError(E.EACCES, "a process sets only its own nospawn flags")
    return ProcNospawnFile(k, proc, flags)


__all__ = ["NR", "NOSPAWN_FORK", "NOSPAWN_EXEC", "NOSPAWN_ALL", "NOSPAWN_NOW",
           "NOSPAWN_AT_EXEC", "NOSPAWN_GET", "SYS_NOSPAWN", "AUDIT_ARCH_MIPSEL", "SYSCTL",
           "PROC_FILE", "names", "add", "deny", "parse", "sys_afgdb_nospawn",
           "ProcNospawnFile", "open_proc_file"]
