"""nospawn (issue 9): a process disables its own fork/exec; the exploit demo.

Every blocked call is made by a child of /bin/nospawntest, whose parent
waits and prints WTERMSIG; the child's core (written by kern_core, or handed
to cored) must carry Linux's SIGSYS siginfo naming the call."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from core_util import make_root, quiet_kernel
from gdb_session import GDB, AfgdbServer, Gdb

from afgdb import demo
from afgdb.machine import elfcore
from afgdb.machine.kernel import kern_core, kern_nospawn, ps
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.targets.system import System

PROGRAMS = ("bin/nospawntest", "bin/hello", "bin/nospawn", "bin/loop")
EXECVE, EXECVEAT, FORK, CLONE = 4011, 4356, 4002, 4120


def run(tmp: Path, *argv: str) -> tuple[str, int, Path]:
    """Run argv on a copy of the rootfs; cores land as core.<pid> in its root."""
    root = tmp / "root"
    if not root.exists():
        make_root(tmp, PROGRAMS)
    k = quiet_kernel(root)
    out = BufferStream(1)
    k.stdio = (BufferStream(0), out, out)
    kern_core.install(k, {"socket": None})
    p = k.spawn(argv[0], list(argv), [])
    status = k.run_until_exit(p, limit=500_000_000)
    return out.out.decode(), status, root


def notes(core: Path) -> list[tuple[bytes, int, bytes]]:
    data = core.read_bytes()
    eh = elfcore.EHDR.unpack(data)
    for i in range(eh["e_phnum"]):
        ph = elfcore.PHDR.unpack(data, eh["e_phoff"] + i * eh["e_phentsize"])
        if ph["p_type"] == elfcore.PT_NOTE:
            return elfcore.parse_notes(data[ph["p_offset"]:ph["p_offset"] + ph["p_filesz"]])
    raise AssertionError("no PT_NOTE")


def child_core(root: Path) -> Path:
    cores = sorted(root.glob("core.*"))
    assert len(cores) == 1, cores
    return cores[0]


@pytest.mark.parametrize(("call", "nr"), [
    ("fork", CLONE),  # glibc's fork() is clone(SIGCHLD | CLONE_CHILD_*)
    ("sysfork", FORK),
    ("vfork", CLONE),  # clone(CLONE_VM | CLONE_VFORK | SIGCHLD)
    ("clone", CLONE),
    ("execve", EXECVE),
    ("execveat", EXECVEAT),
    ("thread-exec", EXECVE),  # from a second thread: the flags are the process's
])
def test_every_blocked_call_dies_by_sigsys_with_its_number_in_the_core(
        tmp_path: Path, call: str, nr: int) -> None:
    out, status, root = run(tmp_path, "/bin/nospawntest", "now", call)
    assert status == 0, out
    assert "parent: child: killed by signal 12 (core dumped)" in out, out
    assert "returned" not in out  # the call never came back to the program
    ns = notes(child_core(root))
    si = elfcore.SIGINFO_SYS.unpack(next(d for n, t, d in ns if t == elfcore.NT_SIGINFO))
    assert (si["si_signo"], si["si_code"]) == (12, kern_nospawn.SYS_NOSPAWN)
    assert si["si_syscall"] == nr
    assert si["si_arch"] == kern_nospawn.AUDIT_ARCH_MIPSEL
    # The faulting thread's registers: the call returned ENOSYS (v0 = 89, a3 = 1), and
    # si_call_addr is its pc after the syscall instruction, as Linux reports it.
    pr = elfcore.PRSTATUS.unpack(next(d for n, t, d in ns if t == elfcore.NT_PRSTATUS))
    regs = pr["pr_reg"]
    assert pr["pr_cursig"] == 12
    assert (regs[elfcore.EF_R0 + 2], regs[elfcore.EF_R0 + 7]) == (E.ENOSYS, 1)
    assert si["si_call_addr"] == regs[elfcore.EF_CP0_EPC]


def test_the_sysctl_file_sets_the_flags_too(tmp_path: Path) -> None:
    out, status, root = run(tmp_path, "/bin/nospawntest", "sysctl", "execve")
    assert "afgdb_nospawn(0, NOSPAWN_GET) = 3" in out
    assert "parent: child: killed by signal 12 (core dumped)" in out, out


def test_without_flags_everything_spawns(tmp_path: Path) -> None:
    out, status, _root = run(tmp_path, "/bin/nospawntest", "off", "execve")
    assert "hello, world" in out and "parent: child: exited 0" in out, out
    out, status, _root = run(tmp_path, "/bin/nospawntest", "off", "fork")
    assert "child: fork returned" in out and "parent: child: exited 0" in out, out


def test_threads_still_work(tmp_path: Path) -> None:
    out, status, root = run(tmp_path, "/bin/nospawntest", "now", "threads")
    assert "child: 2 threads ran: 499500 999000" in out, out
    assert "parent: child: exited 0" in out
    assert not list(root.glob("core.*"))


def test_flags_cannot_be_cleared(tmp_path: Path) -> None:
    out, status, _root = run(tmp_path, "/bin/nospawntest", "now", "clear")
    assert 'write "none": Operation not permitted' in out, out
    assert 'write "-exec": Operation not permitted' in out
    assert "afgdb_nospawn(0, NOSPAWN_NOW) = 3" in out  # adding nothing clears nothing
    assert "afgdb_nospawn(0x4, NOSPAWN_NOW) = -1 (Invalid argument)" in out
    assert "afgdb_nospawn(0, 7) = -1 (Invalid argument)" in out
    assert "/proc/self/nospawn reads: fork,exec\n" in out
    assert "parent: child: killed by signal 12 (core dumped)" in out
    with pytest.raises(SyscallError) as ei:
        kern_nospawn.parse("none")
    assert ei.value.errno == E.EPERM


def test_flags_are_inherited_across_fork(tmp_path: Path) -> None:
    out, status, _root = run(tmp_path, "/bin/nospawntest", "exec", "inherit")
    assert "grandchild: flags 2" in out, out
    assert "child: grandchild: killed by signal 12 (core dumped)" in out
    assert "parent: child: exited 0" in out


def test_sigsys_cannot_be_caught_blocked_or_ignored(tmp_path: Path) -> None:
    """The kernel side: a handler, a mask and SIG_IGN on SIGSYS change nothing."""
    make_root(tmp_path, PROGRAMS)
    k = quiet_kernel(tmp_path / "root")
    p = k.spawn("/bin/loop", ["/bin/loop"], [])
    k.run(20_000)
    t = p.live_lwps()[0]
    from afgdb.machine.kernel.proc import SigAction

    p.sigactions[12] = SigAction(handler=0x400000)
    t.sigmask |= 1 << 11
    kern_nospawn.add(k, p, kern_nospawn.NOSPAWN_EXEC)
    k.current = t
    t.in_syscall = EXECVE
    with pytest.raises(SyscallError) as ei:
        kern_nospawn.deny(k, t, "")
    assert ei.value.errno == E.ENOSYS
    k.current = None
    t.in_syscall = -1
    k.run(1000)
    assert p.exit_status & 0x7F == 12


def test_launcher_sets_the_flags_at_exec_and_ps_shows_them(tmp_path: Path) -> None:
    make_root(tmp_path, PROGRAMS)
    k = quiet_kernel(tmp_path / "root")
    p = k.spawn("/bin/nospawn", ["/bin/nospawn", "/bin/loop"], [])
    while p.comm != "loop":
        k.run(2000)
        if p.comm == "nospawn" and p.nospawn_on_exec:
            assert (p.nospawn, p.nospawn_on_exec) == (0, 3)  # requested, not yet in force
            assert "-+fork,exec" in System(k).monitor("ps")
    assert (p.nospawn, p.nospawn_on_exec) == (3, 0)
    rec = next(r for r in ps.processes(k) if r.pid == p.pid)
    assert rec.nospawn == 3
    lines = System(k).monitor("ps").splitlines()
    assert "NOSPAWN" in lines[0]
    assert any(line.split()[5:7] == ["fork,exec", "/bin/loop"] for line in lines), lines


def test_demo_exploit_both_cases_and_the_core_goes_to_cored(tmp_path: Path) -> None:
    said: list[str] = []
    cores = tmp_path / "cores"
    rc = demo.exploit(str(Path(demo.HERE) / "rootfs" / "root"), str(cores), said.append)
    text = "\n".join(said)
    assert rc == 0, text
    first, second = text.split("== 2.")
    assert "PWNED: /bin/pwned is running" in first
    assert "PWNED" not in second
    assert "killed by signal 12 (core dumped); no marker" in second
    assert "core handed to cored" in second
    core = cores / next(n.name for n in cores.iterdir()).split("/")[-1]
    si = demo.core_siginfo(str(core))
    assert (si["si_signo"], si["si_code"], si["si_syscall"]) == (12, 3, EXECVE)
    assert 0x7FF00000 < si["si_call_addr"] < 0x7FFF0000  # the shellcode, on the stack


def test_unprotected_exploit_under_afgdb_run(tmp_path: Path) -> None:
    """`afgdb run /bin/vulnd < vulnd-exploit.bin` with afgdb run's default environment."""
    data = Path(demo.EXPLOIT).read_bytes()
    out = BufferStream(1)
    k = Kernel(str(Path(demo.HERE) / "rootfs" / "root"), stdin=BufferStream(0, data),
               stdout=out, stderr=out)
    p = k.spawn("/bin/vulnd", ["/bin/vulnd"], demo.ENV)
    assert k.run_until_exit(p) == 0
    assert b"PWNED" in out.out
    assert struct.unpack("<I", data[-5:-1])[0] % 4 == 0


needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


@needs_gdb
def test_gdb_sees_the_attempt_and_the_sigsys() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/nospawntest", "exec", "execve")
        gdb.run("set follow-fork-mode child")
        gdb.run("catch syscall execve")
        stop = gdb.go("run")
        assert stop.reason == "syscall-entry", stop.record
        assert stop.record["syscall-name"] == "execve"
        stop = gdb.cont()
        assert stop.reason == "syscall-return", stop.record
        assert gdb.value("$v0") == str(E.ENOSYS) and gdb.value("$a3") == "1"
        stop = gdb.cont()
        assert stop.reason == "signal-received", stop.record
        assert stop.record["signal-name"] == "SIGSYS"
        pc = int(gdb.value("(unsigned int)$pc"), 0)
        word = gdb.value(f"*(unsigned int *){pc - 4}")
        assert int(word, 0) & 0xFC00003F == 0x0C  # stopped just after the syscall
        stop = gdb.cont()
        assert stop.reason == "exited-signalled", stop.record
        assert stop.record["signal-name"] == "SIGSYS"
        deadline = time.monotonic() + 60  # the detached parent reaps the child and says so
        while "parent: child: killed by signal 12" not in srv.output():
            assert time.monotonic() < deadline, srv.output()
            time.sleep(0.05)
