"""fork+exec+wait cycles per second inside the machine, and what forking a big process costs.

Runs the corpus program ``pm_forkloop N`` (N times: fork, execv
bin/corpus/pm_echo -q, waitpid) under afgdb (CPython and PyPy, timing only
the machine run in process CPU time, not interpreter start-up) and under
qemu-mipsel (where each exec starts a new qemu through a host shell wrapper,
the only way qemu-user can exec a MIPS program; wall clock), side by side;
then ``pm_forkloop N -q`` (fork and _exit only). afgdb's figures come twice:
a fresh machine's first N cycles (after a 3-cycle warm-up), and N cycles
after --warmup more (steady state: PyPy's JIT needs a few thousand cycles to
compile the cold start-up code of the exec'd program, CPython a few hundred).
Last, the memory cost of forking: ``pm_cow`` touches 64 MiB and forks, its
child writes K pages; the table shows the parent's resident pages and the
child's private pages (pages it owns alone) for several K.

    python bench/bench_fork.py [--cycles N] [--warmup W]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "afgdb" / "rootfs" / "root"
sys.path.insert(0, str(REPO))
from afgdb.hostpy import tune_jit, with_nursery  # noqa: E402  (PyPy runs get afgdb's GC and JIT)


def interpreters() -> list[tuple[str, str]]:
    out = [("afgdb/CPython", sys.executable)]
    for cand in (REPO / ".venv-pypy" / "bin" / "python", shutil.which("pypy3")):
        if cand and Path(cand).exists():
            out.append(("afgdb/PyPy", str(cand)))
            break
    return out


def fresh_root(tmp: str) -> Path:
    root = Path(tmp) / "root"
    shutil.copytree(ROOT, root, symlinks=True)
    return root


# ------------------------------------------------------------ inside afgdb
def inner(cycles: int, warmup: int) -> None:
    """Runs in the measured interpreter; prints one JSON line of results."""
    sys.path.insert(0, str(REPO))
    tune_jit()  # as the afgdb command does
    from afgdb.machine.kernel.files import BufferStream
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.sys_pipe import fake_stat

    class Out(BufferStream):  # stdout as a pipe, as under qemu
        def isatty(self) -> bool:
            return False

        def stat(self) -> os.stat_result:
            return fake_stat(0o10600, 1, 0)

    res: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_root(tmp)
        for key, extra in (("forkexec", []), ("forkonly", ["-q"])):
            k = Kernel(str(root), stdout=Out(1), stderr=Out(1), stdin=Out(0))
            # one warm-up run so that block translation is not what we measure
            p = k.spawn("/bin/corpus/pm_forkloop", ["pm_forkloop", "3", *extra], [])
            k.run_until_exit(p)
            for phase, before in (("first", 0), ("steady", warmup)):
                if before:
                    p = k.spawn("/bin/corpus/pm_forkloop", ["pm_forkloop", str(before), *extra])
                    k.run_until_exit(p)
                p = k.spawn("/bin/corpus/pm_forkloop", ["pm_forkloop", str(cycles), *extra], [])
                t0 = time.process_time()
                k.run_until_exit(p)
                dt = time.process_time() - t0
                res[f"{key}_{phase}"] = {"seconds": dt, "per_second": cycles / dt,
                                         "guest_insns": p.icount(), "ok": p.exit_status == 0}
        cow = []
        from afgdb.machine.kernel import syscalls

        seen: dict[str, int] = {}
        for name in ("nanosleep", "clock_nanosleep", "clock_nanosleep_time64"):
            sc = syscalls.by_name(name)
            if sc is None:
                continue

            def wrapped(k: Kernel, t: object, *a: int, _fn: object = sc.fn) -> int:
                proc = t.proc  # type: ignore[attr-defined]
                parent = k.proc_of(proc.ppid)
                if parent is not None and parent.pid != 1 and "private" not in seen:
                    seen.update(parent_resident=parent.aspace.resident_pages(),
                                child_private=proc.aspace.private_pages(),
                                child_resident=proc.aspace.resident_pages())
                return _fn(k, t, *a)  # type: ignore[operator,no-any-return]

            syscalls.TABLE[sc.nr] = syscalls.Syscall(sc.nr, sc.name, sc.args, wrapped)
        for pages in (0, 100, 1000, 4000):
            seen.clear()
            k = Kernel(str(root), stdout=Out(1), stdin=Out(0))
            p = k.spawn("/bin/corpus/pm_cow", ["pm_cow", str(pages)], [])
            k.run_until_exit(p)
            cow.append(dict(seen, written=pages))
        res["cow"] = cow
    print(json.dumps(res))


# ------------------------------------------------------------- qemu-mipsel
def qemu_cycles(cycles: int, extra: list[str]) -> float:
    qemu = shutil.which("qemu-mipsel")
    assert qemu
    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_root(tmp)
        corpus = root / "bin" / "corpus"
        for name in ("pm_echo", "pm_forkloop"):
            real = corpus / (name + ".mips")
            (corpus / name).rename(real)
            (corpus / name).write_text(f'#!/bin/sh\nexec {qemu} -0 "$0" "{real}" "$@"\n')
            (corpus / name).chmod(0o755)
        cmd = [qemu, "-0", "/bin/corpus/pm_forkloop", str(corpus / "pm_forkloop.mips"),
               str(cycles), *extra]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=root, env={}, capture_output=True, check=False)
        dt = time.perf_counter() - t0
        if p.returncode != 0 or b" ok" not in p.stdout:
            raise SystemExit(f"qemu run failed: {p.stdout!r} {p.stderr!r}")
        return cycles / dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=4000,
                    help="cycles run before the steady-state figures")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.inner:
        inner(ns.cycles, ns.warmup)
        return 0
    rows: list[tuple[str, str, str, str, str]] = []
    cow = None
    for name, python in interpreters():
        env = with_nursery(dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x])))
        p = subprocess.run([python, __file__, "--inner", "--cycles", str(ns.cycles),
                            "--warmup", str(ns.warmup)],
                           capture_output=True, env=env, check=False)
        if p.returncode != 0:
            print(f"{name} failed:\n{p.stderr.decode()[-2000:]}", file=sys.stderr)
            continue
        res = json.loads(p.stdout.decode().strip().splitlines()[-1])
        rows.append((name, *(f"{res[key]['per_second']:.1f}" for key in (
            "forkexec_first", "forkexec_steady", "forkonly_first", "forkonly_steady"))))
        cow = cow or res["cow"]
    if shutil.which("qemu-mipsel"):
        fe, fo = qemu_cycles(ns.cycles, []), qemu_cycles(ns.cycles, ["-q"])
        rows.append(("qemu-mipsel", f"{fe:.1f}", "", f"{fo:.1f}", ""))
    print(f"{'':<16} {'fork+exec+wait/s':>24} {'fork+_exit+wait/s':>24}")
    print(f"{'engine':<16} {'first':>11} {'steady':>12} {'first':>11} {'steady':>12}"
          f"   ({ns.cycles} cycles; steady: after {ns.warmup} more)")
    for name, a, b, c, d in rows:
        print(f"{name:<16} {a:>11} {b:>12} {c:>11} {d:>12}")
    if cow:
        print("\nforking a process that touched 64 MiB (16384 pages of 4 KiB):")
        print(f"{'child writes':>12} {'parent resident':>16} {'child private':>14} "
              f"{'child resident':>15}")
        for c in cow:
            print(f"{c['written']:>12} {c['parent_resident']:>16} {c['child_private']:>14} "
                  f"{c['child_resident']:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
