"""Word loads and stores off one base register share one page lookup in translated
blocks (CPython): the same results, faults, pcs and counts as the reference
interpreter, with groups that straddle a page end, run into unmapped memory, are
misaligned, or lose their base to a load; with ll/sc and the unaligned word halves
among them, which also use the fast tables."""

from __future__ import annotations

import random
import struct

import pytest

from afgdb.machine.cpu import engine, interp
from afgdb.machine.cpu.state import CPU
from afgdb.machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace

CODE, DATA = 0x400000, 0x10000000  # DATA: two pages, then nothing mapped
BREAK = 0x0000000D
BASES = (29, 8)  # sp, t0


def _i(op: int, rs: int, rt: int, imm: int) -> int:
    return (op << 26) | (rs << 21) | (rt << 16) | (imm & 0xFFFF)


def _program(rng: random.Random) -> list[int]:
    words = []
    for _ in range(rng.randrange(2, 24)):
        base = rng.choice(BASES)
        off = rng.randrange(-8, 40) * 4 + (2 if rng.random() < 0.03 else 0)
        kind = rng.random()
        if kind < 0.45:
            words.append(_i(43, base, rng.choice((2, 3, 16, 17, 31)), off))  # sw
        elif kind < 0.85:
            words.append(_i(35, base, rng.choice((2, 3, 16, 17)), off))  # lw
        elif kind < 0.93:
            words.append(_i(9, base, base, rng.choice((-8, 8, 4096))))  # addiu base
        elif kind < 0.94:
            words.append(_i(35, base, base, off))  # lw into the base itself
        else:  # lwl, lwr, swl, swr, ll, sc: word accesses made inside one instruction
            op = rng.choice((34, 38, 42, 46, 48))
            words.append(_i(op, base, rng.choice((2, 3, 16, 17)), off + rng.randrange(4)))
            if op == 48 and rng.random() < 0.7:
                words.append(_i(56, base, rng.choice((2, 3, 16, 17)), off))  # sc after ll
    return words + [BREAK]


def _run(words: list[int], regs: list[int], fn: object, cow: bool = False
         ) -> tuple[object, ...]:
    a = AddressSpace()
    a.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    a.write(CODE, struct.pack(f"<{len(words)}I", *words), check=False)
    a.map(DATA, 0x2000, PROT_READ | PROT_WRITE)
    # Words that point back into the data, so loads into a base keep it useful.
    a.write(DATA, struct.pack("<2048I", *[DATA + (i * 52) % 0x2000 & ~3 for i in range(2048)]),
            check=False)
    if cow:
        a = a.fork()  # shared with its parent: no page is writable in place
    cache = engine.CodeCache(a)
    c = CPU()
    c.r = list(regs)
    c.pc = CODE
    for _ in range(3):  # again, so later runs take translated (and hot) code
        ex = fn(c, cache, 1000)  # type: ignore[operator]
        if ex.reason != engine.X_EVENT:
            break
        c.pc = CODE
        c.r = list(regs)
    return (list(c.r), c.pc, c.icount, ex.reason, ex.event, c.badvaddr,
            ex.fault.addr if ex.fault else None, a.read(DATA, 0x2000, check=False))


@pytest.mark.parametrize("seed", range(150))
def test_grouped_accesses_match_the_interpreter(seed: int) -> None:
    rng = random.Random(seed)
    words = _program(rng)
    regs = [0] + [rng.getrandbits(32) for _ in range(33)]
    for base in BASES:
        regs[base] = DATA + rng.choice((0x10, 0x800, 0xFF0, 0xFFC, 0x1FE0, 0x1FFC, 0x1002))
    assert _run(words, regs, engine.run) == _run(words, regs, interp.run), \
        [hex(w) for w in words]


def _halves_program(rng: random.Random) -> list[int]:
    words = []
    for _ in range(rng.randrange(2, 16)):
        base = rng.choice(BASES)
        off = rng.randrange(-4, 12) * 4
        kind = rng.random()
        if kind < 0.5:  # lwl, lwr, swl, swr at any byte of a word
            op = rng.choice((34, 38, 42, 46))
            words.append(_i(op, base, rng.choice((2, 3, 16, 17)), off + rng.randrange(4)))
        elif kind < 0.8:  # ll, then sc of the same word (or sc alone: it fails)
            rt = rng.choice((2, 3, 16, 17))
            if rng.random() < 0.8:
                words.append(_i(48, base, rt, off))
            words.append(_i(56, base, rng.choice((2, 3, 16, 17)), off))
        else:
            words.append(_i(rng.choice((35, 43)), base, rng.choice((2, 3, 16, 17)), off))
    return words + [BREAK]


@pytest.mark.parametrize("seed", range(60))
def test_word_halves_and_ll_sc_match_the_interpreter(seed: int) -> None:
    """ll/sc and lwl/lwr/swl/swr in translated blocks use the fast tables: on pages
    that are writable in place, copy-on-write (every store takes the slow path),
    and next to unmapped memory."""
    rng = random.Random(seed)
    words = _halves_program(rng)
    regs = [0] + [rng.getrandbits(32) for _ in range(33)]
    for base in BASES:
        regs[base] = DATA + rng.choice((0x20, 0x800, 0xFF8, 0x1FE0, 0x1FF8))
    for cow in (False, True):
        got = _run(words, regs, engine.run, cow)
        assert got == _run(words, regs, interp.run, cow), ([hex(w) for w in words], cow)
