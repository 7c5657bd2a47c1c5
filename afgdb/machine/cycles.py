"""The cycle model of the system-mode CPU: one table of costs and the scoreboard that applies it.

Owns what an instruction costs in cycles on a simple in-order, single-issue
MIPS32 core in the spirit of the MIPS 4K/24K families. It reads the
instruction table (``cpu/isa.py``) to learn each row's operands and class,
so no instruction is described twice; it never changes guest state.

The model is a register scoreboard: an instruction issues one cycle after
the previous one, later if one of its source registers is not ready yet
(load-use, mfc0-use and multiply/divide interlocks fall out of that); a
taken branch or jump costs a fetch bubble after its delay slot; ``ehb``,
``jr.hb`` and ``eret`` wait until earlier CP0 writes have settled; taking
an exception and ``eret`` each pay a pipeline refill. Caches and the TLB are
not modelled: every fetch and access hits (the study's loops are hot).

The figures are in ``CycleTable``, with where they come from. They are our
reading of the MIPS32 4K and 24K Software User's Manuals (MD00016,
MD00343: the pipeline, "instruction latencies" and "hazards" chapters),
rounded; they are not cycle-exact for any one core. Make another table
(``dataclasses.replace(DEFAULT_TABLE, ...)``) to see how an answer depends
on them.

A block's cost depends only on its instructions, whether its last branch
was taken and the scoreboard state it starts in, so ``Timing`` memoises
that triple; the result is the same whatever the block boundaries are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from afgdb.machine.cpu import isa

LO_REG = 32
HI_REG = 33
EHB_WORD = 0x000000C0  # sll $0, $0, 3


@dataclass(frozen=True)
class CycleTable:
    """Cycles per instruction class. Latency = cycles from issue until a consumer may issue."""

    # Every instruction issues in one cycle (single-issue pipeline, 4K and 24K).
    issue: int = 1
    # ALU results bypass to the next instruction: no interlock.
    alu_latency: int = 1
    # Loads: data comes back one cycle late; a consumer right behind the load
    # stalls one cycle (the classic MIPS load-use interlock of the 4K/24K).
    load_latency: int = 2
    # Stores retire into the store buffer: one cycle, nothing waits on them.
    store: int = 1
    # mul (to a GPR): 24K MDU, 32x32 multiply result latency ~5 cycles.
    mul_latency: int = 5
    # mult/multu/madd/msub to HI/LO: ~4 cycles before mflo/mfhi may read them.
    mult_latency: int = 4
    # div/divu: iterative, ~35 cycles worst case (early-out not modelled);
    # the MDU is busy that long.
    div_latency: int = 35
    # A taken branch or jump: one fetch bubble after the delay slot (the
    # target is known a stage after fetch; the delay slot hides the other).
    branch_taken: int = 1
    # mfc0: the CP0 value reaches the GPR one cycle later than an ALU result.
    mfc0_latency: int = 2
    # mtc0/di/ei: the write takes effect this many cycles after issue; an
    # ehb (or jr.hb/eret) before then stalls until it has (execution hazard).
    cp0_hazard: int = 3
    # Exception or interrupt entry: the instructions in flight are squashed
    # and fetch restarts at the vector, about the pipeline's depth.
    exception_entry: int = 7
    # eret: clears hazards and refetches from EPC: a pipeline refill.
    eret: int = 5


DEFAULT_TABLE = CycleTable()


# Instruction classes.
C_ALU = 0
C_LOAD = 1
C_STORE = 2
C_MUL = 3
C_MULT = 4
C_DIV = 5
C_MFC0 = 6
C_MTC0 = 7
C_EHB = 8
C_ERET = 9
C_BRANCH = 10
C_BARRIER_JUMP = 11  # jr.hb / jalr.hb: a jump that also clears hazards
C_DIEI = 12

_MULT_NAMES = {"mult", "multu", "madd", "maddu", "msub", "msubu"}
_TOK = re.compile(r"\b(RS|RT|RD|HI|LO)\b")
_ASSIGN = re.compile(r"^\s*(RS|RT|RD|HI|LO) = (.*)$")


@dataclass(frozen=True)
class InsnTiming:
    """What the scoreboard needs of one instruction word."""

    cls: int
    srcs: tuple[int, ...]
    dsts: tuple[int, ...]
    is_branch: bool


def _reg(tok: str, f: dict[str, int]) -> int:
    if tok == "HI":
        return HI_REG
    if tok == "LO":
        return LO_REG
    return f[tok]


def classify(word: int) -> InsnTiming:
    """Class and register operands of word, derived from its row's semantics template."""
    row = isa.decoder().decode(word)
    if row is None:
        return InsnTiming(C_ALU, (), (), False)
    f = isa.fields(word, 0)
    srcs: set[int] = set()
    dsts: set[int] = set()
    name = row.name
    if row.load is not None:
        srcs.add(f["RS"])
        dsts.add(f["RT"])
    elif row.store:
        srcs.update((f["RS"], f["RT"]))
    else:
        text = row.sem + "\n" + row.cond
        for line in text.split("\n"):
            m = _ASSIGN.match(line)
            if m:
                dsts.add(_reg(m.group(1), f))
                line = m.group(2)
            srcs.update(_reg(t, f) for t in _TOK.findall(line))
        if row.link:
            dsts.add(f["RD"] if row.kind == isa.K_JUMPREG else 31)
    srcs.discard(0)
    dsts.discard(0)
    is_branch = row.kind in (isa.K_BRANCH, isa.K_JUMP, isa.K_JUMPREG)
    if word == EHB_WORD:
        cls = C_EHB
    elif name in ("lwl", "lwr", "ll") or row.load is not None:
        cls = C_LOAD
    elif name in ("swl", "swr", "sc") or row.store:
        cls = C_STORE
    elif name == "mul":
        cls = C_MUL
    elif name in _MULT_NAMES:
        cls = C_MULT
    elif name in ("div", "divu"):
        cls = C_DIV
    elif name == "mfc0":
        cls = C_MFC0
    elif name == "mtc0":
        cls = C_MTC0
    elif name in ("di", "ei"):
        cls = C_DIEI
    elif name == "eret":
        cls = C_ERET
    elif name in ("jr.hb", "jalr.hb"):
        cls = C_BARRIER_JUMP
    elif is_branch:
        cls = C_BRANCH
    else:
        cls = C_ALU
    return InsnTiming(cls, tuple(sorted(srcs)), tuple(sorted(dsts)), is_branch)


# Scoreboard state between blocks, relative to "now": (cp0 hazard cycles left,
# MDU busy cycles left, ((register, cycles until ready), ...)).
ScoreState = tuple[int, int, tuple[tuple[int, int], ...]]
_Result = tuple[int, ScoreState, tuple[tuple[int, int], ...]]
_EMPTY: ScoreState = (0, 0, ())


class Timing:
    """Charges cycles for executed instruction runs; optionally attributes them to addresses."""

    def __init__(self, fetch: Callable[[int], int], table: CycleTable = DEFAULT_TABLE) -> None:
        self.fetch = fetch
        self.table = table
        self.cycles = 0
        self.state = _EMPTY
        self.profile: dict[int, list[int]] | None = None  # addr -> [instructions, cycles]
        self._info: dict[int, InsnTiming] = {}
        self._memo: dict[tuple[int, int, int, ScoreState], _Result] = {}
        lat = [table.alu_latency] * 13
        lat[C_LOAD] = table.load_latency
        lat[C_STORE] = table.load_latency  # only sc writes a register
        lat[C_MUL] = table.mul_latency
        lat[C_MULT] = table.mult_latency
        lat[C_DIV] = table.div_latency
        lat[C_MFC0] = table.mfc0_latency
        lat[C_DIEI] = table.mfc0_latency
        self._lat = lat

    def info(self, word: int) -> InsnTiming:
        it = self._info.get(word)
        if it is None:
            it = self._info[word] = classify(word)
        return it

    def account(self, start: int, count: int, next_pc: int) -> int:
        """Charge count instructions run from start; next_pc < 0 when they ended in an event."""
        key = (start, count, next_pc, self.state)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._simulate(start, count, next_pc, self.state)
        dt, self.state, per_insn = hit
        self.cycles += dt
        if self.profile is not None:
            prof = self.profile
            for addr, cyc in per_insn:
                slot = prof.get(addr)
                if slot is None:
                    slot = prof[addr] = [0, 0]
                slot[0] += 1
                slot[1] += cyc
        return dt

    def exception_entry(self) -> None:
        """The pipeline is flushed and refilled from the vector."""
        self.cycles += self.table.exception_entry
        self.state = _EMPTY
        if self.profile is not None:
            slot = self.profile.setdefault(-1, [0, 0])
            slot[1] += self.table.exception_entry

    def idle(self, cycles: int) -> None:
        """wait: the core sleeps for cycles."""
        self.cycles += cycles
        self.state = _EMPTY

    def _simulate(self, start: int, count: int, next_pc: int, state: ScoreState) -> _Result:
        tab = self.table
        lat = self._lat
        hazard, mdu, pending = state
        ready = dict(pending)
        t = 0
        per: list[tuple[int, int]] = []
        for i in range(count):
            addr = (start + 4 * i) & 0xFFFFFFFF
            it = self.info(self.fetch(addr))
            t0 = t
            issue = t
            for s in it.srcs:
                r = ready.get(s, 0)
                if r > issue:
                    issue = r
            cls = it.cls
            if cls in (C_EHB, C_ERET, C_BARRIER_JUMP) and hazard > issue:
                issue = hazard
            if cls in (C_MULT, C_DIV, C_MUL) and mdu > issue:
                issue = mdu
            t = issue + tab.issue
            if cls == C_ERET:
                t += tab.eret
            for d in it.dsts:
                ready[d] = issue + lat[cls]
            if cls in (C_MTC0, C_DIEI):
                hazard = issue + tab.cp0_hazard
            elif cls == C_DIV:
                mdu = issue + tab.div_latency
            per.append((addr, t - t0))
        last_branch = count >= 2 and self.info(self.fetch((start + 4 * (count - 2))
                                                          & 0xFFFFFFFF)).is_branch
        if last_branch and next_pc >= 0 and next_pc != (start + 4 * count) & 0xFFFFFFFF:
            t += tab.branch_taken
            addr, cyc = per[-1]
            per[-1] = (addr, cyc + tab.branch_taken)
        out = (max(0, hazard - t), max(0, mdu - t),
               tuple(sorted((r, v - t) for r, v in ready.items() if v > t)))
        return t, out, tuple(per)
