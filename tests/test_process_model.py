"""The process model (issue 4): fork/exec/wait, threads, signals, pipes.

Differential: every ``pm_*`` corpus program gives the same stdout and exit
status under afgdb as under qemu-mipsel. qemu-user cannot execve a MIPS
program by itself (the host kernel has no binfmt handler for it), so in the
qemu root every ``bin/corpus/pm_*`` that a program may exec is a small host
shell script that runs the real binary under qemu-mipsel; afgdb runs the
plain root.

Non-differential: determinism of per-LWP instruction counts, copy-on-write
cost of fork, the core flag of a SIGSEGV death, credentials rules, the
signal frame layout.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_util import (  # noqa: E402
    Program,
    Result,
    fresh_root,
    list_programs,
    qemu_path,
    run_command,
)

from afgdb.machine.kernel import ps, sigframe  # noqa: E402
from afgdb.machine.kernel.files import BufferStream  # noqa: E402
from afgdb.machine.kernel.kernel import Kernel  # noqa: E402

PM = [p for p in list_programs() if p.name.startswith("pm_")]
SLOW = {"pm_cow"}  # 64 MiB of page touching: fine under PyPy, slow-ish under CPython
needs_qemu = pytest.mark.skipif(qemu_path() is None, reason="qemu-mipsel is not installed")


class PipeOut(BufferStream):
    """Captured stdout that looks like a pipe, as it is for qemu under subprocess."""

    def isatty(self) -> bool:
        return False

    def stat(self) -> os.stat_result | None:
        from afgdb.machine.kernel.sys_pipe import fake_stat

        return fake_stat(0o10600, 1, 0)


def run_afgdb(program: Program, root: Path, budget: int = 2_000_000_000) -> tuple[Result, Kernel]:
    """Run a corpus program in-process under afgdb, the way `afgdb run` does."""
    out = PipeOut(1)
    k = Kernel(str(root), stdin=PipeOut(0), stdout=out, stderr=PipeOut(1))
    k.log = lambda msg: None
    env = [f"{a}={b}" for a, b in program.env]
    p = k.spawn(program.guest_path, list(program.argv), env)
    status = k.run_until_exit(p, limit=budget)
    code = 128 + (status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF
    return Result(bytes(out.out), code), k


def qemu_root(root: Path) -> None:
    """Make every corpus program of `root` exec-able from inside qemu-user."""
    qemu = qemu_path()
    assert qemu is not None
    corpus = root / "bin" / "corpus"
    for binary in sorted(corpus.iterdir()):
        if not binary.name.startswith("pm_") or binary.suffix:
            continue
        real = binary.with_name(binary.name + ".mips")
        binary.rename(real)
        binary.write_text(f'#!/bin/sh\nexec {qemu} -0 "$0" "{real}" "$@"\n')
        binary.chmod(0o755)


def run_qemu_pm(program: Program) -> Result:
    with fresh_root() as root:
        qemu_root(root)
        qemu = qemu_path()
        assert qemu is not None
        argv = [qemu, "-0", program.guest_path,
                str(root / "bin" / "corpus" / (program.name + ".mips")), *program.args]
        return run_command(argv, cwd=root, env=program.env_dict())


def test_corpus_has_process_model_programs() -> None:
    assert len(PM) >= 16


@needs_qemu
@pytest.mark.parametrize("program", PM, ids=lambda p: p.name)
def test_pm_program_matches_qemu(program: Program) -> None:
    if program.name in SLOW and "PyPy" not in sys.version and not os.environ.get("AFGDB_SLOW"):
        pytest.skip("slow under CPython (set AFGDB_SLOW=1)")
    expected = run_qemu_pm(program)
    with fresh_root() as root:
        got, _k = run_afgdb(program, root)
    assert got.stdout.decode(errors="replace") == expected.stdout.decode(errors="replace")
    assert got.status == expected.status == program.status


def _program(name: str) -> Program:
    return next(p for p in PM if p.name == name)


def _icounts(program: Program, engine: str = "block") -> list[tuple[int, dict[int, int]]]:
    with fresh_root() as root:
        out = PipeOut(1)
        k = Kernel(str(root), stdout=out, stderr=out, stdin=PipeOut(0))
        if engine == "interp":
            from afgdb.machine.cpu import interp

            k.cpu_run = interp.run
        seen: list[tuple[int, dict[int, int]]] = []
        k.on_proc_exit.append(lambda p: seen.append((p.pid, ps.lwp_icounts(p))))
        p = k.spawn(program.guest_path, list(program.argv), [])
        k.run_until_exit(p)
        return sorted(seen)


def test_determinism_of_threads() -> None:
    """Same multi-threaded program twice: identical per-LWP instruction counts."""
    prog = _program("pm_threads8")
    first = _icounts(prog)
    second = _icounts(prog)
    assert first == second
    (_pid, lwps), = first
    assert len(lwps) == 9 and all(n > 0 for n in lwps.values())


@pytest.mark.skipif(sys.implementation.name == "pypy", reason="the interpreter is the CPython reference")
def test_engines_interleave_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices end on their budget exactly (inside a block or a region if need be), so the
    block engine and the reference interpreter schedule 8 threads the same way, down to
    each LWP's instruction count. A short odd quantum makes most slices end mid-block."""
    from afgdb.machine.kernel import kernel

    monkeypatch.setattr(kernel, "SLICE", 997)
    prog = _program("pm_threads8")
    assert _icounts(prog, "block") == _icounts(prog, "interp")


def test_determinism_of_processes() -> None:
    prog = _program("pm_pipeline")
    assert _icounts(prog) == _icounts(prog)


def test_fork_is_copy_on_write() -> None:
    """A 64 MiB process forks; the child's private pages follow what it writes.

    The child of pm_cow writes N pages and then sleeps; the measurement is taken
    when it enters that sleep (the sleep calls are wrapped for the test).
    """
    from afgdb.machine.kernel import syscalls

    prog = _program("pm_cow")
    results = {}
    seen: dict[str, int] = {}
    saved = {}
    for name in ("nanosleep", "clock_nanosleep", "clock_nanosleep_time64"):
        sc = syscalls.by_name(name)
        assert sc is not None
        saved[sc.nr] = sc

        def wrapped(k: Kernel, t: object, *a: int, _fn: object = sc.fn) -> int:
            proc = t.proc  # type: ignore[attr-defined]
            if proc.ppid != 1 and "private" not in seen:
                seen["private"] = proc.aspace.private_pages()
                seen["resident"] = proc.aspace.resident_pages()
                parent = k.proc_of(proc.ppid)
                assert parent is not None
                seen["parent"] = parent.aspace.resident_pages()
            return _fn(k, t, *a)  # type: ignore[operator]

        syscalls.TABLE[sc.nr] = syscalls.Syscall(sc.nr, sc.name, sc.args, wrapped)
    try:
        for n in (10, 400):
            seen.clear()
            with fresh_root() as root:
                k = Kernel(str(root), stdout=PipeOut(1), stdin=PipeOut(0))
                p = k.spawn(prog.guest_path, [prog.guest_path, str(n)], [])
                k.run_until_exit(p)
                assert p.exit_status == 0
                assert bytes(k.stdio[1].out) == b"child status 0, parent pages changed 0\n"
            assert seen["parent"] >= 16384 and seen["resident"] >= 16384
            results[n] = seen["private"]
    finally:
        syscalls.TABLE.update(saved)
    assert 10 <= results[10] < 10 + 64
    assert 400 <= results[400] < 400 + 64
    assert results[400] - results[10] == pytest.approx(390, abs=8)


def test_sigsegv_death_sets_core_flag() -> None:
    """WCOREDUMP is not compared with qemu (it depends on the host); afgdb sets it."""
    prog = _program("pm_segv")
    with fresh_root() as root:
        k = Kernel(str(root), stdout=PipeOut(1), stdin=PipeOut(0))
        p = k.spawn(prog.guest_path, [prog.guest_path], [])
        status = k.run_until_exit(p)
    assert status & 0x7F == 11 and status & 0x80


def test_process_table_view() -> None:
    prog = _program("pm_threads8")
    with fresh_root() as root:
        k = Kernel(str(root), stdout=PipeOut(1), stdin=PipeOut(0))
        p = k.spawn(prog.guest_path, [prog.guest_path], [])
        for _ in range(1000):
            k.run(20_000)
            if len(p.live_lwps()) == 9:
                break
        table = ps.processes(k)
        (info,) = [i for i in table if i.pid == p.pid]
        assert info.cmdline == (prog.guest_path,)
        assert info.uid == 0 and info.ppid == 1
        assert any(i.pid == 1 and i.comm == "init" for i in table)
        assert len(info.lwps) == 9
        assert len({t.lid for t in info.lwps}) == 9
        assert all(len(t.regs) == 34 for t in info.lwps)


def test_signal_frame_layout() -> None:
    assert sigframe.FRAME_SIZE == 784
    assert sigframe.SC_OFF == 24 + 128 + 24
    assert sigframe.MASK_OFF == 24 + 128 + 616
    assert struct.unpack("<II", sigframe.TRAMPOLINE_CODE) == (0x24021061, 0x0000000C)


def test_credentials_rules() -> None:
    from afgdb.machine.kernel import kern_prot
    from afgdb.machine.kernel.errors import SyscallError

    with fresh_root() as root:
        k = Kernel(str(root), stdout=PipeOut(1), stdin=PipeOut(0))
        p = k.spawn("/bin/hello", ["/bin/hello"], [], uid=0)
        t = p.lwps[0]
        assert kern_prot.sys_setresuid(k, t, 1000, 1000, 0) == 0
        assert (p.uid, p.euid, p.suid) == (1000, 1000, 0) and p.setuid_changed
        assert kern_prot.sys_setuid(k, t, 0) == 0  # back to the saved id
        assert (p.uid, p.euid, p.suid) == (1000, 0, 0)
        assert kern_prot.sys_setuid(k, t, 1000) == 0  # privileged: all three
        assert (p.uid, p.euid, p.suid) == (1000, 1000, 1000)
        with pytest.raises(SyscallError):
            kern_prot.sys_setuid(k, t, 0)
        with pytest.raises(SyscallError):
            kern_prot.sys_setgroups(k, t, 0, 0)
        assert kern_prot.sys_setreuid(k, t, 0xFFFFFFFF, 1000) == 0


def test_trace_names_new_calls() -> None:
    from afgdb.machine.kernel.syscalls import TABLE, by_name

    for name in ("fork", "clone", "wait4", "waitid", "execve", "kill", "tgkill", "futex",
                 "pipe2", "dup3", "poll", "rt_sigreturn", "sigaltstack", "setitimer"):
        sc = by_name(name)
        assert sc is not None and TABLE[sc.nr] is sc and callable(sc.fn)


if __name__ == "__main__":  # pragma: no cover - manual comparison helper
    for prog in PM:
        if len(sys.argv) > 1 and prog.name not in sys.argv[1:]:
            continue
        exp = run_qemu_pm(prog)
        with fresh_root() as root:
            res, _ = run_afgdb(prog, root)
        same = res.stdout == exp.stdout and res.status == exp.status
        print(f"{prog.name}: {'same' if same else 'DIFFERENT'} afgdb={res.status} "
              f"qemu={exp.status}")
        if not same:
            sys.stdout.write(res.stdout.decode(errors="replace"))
            print("--- qemu:")
            sys.stdout.write(exp.stdout.decode(errors="replace"))


_COUNTS = r"""
import sys
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.sys_pipe import fake_stat


class PipeOut(BufferStream):
    def isatty(self):
        return False

    def stat(self):
        return fake_stat(0o10600, 1, 0)


k = Kernel(sys.argv[1], stdout=PipeOut(1), stderr=PipeOut(1), stdin=PipeOut(0))
counts = []
k.on_proc_exit.append(lambda p: counts.append(p.icount()))
p = k.spawn(sys.argv[2], sys.argv[2:], [])
k.run_until_exit(p)
print(k.insns, sorted(counts))
"""


@pytest.mark.skipif(sys.implementation.name == "pypy", reason="run from CPython, comparing")
def test_same_instruction_counts_under_cpython_and_pypy() -> None:
    """The machine is deterministic whatever Python runs it: a fork/exec loop and eight
    threads count the same instructions, process by process, under CPython and PyPy."""
    import subprocess

    pypy = Path(__file__).resolve().parent.parent / ".venv-pypy" / "bin" / "python"
    if not pypy.exists():
        pytest.skip("no .venv-pypy (scripts/test.sh makes it)")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    for argv in (["/bin/corpus/pm_forkloop", "8"], ["/bin/corpus/pm_threads8"]):
        with fresh_root() as root:
            outs = [subprocess.run([py, "-c", _COUNTS, str(root), *argv], capture_output=True,
                                   text=True, env=env, timeout=600, check=True).stdout
                    for py in (sys.executable, str(pypy))]
        assert outs[0] == outs[1] and outs[0].strip(), (argv, outs)
