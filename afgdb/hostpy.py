"""What afgdb sets up in the Python that runs it: PyPy's nursery size.

PyPy's garbage collector sizes its nursery (where new objects are made) from
the host's L2 cache: ~1 MiB on the machines measured, where a fork+exec+wait
cycle of the guest makes a few hundred KiB of kernel objects, page tables
and frames. Minor collections then promote much of it, and the major
collector spent ~350 us a cycle (more than the kernel's own work). With a
16 MiB nursery that fell to ~20 us and the cycle rate rose ~1.6x
(docs/benchmarks.md). The GC reads PYPY_GC_NURSERY only when the process
starts, so a PyPy afgdb started without it starts itself again with it set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

NURSERY = "16MB"
PYPY = sys.implementation.name == "pypy"


def with_nursery(env: Mapping[str, str]) -> dict[str, str]:
    """env for a PyPy process afgdb starts (one the user set keeps its own size)."""
    out = dict(env)
    out.setdefault("PYPY_GC_NURSERY", NURSERY)
    return out


def ensure_nursery(argv: Sequence[str]) -> None:
    """Under PyPy without PYPY_GC_NURSERY, exec this interpreter again with it set and
    the given arguments (after the interpreter's path); elsewhere, do nothing."""
    if PYPY and "PYPY_GC_NURSERY" not in os.environ:
        os.execve(sys.executable, [sys.executable, *argv], with_nursery(os.environ))
