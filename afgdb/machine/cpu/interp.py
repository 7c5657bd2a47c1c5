"""The reference interpreter: one instruction at a time, straight from the table.

Every row's template becomes one generic Python function whose operands are
parameters (register numbers, immediates, the pc) instead of the constants
the block translator folds in, and every memory access goes through the
address space's checked slow path. It is slow and simple on purpose: the
block engine (``translate.py``/``engine.py``) is checked against it, and
``afgdb run --engine interp`` runs whole programs on it.
"""

from __future__ import annotations

import re
import types
from types import CodeType
from typing import Any, Callable

from afgdb.machine.cpu import isa
from afgdb.machine.cpu.engine import (
    HELPER_ERRORS,
    X_BREAKPOINT,
    X_BUDGET,
    X_EVENT,
    X_FAULT,
    X_WATCH,
    CodeCache,
    Exit,
    WatchHit,
    helper_exit,
)
from afgdb.machine.cpu.isa import K_BRANCH, K_EXIT, K_JUMP, K_JUMPREG, K_PLAIN, Insn
from afgdb.machine.cpu.state import CPU
from afgdb.machine.memory import MemFault

# Operand parameters every generated function takes, in this order.
_PARAMS = ("rs", "rt", "rd", "sa", "imm", "simm", "sel", "pc")
_TOKEN = re.compile(r"\b(RS|RT|RD|RDN|HI|LO|IMM|SIMM|UIMM16|SA|MSB|LSB|SEL|PC|NPC|FS|FT|FD|FR|"
                    r"CC|FCC|EXTSIZE|INSSIZE|BTARGET|JTARGET|EV_[A-Z]+)\b")
_X = re.compile(r"X\(([^()]*)\)")
_TRAP = re.compile(r"TRAP\((EV_[A-Z]+)\)")

# Template token -> Python expression over the parameters.
_EXPR = {
    "RS": "r[rs]", "RT": "r[rt]", "RD": "r[rd]", "RDN": "rd", "HI": "r[33]", "LO": "r[32]",
    "IMM": "imm", "SIMM": "simm", "UIMM16": "(imm << 16)", "SA": "sa", "LSB": "sa", "MSB": "rd",
    "SEL": "sel", "PC": "pc", "NPC": "((pc + 4) & 0xFFFFFFFF)",
    "FT": "rt", "FS": "rd", "FD": "sa", "FR": "rs", "CC": "(rt >> 2)", "FCC": "(sa >> 2)",
    "EXTSIZE": "(rd + 1)", "INSSIZE": "(rd - sa + 1)",
    "BTARGET": "((pc + 4 + (simm << 2)) & 0xFFFFFFFF)",
}


def _expand(text: str) -> str:
    text = _TRAP.sub(lambda m: f"return ({getattr(isa, m.group(1))} << 32) | pc", text)

    def tok(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("EV_"):
            return str(getattr(isa, name))
        return _EXPR[name]

    text = _TOKEN.sub(tok, text)
    return _X.sub(lambda m: f"((({m.group(1)}) ^ 0x80000000) - 0x80000000)", text)


def _source(row: Insn) -> str:
    """The body of one row's function: returns None (next), an event, or a branch target."""
    lines: list[str] = []
    if row.load:
        size, signed = row.load
        lines.append("a = (r[rs] + simm) & 0xFFFFFFFF")
        if size > 1:
            lines.append(f"if a & {size - 1}:\n    c.badvaddr = a\n"
                         f"    return ({isa.EV_ADEL} << 32) | pc")
        lines.append(f"v = mem.load(a, {size})")
        if signed:
            bit, ext = (0x80, 0xFFFFFF00) if size == 1 else (0x8000, 0xFFFF0000)
            lines.append(f"r[rt] = (v | {ext:#x}) if v & {bit:#x} else v")
        else:
            lines.append("r[rt] = v")
    elif row.store:
        size = row.store
        lines.append("a = (r[rs] + simm) & 0xFFFFFFFF")
        if size > 1:
            lines.append(f"if a & {size - 1}:\n    c.badvaddr = a\n"
                         f"    return ({isa.EV_ADES} << 32) | pc")
        lines.append(f"mem.store(a, {size}, r[rt])")
    elif row.kind in (K_BRANCH, K_JUMP):
        cond = _expand(row.cond) if row.cond else "True"
        target = "((pc + 4) & 0xF0000000) | (jt << 2)" if row.kind == K_JUMP else \
            _EXPR["BTARGET"]
        lines.append(f"b = {cond}")
        if row.link:
            lines.append("r[31] = (pc + 8) & 0xFFFFFFFF")
        lines.append(f"return {target} if b else -1")
    elif row.kind == K_JUMPREG:
        lines.append(_expand(row.sem))  # t = RS
        if row.link:
            lines.append("r[rd] = (pc + 8) & 0xFFFFFFFF")
        lines.append("return t")
    else:
        lines.append(_expand(row.sem))
    body = "\n".join(lines).replace("\n", "\n    ")
    return f"def op(r, c, mem, {', '.join(_PARAMS)}, jt):\n    {body}\n    return None\n"


_codes: dict[str, CodeType] = {}


def _code_for(row: Insn) -> CodeType:
    code = _codes.get(row.name)
    if code is None:
        module = compile(_source(row), f"<mips insn {row.name}>", "exec")
        code = next(c for c in module.co_consts if isinstance(c, CodeType))
        _codes[row.name] = code
    return code


OpFn = Callable[..., Any]


class Interpreter:
    """Executes instructions of one address space (functions bound to its globals)."""

    def __init__(self, cache: CodeCache) -> None:
        self.cache = cache
        self.fns: dict[str, OpFn] = {}
        self.decoded: dict[int, tuple[Insn | None, OpFn | None, tuple[int, ...]]] = {}

    def decode(self, word: int) -> tuple[Insn | None, OpFn | None, tuple[int, ...]]:
        hit = self.decoded.get(word)
        if hit is None:
            row = isa.decoder().decode(word)
            fn = None
            if row is not None:
                fn = self.fns.get(row.name)
                if fn is None:
                    fn = self.fns[row.name] = types.FunctionType(_code_for(row), self.cache.ns)
            imm = word & 0xFFFF
            ops = ((word >> 21) & 31, (word >> 16) & 31, (word >> 11) & 31, (word >> 6) & 31,
                   imm, (imm - 0x10000 if imm & 0x8000 else imm) & 0xFFFFFFFF, word & 7)
            hit = (row, fn, ops + (word & 0x3FFFFFF,))
            if len(self.decoded) > 1 << 16:
                self.decoded.clear()
            self.decoded[word] = hit
        return hit


def _interp_for(cache: CodeCache) -> Interpreter:
    it = cache.__dict__.get("_interp")
    if it is None:
        it = Interpreter(cache)
        cache.__dict__["_interp"] = it
    assert isinstance(it, Interpreter)
    return it


def run(c: CPU, cache: CodeCache, budget: int, step: bool = False) -> Exit:
    """Same contract as engine.run, one instruction at a time."""
    it = _interp_for(cache)
    mem = cache.aspace
    r = c.r
    bps = cache.breakpoints
    done = 0
    first = True
    if step:
        budget = 1
    while done < budget:
        pc = c.pc
        if bps and pc in bps and not first:
            return Exit(X_BREAKPOINT, pc)
        first = False
        try:
            word = mem.fetch(pc) if not pc & 3 else None
        except MemFault as e:
            return Exit(X_FAULT, pc, fault=e)
        if word is None:
            return Exit(X_FAULT, pc, fault=MemFault(pc, False, True))
        row, fn, ops = it.decode(word)
        if row is None or fn is None:
            return Exit(X_EVENT, pc, isa.EV_RESERVED)
        try:
            res = fn(r, c, mem, *ops[:7], pc, ops[7])
            r[0] = 0
            if row.kind == K_PLAIN:
                if res is not None:
                    return _event(c, res, False)
                c.pc = (pc + 4) & 0xFFFFFFFF
                c.icount += 1
                done += 1
                continue
            if row.kind == K_EXIT:
                if res is not None:
                    ev = res >> 32
                    c.icount += 1 if ev in (isa.EV_SYSCALL, isa.EV_BREAK) else 0
                    c.pc = pc
                    return Exit(X_EVENT, pc, ev)
                c.pc = (pc + 4) & 0xFFFFFFFF
                c.icount += 1
                done += 1
                continue
            # A branch: res is the target, or -1 when a conditional branch is not taken.
            taken = res != -1
            nxt = res if taken else (pc + 8) & 0xFFFFFFFF
            if taken or not row.likely:
                ds_pc = (pc + 4) & 0xFFFFFFFF
                ds_row, ds_fn, ds_ops = it.decode(mem.fetch(ds_pc))
                if ds_row is None or ds_fn is None or ds_row.kind != K_PLAIN:
                    c.pc = pc
                    return Exit(X_EVENT, pc, isa.EV_RESERVED, True)
                try:
                    ds_res = ds_fn(r, c, mem, *ds_ops[:7], ds_pc, ds_ops[7])
                except MemFault as e:
                    c.pc = pc
                    return Exit(X_FAULT, pc, in_delay_slot=True, fault=e)
                r[0] = 0
                if ds_res is not None:
                    c.pc = pc
                    return Exit(X_EVENT, pc, ds_res >> 32, True)
            c.pc = nxt
            c.icount += 2
            done += 2
        except MemFault as e:
            c.pc = pc
            return Exit(X_FAULT, pc, fault=e)
        except WatchHit as w:
            c.pc = pc
            return Exit(X_WATCH, pc, watch=w.hit)
        except HELPER_ERRORS as e:
            c.pc = pc
            return helper_exit(e, pc)
    return Exit(X_BUDGET, c.pc)


def _event(c: CPU, res: int, bd: bool) -> Exit:
    ev = res >> 32
    pc = res & 0xFFFFFFFF
    c.pc = pc
    return Exit(X_EVENT, pc, ev, bd)


__all__ = ["run", "Interpreter"]
