"""The machine as a debugger sees it: start, attach, list processes, files, monitor commands.

`System` wraps one `Kernel` for every stub session of a server: sessions
create `ProcessTarget`s through it (``start`` for vRun: a launcher process
forked from init, connected to and continued until it execs the program;
``launch`` does that and waits for the exec; ``open``/``attach`` for
vAttach and AF_GDB sockets, with the permission rules) and it owns the ``kick`` callback that wakes the server's runner
when something became runnable. It also answers the questions that are
not about one process: `info os processes`, ``monitor ps`` and vFile paths
(always inside the guest root).

Must not: import anyio; know packet formats.
"""

from __future__ import annotations

from typing import Callable

from afgdb.machine.kernel import kern_exec, kern_launch, sys_exec
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.proc import LSRUN, LSSLEEP, LSSTOP
from afgdb.targets.caps import Action, ProcessInfo, Stopped, TargetError
from afgdb.targets.kernel_pid0 import KernelTarget, open_kernel
from afgdb.targets.process import ProcessTarget

LAUNCH_SLICE = 50_000  # instructions per step while `launch` waits for the exec
DEFAULT_ENV = ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"]

MONITOR_HELP = """\
afgdb monitor commands:
  monitor help        this text
  monitor ps          processes of the machine (pid, ppid, state, threads, debugger,
                      nospawn flags, command)
  monitor insns       instructions the machine has executed, and its virtual clock
"""


def _nospawn_column(now: int, at_exec: int) -> str:
    """monitor ps's NOSPAWN: flags in force (fork,exec or -), '+exec' when requested at exec."""
    from afgdb.machine.kernel.kern_nospawn import names

    s = names(now)
    return s + ("+" + names(at_exec) if at_exec else "")


class System:
    """One machine shared by all debugger connections."""

    def __init__(self, kernel: Kernel, kick: Callable[[], None] = lambda: None,
                 env: list[str] | None = None) -> None:
        self.kernel = kernel
        self.kick = kick
        self.env = list(env) if env is not None else list(DEFAULT_ENV)
        self.last_argv: list[str] = []

    # ------------------------------------------------------- processes
    def start(self, argv: list[str], owner: str = "", uid: int = 0) -> ProcessTarget:
        """vRun as the seed describes it: fork a launcher, connect to it (as an AF_GDB
        socket does), ask to be told of its exec, continue it. The target stops at the
        exec of argv[0] (reason "exec") once the machine has run the launcher; if the
        exec fails the launcher exits with status 127."""
        if not argv or not argv[0]:
            if not self.last_argv:
                raise TargetError(E.ENOENT, "no program given and none run before")
            argv = list(self.last_argv)
        try:  # the errors execve would give, said now and clearly
            _, data = sys_exec.read_program(self.kernel, "/", argv[0])
            kern_exec.parse(data)
        except SyscallError as e:
            raise TargetError(e.errno, f"cannot run {argv[0]}: {e}") from None
        except Exception as e:  # a bad ELF file, and the like
            raise TargetError(E.ENOEXEC, f"cannot run {argv[0]}: {e}") from None
        self.last_argv = list(argv)
        # Arguments are bytes to the guest: vRun's non-UTF-8 ones come back as they were sent.
        p = kern_launch.fork_launcher(self.kernel, argv[0],
                                      [a.encode("utf-8", "surrogateescape") for a in argv],
                                      [e.encode() for e in self.env], uid=uid, gid=uid)
        t = self.open(p.pid, owner, uid=uid, created=True)
        t.expect_exec()
        t.resume({}, Action("c"))
        return t

    def launch(self, argv: list[str], owner: str = "", uid: int = 0) -> ProcessTarget:
        """`start`, then run the machine until the program is loaded: a process stopped
        at its entry point (a plain SIGTRAP, as gdbserver reports a started program)."""
        t = self.start(argv, owner, uid)
        for _ in range(10_000):
            if t.stop_event() is not None or not t.proc.alive:
                break
            if not self.kernel.run(LAUNCH_SLICE) and not self.kernel.runnable():
                break
        ev = t.stop_event()
        if not isinstance(ev, Stopped):
            raise TargetError(E.ENOEXEC, f"cannot run {argv[0] if argv else ''}: "
                                         f"the launcher ended ({ev})")
        t.plain_stop()
        return t

    def open(self, pid: int, owner: str, uid: int = 0, created: bool = False,
             caller: int = 0) -> ProcessTarget:
        """Connect a debugger (guest uid `uid`, process `caller` if a guest) to `pid`.

        Allowed when the uid could signal the process (the same uid, or root);
        a process that changed its credentials (setuid) only by root; one debugger
        at a time. The process stops, every thread (SIGSTOP, as after an attach).
        """
        if pid == 0:
            raise TargetError(E.EPERM, "pid 0 is the kernel: use `target remote | afgdb connect 0`")
        p = self.kernel.proc_of(pid)
        if p is None or not p.alive:
            raise TargetError(E.ESRCH, f"no process {pid}")
        if pid == caller:
            raise TargetError(E.EPERM, f"process {pid} cannot debug itself")
        if not p.live_lwps():
            raise TargetError(E.EPERM, f"process {pid} ({p.comm}) runs no code: nothing to debug")
        if uid != 0:
            if p.setuid_changed:
                raise TargetError(E.EPERM, f"process {pid} changed its credentials (setuid): "
                                           "only root may debug it")
            if uid not in (p.uid, p.suid):
                raise TargetError(E.EPERM, f"uid {uid} may not debug process {pid} "
                                           f"(uid {p.uid}): only the same uid or root")
        holder = p.tracer
        if holder is not None:
            who = getattr(holder, "owner", "") or "another debugger"
            raise TargetError(E.EBUSY, f"process {pid} is already debugged by {who}")
        t = ProcessTarget(self, p, owner, created=created)
        t.stop_at_start(23)  # SIGSTOP, what gdbserver reports after attaching
        return t

    def attach(self, pid: int, owner: str = "", uid: int = 0) -> ProcessTarget:
        return self.open(pid, owner, uid=uid)

    def kernel_target(self, uid: int = 0) -> KernelTarget:
        """pid 0 for a caller of this guest uid (EPERM unless root)."""
        return open_kernel(self.kernel, uid)

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
                                   debugger=getattr(tracer, "owner", "") if tracer else "",
                                   extra={"nospawn": _nospawn_column(p.nospawn,
                                                                     p.nospawn_on_exec)}))
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
            rows = [f"{'PID':>5} {'PPID':>5} {'STATE':<9} {'THR':>3} {'DEBUGGER':<12} "
                    f"{'NOSPAWN':<10} COMMAND"]
            for p in self.processes():
                rows.append(f"{p.pid:>5} {p.ppid:>5} {p.state:<9} {p.threads:>3} "
                            f"{p.debugger or '-':<12} {p.extra.get('nospawn', '-'):<10} "
                            f"{p.command}")
            return "\n".join(rows) + "\n"
        if words[0] == "insns":
            k = self.kernel
            return f"{k.insns} instructions, virtual clock {k.clock_ns / 1e9:.6f} s\n"
        raise TargetError(E.EINVAL, f"unknown monitor command {words[0]!r}; try `monitor help`")
