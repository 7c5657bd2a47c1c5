"""The instruction table: every row decodes to itself, and the fast and slow block
flavours generated from it compute the same thing."""

from __future__ import annotations

import random
import struct

import pytest

from afgdb.machine.cpu import isa
from afgdb.machine.cpu.engine import HELPER_ERRORS, X_EVENT, CodeCache, run
from afgdb.machine.cpu.state import CPU
from afgdb.machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace

CODE = 0x00400000
DATA = 0x10000000


def test_every_row_decodes_to_itself() -> None:
    dec = isa.decoder()
    for row in isa.all_rows():
        got = dec.decode(row.match)
        assert got is not None, row.name
        # A more specific row may claim the all-zero-operand encoding (nop is sll 0,0,0).
        assert got.match & row.mask == row.match or got.name == row.name, (row.name, got.name)


def test_rows_have_unique_names_and_semantics() -> None:
    names = [r.name for r in isa.all_rows()]
    assert len(names) == len(set(names))
    for r in isa.all_rows():
        assert r.sem or r.load or r.store or r.kind in (isa.K_BRANCH, isa.K_JUMP), r.name


def _machine(words: list[int]) -> tuple[AddressSpace, CodeCache]:
    a = AddressSpace()
    a.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    a.write(CODE, struct.pack(f"<{len(words)}I", *words), check=False)
    a.map(DATA, 0x2000, PROT_READ | PROT_WRITE)
    return a, CodeCache(a)


def _plain_rows() -> list[isa.Insn]:
    skip = {"syscall", "break", "sdbbp", "rdhwr", "eret", "wait", "di", "ei", "mfc0", "mtc0"}
    return [r for r in isa.INT_ROWS if r.kind == isa.K_PLAIN and r.name not in skip]


@pytest.mark.parametrize("row", _plain_rows(), ids=lambda r: r.name)
def test_fast_and_slow_flavours_agree(row: isa.Insn) -> None:
    rng = random.Random(row.name)
    for _ in range(40):
        word = row.match | (rng.getrandbits(32) & ~row.mask)
        if isa.decoder().decode(word) is not row:
            continue
        regs = [0] + [rng.choice([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                  rng.getrandbits(32)]) for _ in range(33)]
        base_reg = (word >> 21) & 31
        if row.load or row.store or row.name in ("lwl", "lwr", "swl", "swr", "ll", "sc"):
            word = (word & ~0xFFFF) | (rng.randrange(-0x7F0, 0x7F0) & 0xFFFF)
            base_reg = (word >> 21) & 31
            if base_reg == 0:
                continue
            regs[base_reg] = DATA + 0x800
        results = []
        for slow in (False, True):
            a, cache = _machine([word, 0x0000000D])
            a.write(DATA, bytes(range(256)) * 32, check=False)
            c = CPU()
            c.r = list(regs)
            c.pc = CODE
            c.llbit = 1
            if slow:
                b = cache.block(CODE, slow=True, max_insns=1)
                try:
                    ev = b.fn(c.r, c, 1)
                except HELPER_ERRORS as e:  # the engine turns these into events
                    ev = type(e).__name__
            else:
                ex = run(c, cache, 1, step=True)
                ev = (ex.reason, ex.event)
            results.append((list(c.r), a.read(DATA, 0x2000, check=False),
                            ev if not slow else None))
        fast_regs, fast_mem, _ = results[0]
        slow_regs, slow_mem, _ = results[1]
        assert fast_regs == slow_regs, (row.name, hex(word))
        assert fast_mem == slow_mem, (row.name, hex(word))


def test_branch_delay_slot_and_likely_annul() -> None:
    # beql $zero, $t0 (not taken) must skip its delay slot; beq must not.
    t0, t1 = 8, 9
    words = [
        (20 << 26) | (0 << 21) | (t0 << 16) | 2,  # beql zero, t0, +2 (t0 != 0: not taken)
        (9 << 26) | (t1 << 21) | (t1 << 16) | 1,  # addiu t1, t1, 1   (annulled)
        (4 << 26) | (0 << 21) | (t0 << 16) | 2,  # beq zero, t0, +2 (not taken)
        (9 << 26) | (t1 << 21) | (t1 << 16) | 0x10,  # addiu t1, t1, 16 (executed)
        0x0000000D,
    ]
    a, cache = _machine(words)
    c = CPU()
    c.pc = CODE
    c.r[t0] = 5
    ex = run(c, cache, 100)
    assert ex.event == isa.EV_BREAK
    assert c.r[t1] == 0x10
    assert c.icount == 5  # beql, beq, delay slot, break (annulled slot not counted? it is)


def test_fault_in_delay_slot_reports_the_branch() -> None:
    sp = 29
    words = [
        (4 << 26) | 2,  # beq zero, zero, +2
        (35 << 26) | (sp << 21) | (8 << 16),  # lw t0, 0(sp): sp is unmapped
        0, 0x0000000D,
    ]
    a, cache = _machine(words)
    c = CPU()
    c.pc = CODE
    c.r[sp] = 0x20000000
    ex = run(c, cache, 100)
    assert ex.fault is not None and ex.fault.addr == 0x20000000
    assert ex.pc == CODE  # the branch, as Linux reports a delay-slot fault (Cause.BD)


def test_unaligned_load_is_an_address_error() -> None:
    words = [(35 << 26) | (29 << 21) | (8 << 16) | 2, 0x0000000D]  # lw t0, 2(sp)
    a, cache = _machine(words)
    c = CPU()
    c.pc = CODE
    c.r[29] = DATA
    ex = run(c, cache, 10)
    assert ex.event == isa.EV_ADEL and c.badvaddr == DATA + 2 and ex.pc == CODE


def test_disassemble() -> None:
    assert isa.disassemble(0x27BDFFE0, 0) == "addiu $sp, $sp, -32"
    assert isa.disassemble(0x03E00008, 0) == "jr $ra"


def _exec(words: list[int], regs: dict[int, int]) -> CPU:
    a, cache = _machine(words + [0x0000000D])
    c = CPU()
    c.pc = CODE
    for i, v in regs.items():
        c.r[i] = v & 0xFFFFFFFF
    run(c, cache, 100)
    return c


def _r(funct: int, rs: int, rt: int, rd: int, op: int = 0, sa: int = 0) -> int:
    return (op << 26) | (rs << 21) | (rt << 16) | (rd << 11) | (sa << 6) | funct


@pytest.mark.parametrize("name,word,regs,want", [
    ("mul", _r(2, 6, 2, 7, op=28), {6: 10, 2: 0}, {7: 0}),
    ("mul neg", _r(2, 6, 2, 7, op=28), {6: -3, 2: 7}, {7: -21}),
    ("mult", _r(24, 4, 5, 0), {4: -2, 5: 3}, {32: -6, 33: -1}),
    ("multu", _r(25, 4, 5, 0), {4: 0xFFFFFFFF, 5: 2}, {32: 0xFFFFFFFE, 33: 1}),
    ("madd", _r(0, 4, 5, 0, op=28), {4: -1, 5: 1, 32: 5, 33: 0}, {32: 4, 33: 0}),
    ("msub", _r(4, 4, 5, 0, op=28), {4: 2, 5: 3, 32: 1, 33: 0}, {32: -5, 33: -1}),
    ("div", _r(26, 4, 5, 0), {4: -7, 5: 2}, {32: -3, 33: -1}),
    ("divu", _r(27, 4, 5, 0), {4: 7, 5: 2}, {32: 3, 33: 1}),
    ("slt", _r(42, 4, 5, 6), {4: -1, 5: 1}, {6: 1}),
    ("sltu", _r(43, 4, 5, 6), {4: -1, 5: 1}, {6: 0}),
    ("sra", _r(3, 0, 4, 6, sa=4), {4: -32}, {6: -2}),
    ("slti", (10 << 26) | (4 << 21) | (6 << 16) | 0xFFFF, {4: -2}, {6: 1}),
    ("sltiu", (11 << 26) | (4 << 21) | (6 << 16) | 0xFFFF, {4: 5}, {6: 1}),
    ("teq no trap", _r(52, 4, 5, 0), {4: 1, 5: 2}, {}),
])
def test_known_answers(name: str, word: int, regs: dict[int, int],
                       want: dict[int, int]) -> None:
    c = _exec([word], regs)
    for i, v in want.items():
        assert c.r[i] == v & 0xFFFFFFFF, (name, i, hex(c.r[i]))


def _rows_for_interp() -> list[isa.Insn]:
    skip = {"syscall", "break", "sdbbp", "rdhwr", "eret", "wait", "di", "ei", "mfc0", "mtc0"}
    return [r for r in isa.all_rows() if r.name not in skip]


@pytest.mark.parametrize("row", _rows_for_interp(), ids=lambda r: r.name)
def test_interpreter_and_block_engine_agree(row: isa.Insn) -> None:
    """Every table row does the same in the reference interpreter and in translated blocks."""
    from afgdb.machine.cpu import interp

    rng = random.Random("interp-" + row.name)
    tried = 0
    for _ in range(60):
        word = row.match | (rng.getrandbits(32) & ~row.mask)
        indexed = row.name.endswith("xc1")
        if not indexed and (row.load or row.store or row.name in (
                "lwl", "lwr", "swl", "swr", "ll", "sc", "lwc1", "swc1", "ldc1", "sdc1")):
            word = (word & ~0xFFFF) | (rng.randrange(-0x7F0, 0x7F0) & 0xFFFF)
        if isa.decoder().decode(word) is not row:
            continue
        tried += 1
        regs = [0] + [rng.choice([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, rng.getrandbits(32)])
                      for _ in range(33)]
        base = (word >> 21) & 31
        if base:
            regs[base] = DATA + 0x800 + (regs[base] & 0x8 if row.name.endswith("c1") else 0)
        if indexed and (word >> 16) & 31:
            regs[(word >> 16) & 31] = rng.choice([0, 8, 16, 0x100])
        fregs = [rng.getrandbits(32) for _ in range(32)]
        delay = (9 << 26) | (9 << 21) | (9 << 16) | 5  # addiu t1, t1, 5 (in the delay slot)
        outs = []
        for engine_run in (run, interp.run):
            a, cache = _machine([word, delay, 0x0000000D, 0x0000000D])
            a.write(DATA, bytes(range(256)) * 32, check=False)
            c = CPU()
            c.r = list(regs)
            c.f = list(fregs)
            c.pc = CODE
            c.llbit = 1
            ex = engine_run(c, cache, 1, step=True)
            outs.append((list(c.r), list(c.f), c.fcsr, c.pc, c.icount, ex.reason, ex.event,
                         a.read(DATA, 0x2000, check=False)))
        assert outs[0] == outs[1], (row.name, hex(word))
    assert tried, row.name


def test_cache_is_privileged_in_user_mode() -> None:
    # cache 0x14, 0($sp): Coprocessor Unusable in user mode, SIGILL as Linux gives it.
    a, cache = _machine([(47 << 26) | (29 << 21) | (0x14 << 16), 0x0000000D])
    c = CPU()
    c.pc = CODE
    c.r[29] = DATA
    ex = run(c, cache, 10)
    assert (ex.reason, ex.event, ex.pc) == (X_EVENT, isa.EV_RESERVED, CODE)
    assert c.icount == 0
