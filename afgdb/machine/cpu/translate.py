"""Basic-block translator: instruction-table rows -> one Python function per block.

A block runs from its start address up to and including a branch and its
delay slot, an instruction that leaves the block (syscall, break, ...), a
breakpoint address, a page end or a length limit. The generated function
``blk(r, c)`` returns the next pc, or ``(event << 32) | pc`` when an
instruction raised an event (see ``isa.EV_*``). Guest faults inside it
surface as Python exceptions (a miss in the fast page tables is a
KeyError); the engine maps the exception's line number back to the
instruction with ``Block.index_of_line``.

Two flavours come from the same rows: *fast* blocks index the address
space's page tables directly, *slow* blocks call its ``load``/``store``
methods (demand paging, copy-on-write, watchpoints, precise faults).
"""

from __future__ import annotations

import atexit
import bisect
import dis
import hashlib
import marshal
import os
import platform
import re
import sys
import types
from collections.abc import Container
from dataclasses import dataclass, field
from types import CodeType
from typing import Any, Callable

from afgdb.machine.cpu import isa
from afgdb.machine.cpu.isa import K_EXIT, K_JUMP, K_JUMPREG, K_PLAIN, Insn
from afgdb.machine.memory import PAGE_INDEX

BlockFn = Callable[[list[int], Any, int], int]  # (regs, cpu, limit) -> packed result

# PyPy's JIT makes word-array arithmetic far cheaper than memoryview indexing;
# CPython is the other way round. Both index the same page frames.
WORD_ONLY = platform.python_implementation() == "PyPy"

# Inside a region, PyPy does better with guest registers left in the list: values
# in locals are boxed each time one of its bridges jumps back to the loop.
REGS_IN_LIST = WORD_ONLY and not os.environ.get("AFGDB_REGION_LOCALS")

MAX_BLOCK = 48
PAGE = 4096

_TOKEN = re.compile(r"\b(RS|RT|RD|RDN|HI|LO|IMM|SIMM|UIMM16|SA|MSB|LSB|SEL|PC|NPC|FS|FT|FD|FR|"
                    r"CC|FCC|EXTSIZE|INSSIZE|EV_[A-Z]+)\b")
_ASSIGN = re.compile(r"^(\s*)(RS|RT|RD|HI|LO) = (.*)$")
_X = re.compile(r"X\(([^()]*)\)")
_TRAP = re.compile(r"TRAP\((EV_[A-Z]+)\)")
_REGS = {"RS", "RT", "RD"}


# A unit's return value: instructions completed << COUNT_SHIFT | event << 32 | pc.
COUNT_SHIFT = 44
EVENT_MASK = 0xFFF << 32


@dataclass
class BlockSource:
    """A block's body, before it becomes a function (see wrap_block and wrap_region).

    Next-pc transfers are ``NEXT expr`` lines and events ``return CONST`` lines;
    the wrappers turn them into returns or jumps within a region."""

    start: int
    length: int  # instructions (delay slot included)
    body: list[str]
    marks: list[int]  # index in body of each instruction's first line
    ds: list[int]  # indices of instructions that are delay slots
    pages: set[int]
    succ: list[int]  # pcs it may go to next that are known statically
    local: tuple[list[str], set[int], set[int]] | None = None  # see _local_body
    dynamic: bool = False  # ends in a jump to a register (a return, a call through one)


@dataclass
class Block:
    """A translated unit (one block, or a region of blocks): its function and a map from
    source lines back to instructions, for faults raised inside it."""

    start: int
    length: int  # instructions of a single block; 0 for a region
    fn: BlockFn
    code: CodeType
    lines: list[int]  # first source line of each instruction
    ipc: list[int]  # each instruction's pc
    iidx: list[int]  # each instruction's index within its block
    ids: list[bool]  # each instruction: in a delay slot
    pages: tuple[int, ...]
    region: bool = False
    lo: int = 0  # lowest and highest instruction address (set from ipc)
    hi: int = -1
    dynamic: bool = False  # a single block ending in a jump to a register
    # Bytecode offsets where source lines start, and the instruction of each (insn_at).
    offsets: tuple[list[int], list[int]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.hi < self.lo and self.ipc:
            self.lo, self.hi = min(self.ipc), max(self.ipc)

    def holds(self, addr: int) -> bool:
        """Whether the unit has an instruction at addr."""
        return self.lo <= addr <= self.hi and addr in self.ipc

    def insn_of_line(self, lineno: int) -> int:
        """Index (into ipc/iidx/ids) of the instruction whose code holds lineno."""
        return max(0, bisect.bisect_right(self.lines, lineno) - 1)

    def insn_at(self, lasti: int) -> int:
        """Index of the instruction whose code holds bytecode offset lasti (a traceback's
        tb_lasti): a bisect in a table made at the first fault, where tb_lineno would
        decode the code's line table from its start at every one."""
        if self.offsets is None:
            starts = sorted(dis.findlinestarts(self.code))
            self.offsets = ([off for off, _ in starts],
                            [self.insn_of_line(line) for _, line in starts])
        offs, insns = self.offsets
        return insns[max(0, bisect.bisect_right(offs, lasti) - 1)]


class _Emitter:
    """Turns rows into source lines for one block."""

    def __init__(self, slow: bool) -> None:
        self.slow = slow
        self.out: list[str] = []
        self.lines: list[int] = []
        self.ds: list[int] = []  # instruction indices that are delay slots

    def mark(self) -> None:
        self.lines.append(len(self.out) + 2)  # +1 for the def line, +1 for 1-based numbering

    def emit(self, text: str, indent: int) -> None:
        pad = " " * (4 * indent)
        for line in text.split("\n"):
            self.out.append(pad + line)

    # ---------------------------------------------------------- operand text
    @staticmethod
    def subst(text: str, f: dict[str, int], trap_pc: int, bd: bool) -> str:
        """Expand a template's tokens for one instruction."""
        def trap(m: re.Match[str]) -> str:
            ev = getattr(isa, m.group(1)) | (isa.EV_BD if bd else 0)
            return f"return {(ev << 32) | trap_pc:#x}"

        text = _TRAP.sub(trap, text)
        lines = []
        for line in text.split("\n"):
            m = _ASSIGN.match(line)
            if m and m.group(2) in _REGS and f[m.group(2)] == 0:
                line = f"{m.group(1)}_ = {m.group(3)}"  # $zero: keep side effects only
            lines.append(line)
        text = "\n".join(lines)

        def tok(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in _REGS:
                n = f[name]
                return f"r[{n}]" if n else "0"
            if name == "HI":
                return "r[33]"
            if name == "LO":
                return "r[32]"
            if name.startswith("EV_"):
                return str(getattr(isa, name))
            return str(f[name])

        text = _TOKEN.sub(tok, text)

        def sx(m: re.Match[str]) -> str:
            inner = m.group(1).strip()
            if inner.isdigit():
                v = int(inner)
                return f"({v - (1 << 32) if v & 0x80000000 else v})"
            return f"((({inner}) ^ 0x80000000) - 0x80000000)"

        return _X.sub(sx, text)

    # ------------------------------------------------------------- memory ops
    def addr(self, f: dict[str, int]) -> str:
        if f["RS"] == 0:
            return f"a = {f['SIMM']}"
        if f["SIMM"] == 0:
            return f"a = r[{f['RS']}]"
        return f"a = (r[{f['RS']}] + {f['SIMM']}) & 0xFFFFFFFF"

    @staticmethod
    def folded_addr(f: dict[str, int]) -> str:
        """The address unwrapped: the keyed lookup masks it (and checks alignment)."""
        simm = f["SIMM"] - (1 << 32) if f["SIMM"] & 0x80000000 else f["SIMM"]
        if f["RS"] == 0:
            return f"a = {simm & 0xFFFFFFFF}"
        if simm == 0:
            return f"a = r[{f['RS']}]"
        return f"a = r[{f['RS']}] {'-' if simm < 0 else '+'} {abs(simm)}"

    def load(self, row: Insn, f: dict[str, int], trap_pc: int, bd: bool) -> str:
        assert row.load is not None
        size, signed = row.load
        if not self.slow and not WORD_ONLY:
            lines = [self.folded_addr(f)]
            val = _FOLDED_LOAD[size]
        else:
            lines = [self.addr(f)]
        if size > 1 and (self.slow or WORD_ONLY):
            ev = (isa.EV_ADEL | (isa.EV_BD if bd else 0)) << 32 | trap_pc
            lines.append(f"if a & {size - 1}:\n    c.badvaddr = a\n    return {ev:#x}")
        if self.slow:
            val = f"mem.load(a, {size})"
        elif WORD_ONLY and size == 4:
            val = f"R32{PAGE_INDEX}[(a & 4095) >> 2]"
        elif WORD_ONLY:
            mask = 0xFF if size == 1 else 0xFFFF
            val = f"(R32{PAGE_INDEX}[(a & 4095) >> 2] >> ((a & 3) << 3)) & {mask}"
        dst = f"r[{f['RT']}]" if f["RT"] else "_"
        if signed and f["RT"]:
            bit, ext = (0x80, 0xFFFFFF00) if size == 1 else (0x8000, 0xFFFF0000)
            lines.append(f"v = {val}\n{dst} = (v | {ext:#x}) if v & {bit:#x} else v")
        else:
            lines.append(f"{dst} = {val}")
        return "\n".join(lines)

    def store(self, row: Insn, f: dict[str, int], trap_pc: int, bd: bool) -> str:
        size = row.store
        v = f"r[{f['RT']}]" if f["RT"] else "0"
        if not self.slow and not WORD_ONLY:
            return self.folded_addr(f) + "\n" + _FOLDED_STORE[size].format(v=v)
        lines = [self.addr(f)]
        if size > 1:
            ev = (isa.EV_ADES | (isa.EV_BD if bd else 0)) << 32 | trap_pc
            lines.append(f"if a & {size - 1}:\n    c.badvaddr = a\n    return {ev:#x}")
        if self.slow:
            lines.append(f"mem.store(a, {size}, {v})")
        elif size == 4:
            lines.append(f"W32{PAGE_INDEX}[(a & 4095) >> 2] = {v}")
        else:
            mask = 0xFF if size == 1 else 0xFFFF
            lines.append(f"p = W32{PAGE_INDEX}\ni = (a & 4095) >> 2\ns = (a & 3) << 3\n"
                         f"p[i] = (p[i] & ~({mask} << s)) | (({v} & {mask}) << s)")
        return "\n".join(lines)

    def body(self, row: Insn, f: dict[str, int], trap_pc: int, bd: bool) -> str:
        if row.load:
            return self.load(row, f, trap_pc, bd)
        if row.store:
            return self.store(row, f, trap_pc, bd)
        text = self.subst(row.sem, f, trap_pc, bd)
        # rdhwr $29, glibc's way to its thread pointer (every errno, every TLS access):
        # the register itself, not a call that dispatches on the number.
        text = text.replace("c.rdhwr(29)", "c.ulr")
        if not self.slow and not WORD_ONLY and row.name in _WORD_ROWS:
            # ll/sc and the word halves (lwl/lwr/swl/swr) through the fast tables too: a
            # miss raises before the instruction has changed anything, and the slow
            # block then runs it through AddressSpace.load/store.
            for pattern, repl in _WORD_CALLS:
                text = pattern.sub(repl, text)
        return text


# The word accesses of ll, sc, lwl, lwr, swl and swr (whose address is already 32-bit,
# and aligned where the key drops the low bits) as CPython's fast-table accesses.
_WORD_ROWS = frozenset(("ll", "sc", "lwl", "lwr", "swl", "swr"))
_WORD_CALLS = [
    (re.compile(r"mem\.load\(a & ~3, 4\)"), "R32[a & 0xFFFFF000][(a & 4095) >> 2]"),
    (re.compile(r"mem\.load\(a, 4\)"), "R32[a & 0xFFFFF003][(a & 4095) >> 2]"),
    (re.compile(r"^(\s*)mem\.store\(a & ~3, 4, (.*)\)$", re.M),
     r"\1W32[a & 0xFFFFF000][(a & 4095) >> 2] = \2"),
    (re.compile(r"^(\s*)mem\.store\(a, 4, (.*)\)$", re.M),
     r"\1W32[a & 0xFFFFF003][(a & 4095) >> 2] = \2"),
]

# CPython's fast loads and stores: the page key keeps the low address bits that
# must be zero, so a misaligned access misses and the slow path raises it.
_FOLDED_LOAD = {4: "R32[a & 0xFFFFF003][(a & 4095) >> 2]",
                2: "R16[a & 0xFFFFF001][(a & 4095) >> 1]",
                1: "R8[a & 0xFFFFF000][a & 4095]"}
_FOLDED_STORE = {4: "W32[a & 0xFFFFF003][(a & 4095) >> 2] = {v}",
                 2: "W16[a & 0xFFFFF001][(a & 4095) >> 1] = {v} & 0xFFFF",
                 1: "W8[a & 0xFFFFF000][a & 4095] = {v} & 255"}


_TOP_ASSIGN = re.compile(r"^    (r\[(\d+)\]|a) = (.*)$")
_CONST_EXPR = re.compile(r"^[0-9a-fA-Fx()+\-*&|^~<> ]*$")


def _fold_constants(body: list[str]) -> list[str]:
    """Propagate and fold registers whose values the block itself set to constants
    (lui+ori/addiu pairs, li, move from $zero): one assignment of the result, no
    arithmetic at run time. Only straight-line top-level statements are folded;
    a register assigned anywhere else stops being known."""
    known: dict[str, int] = {}
    out: list[str] = []
    for line in body:
        m = _TOP_ASSIGN.match(line)
        if m:
            target, reg, expr = m.groups()
            for name, value in known.items():
                expr = expr.replace(name, str(value))
            expr = re.sub(r"\b(r\[\d+\]|\d+) \| 0\b", r"\1", expr)
            if reg is not None:
                known.pop(target, None)
                if _CONST_EXPR.match(expr):
                    try:
                        folded: object = eval(expr, {"__builtins__": {}}, {})  # noqa: S307 - digits and operators only
                    except Exception:
                        folded = None
                    if isinstance(folded, int) and 0 <= folded <= 0xFFFFFFFF:
                        known[target] = folded
                        expr = str(folded)
            if reg is not None and out and _TOP_ASSIGN.match(out[-1]) and \
                    out[-1].startswith(f"    {target} = ") and target not in expr and \
                    _CONST_EXPR.match(out[-1].split(" = ", 1)[1]):
                out[-1] = "    pass"  # a constant overwritten at once (lui before addiu)
            out.append(f"    {target} = {expr}")
            continue
        for reg in re.findall(r"\br\[(\d+)\] = ", line):
            known.pop(f"r[{reg}]", None)
        out.append(line)
    return out


_ACCESS_ADDR = re.compile(r"^    a = r\[(\d+)\](?: ([+-]) (\d+))?$")
_WORD_LOAD = re.compile(r"^    (r\[\d+\]|_) = R32\[a & 0xFFFFF003\]\[\(a & 4095\) >> 2\]$")
_WORD_STORE = re.compile(r"^    W32\[a & 0xFFFFF003\]\[\(a & 4095\) >> 2\] = (.+)$")
_ASSIGNED = re.compile(r"\br\[(\d+)\]")


def _group_word_accesses(body: list[str]) -> list[str]:
    """Word loads (or stores) off one base register, not written in between (a
    function's spills and reloads off sp), find their page once: the first of them
    looks up the page of the group's lowest address, and each then indexes that
    page's word list at its offset from there. One dict lookup instead of one per
    access (CPython: ~90 -> ~35 ns a store).

    Lines map one to one, so each instruction keeps its lines (faults are found by
    line): a missing page or misalignment raises KeyError at the first access's
    lookup, and an access past the page's end IndexError at its own line; either
    way the engine redoes that one instruction on the slow path, which is exact."""
    out = list(body)
    groups: dict[tuple[int, str], list[tuple[int, int]]] = {}  # (base, kind) -> [(line, offset)]
    done: list[tuple[int, str, list[tuple[int, int]]]] = []

    def close(base: int | None = None) -> None:
        for key in [k for k in groups if base is None or k[0] == base]:
            done.append((*key, groups.pop(key)))

    i = 0
    while i < len(out):
        line = out[i]
        m = _ACCESS_ADDR.match(line)
        load = _WORD_LOAD.match(out[i + 1]) if m and i + 1 < len(out) else None
        if m and (load or _WORD_STORE.match(out[i + 1])):
            off = int(m.group(3) or 0) * (-1 if m.group(2) == "-" else 1)
            groups.setdefault((int(m.group(1)), "R" if load else "W"), []).append((i, off))
            if load and load.group(1) != "_":
                close(int(load.group(1)[2:-1]))  # the base changes after this load
            i += 2
            continue
        if not line.startswith("    ") or line.startswith("     ") or \
                line.lstrip().startswith(("if ", "else", "elif ", "for ", "while ", "try", "with ")):
            close()  # nested or branching code: keep it simple
        elif " = " in line:
            for reg in _ASSIGNED.findall(line.split(" = ", 1)[0]):
                close(int(reg))
        i += 1
    close()
    for n, (base, kind, members) in enumerate(g for g in done if len(g[2]) > 1):
        offs = [off for _, off in members]
        lo = min(offs)
        if max(offs) - lo > 4092 or any((o - lo) & 3 for o in offs):
            continue
        page, idx = f"P{kind}{n}", f"O{kind}{n}"
        sign = "-" if lo < 0 else "+"
        for k, (line_no, off) in enumerate(members):
            out[line_no] = (f"    a = r[{base}] {sign} {abs(lo)}; {page} = {kind}32[a & 0xFFFFF003]; "
                            f"{idx} = (a & 4095) >> 2") if k == 0 else "    pass"
            slot = f"{page}[{idx} + {(off - lo) >> 2}]"
            access = out[line_no + 1]
            if kind == "R":
                out[line_no + 1] = access.split(" = ", 1)[0] + " = " + slot
            else:
                out[line_no + 1] = f"    {slot} = " + access.split(" = ", 1)[1]
    return out


def _fold_cond(cond: str) -> bool | None:
    """A branch condition whose operands are all constants ($zero) folds at translation."""
    if re.search(r"r\[", cond):
        return None
    try:
        return bool(eval(cond, {}, {}))  # noqa: S307 - our own template text, constants only
    except Exception:
        return None


def generate(fetch: Callable[[int], int], pc: int, *, slow: bool = False,
             max_insns: int = MAX_BLOCK, stop_at: frozenset[int] | set[int] = frozenset()
             ) -> BlockSource:
    """The body of the block at pc, before it is wrapped into a function.

    ``fetch`` reads an instruction word and raises for unexecutable memory;
    the first fetch failing propagates, later ones just end the block early.
    """
    dec = isa.decoder()
    em = _Emitter(slow)
    addr = pc
    count = 0
    pages = {pc // PAGE}
    succ: list[int] = []
    first = True
    dynamic = False
    while True:
        if not first and (addr in stop_at or addr % PAGE == 0 or count >= max_insns):
            em.emit(f"NEXT {addr:#x}", 1)
            succ.append(addr)
            break
        if first:
            word = fetch(addr)
        else:
            try:
                word = fetch(addr)
            except Exception:
                em.emit(f"NEXT {addr:#x}", 1)
                break
        first = False
        row = dec.decode(word)
        f = isa.fields(word, addr)
        em.mark()
        count += 1
        if row is None:
            em.emit(f"return {(isa.EV_RESERVED << 32) | addr:#x}", 1)
            break
        if row.kind == K_PLAIN:
            em.emit(em.body(row, f, addr, False), 1)
            addr += 4
            continue
        if row.kind == K_EXIT:
            em.emit(em.body(row, f, addr, False), 1)
            em.emit(f"NEXT {addr + 4:#x}", 1)
            succ.append(addr + 4)
            break
        # A branch or jump and its delay slot.
        _branch(em, fetch, row, f, addr, pages, succ)
        em.ds.append(len(em.lines) - 1)
        count += 1
        dynamic = row.kind == K_JUMPREG
        break
    # PyPy's JIT folds constants itself, and runs the unfolded code faster (measured);
    # slow blocks do not use the page tables.
    body = em.out if WORD_ONLY or slow else _group_word_accesses(_fold_constants(em.out))
    return BlockSource(pc, count, body, [m - 2 for m in em.lines], em.ds, pages,
                       [s & 0xFFFFFFFF for s in succ], dynamic=dynamic)


_REG_REF = re.compile(r"\br\[(\d+)\]")
_REG_SET = re.compile(r"^\s*r(\d+) = ", re.M)
_NEXT = re.compile(r"^(\s*)NEXT (.*)$")
_EVENT = re.compile(r"^(\s*)return (0x[0-9a-f]+)$")
_LOCAL = re.compile(r"\br(\d+)\b")
_TEMP = re.compile(r"^\s*(?!r\d+\b)([A-Za-z_]\w*) = ", re.M)
_COND = re.compile(r"^(0x[0-9a-f]+) if b else (0x[0-9a-f]+)$")


def _local_body(bs: BlockSource) -> tuple[list[str], set[int], set[int]]:
    """bs's body with r[N] as locals rN, and the registers it uses and assigns
    (worked out once per block: regions share blocks)."""
    if bs.local is None:
        text = _REG_REF.sub(_as_local, "\n".join(bs.body))
        bs.local = (text.split("\n"), {int(n) for n in _LOCAL.findall(text)},
                    {int(n) for n in _REG_SET.findall(text)})
    return bs.local


def _as_local(m: re.Match[str]) -> str:
    return "r" + m.group(1)


def _registers(blocks: list[BlockSource]) -> tuple[list[list[str]], str, str]:
    """Bodies with r[N] as locals rN, and the statements that load and store them."""
    bodies: list[list[str]] = []
    used: set[int] = set()
    written: set[int] = set()
    for bs in blocks:
        body, u, w = _local_body(bs)
        bodies.append(body)
        used |= u
        written |= w
    load = "; ".join(f"r{n} = r[{n}]" for n in sorted(used)) or "pass"
    store = "; ".join(f"r[{n}] = r{n}" for n in sorted(written))
    return bodies, load, store


def _event_count(bs: BlockSource, value: int) -> int:
    """Instructions of bs completed before the one an event return names (by its pc)."""
    return ((value & 0xFFFFFFFF) - bs.start) >> 2


def wrap_block(bs: BlockSource) -> tuple[str, list[int]]:
    """One block as ``blk(r, c, lim)``; returns (source, line of each instruction).

    The function returns ``count << COUNT_SHIFT | event << 32 | pc``: the
    instructions it completed, the event (0 for none) and the next pc.
    Guest registers live in Python locals while it runs: every register the
    block touches is loaded once on entry; the ones it assigns are stored back
    before each return and, when an instruction raises (a page-table miss, a
    fault), in an ``except`` that re-raises, so ``r`` is left exactly as the
    instructions before it left it: the state stays precise. (Not ``finally``:
    PyPy 3.9 reports wrong line numbers for exceptions inside try/finally, and
    the engine maps faults by line.)
    """
    bodies, load, store = _registers([bs])
    text = "\n".join(bodies[0])
    out: list[str] = []
    where: list[int] = []  # body line -> its index in out
    done = bs.length << COUNT_SHIFT
    for line in text.split("\n"):
        m = _NEXT.match(line)
        e = _EVENT.match(line)
        if m:
            pad, target = m.groups()
            c = _COND.match(target)
            if c:
                value = f"{done | int(c.group(1), 16):#x} if b else {done | int(c.group(2), 16):#x}"
            elif target.startswith("0x"):
                value = f"{done | int(target, 16):#x}"
            else:
                value = f"{done:#x} | {target}"
            line = f"{pad}return {value}"
        elif e:
            pad, ev = e.groups()
            line = f"{pad}return {int(ev, 16) | (_event_count(bs, int(ev, 16)) << COUNT_SHIFT):#x}"
        if store and line.lstrip().startswith("return "):
            out.append("    " + line[:len(line) - len(line.lstrip())] + store)
        where.append(len(out))
        out.append("    " + line)
    handler = f"    except BaseException:\n        {store}\n        raise\n" if store else \
        "    except BaseException:\n        raise\n"
    src = f"def blk(r, c, lim):\n    {load}\n    try:\n" + "\n".join(out) + "\n" + handler
    return src, [where[m] + 4 for m in bs.marks]


def _chains(blocks: list[BlockSource], bodies: list[list[str]]) -> dict[int, int]:
    """Which block each block falls into directly: i -> j when j is reached in the region
    only by i's last transfer (a jump to j, or one side of its branch) and is not the
    entry. j's code then follows i's, out of the decision tree; a computed jump to j
    leaves the region (the engine runs j from there), which is rare: such blocks are
    fall-throughs and branch targets, not call targets or return sites."""
    index = {bs.start: j for j, bs in enumerate(blocks)}
    refs: dict[int, int] = {}  # block -> times a constant transfer in the region names it
    tail: dict[int, list[int]] = {}  # block -> blocks its last transfer may go to
    for i, body in enumerate(bodies):
        for k, line in enumerate(body):
            m = _NEXT.match(line)
            if m is None:
                continue
            target = m.group(2)
            cond = _COND.match(target)
            named = [cond.group(1), cond.group(2)] if cond else \
                [target] if target.startswith("0x") else []
            js = [index[a] for a in {int(x, 16) for x in named} if a in index]
            for j in js:
                # A branch whose other side leaves the region counts as two references
                # too, so the block is not chained: chaining those (measured) sent more
                # control down the decision tree than it saved.
                refs[j] = refs.get(j, 0) + (2 if cond and len(js) == 1 else 1)
            if k == len(body) - 1 and m.group(1) == "    ":
                tail[i] = js
    chained: dict[int, int] = {}
    for i, js in tail.items():
        for j in js:
            if j and refs[j] == 1 and j != i:
                chained[i] = j
                break
    # A ring of blocks that only lead into each other would have no way in: cut it.
    reached: set[int] = set()

    def follow(i: int | None) -> None:
        while i is not None and i not in reached:
            reached.add(i)
            i = chained.get(i)

    for h in sorted(set(range(len(blocks))) - set(chained.values())):
        follow(h)
    for i in range(len(blocks)):
        if i not in reached:
            for k in [k for k, v in chained.items() if v == i]:
                del chained[k]
            follow(i)
    return chained


def _self_loop(bs: BlockSource, body: list[str]) -> tuple[str, str] | None:
    """(where control goes on leaving, the condition for leaving) of a block whose last
    transfer is a branch back to its own start; None for any other block."""
    m = _NEXT.match(body[-1]) if body else None
    cond = _COND.match(m.group(2)) if m and m.group(1) == "    " else None
    if cond is None or cond.group(1) == cond.group(2):
        return None
    if int(cond.group(1), 16) == bs.start:
        return cond.group(2), "not b"
    if int(cond.group(2), 16) == bs.start:
        return cond.group(1), "b"
    return None


def wrap_region(blocks: list[BlockSource]) -> tuple[str, list[int]]:
    """Several blocks as one function that loops among them (``blk(r, c, lim)``).

    Control passes from block to block inside the function through a binary
    decision tree on pc, registers stay in locals throughout, and the function
    returns (as wrap_block's do) when pc leaves the region, an event happens or
    ``lim`` instructions have run. The first block is the entry. On an
    exception, ``c.rdone`` holds the instructions completed before the
    faulting block. Returns (source, line of each instruction, in the order
    of ``blocks`` and their instructions).
    """
    if REGS_IN_LIST:
        bodies, load, store = [b.body for b in blocks], "pass", ""
    else:
        bodies, load, store = _registers(blocks)
    # Not under PyPy: its JIT traces one pass round the loop per block, and with
    # blocks run back to back in one pass it made fib ~3.5x slower (measured).
    chained = {} if WORD_ONLY else _chains(blocks, bodies)
    heads = set(range(len(blocks))) - set(chained.values())
    order = sorted(heads, key=lambda i: blocks[i].start)
    # Under PyPy temporaries are reset to 0 when a block ends so every pass round
    # the loop holds the same kinds of values: its JIT then keeps them unboxed
    # across bridges instead of allocating an int object per temporary per block.
    temps = [sorted(set(_TEMP.findall("\n".join(b))) - {"n_", "pc_"}) if WORD_ONLY else []
             for b in bodies]
    every = sorted({t for ts in temps for t in ts})
    out: list[str] = []
    where: dict[int, list[int]] = {}  # block index -> where each body line starts in out

    def branch_out(ipad: str, when: str, target: str, jump: str, reset: list[str]) -> None:
        """if when: pc_ = target, then jump (break or continue); temporaries reset on
        both ways on."""
        out.append(f"{ipad}if {when}:")
        out.append(f"{ipad}    pc_ = {target}")
        out.extend(f"{ipad}    {x}" for x in reset + [jump])
        out.extend(ipad + x for x in reset)

    def emit_block(i: int, pad: str) -> None:
        bs = blocks[i]
        starts = where[i] = []
        last = len(bodies[i]) - 1
        loop = None if WORD_ONLY else _self_loop(bs, bodies[i])
        inner = pad + "    " if loop else pad
        if loop:
            out.append(f"{pad}while True:")  # a block that branches back to itself
        for k, line in enumerate(bodies[i]):
            starts.append(len(out))
            m = _NEXT.match(line)
            e = _EVENT.match(line)
            if m:
                ipad, target = m.groups()
                ipad = inner + ipad[4:]
                nxt = chained.get(i) if k == last else None
                reset = [f"{' = '.join(temps[i])} = 0"] if temps[i] else []
                if nxt is None and not (loop and k == last):
                    out.append(f"{ipad}pc_ = {target}")
                    out.append(f"{ipad}n_ += {bs.length}")
                    out.extend(ipad + x for x in reset + ["continue"])
                    continue
                out.append(f"{ipad}n_ += {bs.length}")
                if loop and k == last:
                    # Round again while the branch is taken and the budget allows (pc_
                    # stays this block's); on leaving, on to the other side.
                    leave, when = loop
                    branch_out(ipad, when, leave, "break", reset)
                    out.append(f"{ipad}if n_ >= lim:")
                    out.append(f"{ipad}    break")
                    if nxt is None:
                        out.append(f"{pad}continue")
                        continue
                else:
                    assert nxt is not None  # the first test above went on otherwise
                    into = blocks[nxt].start
                    cond = _COND.match(target)
                    if cond:  # the other side of the branch goes down the tree
                        other, when = (cond.group(2), "not b") \
                            if int(cond.group(1), 16) == into else (cond.group(1), "b")
                        branch_out(ipad, when, other, "continue", reset)
                    else:
                        out.extend(ipad + x for x in reset)
                    out.append(f"{ipad}pc_ = {into:#x}")
                # Fall into the one block only this one leads to: no trip through the
                # decision tree. The budget is checked as the loop's head would.
                out.append(f"{pad}if n_ >= lim:")
                out.append(f"{pad}    continue")
                emit_block(nxt, pad)
            elif e:
                ipad, ev = e.groups()
                ipad = inner + ipad[4:]
                value = int(ev, 16) | (_event_count(bs, int(ev, 16)) << COUNT_SHIFT)
                if store:
                    out.append(f"{ipad}{store}")
                out.append(f"{ipad}return (n_ << {COUNT_SHIFT}) + {value:#x}")
            else:
                out.append(inner + line[4:] if line.startswith("    ") else inner + line)

    def tree(lo: int, hi: int, pad: str) -> None:
        if hi - lo <= 3:
            for i in order[lo:hi]:
                out.append(f"{pad}if pc_ == {blocks[i].start:#x}:")
                emit_block(i, pad + "    ")
            out.append(f"{pad}break")
            return
        mid = (lo + hi) // 2
        out.append(f"{pad}if pc_ < {blocks[order[mid]].start:#x}:")
        tree(lo, mid, pad + "    ")
        tree(mid, hi, pad)

    head = ["def blk(r, c, lim):", f"    {load}", "    n_ = 0", f"    pc_ = {blocks[0].start:#x}",
            f"    {' = '.join(every)} = 0" if every else "    pass",
            "    try:", "        while n_ < lim:"]
    tree(0, len(order), " " * 12)
    tail = [f"        {store}" if store else "        pass",
            f"        return (n_ << {COUNT_SHIFT}) | pc_",
            "    except BaseException:"]
    tail += [f"        {store}"] if store else []
    tail += ["        c.rdone = n_", "        raise", ""]
    src = "\n".join(head + out + tail)
    base = len(head) + 1  # 1-based line numbers
    lines = [base + where[i][m] for i, bs in enumerate(blocks) for m in bs.marks]
    return src, lines


def _branch(em: _Emitter, fetch: Callable[[int], int], row: Insn, f: dict[str, int],
            addr: int, pages: set[int], succ: list[int]) -> None:
    dec = isa.decoder()
    ds_addr = addr + 4
    pages.add(ds_addr // PAGE)
    try:
        ds_word = fetch(ds_addr)
        ds_row = dec.decode(ds_word)
    except Exception:
        ds_word, ds_row = 0, None
    ds_f = isa.fields(ds_word, ds_addr)
    fall = (addr + 8) & 0xFFFFFFFF
    if row.kind == K_JUMPREG:
        em.emit(em.subst(row.sem, f, addr, False), 1)
        target = "t"
    elif row.kind == K_JUMP:
        target = hex(f["JTARGET"])
    else:
        target = hex(f["BTARGET"])
    cond = em.subst(row.cond, f, addr, False) if row.cond else "True"
    folded = _fold_cond(cond)
    if folded is None:
        em.emit(f"b = {cond}", 1)
    if target != "t" and folded is not False:
        succ.append(int(target, 16))
    if folded is not True:
        succ.append(fall)
    if row.link:
        succ.append(fall)  # the return site: where the callee's jr comes back to
        link_reg = f["RD"] if row.kind == K_JUMPREG else 31
        if link_reg:
            em.emit(f"r[{link_reg}] = {fall:#x}", 1)
    # The delay slot: a branch or block-ending instruction there is unpredictable -> SIGILL.
    em.mark()
    if ds_row is None or ds_row.kind != K_PLAIN:
        ds = f"return {((isa.EV_RESERVED | isa.EV_BD) << 32) | addr:#x}"
    else:
        ds = em.body(ds_row, ds_f, addr, True)
    if folded is True:
        em.emit(ds, 1)
        em.emit(f"NEXT {target}", 1)
    elif folded is False:
        if not row.likely:
            em.emit(ds, 1)
        em.emit(f"NEXT {fall:#x}", 1)
    elif row.likely:
        em.emit("if b:", 1)
        em.emit(ds, 2)
        em.emit(f"NEXT {target}", 2)
        em.emit(f"NEXT {fall:#x}", 1)
    else:
        em.emit(ds, 1)
        em.emit(f"NEXT {target} if b else {fall:#x}", 1)


class _CodeStore:
    """Compiled block code, in memory and in files under the user's cache directory.

    Compiling a block's source is most of the cost of running a program the
    first time; the same blocks recur across runs (glibc's start-up, printf),
    so their code objects are kept with marshal, keyed by a hash of the
    source, one small file per distinct guest code page (its address and a
    checksum of its bytes) so a run loads only what it uses, under a directory
    named after the translator's own version so stale code never loads.
    AFGDB_BLOCK_CACHE=0 turns the files off; AFGDB_BLOCK_CACHE=DIR moves them.
    """

    SHARD_LIMIT = 4096  # entries in one page's file; past it, that file starts over

    def __init__(self) -> None:
        self.shards: dict[str, dict[bytes, CodeType]] = {}
        self.dirty: set[str] = set()
        self.base: str | None = None
        self.configured = False

    def _configure(self) -> None:
        self.configured = True
        setting = os.environ.get("AFGDB_BLOCK_CACHE", "")
        if setting == "0":
            return
        root = setting or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "afgdb")
        tag = sys.implementation.cache_tag or "py"
        version = hashlib.blake2b(digest_size=6)
        for mod in (isa, sys.modules[__name__]):
            with open(mod.__file__ or "", "rb") as fh:
                version.update(fh.read())
        from afgdb.machine.cpu import isa_fpu

        with open(isa_fpu.__file__ or "", "rb") as fh:
            version.update(fh.read())
        self.base = os.path.join(root, f"blocks-{tag}-{WORD_ONLY:d}-{version.hexdigest()}")
        self._prune(root)
        atexit.register(self.save)

    KEEP_VERSIONS = 4  # other translator versions' stores kept (CPython and PyPy alternate)

    def _prune(self, root: str) -> None:
        """Remove the stores of all but the few most recently used other versions: each
        translator change starts a new store, and old ones would pile up forever."""
        try:
            old = [(e.stat().st_mtime, e.path) for e in os.scandir(root)
                   if e.is_dir() and e.name.startswith("blocks-") and e.path != self.base]
        except OSError:
            return  # no cache yet
        for _mtime, path in sorted(old, reverse=True)[self.KEEP_VERSIONS:]:
            try:
                for f in os.scandir(path):
                    os.unlink(f.path)
                os.rmdir(path)
            except OSError:
                pass  # another afgdb is pruning or still writing there

    SHARDS_IN_MEMORY = 2048  # code pages' stores held at once; past it, saved and dropped

    def _shard(self, page: str) -> dict[bytes, CodeType]:
        shard = self.shards.get(page)
        if shard is None:
            if len(self.shards) >= self.SHARDS_IN_MEMORY:
                # Guests that keep writing new code (JITs, fuzzers) would grow this
                # forever: keep what is on disk, start the memory over.
                self.save()
                self.shards.clear()
                self.dirty.clear()
            shard = self.shards[page] = {}
            if self.base is not None:
                try:
                    with open(os.path.join(self.base, page), "rb") as fh:
                        data = marshal.load(fh)
                    if isinstance(data, dict):
                        shard.update(data)
                except (OSError, EOFError, ValueError, TypeError):
                    pass  # none yet, or from another version: start afresh
        return shard

    def get(self, src: str, page: str) -> CodeType:
        """The code of src; page names the guest code page it came from (address+checksum)."""
        if not self.configured:
            self._configure()
        shard = self._shard(page)
        key = hashlib.blake2b(src.encode(), digest_size=16).digest()
        code = shard.get(key)
        if code is None:
            module = compile(src, "<mips block>", "exec")
            code = next(c for c in module.co_consts if isinstance(c, CodeType))
            if len(shard) >= self.SHARD_LIMIT:
                shard.clear()
            shard[key] = code
            self.dirty.add(page)
        return code

    def save(self) -> None:
        if not self.dirty or self.base is None:
            return
        try:
            os.makedirs(self.base, exist_ok=True)
            for page in sorted(self.dirty):
                path = os.path.join(self.base, page)
                tmp = f"{path}.{os.getpid()}.tmp"
                with open(tmp, "wb") as fh:
                    marshal.dump(self.shards[page], fh)
                os.replace(tmp, path)
            self.dirty.clear()
        except OSError:
            pass  # a read-only or full cache directory only costs speed


_store = _CodeStore()


def _unit(start: int, length: int, code: CodeType, lines: list[int],
          blocks: list[BlockSource], region: bool) -> Block:
    ipc: list[int] = []
    iidx: list[int] = []
    ids: list[bool] = []
    pages: set[int] = set()
    for bs in blocks:
        ipc += [bs.start + 4 * k for k in range(len(bs.marks))]
        iidx += list(range(len(bs.marks)))
        ids += [k in bs.ds for k in range(len(bs.marks))]
        pages |= bs.pages
    # A region's source orders blocks by address, not as listed: sort by line for bisect.
    order = sorted(range(len(lines)), key=lines.__getitem__)
    return Block(start, length, _unbound, code, [lines[i] for i in order],
                 [ipc[i] for i in order], [iidx[i] for i in order], [ids[i] for i in order],
                 tuple(sorted(pages)), region, dynamic=not region and blocks[0].dynamic)


def _unbound(r: list[int], c: Any, lim: int) -> int:
    raise AssertionError("a translation template was run unbound")


def _bind(t: Block, namespace: dict[str, object]) -> Block:
    return Block(t.start, t.length, types.FunctionType(t.code, namespace, "blk"), t.code,
                 t.lines, t.ipc, t.iidx, t.ids, t.pages, t.region, t.lo, t.hi, t.dynamic)


# (page key, pc, slow, max_insns) -> a translation of a block that lies within that page.
# An exec of the same program, or a fork, finds its blocks here without decoding again.
_translations: dict[tuple[str, int, bool, int, tuple[int, ...]], Block] = {}
# (entry page key, entry pc) -> a region, the keys of every page it was made from and
# the breakpoints on them then.
_regions: dict[tuple[str, int], tuple[Block, dict[int, str], tuple[int, ...]]] = {}
_TRANSLATIONS_LIMIT = 20_000  # blocks and sources kept process-wide; regions a tenth


def compile_block(fetch: Callable[[int], int], pc: int, namespace: dict[str, object], *,
                  slow: bool = False, max_insns: int = MAX_BLOCK,
                  stop_at: frozenset[int] | set[int] = frozenset(), page_key: str = "") -> Block:
    """Translate (or reuse the code of an identical earlier translation) and bind to namespace.

    page_key names the content of pc's page; with it, and no breakpoint in the way,
    a block already translated from identical bytes is reused as it is.
    """
    page = pc >> 12
    key = None
    if page_key:
        key = (page_key, pc, slow, max_insns, _stops_near(stop_at, page))
        hit = _translations.get(key)
        if hit is not None:
            fetch(pc)  # still check that pc is executable here
            return _bind(hit, namespace)
    bs = _source_of(fetch, pc, page_key, stop_at, slow=slow, max_insns=max_insns)
    src, lines = wrap_block(bs)
    t = _unit(pc, bs.length, _store.get(src, page_key or f"{page:05x}"), lines, [bs], False)
    if key is not None and t.pages == (page,):  # blocks reading the next page are not reused
        if len(_translations) >= _TRANSLATIONS_LIMIT:
            _translations.clear()
        _translations[key] = t
    return _bind(t, namespace)


# (page key, pc, slow, max_insns) -> the block's source, for blocks within one page:
# regions overlap and share most of their blocks.
_sources: dict[tuple[str, int, bool, int, tuple[int, ...]], BlockSource] = {}


def _stops_near(stop_at: frozenset[int] | set[int], page: int) -> tuple[int, ...]:
    """The breakpoints a block starting in page could end at: part of its reuse key."""
    return tuple(sorted(bp for bp in stop_at if (bp >> 12) in (page, page + 1))) \
        if stop_at else ()


def _source_of(fetch: Callable[[int], int], pc: int, page_key: str,
               stop_at: frozenset[int] | set[int], *, slow: bool = False,
               max_insns: int = MAX_BLOCK) -> BlockSource:
    page = pc >> 12
    if not page_key:
        return generate(fetch, pc, slow=slow, max_insns=max_insns, stop_at=stop_at)
    key = (page_key, pc, slow, max_insns, _stops_near(stop_at, page))
    bs = _sources.get(key)
    if bs is None:
        bs = generate(fetch, pc, slow=slow, max_insns=max_insns, stop_at=stop_at)
        if bs.pages == {page}:
            if len(_sources) >= _TRANSLATIONS_LIMIT:
                _sources.clear()
            _sources[key] = bs
    else:
        fetch(pc)  # still check that pc is executable here
    return bs


REGION_BLOCKS = 16  # most blocks in one region
REGION_INSNS = 320  # most instructions in one region


def compile_region(fetch: Callable[[int], int], entry: int, namespace: dict[str, object], *,
                   stop_at: frozenset[int] | set[int], page_key: Callable[[int], str],
                   jumps: dict[int, list[int]] | None = None,
                   entries: Container[int] = ()) -> Block:
    """A region: the block at entry and the blocks it reaches by known edges (branch
    targets, fall-throughs, calls and their return sites) or, from a jump to a
    register, by the edges in jumps (block start -> where such a jump was seen to
    go), breadth first, as one function. Breakpoint addresses never start a block
    inside it, so control leaves the region before reaching one. It stops at
    entries (those of regions made already): code that runs once per run would
    otherwise be copied into every region that reaches it. page_key(pn) names a
    page's content.
    """
    key = (page_key(entry >> 12), entry)
    hit = _regions.get(key)
    if hit is not None:
        t, keys, stops = hit
        if all(page_key(pn) == k for pn, k in keys.items()) and \
                stops == tuple(sorted(bp for bp in stop_at if bp >> 12 in keys)):
            fetch(entry)
            return _bind(t, namespace)
    blocks = [_source_of(fetch, entry, key[0], stop_at)]
    seen = {entry}
    insns = blocks[0].length
    i = 0
    while i < len(blocks) and len(blocks) < REGION_BLOCKS and insns < REGION_INSNS:
        here = blocks[i]
        seen_jumps = jumps.get(here.start, []) if jumps and here.dynamic else []
        for nxt in here.succ + seen_jumps:
            if nxt in seen or nxt in stop_at or len(blocks) >= REGION_BLOCKS or nxt in entries:
                continue
            seen.add(nxt)
            try:
                bs = _source_of(fetch, nxt, page_key(nxt >> 12), stop_at)
            except Exception:
                continue  # not executable (yet): leaving the region there is the outer loop's job
            blocks.append(bs)
            insns += bs.length
        i += 1
    src, lines = wrap_region(blocks)
    t = _unit(entry, 0, _store.get(src, key[0]), lines, blocks, True)
    keys = {pn: page_key(pn) for pn in t.pages}
    if len(_regions) >= _TRANSLATIONS_LIMIT // 10:
        _regions.clear()
    _regions[key] = (t, keys, tuple(sorted(bp for bp in stop_at if bp >> 12 in keys)))
    return _bind(t, namespace)
