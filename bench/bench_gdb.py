"""gdb-multiarch against afgdb and against qemu-mipsel -g, side by side, in one run.

    python bench/bench_gdb.py [--rounds 5] [--steps 200] [--hits 200]

Measures, for each stub: `stepi` (gdb steps MIPS in software: Z0 at the
next pc, continue, z0, register and memory reads), breakpoint hits per second
(a breakpoint in /bin/loop's tick(), ignored N-1 times by gdb so every hit is
a full stop/resume round trip), `dump binary memory` of the 8 MiB below
the initial stack top (untouched stack: mostly zeros), and of /bin/loop's
first 512 KiB of code (few runs of zeros).

Both stubs are connected at once and every figure is taken in rounds that
alternate between them, so that load from elsewhere on the machine falls on
both alike; the ratio printed is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Callable

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _REPO)  # runnable from a checkout without installing
sys.path.insert(0, os.path.join(_REPO, "tests"))
from gdb_session import ROOT, AfgdbServer, Gdb, QemuServer  # noqa: E402

MIB = 1 << 20
KEYS = ("stepi/s", "dump MB/s", "code MB/s", "bp hits/s")
CODE = 0x400000  # /bin/loop's text (static, not PIE: the same address in both stubs)


def stepi(gdb: Gdb, steps: int) -> float:
    t = time.perf_counter()
    gdb.go(f"stepi {steps}", timeout=600)
    return steps / (time.perf_counter() - t)


def dump(gdb: Gdb, start: int, size: int) -> float:
    with tempfile.NamedTemporaryFile() as f:
        t = time.perf_counter()
        gdb.run(f"dump binary memory {f.name} {start:#x} {start + size:#x}", timeout=600)
        dt = time.perf_counter() - t
        assert os.path.getsize(f.name) == size
    return size / dt / 1e6


def hits(gdb: Gdb, n: int) -> float:
    gdb.run(f"ignore 2 {n - 1}")
    t = time.perf_counter()
    gdb.cont()
    return n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200, help="stepi per round")
    ap.add_argument("--hits", type=int, default=200, help="breakpoint hits per round")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every round")
    ns = ap.parse_args()
    program = f"{ROOT}/bin/loop"
    names = ("qemu-mipsel -g", "afgdb")
    with QemuServer("/bin/loop") as q, AfgdbServer("/bin/loop") as a, \
            Gdb(f"file {program}") as gq, Gdb(f"file {program}") as ga:
        gq.connect(q.address, extended=False)
        ga.connect(a.address)
        gdbs = dict(zip(names, (gq, ga)))
        tops = {}
        for name, gdb in gdbs.items():
            gdb.run("break main")
            gdb.cont()
            gdb.run("delete")
            tops[name] = (int(gdb.value("/x $sp"), 16) + 0x1000) & ~0xFFF
        figures: dict[str, dict[str, list[float]]] = {n: {k: [] for k in KEYS} for n in names}

        def rounds(key: str, fn: Callable[[str, Gdb], float]) -> None:
            for r in range(ns.rounds):
                order = names if r % 2 == 0 else names[::-1]
                for name in order:
                    figures[name][key].append(fn(name, gdbs[name]))

        rounds("stepi/s", lambda _n, g: stepi(g, ns.steps))
        rounds("dump MB/s", lambda n, g: dump(g, tops[n] - 8 * MIB, 8 * MIB))
        rounds("code MB/s", lambda _n, g: dump(g, CODE, MIB // 2))
        for gdb in gdbs.values():
            gdb.run("break tick")
        rounds("bp hits/s", lambda _n, g: hits(g, ns.hits))
    if ns.verbose:
        for name in names:
            for k in KEYS:
                print(f"{name:16}{k:>12}: " + " ".join(f"{x:.1f}" for x in figures[name][k]))
    print(f"{'':16}" + "".join(f"{k:>14}" for k in KEYS) + "   (median of rounds)")
    for name in names:
        print(f"{name:16}" + "".join(f"{statistics.median(figures[name][k]):14.1f}"
                                     for k in KEYS))
    ratio = {k: statistics.median(a / q for a, q in zip(figures["afgdb"][k],
                                                        figures["qemu-mipsel -g"][k]))
             for k in KEYS}
    print(f"{'afgdb / qemu':16}" + "".join(f"{ratio[k]:13.2f}x" for k in KEYS))
    spread = {k: [a / q for a, q in zip(figures["afgdb"][k], figures["qemu-mipsel -g"][k])]
              for k in KEYS}
    print(f"{'  range':16}" + "".join(f"{min(v):6.2f}-{max(v):<6.2f}".rjust(14)
                                      for v in spread.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
