"""Synthetic per-process files under /proc (Linux's procfs), opened by sys_file.do_open.

``/proc/self/NAME``, ``/proc/thread-self/NAME`` and ``/proc/PID/NAME`` name
file NAME of a process; `FILES` says which NAMEs exist and who makes them.
Anything else under /proc falls through to the guest root (where there is
normally no /proc: ENOENT). Owns only the name lookup; each file's
behaviour is its subsystem's (nospawn: kern_nospawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from afgdb.machine.kernel import kern_nospawn

if TYPE_CHECKING:
    from afgdb.machine.kernel.files import File
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc

Opener = Callable[["Kernel", "LWP", "Proc", int], "File"]

FILES: dict[str, Opener] = {
    "nospawn": kern_nospawn.open_proc_file,  # sysctl proc.curproc.nospawn
}


def open_file(k: Kernel, t: LWP, path: str, flags: int) -> File | None:
    """The File for an absolute /proc path, or None when it is not one of `FILES`."""
    parts = [x for x in path.split("/") if x and x != "."]
    if len(parts) != 3 or parts[0] != "proc" or parts[2] not in FILES:
        return None
    who = parts[1]
    if who in ("self", "thread-self"):
        proc: Proc | None = t.proc
    elif who.isdigit():
        proc = k.proc_of(int(who))
    else:
        return None
    if proc is None or not proc.alive:
        return None
    return FILES[parts[2]](k, t, proc, flags)
