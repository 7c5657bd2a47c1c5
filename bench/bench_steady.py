"""Steady guest rates of the block engine, bare and with a breakpoint and a watchpoint armed.

For each Python (CPython, and PyPy when installed) and program, runs the
program in-process twice: bare, and with a breakpoint (at ``abort``) and a
write watchpoint (on ``_IO_stdin_used``) armed and never hit, as a debugger
would leave them. Prints the median rate over the later 10M-instruction
windows (process CPU time: what the engine settles at once its code is
translated and, under PyPy, JIT-compiled), the first window's rate (start-up
and warm-up), and checks that both runs count the same instructions.

    python bench/bench_steady.py [--programs fib:32,cpubound:8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# (this directory is on sys.path when run as a script)
from bench_fork import interpreters, tune_jit, with_nursery

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "afgdb" / "rootfs" / "root"
WINDOW = 10_000_000


def inner(prog: str, arg: str, armed: bool) -> None:
    sys.path.insert(0, str(REPO))
    tune_jit()  # as the afgdb command does
    from elftools.elf.elffile import ELFFile

    from afgdb.machine.kernel.files import BufferStream
    from afgdb.machine.kernel.kernel import Kernel

    k = Kernel(str(ROOT), stdout=BufferStream(1), stderr=BufferStream(1), stdin=BufferStream(0))
    p = k.spawn(f"/bin/{prog}", [prog, arg], [])
    if armed:
        with open(ROOT / "bin" / prog, "rb") as f:
            syms = ELFFile(f).get_section_by_name(".symtab")
            bp = syms.get_symbol_by_name("abort")[0]["st_value"]  # type: ignore[union-attr]
            wp = syms.get_symbol_by_name("_IO_stdin_used")[0]["st_value"]  # type: ignore[union-attr]
        p.cache.add_breakpoint(bp)
        p.cache.set_watchpoints([(wp, 4, 2)])
    rates = []
    while True:
        t = time.process_time()
        n = k.run(WINDOW)
        dt = time.process_time() - t
        if n < WINDOW:
            break
        rates.append(n / dt / 1e6)
    later = rates[len(rates) // 3:] or rates
    print(json.dumps({"steady": statistics.median(later), "first": rates[0] if rates else 0,
                      "windows": len(rates), "icount": p.icount()}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", default="fib:32,cpubound:8",
                    help="comma-separated PROGRAM:ARG (runs long enough for 3+ windows)")
    ap.add_argument("--inner", nargs=3, metavar=("PROG", "ARG", "ARMED"), help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.inner:
        inner(ns.inner[0], ns.inner[1], ns.inner[2] == "1")
        return 0
    print(f"{'program':<14}{'Python':<15}{'steady MIPS':>12}{'+bp+wp':>9}{'first':>8}"
          f"{'windows':>9}  counts")
    for spec in ns.programs.split(","):
        prog, arg = spec.split(":")
        for name, py in interpreters():
            res = []
            for armed in ("0", "1"):
                out = subprocess.run([py, __file__, "--inner", prog, arg, armed],
                                     capture_output=True, text=True, check=True,
                                     env=with_nursery(os.environ)).stdout
                res.append(json.loads(out.strip().splitlines()[-1]))
            same = "same" if res[0]["icount"] == res[1]["icount"] else "DIFFER"
            print(f"{prog + ' ' + arg:<14}{name:<15}{res[0]['steady']:>12.1f}"
                  f"{res[1]['steady']:>9.1f}{res[0]['first']:>8.1f}{res[0]['windows']:>9}  {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
