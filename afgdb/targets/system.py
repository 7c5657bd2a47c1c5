"""The machine as a debugger sees it: start, attach, list processes, files, monitor commands.

`System` wraps one `Kernel` for every stub session of a server: sessions
create `ProcessTarget`s through it (``launch`` for vRun, ``attach`` for
vAttach) and it owns the ``kick`` callback that wakes the server's runner
when something became runnable. It also answers the questions that are
not about one process: `info os processes`, ``monitor ps`` and vFile paths
(always inside the guest root).

Must not: import anyio; know packet formats.
"""

from __future__ import annotations

from typing import Callable

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.proc import LSRUN, LSSLEEP, LSSTOP
from afgdb.targets.caps import ProcessInfo, TargetError
from afgdb.targets.kernel_pid0 import KernelTarget
from afgdb.targets.process import ProcessTarget

DEFAULT_ENV = ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"]

MONITOR_HELP = """\
afgdb monitor commands:
  monitor help        this text
  monitor ps          processes of the machine (pid, ppid, state, threads, debugger, command)
  monitor insns       instructions the machine has executed, and its virtual clock
"""


class System:
    """One machine shared by all debugger connections."""

    def __init__(self, kernel: Kernel, kick: Callable[[], None] = lambda: None,
                 env: list[str] | None = None) -> None:
        self.kernel = kernel
        self.kick = kick
        self.env = list(env) if env is not None else list(DEFAULT_ENV)
        self.last_argv: list[str] = []

    # ------------------------------------------------------- processes
    def launch(self, argv: list[str], owner: str = "") -> ProcessTarget:
        """Create a process stopped at its entry point (SIGTRAP, as after exec)."""
        if not argv or not argv[0]:
            if not self.last_argv:
                raise TargetError(E.ENOENT, "no program given and none run before")
            argv = list(self.last_argv)
        try:
            p = self.kernel.spawn(argv[0], argv, self.env)
        except SyscallError as e:
            raise TargetError(e.errno, f"cannot run {argv[0]}: {e}") from None
        except Exception as e:  # a bad ELF file, and the like
            raise TargetError(E.ENOEXEC, f"cannot run {argv[0]}: {e}") from None
        self.last_argv = list(argv)
        t = ProcessTarget(self, p, owner, created=True)
        t.stop_at_start(5)  # SIGTRAP
        return t

    def attach(self, pid: int, owner: str = "") -> ProcessTarget:
        if pid == 0:
            raise TargetError(E.EPERM, "pid 0 is the kernel: use `target remote | afgdb connect 0`")
        p = self.kernel.proc_of(pid)
        if p is None or not p.alive:
            raise TargetError(E.ESRCH, f"no process {pid}")
        holder = p.tracer
        if holder is not None:
            who = getattr(holder, "owner", "") or "another debugger"
            raise TargetError(E.EBUSY, f"process {pid} is already debugged by {who}")
        t = ProcessTarget(self, p, owner, created=False)
        t.stop_at_start(23)  # SIGSTOP, what gdbserver reports after attaching
        return t

    def kernel_target(self) -> KernelTarget:
        return KernelTarget(self.kernel)

    def processes(self) -> list[ProcessInfo]:
        out = []
        for pid in sorted({p.pid for p in self.kernel.procs.values()}):
            p = self.kernel.proc_of(pid)
            if p is None:
                continue
            live = p.live_lwps()
            states = {t.state for t in live}
            if not p.alive:
                state = "zombie"
            elif LSRUN in states:
                state = "running"
            elif LSSLEEP in states:
                state = "sleeping"
            elif LSSTOP in states:
                state = "stopped"
            else:
                state = p.state
            cmd = " ".join(a.decode(errors="replace") for a in p.argv) or p.comm
            tracer = p.tracer
            out.append(ProcessInfo(pid=p.pid, ppid=p.ppid, user="root" if p.uid == 0
                                   else str(p.uid), command=cmd, state=state,
                                   threads=len(live),
                                   debugger=getattr(tracer, "owner", "") if tracer else ""))
        return out

    # ------------------------------------------------------------ files
    def resolve_path(self, path: str, follow: bool = True) -> str:
        try:
            return self.kernel.vfs.host_path(path, "/", follow=follow)
        except SyscallError as e:
            raise TargetError(e.errno, f"{path}: {e}") from None

    # ---------------------------------------------------------- monitor
    def monitor(self, command: str) -> str:
        words = command.split()
        if not words or words[0] == "help":
            return MONITOR_HELP
        if words[0] == "ps":
            rows = [f"{'PID':>5} {'PPID':>5} {'STATE':<9} {'THR':>3} {'DEBUGGER':<12} COMMAND"]
            for p in self.processes():
                rows.append(f"{p.pid:>5} {p.ppid:>5} {p.state:<9} {p.threads:>3} "
                            f"{p.debugger or '-':<12} {p.command}")
            return "\n".join(rows) + "\n"
        if words[0] == "insns":
            k = self.kernel
            return f"{k.insns} instructions, virtual clock {k.clock_ns / 1e9:.6f} s\n"
        raise TargetError(E.EINVAL, f"unknown monitor command {words[0]!r}; try `monitor help`")
