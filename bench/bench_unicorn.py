"""Unicorn behind afgdb's run() contract against the block engine and qemu-mipsel.

For each program of bench_cpu.PROGRAMS and each interpreter (CPython, and
PyPy when unicorn imports there), runs one process per engine and prints
the wall time of the run (the kernel's whole run, start-up of Python
excluded), guest MIPS, and whether the instruction count equals the block
engine's:

    block      the block engine (afgdb's default)
    interp     the reference interpreter (--interp; slow)
    uc         Unicorn, exact counts (a block hook counts), no debug state
    uc+bp+wp   the same with a breakpoint (at abort) and a write watchpoint
               (on _IO_stdin_used) armed, never hit; the block engine gets the
               same pair in `block+bp+wp`
    uc-sliced  Unicorn with no block hook, sliced by its own instruction count
               at the kernel's slice size: the fastest it runs here, but the
               count of a slice that ends early (a system call) is lost
    qemu       qemu-mipsel, whole process

    python bench/bench_unicorn.py [--rounds N] [--interp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_cpu import PROGRAMS, ROOT, interpreters, run_qemu  # noqa: E402

ENGINES = ["block", "block+bp+wp", "uc", "uc+bp+wp", "uc-sliced"]


def child(engine: str, prog: str, args: list[str]) -> int:
    """Run one program on one engine in this process; stats as JSON on stderr."""
    from elftools.elf.elffile import ELFFile

    from afgdb.machine.kernel.kernel import Kernel

    k = Kernel(str(ROOT))
    k.log = lambda msg: None
    if engine.startswith("uc"):
        from afgdb.machine import unicorn_engine

        k.cpu_run = unicorn_engine.run_sliced if engine == "uc-sliced" else unicorn_engine.run
    elif engine == "interp":
        from afgdb.machine.cpu import interp

        k.cpu_run = interp.run
    t0 = time.perf_counter()
    p = k.spawn(f"/bin/{prog}", [f"/bin/{prog}", *args], ["PATH=/bin"])
    if engine.endswith("+bp+wp"):
        with open(ROOT / "bin" / prog, "rb") as f:
            syms = ELFFile(f).get_section_by_name(".symtab")
            bp = syms.get_symbol_by_name("abort")[0]["st_value"]
            wp = syms.get_symbol_by_name("_IO_stdin_used")[0]["st_value"]
        p.cache.add_breakpoint(bp)
        p.cache.set_watchpoints([(wp, 4, 2)])
    status = k.run_until_exit(p)
    dt = time.perf_counter() - t0
    print(json.dumps({"icount": p.icount(), "s": dt, "status": status}), file=sys.stderr)
    return 0


def run_child(python: list[str], engine: str, prog: str, args: list[str]) -> tuple[dict, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run(python + [__file__, "--child", engine, prog, *args],
                       capture_output=True, env=env, check=False)
    lines = [ln for ln in p.stderr.decode().splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"{engine} failed on {prog}: {p.stderr.decode()[-800:]}")
    return json.loads(lines[-1]), p.stdout.decode()


def has_unicorn(python: list[str]) -> bool:
    return subprocess.run(python + ["-c", "import unicorn"], capture_output=True,
                          check=False).returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each; the median counts")
    ap.add_argument("--interp", action="store_true", help="also the reference interpreter")
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        return child(ns.child[0], ns.child[1], ns.child[2:])
    engines = ENGINES + (["interp"] if ns.interp else [])
    pythons = [(name, py) for name, py in interpreters()]
    print(f"{'program':<14}{'python':<9}{'engine':<13}{'run s':>8}{'MIPS':>8}"
          f"{'x block':>9}  count")
    for prog, args in PROGRAMS:
        label = f"{prog} {' '.join(args)}"
        qt: list[float] = []
        for name, py in pythons:
            impl = name.split("/")[-1]
            usable = [e for e in engines if not e.startswith("uc") or has_unicorn(py)]
            times: dict[str, list[float]] = {e: [] for e in usable}
            counts: dict[str, int] = {}
            for _ in range(ns.rounds):  # interleave engines so drift hits all alike
                dq, expected = run_qemu(prog, args)
                qt.append(dq)
                for e in usable:
                    st, out = run_child(py, e, prog, args)
                    if out != expected:
                        raise SystemExit(f"{e} output differs from qemu on {prog}")
                    times[e].append(st["s"])
                    counts[e] = st["icount"]
            ref = counts["block"]
            bmed = sorted(times["block"])[len(times["block"]) // 2]
            for e in usable:
                med = sorted(times[e])[len(times[e]) // 2]
                same = "exact" if counts[e] == ref else f"{counts[e] - ref:+d}"
                print(f"{label:<14}{impl:<9}{e:<13}{med:>8.3f}{ref / med / 1e6:>8.1f}"
                      f"{bmed / med:>9.2f}  {same}", flush=True)
        q = sorted(qt)[len(qt) // 2]
        print(f"{label:<14}{'-':<9}{'qemu':<13}{q:>8.3f}{counts['block'] / q / 1e6:>8.1f}"
              f"{bmed / q:>9.2f}  (whole process)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
