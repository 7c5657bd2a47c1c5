"""Instructions per second of afgdb (CPython and PyPy) against qemu-mipsel, side by side.

Runs the same CPU-bound guest programs under each engine in one run and
prints whole-process wall time, millions of guest instructions per second
over that wall time and over the run alone (afgdb's --stats: without the
interpreter's start-up), the steady rate (--stats: the median over the
later 10M-instruction windows, in CPU time: what the engine settles at once
its code is translated and, under PyPy, JIT-compiled), each engine's wall time
relative to qemu-mipsel, and the block engine's run rate over the reference
interpreter's (``--engine interp``, run once on a smaller input). The
instruction count is afgdb's own: the programs are deterministic, so qemu
executes the same instructions.

    python bench/bench_cpu.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "afgdb" / "rootfs" / "root"
PROGRAMS = [("cpubound", ["8"]), ("fib", ["30"]), ("libcheavy", ["8"])]
# The reference interpreter runs the same programs smaller (its rate does not
# depend on the size: no JIT, no translation to amortize).
INTERP_ARGS = {"cpubound": ["1"], "fib": ["22"], "libcheavy": ["1"]}


def interpreters() -> list[tuple[str, list[str]]]:
    out = [("afgdb/CPython", [sys.executable])]
    for cand in (REPO / ".venv-pypy" / "bin" / "python", shutil.which("pypy3")):
        if cand and Path(cand).exists():
            out.append(("afgdb/PyPy", [str(cand)]))
            break
    return out


def run_afgdb(python: list[str], prog: str, args: list[str],
              engine: str = "block") -> tuple[float, int, str, float, float | None]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    p = subprocess.run(python + ["-m", "afgdb", "run", "--stats", "--engine", engine,
                                 f"/bin/{prog}", *args],
                       capture_output=True, env=env, check=False)
    dt = time.perf_counter() - t0
    m = re.search(rb"afgdb: (\d+) instructions in ([0-9.]+) s", p.stderr)
    if not m:
        raise SystemExit(f"afgdb failed on {prog}: {p.stderr.decode()[-500:]}")
    steady = re.search(rb"afgdb: steady rate ([0-9.]+) MIPS", p.stderr)
    return (dt, int(m.group(1)), p.stdout.decode(), float(m.group(2)),
            float(steady.group(1)) if steady else None)


def run_qemu(prog: str, args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(["qemu-mipsel", str(ROOT / "bin" / prog), *args], capture_output=True,
                       check=False)
    return time.perf_counter() - t0, p.stdout.decode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each; the median counts")
    ns = ap.parse_args()
    if not shutil.which("qemu-mipsel"):
        print("qemu-mipsel not found (apt-get install qemu-user)", file=sys.stderr)
        return 2
    print(f"{'program':<14}{'engine':<16}{'wall s':>9}{'MIPS':>8}{'run MIPS':>10}"
          f"{'steady':>9}{'x qemu time':>13}{'x interp':>10}")
    for prog, args in PROGRAMS:
        _, n_interp, _, s_interp, _ = run_afgdb([sys.executable], prog, INTERP_ARGS[prog], "interp")
        interp_mips = n_interp / s_interp / 1e6
        rows: dict[str, list[float]] = {}
        inside: dict[str, list[float]] = {}
        steady: dict[str, list[float]] = {}
        icount = 0
        expected = None
        for _ in range(ns.rounds):  # interleave engines so drift hits all alike
            dq, out_q = run_qemu(prog, args)
            rows.setdefault("qemu-mipsel", []).append(dq)
            expected = out_q
            for name, py in interpreters():
                dt, icount, out, run_s, rate = run_afgdb(py, prog, args)
                inside.setdefault(name, []).append(run_s)
                if rate is not None:
                    steady.setdefault(name, []).append(rate)
                if out != expected:
                    raise SystemExit(f"{name} output differs from qemu on {prog}")
                rows.setdefault(name, []).append(dt)
        q = sorted(rows["qemu-mipsel"])[len(rows["qemu-mipsel"]) // 2]
        label = f"{prog} {' '.join(args)}"
        for name, times in rows.items():
            med = sorted(times)[len(times) // 2]
            ins = sorted(inside.get(name, times))[len(times) // 2]
            rates = sorted(steady.get(name, []))
            st = f"{rates[len(rates) // 2]:>9.1f}" if rates else f"{'':>9}"
            print(f"{label:<14}{name:<16}{med:>9.3f}{icount / med / 1e6:>8.1f}"
                  f"{icount / ins / 1e6:>10.1f}{st}{med / q:>13.1f}"
                  f"{icount / ins / 1e6 / interp_mips:>10.1f}")
        small = f"{prog} {' '.join(INTERP_ARGS[prog])}"
        print(f"{small:<14}{'interp/CPython':<16}{'':>9}{'':>8}{interp_mips:>10.2f}{'':>22}"
              f"{1.0:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
