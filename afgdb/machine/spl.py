"""The splx-versus-interrupt softint study: which costs less, and from how many splx calls on.

The seed's question: should splx check for pending softints (variant A),
or just write COP_0_STATUS and let the pending software interrupt fire
(variant B)? This module boots the study kernel (``spl_kernel/``, one
prebuilt ELF per variant) on the system-mode CPU (``cpu/sysmode.py``) and
measures, with the cycle model of ``cycles.py``:

- a sweep over N = splx calls per softint: each round does N times
  ``s = splvm(); [first time: softint_schedule(softnet)]; splx(s)``, and
  the cost of one round is the cost per softint delivered;
- the pieces: one splx with nothing pending, the splx (A) or interrupt (B)
  that delivers the softint, softint_process itself, softint_schedule;
- the crossover: cost(N) is exactly fixed + N * per_splx for each variant
  (the kernel is deterministic), so B is cheaper from
  N* = (fixed_B - fixed_A) / (per_splx_A - per_splx_B) on.

It also runs the kernel's other two workloads for the tests: a script of
raise/splx/schedule operations and a Count/Compare timer loop.
Run ``python -m afgdb.machine.spl`` for the table.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from afgdb.machine.cpu.sysmode import KernelImage, Stop, SysMachine
from afgdb.machine.cycles import DEFAULT_TABLE, CycleTable

KERNEL_DIR = Path(__file__).resolve().with_name("spl_kernel")
VARIANTS = ("A", "B")
VARIANT_DESCRIPTIONS = {
    "A": "splx checks ci_softints and runs pending softints itself",
    "B": "splx only writes Status; the Cause.IP0/IP1 interrupt runs them",
}
SWEEP_NS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)

# Kernel ABI (afgdb/machine/spl_kernel/defs.inc).
P_MODE, P_N, P_ROUNDS, P_TICKS, P_INTERVAL, P_TICK_SOFTINT, P_SOFTINT = 0, 4, 8, 12, 16, 20, 24
MODE_SWEEP, MODE_SCRIPT, MODE_TIMER = 1, 2, 3
OP_END, OP_RAISE, OP_SPLX, OP_SCHED = 0, 1, 2, 3
EXIT_OK = 1
SOFTINT_CLOCK, SOFTINT_BIO, SOFTINT_NET, SOFTINT_SERIAL = 0, 1, 2, 3
SOFTINT_LEVEL = (1, 1, 2, 2)  # IPL_SOFTCLOCK = IPL_SOFTBIO = 1, IPL_SOFTNET = IPL_SOFTSERIAL = 2
IPL_NONE, IPL_VM, IPL_SCHED, IPL_HIGH = 0, 3, 4, 5
IPL_MAX = IPL_HIGH


class StudyError(Exception):
    """The study kernel did not end the way the driver expected (a bug, not a measurement)."""


@functools.cache
def image(variant: str) -> KernelImage:
    if variant not in VARIANTS:
        raise ValueError(f"unknown splx variant {variant!r}")
    return KernelImage.load(KERNEL_DIR / f"spl_kernel_{variant.lower()}.elf")


def boot(variant: str, table: CycleTable = DEFAULT_TABLE, *, keep_log: bool = True,
         **params: int) -> SysMachine:
    """A machine at the kernel's entry point with the params block filled in."""
    m = SysMachine(image(variant), table, keep_log=keep_log)
    base = m.symbol("params")
    offsets = {"mode": P_MODE, "n": P_N, "rounds": P_ROUNDS, "ticks": P_TICKS,
               "interval": P_INTERVAL, "tick_softint": P_TICK_SOFTINT, "softint": P_SOFTINT}
    for name, value in params.items():
        m.write_u32(base + offsets[name], value)
    return m


def finish(m: SysMachine, max_insns: int = 1 << 40) -> Stop:
    stop = m.run(max_insns)
    code = m.read_u32(m.symbol("exit_code"))
    if stop.reason != "halt" or code != EXIT_OK:
        info = [m.read_u32(m.symbol("exc_info") + 4 * i) for i in range(4)]
        raise StudyError(f"kernel stopped: {stop}, exit code {code}, "
                         f"exception cause/epc/badvaddr/status {[hex(v) for v in info]}")
    return stop


def boot_and_finish(variant: str, table: CycleTable = DEFAULT_TABLE,
                    **params: int) -> SysMachine:
    """Boot with params and run the kernel to its halt."""
    m = boot(variant, table, keep_log=True, **params)
    finish(m)
    return m


def counters(m: SysMachine) -> list[int]:
    """How many times each softint's handler ran (clock, bio, net, serial)."""
    base = m.symbol("counters")
    return [m.read_u32(base + 4 * i) for i in range(4)]


# --------------------------------------------------------------- the sweep
@dataclass(frozen=True)
class Cost:
    insns: int
    cycles: int

    def __sub__(self, other: Cost) -> Cost:
        return Cost(self.insns - other.insns, self.cycles - other.cycles)

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.insns + other.insns, self.cycles + other.cycles)


def _span(marks: list[tuple[int, int]], i: int, j: int) -> Cost:
    return Cost(marks[j][0] - marks[i][0], marks[j][1] - marks[i][1])


def measure_round(variant: str, n: int, table: CycleTable = DEFAULT_TABLE,
                  rounds: int = 3) -> list[Cost]:
    """Cost of each round of n splx calls with one softint (net) scheduled per round.

    A round runs from one ``sweep_round`` mark to the next. A stall that an
    instruction before a mark causes is paid after it, so only rounds with
    a round on either side are alike: the study uses the middle one of three.
    """
    m = boot(variant, table, keep_log=False, mode=MODE_SWEEP, n=n, rounds=rounds,
             softint=SOFTINT_NET)
    start, end = m.symbol("sweep_round"), m.symbol("sweep_end")
    m.add_probe(start)
    m.add_probe(end)
    finish(m)
    if counters(m)[SOFTINT_NET] != rounds:
        raise StudyError(f"variant {variant}: {counters(m)} softnet runs for {rounds} rounds")
    marks = m.probes[start] + m.probes[end]
    return [_span(marks, i, i + 1) for i in range(rounds)]


@dataclass(frozen=True)
class SweepRow:
    """Cost per softint delivered with n splx calls per softint, for both variants."""

    n: int
    a: Cost
    b: Cost


def steady_round(variant: str, n: int, table: CycleTable = DEFAULT_TABLE) -> Cost:
    return measure_round(variant, n, table)[1]


def sweep(ns: tuple[int, ...] = SWEEP_NS, table: CycleTable = DEFAULT_TABLE) -> list[SweepRow]:
    """Cost per softint for every n, both variants."""
    return [SweepRow(n, steady_round("A", n, table), steady_round("B", n, table)) for n in ns]


@dataclass(frozen=True)
class Line:
    """cost(N) = fixed + per_splx * N, exactly (one metric of one variant)."""

    fixed: int
    per_splx: int

    def at(self, n: int) -> int:
        return self.fixed + self.per_splx * n


@dataclass(frozen=True)
class Fit:
    insns: Line
    cycles: Line


def fit(variant: str, table: CycleTable = DEFAULT_TABLE) -> Fit:
    """The exact linear cost of one softint period, from rounds of N = 1 and N = 2."""
    c1 = steady_round(variant, 1, table)
    c2 = steady_round(variant, 2, table)
    d = c2 - c1
    return Fit(Line(c1.insns - d.insns, d.insns), Line(c1.cycles - d.cycles, d.cycles))


def crossover(a: Line, b: Line) -> int | None:
    """Smallest N >= 1 from which B costs less than A (None: never)."""
    slope = a.per_splx - b.per_splx
    gap = b.fixed - a.fixed
    if slope <= 0:
        return 1 if gap < 0 else None
    return max(1, math.floor(gap / slope) + 1)


# ----------------------------------------------------------- the pieces
@dataclass(frozen=True)
class Breakdown:
    """What one softint costs, piece by piece, in one variant (N = 2, middle round of three)."""

    variant: str
    splx_nothing_pending: Cost  # the call (jal and delay slot included), nothing to deliver
    splx_delivering: Cost  # the call that unmasks the pending softint, all it causes included
    softint_process: Cost  # softint_process with the handler, inclusive
    schedule: Cost  # the softint_schedule call at IPL_VM
    interrupt: Cost | None  # B: exception entry to eret, minus softint_process
    round_cost: Cost


def breakdown(variant: str, table: CycleTable = DEFAULT_TABLE) -> Breakdown:
    m = boot(variant, table, mode=MODE_SWEEP, n=2, rounds=3, softint=SOFTINT_NET)
    sym = m.symbol
    # Call sites in workload_sweep: "jal f; <delay slot>" just before the return label.
    sites = {"call_splx": sym("sweep_after_splx") - 8, "after_splx": sym("sweep_after_splx"),
             "call_sched": sym("sweep_after_sched") - 8, "after_sched": sym("sweep_after_sched"),
             "softint_process": sym("softint_process"),
             "process_ret": sym("splx_dosoft_ret" if variant == "A" else "intr_softints_done"),
             "round": sym("sweep_round"), "end": sym("sweep_end")}
    for addr in sites.values():
        m.add_probe(addr)
    finish(m)
    p = {name: m.probes[addr] for name, addr in sites.items()}
    # Round 2 holds splx calls 2 and 3: the first delivers, the second finds nothing.
    calls = [_span([p["call_splx"][i], p["after_splx"][i]], 0, 1) for i in (2, 3)]
    deliver, plain = calls
    sp_entry = p["softint_process"][1]
    sp_ret = next(x for x in p["process_ret"] if x[0] > sp_entry[0])
    process = _span([sp_entry, sp_ret], 0, 1)
    sched = _span([p["call_sched"][1], p["after_sched"][1]], 0, 1)
    interrupt = None
    if variant == "B":
        rec = [r for r in m.log if r.code == 0][1]
        interrupt = Cost(rec.eret_icount - rec.icount, rec.eret_cycles - rec.cycles) - process
    rounds = p["round"] + p["end"]
    return Breakdown(variant, plain, deliver, process, sched, interrupt, _span(rounds, 1, 2))


# ------------------------------------------------------- other workloads
def run_script(variant: str, ops: list[tuple[int, int]],
               table: CycleTable = DEFAULT_TABLE) -> SysMachine:
    """Interpret (op, arg) pairs in the kernel (OP_RAISE ipl / OP_SPLX / OP_SCHED softint)."""
    m = boot(variant, table, mode=MODE_SCRIPT)
    words = b"".join(((op << 8) | arg).to_bytes(4, "little") for op, arg in ops)
    m.write(m.symbol("script_area"), words + bytes(4))
    finish(m)
    return m


def expected_runs(ops: list[tuple[int, int]]) -> list[int]:
    """What a correct kernel does with a script: runs per softint (a pending one coalesces)."""
    cpl = IPL_NONE
    stack: list[int] = []
    pending = [False] * 4
    runs = [0] * 4

    def drain() -> None:
        for si in range(4):
            if pending[si] and SOFTINT_LEVEL[si] > cpl:
                pending[si] = False
                runs[si] += 1

    for op, arg in ops:
        if op == OP_RAISE:
            stack.append(cpl)
            cpl = max(cpl, arg)
        elif op == OP_SPLX:
            cpl = stack.pop()
        elif op == OP_SCHED:
            pending[arg] = True
        drain()
    return runs


def run_timer(variant: str, ticks: int, interval: int = 4000, tick_softint: bool = False,
              table: CycleTable = DEFAULT_TABLE) -> SysMachine:
    """Spin with interrupts on until the Count/Compare timer has ticked `ticks` times."""
    m = boot(variant, table, mode=MODE_TIMER, ticks=ticks, interval=interval,
             tick_softint=int(tick_softint))
    finish(m)
    return m


# ------------------------------------------------------------ reporting
def sensitivity_tables() -> dict[str, CycleTable]:
    d = DEFAULT_TABLE
    return {
        "default": d,
        "free exception entry and eret": replace(d, exception_entry=0, eret=0),
        "entry/eret penalties x2": replace(d, exception_entry=2 * d.exception_entry,
                                           eret=2 * d.eret),
        "no CP0 hazard stall": replace(d, cp0_hazard=0),
        "CP0 hazard x2": replace(d, cp0_hazard=2 * d.cp0_hazard),
    }


def format_sweep(rows: list[SweepRow]) -> str:
    out = ["     N |   A insns   A cycles |   B insns   B cycles | per splx A/B (cycles) | cheaper",
           "-------+----------------------+----------------------+-----------------------+--------"]
    for r in rows:
        win_i = "B" if r.b.insns < r.a.insns else "A" if r.a.insns < r.b.insns else "="
        win_c = "B" if r.b.cycles < r.a.cycles else "A" if r.a.cycles < r.b.cycles else "="
        out.append(f"{r.n:6d} | {r.a.insns:9d} {r.a.cycles:10d} | {r.b.insns:9d} {r.b.cycles:10d}"
                   f" | {r.a.cycles / r.n:9.2f} {r.b.cycles / r.n:9.2f}   | {win_i}/{win_c}")
    return "\n".join(out)


def format_breakdown(bd: Breakdown) -> str:
    def c(x: Cost | None) -> str:
        return "-" if x is None else f"{x.insns:5d} insns {x.cycles:6d} cycles"

    return "\n".join([
        f"variant {bd.variant}: {VARIANT_DESCRIPTIONS[bd.variant]}",
        f"  splx, nothing pending        {c(bd.splx_nothing_pending)}",
        f"  splx that delivers (all in)  {c(bd.splx_delivering)}",
        f"  softint_process (+handler)   {c(bd.softint_process)}",
        f"  softint_schedule             {c(bd.schedule)}",
        f"  interrupt entry+exit         {c(bd.interrupt)}",
        f"  one round, N = 2             {c(bd.round_cost)}",
    ])


def report(ns: tuple[int, ...] = SWEEP_NS, table: CycleTable = DEFAULT_TABLE) -> str:
    fa, fb = fit("A", table), fit("B", table)
    rows = sweep(ns, table)
    for r in rows:  # the sweep must agree with the exact lines
        if (r.a.insns, r.a.cycles) != (fa.insns.at(r.n), fa.cycles.at(r.n)) or \
                (r.b.insns, r.b.cycles) != (fb.insns.at(r.n), fb.cycles.at(r.n)):
            raise StudyError(f"cost is not linear in N at N={r.n}")
    xi = crossover(fa.insns, fb.insns)
    xc = crossover(fa.cycles, fb.cycles)
    lines = [
        "Cost per softint delivered, N splx calls per softint (one round of the sweep workload)",
        "",
        format_sweep(rows),
        "",
        f"A: insns = {fa.insns.fixed} + {fa.insns.per_splx} N,  cycles = "
        f"{fa.cycles.fixed} + {fa.cycles.per_splx} N",
        f"B: insns = {fb.insns.fixed} + {fb.insns.per_splx} N,  cycles = "
        f"{fb.cycles.fixed} + {fb.cycles.per_splx} N",
        f"crossover: B is cheaper from N = {xi} (instructions), N = {xc} (cycles)",
        "",
        format_breakdown(breakdown("A", table)),
        format_breakdown(breakdown("B", table)),
        "",
        "crossover (cycles) under other cycle tables:",
    ]
    for name, tab in sensitivity_tables().items():
        ca, cb = fit("A", tab), fit("B", tab)
        lines.append(f"  {name:32s} N = {crossover(ca.cycles, cb.cycles)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m afgdb.machine.spl", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--ns", default=",".join(map(str, SWEEP_NS)),
                    help="comma-separated N values (splx calls per softint)")
    args = ap.parse_args(argv)
    ns = tuple(int(x) for x in args.ns.split(","))
    print(report(ns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
