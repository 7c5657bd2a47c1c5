"""gdb-multiarch against afgdb and against qemu-mipsel -g, side by side, in one run.

    python bench/bench_gdb.py [--steps 1000] [--hits 1000]

Measures, for each stub: 1000 `stepi` (gdb steps MIPS in software: Z0 at the
next pc, continue, z0, register and memory reads), breakpoint hits per second
(a breakpoint in /bin/loop's tick(), ignored N-1 times by gdb so every hit is
a full stop/resume round trip), and `dump binary memory` of the 8 MiB below
the initial stack top. Prints each figure and afgdb/qemu ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _REPO)  # runnable from a checkout without installing
sys.path.insert(0, os.path.join(_REPO, "tests"))
from gdb_session import ROOT, AfgdbServer, Gdb, QemuServer  # noqa: E402

MIB = 1 << 20


def measure(gdb: Gdb, steps: int, hits: int) -> dict[str, float]:
    out: dict[str, float] = {}
    gdb.run("break main")
    gdb.cont()
    gdb.run("delete")
    t = time.perf_counter()
    gdb.go(f"stepi {steps}", timeout=600)
    out["stepi/s"] = steps / (time.perf_counter() - t)

    sp = int(gdb.value("/x $sp"), 16)
    top = (sp + 0x1000) & ~0xFFF
    with tempfile.NamedTemporaryFile() as f:
        t = time.perf_counter()
        gdb.run(f"dump binary memory {f.name} {top - 8 * MIB:#x} {top:#x}", timeout=600)
        dt = time.perf_counter() - t
        assert os.path.getsize(f.name) == 8 * MIB
    out["dump MB/s"] = 8 * MIB / dt / 1e6

    gdb.run("break tick")
    gdb.run(f"ignore 2 {hits - 1}")
    t = time.perf_counter()
    gdb.cont()
    out["bp hits/s"] = hits / (time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--hits", type=int, default=1000)
    ns = ap.parse_args()
    program = f"{ROOT}/bin/loop"
    results = {}
    with QemuServer("/bin/loop") as q, Gdb(f"file {program}") as gdb:
        gdb.connect(q.address, extended=False)
        results["qemu-mipsel -g"] = measure(gdb, ns.steps, ns.hits)
    with AfgdbServer("/bin/loop") as a, Gdb(f"file {program}") as gdb:
        gdb.connect(a.address)
        results["afgdb"] = measure(gdb, ns.steps, ns.hits)
    keys = list(results["afgdb"])
    print(f"{'':16}" + "".join(f"{k:>14}" for k in keys))
    for name, r in results.items():
        print(f"{name:16}" + "".join(f"{r[k]:14.1f}" for k in keys))
    ratio = {k: results["afgdb"][k] / results["qemu-mipsel -g"][k] for k in keys}
    print(f"{'afgdb / qemu':16}" + "".join(f"{ratio[k]:13.2f}x" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
