"""Processes and LWPs: the kernel's bookkeeping (NetBSD's struct proc / struct lwp)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from afgdb.machine.cpu.engine import CodeCache
from afgdb.machine.cpu.state import CPU
from afgdb.machine.memory import AddressSpace

if TYPE_CHECKING:
    from afgdb.machine.kernel.files import FDTable
    from afgdb.machine.kernel.vm_reuse import Kept

# LWP states
LSRUN = "run"  # runnable
LSSLEEP = "sleep"  # blocked on a wait channel
LSSTOP = "stop"  # stopped (signal or debugger)
LSZOMB = "zombie"

# Process states
SACTIVE = "active"
SSTOP = "stopped"
SZOMB = "zombie"
SDEAD = "dead"  # reaped

NSIG = 128  # Linux MIPS has 128 signals; sigset_t is 128 bits


@dataclass
class SigAction:
    handler: int = 0  # SIG_DFL=0, SIG_IGN=1, else a guest address
    flags: int = 0
    mask: int = 0
    restorer: int = 0


@dataclass
class LWP:
    """A thread: registers, signal mask, and what it is waiting for."""

    lid: int
    proc: Proc
    cpu: CPU
    name: str = ""
    state: str = LSRUN
    wchan: object = None  # what a sleeping LWP waits on
    wakeup_at: int | None = None  # virtual-clock deadline of a timed sleep (ns)
    sigmask: int = 0
    pending: int = 0
    siginfo: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # sig -> code,a,b
    clear_child_tid: int = 0
    robust_list: int = 0
    sigaltstack: tuple[int, int, int] = (0, 2, 0)  # sp, flags (SS_DISABLE=2), size
    restart: Callable[[], None] | None = None  # re-arms an interrupted syscall
    sleep_deadline: int | None = None  # a nanosleep in progress (kept across re-runs)
    in_syscall: int = -1  # syscall number while blocked/stopped inside one, for gdb
    slice_left: int = 0  # the rest of a quantum that a run() budget cut short (Kernel.run)
    saved_sigmask: int | None = None  # sigsuspend/ppoll/pselect: the mask to restore
    sigwait: int = 0  # rt_sigtimedwait: blocked signals that still wake this LWP
    forced: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # sig -> info that
    # must take the default action whatever the handler or mask (signals.force: nospawn SIGSYS)

    @property
    def tid(self) -> int:
        return self.lid


@dataclass
class Proc:
    """A process: address space, descriptors, credentials, children and exit status."""

    pid: int
    ppid: int
    aspace: AddressSpace
    cache: CodeCache
    fds: FDTable
    cwd: str = "/"
    comm: str = ""
    argv: list[bytes] = field(default_factory=list)
    envp: list[bytes] = field(default_factory=list)
    exe: str = ""  # guest path of the executable
    uid: int = 0
    euid: int = 0
    suid: int = 0
    gid: int = 0
    egid: int = 0
    sgid: int = 0
    umask: int = 0o022
    pgid: int = 0
    sid: int = 0
    state: str = SACTIVE
    lwps: list[LWP] = field(default_factory=list)
    sigactions: dict[int, SigAction] = field(default_factory=dict)
    pending: int = 0  # process-directed pending signals
    exit_status: int = 0  # wait status word (as wait4 reports it)
    auxv: bytes = b""
    entry: int = 0
    rlimits: dict[int, tuple[int, int]] = field(default_factory=dict)
    children: list[Proc] = field(default_factory=list)
    nospawn: int = 0  # afgdb: bit 0 no fork, bit 1 no exec (irreversible)
    nospawn_on_exec: int = 0  # requested flags applied at the next successful exec
    setuid_changed: bool = False
    icount_dead: int = 0  # instructions of LWPs that already exited
    start_ns: int = 0
    exit_hooks: list[Callable[[Proc], None]] = field(default_factory=list)
    next_lid: int = 0
    tracer: object = None  # the debugger session holding this process, if any
    groups: list[int] = field(default_factory=list)  # supplementary group ids
    exit_signal: int = 18  # what the parent is sent when this process ends (SIGCHLD)
    stop_unreported: bool = False  # stopped, and wait4(WUNTRACED) has not said so yet
    cont_unreported: bool = False  # continued, and wait4(WCONTINUED) has not said so yet
    vfork_waiter: LWP | None = None  # the parent LWP suspended in vfork until exec/exit
    lwp_icounts: dict[int, int] = field(default_factory=dict)  # lid -> insns, kept at exit
    cutime_insns: int = 0  # instructions of reaped children (RUSAGE_CHILDREN)
    xcpu_at: int = -1  # the CPU second of the last SIGXCPU (kern_resource)
    image: object = None  # the cached program image aspace was made from (image_cache)
    fork_of: AddressSpace | None = None  # the parent's space this one is a fork of
    fork_spare: Kept | None = None  # a finished child's code, for the next fork (vm_reuse)

    @property
    def alive(self) -> bool:
        return self.state in (SACTIVE, SSTOP)

    def live_lwps(self) -> list[LWP]:
        return [t for t in self.lwps if t.state != LSZOMB]

    def icount(self) -> int:
        return self.icount_dead + sum(t.cpu.icount for t in self.lwps)
