"""The splx-versus-interrupt softint study: the sweep table, the crossover and the pieces.

Boots the study kernel (afgdb/machine/spl_kernel) once per splx variant and
N on the system-mode CPU and prints, per softint delivered, instructions and
cycles of (A) splx checking for pending softints and (B) splx only writing
COP_0_STATUS and letting the software interrupt fire. The counts are exact
and the same on every run and interpreter; only the wall time printed last
varies.

    python bench/bench_spl.py [--ns 1,2,5,...] [--plot out.png]

--plot needs matplotlib (not a dependency of afgdb).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from afgdb.machine import spl  # noqa: E402


def plot(rows: list[spl.SweepRow], path: Path) -> None:
    matplotlib = importlib.import_module("matplotlib")  # optional: not an afgdb dependency
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")

    ns = [r.n for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(ns, [r.a.cycles / r.n for r in rows], "o-", label="A: splx checks")
    ax.plot(ns, [r.b.cycles / r.n for r in rows], "s-", label="B: interrupt fires")
    ax.set_xscale("log")
    ax.set_xlabel("splx calls per softint (N)")
    ax.set_ylabel("cycles per splx call (softint delivery included)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ns", default=",".join(map(str, spl.SWEEP_NS)))
    ap.add_argument("--plot", type=Path, help="write a PNG of cost per splx against N")
    args = ap.parse_args()
    ns = tuple(int(x) for x in args.ns.split(","))
    t0 = time.perf_counter()
    print(spl.report(ns))
    if args.plot:
        plot(spl.sweep(ns), args.plot)
        print(f"\nplot: {args.plot}")
    print(f"\n({time.perf_counter() - t0:.1f} s wall, {sys.implementation.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
