"""How system call handlers say no, or say "not yet"."""

from __future__ import annotations

from afgdb.machine.kernel.linux_abi import ERRNO_NAMES


class SyscallError(Exception):
    """The call fails with errno (returned to the guest as -errno with a3=1)."""

    def __init__(self, errno: int, why: str = "") -> None:
        super().__init__(f"{ERRNO_NAMES.get(errno, errno)}{': ' + why if why else ''}")
        self.errno = errno


class WouldBlock(Exception):
    """The calling LWP sleeps on wchan; the call is re-run from scratch when woken.

    deadline (virtual-clock ns) wakes it by itself; on timeout the call is re-run
    with ``lwp.wakeup_at`` in the past, so handlers with a timeout can tell.
    """

    def __init__(self, wchan: object, deadline: int | None = None) -> None:
        super().__init__("would block")
        self.wchan = wchan
        self.deadline = deadline


class NoReturn(Exception):
    """The call changed the thread's registers itself (exit, exec, sigreturn): store nothing."""
