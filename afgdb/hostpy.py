"""What afgdb sets up in the Python that runs it: PyPy's nursery size and JIT.

PyPy's garbage collector sizes its nursery (where new objects are made) from
the host's L2 cache: ~1 MiB on the machines measured, where a fork+exec+wait
cycle of the guest makes a few hundred KiB of kernel objects, page tables
and frames. Minor collections then promote much of it, and the major
collector spent ~350 us a cycle (more than the kernel's own work). With a
16 MiB nursery that fell to ~20 us and the cycle rate rose ~1.6x
(docs/benchmarks.md). The GC reads PYPY_GC_NURSERY only when the process
starts, so a PyPy afgdb started without it starts itself again with it set.

PyPy's JIT counts how often each loop and function runs and compiles those
past a threshold; by default it also decays every count each time it starts
tracing and every 64 minor collections (so that a long-running program does
not end up compiling its rarely run paths). A guest's code reaches the host
as many Python functions each run once per guest process (glibc's start-up,
the kernel's exec and exit): under decay their counts never reached the
threshold, and a fork+exec+wait cycle ran ~2x slower in the kernel than
under CPython. With decay off, code run often enough compiles however
spread out its runs are, and guard failures become bridges after 50 (not
200): the cycle rate rose ~1.3x, for ~7% more peak memory
(docs/benchmarks.md). ``set_param`` takes effect at once, so this
needs no restart; a program that runs machines in its own PyPy process (not
through the command) calls ``tune_jit()`` itself, as bench/ does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

NURSERY = "16MB"
JIT = "decay=0,trace_eagerness=50"
JIT_ENV = "AFGDB_PYPY_JIT"  # the user's own parameters ("" leaves PyPy's defaults)
jit_set = ""  # what tune_jit set in this process (for --stats)
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


def tune_jit() -> str:
    """Under PyPy, set the JIT's parameters to afgdb's, or to $AFGDB_PYPY_JIT when set;
    returns what was set ("" for nothing). Bad parameters are reported, not fatal."""
    global jit_set
    params = os.environ.get(JIT_ENV, JIT).strip()
    if not PYPY or not params:
        return ""
    try:
        import pypyjit  # type: ignore[import-not-found]

        pypyjit.set_param(params)
    except Exception as e:  # ValueError, SystemError (a value out of range), ImportError (no JIT)
        print(f"afgdb: JIT parameters {params!r} not taken ({type(e).__name__}: {e});"
              f" PyPy's JIT keeps its defaults (set {JIT_ENV} to choose others)", file=sys.stderr)
        return ""
    jit_set = params
    return params
