"""fork+exec+wait cycles per second inside the machine, and what forking a big process costs.

Runs the corpus program ``pm_forkloop N`` (N times: fork, execv
bin/corpus/pm_echo -q, waitpid) under afgdb (CPython and PyPy, timing only
the machine run, not interpreter start-up) and under qemu-mipsel (where each
exec starts a new qemu through a host shell wrapper, the only way qemu-user
can exec a MIPS program), side by side; then ``pm_forkloop N -q`` (fork and
_exit only). Last, the memory cost of forking: ``pm_cow`` touches 64 MiB and
forks, its child writes K pages; the table shows the parent's resident pages
and the child's private pages (pages it owns alone) for several K.

    python bench/bench_fork.py [--cycles N]
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
def inner(cycles: int) -> None:
    """Runs in the measured interpreter; prints one JSON line of results."""
    sys.path.insert(0, str(REPO))
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
            p = k.spawn("/bin/corpus/pm_forkloop", ["pm_forkloop", str(cycles), *extra], [])
            t0 = time.perf_counter()
            k.run_until_exit(p)
            dt = time.perf_counter() - t0
            res[key] = {"seconds": dt, "per_second": cycles / dt,
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
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.inner:
        inner(ns.cycles)
        return 0
    rows: list[tuple[str, float, float]] = []
    cow = None
    for name, python in interpreters():
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]))
        p = subprocess.run([python, __file__, "--inner", "--cycles", str(ns.cycles)],
                           capture_output=True, env=env, check=False)
        if p.returncode != 0:
            print(f"{name} failed:\n{p.stderr.decode()[-2000:]}", file=sys.stderr)
            continue
        res = json.loads(p.stdout.decode().strip().splitlines()[-1])
        rows.append((name, res["forkexec"]["per_second"], res["forkonly"]["per_second"]))
        cow = cow or res["cow"]
    if shutil.which("qemu-mipsel"):
        rows.append(("qemu-mipsel", qemu_cycles(ns.cycles, []), qemu_cycles(ns.cycles, ["-q"])))
    print(f"{'engine':<16} {'fork+exec+wait/s':>17} {'fork+_exit+wait/s':>18}"
          f"   ({ns.cycles} cycles)")
    for name, fe, fo in rows:
        print(f"{name:<16} {fe:>17.1f} {fo:>18.1f}")
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
