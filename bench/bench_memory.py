"""Host memory of a busy machine: ten guest processes, CPython and PyPy side by side.

Spawns ten processes in one machine (libcheavy, cpubound, fib and hello in
turn, so several images and many translated blocks and regions are live at
once), runs them to completion, and prints the host process's peak resident
set size, the guest pages resident at the peak, and how many units the
translation caches hold. The goal is that such a machine fits comfortably
in 1 GiB.

    python bench/bench_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fork import interpreters, with_nursery  # noqa: E402  (one way to find the Pythons to compare)

REPO = Path(__file__).resolve().parent.parent
MIX = [("libcheavy", "2"), ("cpubound", "1"), ("fib", "22"), ("hello", "")] * 3

CHILD = r"""
import resource, sys
from afgdb.hostpy import tune_jit
from afgdb.machine.cpu import translate
from afgdb.machine.kernel.kernel import Kernel

tune_jit()  # as the afgdb command does
k = Kernel(sys.argv[1])
procs = []
for spec in sys.argv[2:12]:
    prog, _, arg = spec.partition(":")
    procs.append(k.spawn(f"/bin/{prog}", [prog] + ([arg] if arg else []), []))
peak_pages = units = 0
while any(p.alive for p in procs):
    if k.run(200_000) == 0:
        break
    live = [p for p in k.procs.values() if p.alive]
    peak_pages = max(peak_pages, sum(p.aspace.resident_pages() for p in live))
    units = max(units, sum(len(p.cache.blocks) + len(p.cache.cold) for p in live))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rss, peak_pages, units, len(translate._translations), len(translate._regions), k.insns)
"""


def main() -> int:
    root = REPO / "afgdb" / "rootfs" / "root"
    specs = [f"{p}:{a}" for p, a in MIX[:10]]
    print(f"{'python':<14}{'peak RSS MiB':>14}{'guest MiB':>11}{'units':>8}"
          f"{'shared blocks':>15}{'regions':>9}{'M insns':>9}")
    for name, py in interpreters():
        env = with_nursery(dict(os.environ, PYTHONPATH=str(REPO)))
        p = subprocess.run([py, "-c", CHILD, str(root), *specs], capture_output=True,
                           text=True, env=env, check=False)
        if p.returncode != 0:
            print(f"{name}: failed: {p.stderr[-400:]}", file=sys.stderr)
            continue
        rss, pages, units, shared, regions, insns = map(int, p.stdout.split()[-6:])
        print(f"{name:<14}{rss / 1024:>14.0f}{pages * 4 / 1024:>11.1f}{units:>8}"
              f"{shared:>15}{regions:>9}{insns / 1e6:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
