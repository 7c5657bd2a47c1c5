"""Core writer throughput: a process with 256 MiB mapped (half touched) dumped to /dev/null.

Goal (issue 8): at least 200 MB/s, with flat memory (no copy of the image in the host).
Run: python bench/bench_elfcore.py [MiB]
"""

from __future__ import annotations

import resource
import sys
import time

from afgdb.machine import elfcore
from afgdb.machine.cpu.engine import CodeCache
from afgdb.machine.cpu.state import CPU
from afgdb.machine.kernel.files import FDTable
from afgdb.machine.kernel.proc import LWP, Proc
from afgdb.machine.memory import PROT_READ, PROT_WRITE, AddressSpace


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    a = AddressSpace()
    base = 0x10000000
    a.map(base, mib << 20, PROT_READ | PROT_WRITE, name="[anon]")
    for off in range(0, mib << 20, 8192):  # touch every other page
        a.write_u32(base + off, off)
    p = Proc(pid=1, ppid=0, aspace=a, cache=CodeCache(a), fds=FDTable(), comm="bench")
    p.lwps.append(LWP(lid=1, proc=p, cpu=CPU()))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/dev/null", "wb") as f:
        t = time.perf_counter()
        res = elfcore.write_process_core(None, p, f, 11)
        dt = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{res.size / 1e6:.0f} MB in {dt:.3f} s = {res.size / dt / 1e6:.0f} MB/s; "
          f"max RSS grew {(rss1 - rss0) / 1024:.1f} MiB while writing")


if __name__ == "__main__":
    main()
