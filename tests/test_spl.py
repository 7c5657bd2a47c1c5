"""The splx/softint study: the system-mode CPU takes interrupts correctly, both splx
variants deliver every softint exactly once, and the measured counts are exact and
deterministic."""

from __future__ import annotations

import random

import pytest

from afgdb.machine import spl
from afgdb.machine.cpu.sysmode import (
    CR_IP_TIMER,
    EXC_INT,
    KSEG0,
    KSEG1,
    SR_EXL,
    SR_IE,
    SR_IM_MASK,
)
from afgdb.machine.cycles import DEFAULT_TABLE, Timing

CR_IP1 = 0x200
CR_IP0 = 0x100


# ------------------------------------------------------------------ the CPU
@pytest.mark.parametrize("variant", spl.VARIANTS)
def test_timer_interrupt_enters_with_exl_and_erets_back(variant: str) -> None:
    m = spl.boot(variant, mode=spl.MODE_TIMER, ticks=3, interval=3000)
    spin, spin_end = m.symbol("timer_spin"), m.symbol("timer_spin_end")
    handler = m.symbol("kern_intr")
    m.add_breakpoint(handler)
    stop = m.run(1 << 30)
    assert stop.reason == "breakpoint"
    c = m.cpu
    assert c.status & SR_EXL  # in the handler, EXL is set ...
    assert (c.cause >> 2) & 31 == EXC_INT  # ... for an interrupt ...
    assert c.cause & CR_IP_TIMER  # ... from Count/Compare (IP7) ...
    assert spin <= c.epc < spin_end  # ... taken in the spin loop
    m.remove_breakpoint(handler)
    spl.finish(m)
    assert m.read_u32(m.symbol("ticks")) == 3
    ints = [r for r in m.log if r.code == EXC_INT]
    assert len(ints) == 3
    for r in ints:
        assert r.status & SR_IE and not r.status & SR_EXL
        assert spin <= r.epc < spin_end and not r.bd
        assert r.return_pc == r.epc  # eret went back where the interrupt hit
        assert r.eret_icount > r.icount
    assert not c.status & SR_EXL


def test_software_interrupt_is_taken_right_after_splx_unmasks_it() -> None:
    m = spl.boot("B", mode=spl.MODE_SWEEP, n=1, rounds=1, softint=spl.SOFTINT_NET)
    spl.finish(m)
    (rec,) = m.log
    assert rec.code == EXC_INT
    assert rec.cause & CR_IP1 and not rec.cause & CR_IP0  # softnet: Cause.IP1
    assert rec.epc == m.symbol("splx_unmasked")  # the instruction after mtc0 Status
    assert rec.return_pc == rec.epc
    assert spl.counters(m) == [0, 0, 1, 0]
    assert not m.cpu.cause & (CR_IP0 | CR_IP1)  # softint_process cleared it


def test_pending_interrupt_waits_while_exl_is_set() -> None:
    m = spl.boot("B")
    c = m.cpu
    spin = m.symbol("timer_spin")
    c.pc = spin
    c.r[11] = m.symbol("ticks")  # $t3: what the loop polls
    c.r[4] = 1 << 30  # $a0: ticks it waits for
    c.r[29] = m.symbol("stack_top")
    c.status = SR_IM_MASK | SR_IE | SR_EXL
    c.cause = CR_IP0
    assert m.run(200).reason == "budget"
    assert m.log == []  # EXL: not taken, not nested
    assert spin <= c.pc < m.symbol("timer_spin_end")
    c.status &= ~SR_EXL
    m.run(1)
    assert [r.code for r in m.log] == [EXC_INT]
    assert m.log[0].status & SR_EXL == 0 and c.status & SR_EXL
    assert spin <= c.epc < m.symbol("timer_spin_end")


def test_kseg1_is_an_alias_of_kseg0() -> None:
    m = spl.boot("B", mode=spl.MODE_SWEEP, n=3, rounds=2, softint=spl.SOFTINT_NET)
    m.cpu.pc = m.image.entry - KSEG0 + KSEG1  # jal keeps the region: the code runs uncached
    spl.finish(m)
    assert spl.counters(m) == [0, 0, 2, 0]
    base = m.symbol("counters")
    assert m.read(base, 16) == m.read(base - KSEG0 + KSEG1, 16)
    assert all(r.return_pc >= KSEG1 for r in m.log)


# ------------------------------------------------------------- exact counts
def test_splx_instruction_counts_follow_the_assembly() -> None:
    # spl.s, SPLLOWER: lw a3; lw a2; beq; sll; la (lui+addiu); addu; lw a1; mfc0; xori; or;
    # mtc0 zero; ehb; sw cpl; mtc0 Status; ehb; jr; nop = 18, plus the caller's jal and
    # delay slot = 20. Variant A adds lw t0 (softint mask), lw ci_softints, and, bnez
    # (the cpl store sits in its delay slot) = 24.
    a, b = spl.breakdown("A"), spl.breakdown("B")
    assert b.splx_nothing_pending.insns == 20
    assert a.splx_nothing_pending.insns == 24
    # One sweep iteration: jal splraise + li (2) + splraise's 19 (18 like above, with
    # sltu/bnez for the compare and ori/xor for the mask) + beqz/move (2) + the splx call
    # + addiu/bnez/nop (3).
    fa, fb = spl.fit("A"), spl.fit("B")
    assert fb.insns.per_splx == 2 + 19 + 2 + 20 + 3 == 46
    assert fa.insns.per_splx == 2 + 19 + 2 + 24 + 3 == 50
    assert b.interrupt is not None and b.interrupt.insns > 100


def test_counts_are_deterministic_and_rounds_identical() -> None:
    for variant in spl.VARIANTS:
        first = spl.measure_round(variant, 7, rounds=5)
        assert first == spl.measure_round(variant, 7, rounds=5)
        assert first[1] == first[2] == first[3]


def test_sweep_is_linear_and_has_a_crossover() -> None:
    fa, fb = spl.fit("A"), spl.fit("B")
    n = spl.crossover(fa.insns, fb.insns)
    assert n is not None and 1 < n < 10000
    before, at = spl.sweep((n - 1, n))
    assert before.b.insns >= before.a.insns and at.b.insns < at.a.insns
    for row in (before, at):
        assert row.a.insns == fa.insns.at(row.n) and row.b.cycles == fb.cycles.at(row.n)


# ------------------------------------------------- softints: never lost, never twice
def _random_script(rng: random.Random, length: int) -> list[tuple[int, int]]:
    ops: list[tuple[int, int]] = []
    depth = 0
    for _ in range(length):
        roll = rng.random()
        if roll < 0.35:
            ops.append((spl.OP_RAISE, rng.randrange(spl.IPL_MAX + 1)))
            depth += 1
        elif roll < 0.7 and depth:
            ops.append((spl.OP_SPLX, 0))
            depth -= 1
        else:
            ops.append((spl.OP_SCHED, rng.randrange(4)))
    ops += [(spl.OP_SPLX, 0)] * depth
    return ops


@pytest.mark.parametrize("seed", range(6))
def test_random_schedules_run_each_softint_exactly_as_often_in_both_variants(seed: int) -> None:
    ops = _random_script(random.Random(seed), 80)
    want = spl.expected_runs(ops)
    assert sum(want) > 0
    for variant in spl.VARIANTS:
        m = spl.run_script(variant, ops)
        assert spl.counters(m) == want, variant
        assert m.read_u32(m.symbol("cpu_info0") + 4) == 0  # nothing left pending


def test_both_variants_run_the_same_handlers_the_same_number_of_times() -> None:
    sweeps = [spl.counters(spl.boot_and_finish(v, mode=spl.MODE_SWEEP, n=5, rounds=3,
                                               softint=spl.SOFTINT_NET))
              for v in spl.VARIANTS]
    assert sweeps[0] == sweeps[1] == [0, 0, 3, 0]
    timers = [spl.run_timer(v, ticks=4, interval=3000, tick_softint=True) for v in spl.VARIANTS]
    assert [spl.counters(m) for m in timers] == [[4, 0, 0, 0]] * 2


# ---------------------------------------------------------------- cycle model
def _timing(words: dict[int, int]) -> Timing:
    return Timing(words.__getitem__, DEFAULT_TABLE)


def test_cycle_model_interlocks() -> None:
    t = DEFAULT_TABLE
    lw_t0, addu_t1_t0 = 0x8C880000, 0x01084821  # lw $t0,0($a0); addu $t1,$t0,$t0
    tm = _timing({0: lw_t0, 4: addu_t1_t0})
    assert tm.account(0, 2, 8) == 2 + (t.load_latency - 1)  # load-use stall
    mtc0, ehb = 0x40886000, 0x000000C0  # mtc0 $t0,$12; ehb
    tm = _timing({0: mtc0, 4: ehb})
    assert tm.account(0, 2, 8) == t.cp0_hazard + 1  # ehb waits for the CP0 write
    b_self, nop = 0x1000FFFF, 0  # b . ; nop
    assert _timing({0: b_self, 4: nop}).account(0, 2, 0) == 2 + t.branch_taken
    assert _timing({0: 0x1100FFFF, 4: nop}).account(0, 2, 8) == 2  # beq $t0,$zero not taken
