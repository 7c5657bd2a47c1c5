"""The MIPS32r2 instruction table: one row per instruction, the only place semantics live.

A row gives the mnemonic, the encoding (mask/match), an assembler format for
traces, a kind that tells the translator how the row ends a block, and its
semantics as a small Python template. Templates name operands with tokens
that the translator (``translate.py``) replaces by constants or register
references, so the same rows drive single-instruction execution, whole
blocks, disassembly and the coverage tests:

  RS RT RD          general registers (reads of $zero become 0; a write to
                    $zero is dropped)
  HI LO             the multiply/divide registers
  IMM SIMM UIMM16   immediate: zero-extended, sign-extended (as an unsigned
                    32-bit value), and imm << 16
  SA MSB LSB SEL    shift amount / ext-ins fields / CP0 select
  PC NPC            address of this instruction and of the next one
  FS FT FD FR CC    FPU register numbers and condition-code field (ints)
  TRAP(EV)          leave the block with event EV at this instruction
  X(expr)           sign-interpret a 32-bit value (expands inline)

Templates are Python statements; ``c`` is the CPU state, ``mem`` the address
space's slow path and ``fpu`` the FPU helper module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# Block exit events (bits 32 and up of a block's return value; low 32 bits are the pc).
EV_SYSCALL = 1
EV_BREAK = 2
EV_TRAP = 3  # teq/tge/... condition true
EV_RESERVED = 4  # reserved instruction -> SIGILL
EV_OVERFLOW = 5  # add/addi/sub integer overflow -> SIGFPE (FPE_INTOVF)
EV_FPE = 6  # FPU exception -> SIGFPE
EV_ADEL = 7  # address error on load/fetch -> SIGBUS
EV_ADES = 8  # address error on store -> SIGBUS
EV_COPUNUSABLE = 9  # coprocessor unusable (CP0 access from user mode)
EV_ERET = 10  # system mode: eret executed, pc already set in c
EV_WAIT = 11  # wait instruction
EV_BD = 0x100  # or-ed in: the event happened in a branch delay slot, pc is the branch's

# Kinds: how a row ends a block.
K_PLAIN = 0  # falls through
K_BRANCH = 1  # conditional/unconditional PC-relative branch, has a delay slot
K_JUMP = 2  # j/jal (region jump), has a delay slot
K_JUMPREG = 3  # jr/jalr, has a delay slot
K_EXIT = 4  # ends the block after itself (syscall, break, eret, ...)


@dataclass(frozen=True)
class Insn:
    """One row of the instruction table."""

    name: str
    mask: int
    match: int
    fmt: str  # operand format for disassembly, e.g. "RD, RS, RT"
    sem: str  # semantics template (see module docstring)
    kind: int = K_PLAIN
    cond: str = ""  # branches: the condition expression
    link: bool = False  # branches/jumps: writes the return address
    likely: bool = False  # branch-likely: delay slot annulled when not taken
    load: tuple[int, bool] | None = None  # (size, signed) for plain loads into RT
    store: int = 0  # size for plain stores of RT
    fpu: bool = False  # needs CP1 (family for coverage reporting)


def _op(op: int) -> tuple[int, int]:
    return 0xFC000000, op << 26


def _special(funct: int, zero: int = 0) -> tuple[int, int]:
    """SPECIAL (opcode 0) rows; zero is a mask of fields that must be 0."""
    return 0xFC00003F | zero, funct


def _regimm(rt: int) -> tuple[int, int]:
    return 0xFC1F0000, (1 << 26) | (rt << 16)


def _sp2(funct: int) -> tuple[int, int]:
    return 0xFC00003F, (28 << 26) | funct


def _sp3(funct: int) -> tuple[int, int]:
    return 0xFC00003F, (31 << 26) | funct


M32 = 0xFFFFFFFF
_RS0 = 0x03E00000  # rs field must be zero
_RT0 = 0x001F0000
_RD0 = 0x0000F800
_SA0 = 0x000007C0


def _rows() -> list[Insn]:
    rows: list[Insn] = []

    def add(name: str, mm: tuple[int, int], fmt: str, sem: str, **kw: object) -> None:
        rows.append(Insn(name, mm[0], mm[1], fmt, sem, **kw))  # type: ignore[arg-type]

    # --- shifts (sll with all-zero operands is nop; ehb/ssnop are sll with sa=3/1, rd=0)
    add("nop", (M32, 0), "", "pass")
    add("sll", _special(0, _RS0), "RD, RT, SA", "RD = (RT << SA) & 0xFFFFFFFF")
    add("srl", _special(2, 0x03E00000), "RD, RT, SA", "RD = RT >> SA")
    add("rotr", (0xFFE0003F, (1 << 21) | 2), "RD, RT, SA",
        "RD = ((RT >> SA) | (RT << (32 - SA))) & 0xFFFFFFFF")
    add("sra", _special(3, _RS0), "RD, RT, SA", "RD = (X(RT) >> SA) & 0xFFFFFFFF")
    add("sllv", _special(4, _SA0), "RD, RT, RS", "RD = (RT << (RS & 31)) & 0xFFFFFFFF")
    add("srlv", _special(6, _SA0), "RD, RT, RS", "RD = RT >> (RS & 31)")
    add("rotrv", (0xFC0007FF, (1 << 6) | 6), "RD, RT, RS",
        "s = RS & 31\nRD = ((RT >> s) | (RT << (32 - s))) & 0xFFFFFFFF")
    add("srav", _special(7, _SA0), "RD, RT, RS", "RD = (X(RT) >> (RS & 31)) & 0xFFFFFFFF")

    # --- jumps through registers
    add("jr", (0xFC1FF83F, 8), "RS", "t = RS", kind=K_JUMPREG)
    add("jalr", (0xFC1F003F, 9), "RD, RS", "t = RS", kind=K_JUMPREG, link=True)
    add("jr.hb", (0xFC1FFFFF, 0x408), "RS", "t = RS", kind=K_JUMPREG)
    add("jalr.hb", (0xFC1F07FF, 0x409), "RD, RS", "t = RS", kind=K_JUMPREG, link=True)

    # --- conditional moves
    add("movz", _special(10, _SA0), "RD, RS, RT", "if RT == 0:\n    RD = RS")
    add("movn", _special(11, _SA0), "RD, RS, RT", "if RT != 0:\n    RD = RS")
    add("movf", (0xFC0307FF, 1), "RD, RS, CC", "if not fpu.cc(c, CC):\n    RD = RS", fpu=True)
    add("movt", (0xFC0307FF, 0x10001), "RD, RS, CC", "if fpu.cc(c, CC):\n    RD = RS", fpu=True)

    # --- system
    add("syscall", _special(12, 0), "", "TRAP(EV_SYSCALL)", kind=K_EXIT)
    add("break", _special(13, 0), "", "TRAP(EV_BREAK)", kind=K_EXIT)
    add("sync", (0xFFFFF83F, 15), "", "pass")

    # --- HI/LO
    add("mfhi", _special(16, 0x03FF07C0), "RD", "RD = HI")
    add("mthi", _special(17, 0x001FFFC0), "RS", "HI = RS")
    add("mflo", _special(18, 0x03FF07C0), "RD", "RD = LO")
    add("mtlo", _special(19, 0x001FFFC0), "RS", "LO = RS")
    add("mult", _special(24, 0xFFC0), "RS, RT",
        "p = X(RS) * X(RT)\nLO = p & 0xFFFFFFFF\nHI = (p >> 32) & 0xFFFFFFFF")
    add("multu", _special(25, 0xFFC0), "RS, RT",
        "p = RS * RT\nLO = p & 0xFFFFFFFF\nHI = p >> 32")
    # Division by zero leaves HI/LO unpredictable; keep the old values (what qemu does).
    add("div", _special(26, 0xFFC0), "RS, RT",
        "d = X(RT)\nif d:\n    n = X(RS)\n    q = abs(n) // abs(d)\n"
        "    if (n < 0) != (d < 0):\n        q = -q\n"
        "    LO = q & 0xFFFFFFFF\n    HI = (n - q * d) & 0xFFFFFFFF")
    add("divu", _special(27, 0xFFC0), "RS, RT",
        "d = RT\nif d:\n    LO = RS // d\n    HI = RS % d")

    # --- ALU register
    add("add", _special(32, _SA0), "RD, RS, RT",
        "v = X(RS) + X(RT)\nif not -0x80000000 <= v <= 0x7FFFFFFF:\n    TRAP(EV_OVERFLOW)\n"
        "RD = v & 0xFFFFFFFF")
    add("addu", _special(33, _SA0), "RD, RS, RT", "RD = (RS + RT) & 0xFFFFFFFF")
    add("sub", _special(34, _SA0), "RD, RS, RT",
        "v = X(RS) - X(RT)\nif not -0x80000000 <= v <= 0x7FFFFFFF:\n    TRAP(EV_OVERFLOW)\n"
        "RD = v & 0xFFFFFFFF")
    add("subu", _special(35, _SA0), "RD, RS, RT", "RD = (RS - RT) & 0xFFFFFFFF")
    add("and", _special(36, _SA0), "RD, RS, RT", "RD = RS & RT")
    add("or", _special(37, _SA0), "RD, RS, RT", "RD = RS | RT")
    add("xor", _special(38, _SA0), "RD, RS, RT", "RD = RS ^ RT")
    add("nor", _special(39, _SA0), "RD, RS, RT", "RD = ~(RS | RT) & 0xFFFFFFFF")
    add("slt", _special(42, _SA0), "RD, RS, RT",
        "RD = 1 if (RS ^ 0x80000000) < (RT ^ 0x80000000) else 0")
    add("sltu", _special(43, _SA0), "RD, RS, RT", "RD = 1 if RS < RT else 0")

    # --- traps on register compare
    for funct, name, cond in ((48, "tge", "X(RS) >= X(RT)"), (49, "tgeu", "RS >= RT"),
                              (50, "tlt", "X(RS) < X(RT)"), (51, "tltu", "RS < RT"),
                              (52, "teq", "RS == RT"), (54, "tne", "RS != RT")):
        add(name, _special(funct), "RS, RT", f"if {cond}:\n    TRAP(EV_TRAP)")

    # --- REGIMM branches and traps
    for rt, name, cond, link, likely in (
            (0, "bltz", "RS >= 0x80000000", False, False),
            (1, "bgez", "RS < 0x80000000", False, False),
            (2, "bltzl", "RS >= 0x80000000", False, True),
            (3, "bgezl", "RS < 0x80000000", False, True),
            (16, "bltzal", "RS >= 0x80000000", True, False),
            (17, "bgezal", "RS < 0x80000000", True, False),
            (18, "bltzall", "RS >= 0x80000000", True, True),
            (19, "bgezall", "RS < 0x80000000", True, True)):
        add(name, _regimm(rt), "RS, BTARGET", "", kind=K_BRANCH, cond=cond, link=link,
            likely=likely)
    for rt, name, cond in ((8, "tgei", "X(RS) >= X(SIMM)"), (9, "tgeiu", "RS >= SIMM"),
                           (10, "tlti", "X(RS) < X(SIMM)"), (11, "tltiu", "RS < SIMM"),
                           (12, "teqi", "RS == SIMM"), (14, "tnei", "RS != SIMM")):
        add(name, _regimm(rt), "RS, SIMM", f"if {cond}:\n    TRAP(EV_TRAP)")
    add("synci", _regimm(31), "SIMM(RS)", "pass")

    # --- jumps and branches
    add("j", _op(2), "JTARGET", "", kind=K_JUMP)
    add("jal", _op(3), "JTARGET", "", kind=K_JUMP, link=True)
    for op, name, cond, likely in ((4, "beq", "RS == RT", False), (5, "bne", "RS != RT", False),
                                   (20, "beql", "RS == RT", True),
                                   (21, "bnel", "RS != RT", True)):
        add(name, _op(op), "RS, RT, BTARGET", "", kind=K_BRANCH, cond=cond, likely=likely)
    for op, name, cond, likely in ((6, "blez", "RS == 0 or RS >= 0x80000000", False),
                                   (7, "bgtz", "0 < RS < 0x80000000", False),
                                   (22, "blezl", "RS == 0 or RS >= 0x80000000", True),
                                   (23, "bgtzl", "0 < RS < 0x80000000", True)):
        add(name, (0xFC1F0000, op << 26), "RS, BTARGET", "", kind=K_BRANCH, cond=cond,
            likely=likely)

    # --- ALU immediate
    add("addi", _op(8), "RT, RS, SIMM",
        "v = X(RS) + X(SIMM)\nif not -0x80000000 <= v <= 0x7FFFFFFF:\n    TRAP(EV_OVERFLOW)\n"
        "RT = v & 0xFFFFFFFF")
    add("addiu", _op(9), "RT, RS, SIMM", "RT = (RS + SIMM) & 0xFFFFFFFF")
    add("slti", _op(10), "RT, RS, SIMM",
        "RT = 1 if (RS ^ 0x80000000) < (SIMM ^ 0x80000000) else 0")
    add("sltiu", _op(11), "RT, RS, SIMM", "RT = 1 if RS < SIMM else 0")
    add("andi", _op(12), "RT, RS, IMM", "RT = RS & IMM")
    add("ori", _op(13), "RT, RS, IMM", "RT = RS | IMM")
    add("xori", _op(14), "RT, RS, IMM", "RT = RS ^ IMM")
    add("lui", (0xFFE00000, 15 << 26), "RT, IMM", "RT = UIMM16")

    # --- CP0 (user mode sees only what the kernel lets it; system mode is spl.py's)
    add("mfc0", (0xFFE007F8, 16 << 26), "RT, RD, SEL", "RT = c.cp0_read(RDN, SEL)",
        kind=K_EXIT)
    add("mtc0", (0xFFE007F8, (16 << 26) | (4 << 21)), "RT, RD, SEL",
        "c.cp0_write(RDN, SEL, RT)", kind=K_EXIT)
    add("eret", (M32, 0x42000018), "", "TRAP(EV_ERET)", kind=K_EXIT)
    add("wait", (0xFE00003F, 0x42000020), "", "TRAP(EV_WAIT)", kind=K_EXIT)
    add("di", (0xFFE0FFFF, 0x41606000), "RT", "RT = c.cp0_di(0)", kind=K_EXIT)
    add("ei", (0xFFE0FFFF, 0x41606020), "RT", "RT = c.cp0_di(1)", kind=K_EXIT)

    # --- SPECIAL2
    add("madd", _sp2(0), "RS, RT",
        "p = ((HI << 32) | LO) + X(RS) * X(RT)\nLO = p & 0xFFFFFFFF\nHI = (p >> 32) & 0xFFFFFFFF")
    add("maddu", _sp2(1), "RS, RT",
        "p = ((HI << 32) | LO) + RS * RT\nLO = p & 0xFFFFFFFF\nHI = (p >> 32) & 0xFFFFFFFF")
    add("mul", _sp2(2), "RD, RS, RT", "RD = (X(RS) * X(RT)) & 0xFFFFFFFF")
    add("msub", _sp2(4), "RS, RT",
        "p = ((HI << 32) | LO) - X(RS) * X(RT)\nLO = p & 0xFFFFFFFF\nHI = (p >> 32) & 0xFFFFFFFF")
    add("msubu", _sp2(5), "RS, RT",
        "p = ((HI << 32) | LO) - RS * RT\nLO = p & 0xFFFFFFFF\nHI = (p >> 32) & 0xFFFFFFFF")
    add("clz", _sp2(32), "RD, RS", "RD = 32 - (RS).bit_length()")
    add("clo", _sp2(33), "RD, RS", "RD = 32 - (~RS & 0xFFFFFFFF).bit_length()")
    add("sdbbp", _sp2(63), "", "TRAP(EV_BREAK)", kind=K_EXIT)

    # --- SPECIAL3
    add("ext", _sp3(0), "RT, RS, LSB, EXTSIZE",
        "RT = (RS >> LSB) & ((1 << (MSB + 1)) - 1)")
    add("ins", _sp3(4), "RT, RS, LSB, INSSIZE",
        "if MSB < LSB:\n    TRAP(EV_RESERVED)\nm = ((1 << (MSB - LSB + 1)) - 1) << LSB\nRT = (RT & ~m & 0xFFFFFFFF) | ((RS << LSB) & m)")
    add("wsbh", (0xFFE007FF, (31 << 26) | (2 << 6) | 32), "RD, RT",
        "RD = ((RT & 0x00FF00FF) << 8) | ((RT >> 8) & 0x00FF00FF)")
    add("seb", (0xFFE007FF, (31 << 26) | (16 << 6) | 32), "RD, RT",
        "RD = (RT & 0xFF) | (0xFFFFFF00 if RT & 0x80 else 0)")
    add("seh", (0xFFE007FF, (31 << 26) | (24 << 6) | 32), "RD, RT",
        "RD = (RT & 0xFFFF) | (0xFFFF0000 if RT & 0x8000 else 0)")
    add("rdhwr", (0xFFE007FF, (31 << 26) | 59), "RT, RDN", "RT = c.rdhwr(RDN)")

    # --- loads and stores (plain ones are expanded inline by the translator)
    add("lb", _op(32), "RT, SIMM(RS)", "", load=(1, True))
    add("lh", _op(33), "RT, SIMM(RS)", "", load=(2, True))
    add("lw", _op(35), "RT, SIMM(RS)", "", load=(4, False))
    add("lbu", _op(36), "RT, SIMM(RS)", "", load=(1, False))
    add("lhu", _op(37), "RT, SIMM(RS)", "", load=(2, False))
    add("sb", _op(40), "RT, SIMM(RS)", "", store=1)
    add("sh", _op(41), "RT, SIMM(RS)", "", store=2)
    add("sw", _op(43), "RT, SIMM(RS)", "", store=4)
    # Unaligned word halves: read the aligned word through the slow path.
    add("lwl", _op(34), "RT, SIMM(RS)",
        "a = (RS + SIMM) & 0xFFFFFFFF\nw = mem.load(a & ~3, 4)\ns = (3 - (a & 3)) * 8\n"
        "RT = ((w << s) & 0xFFFFFFFF) | (RT & ((1 << s) - 1))")
    add("lwr", _op(38), "RT, SIMM(RS)",
        "a = (RS + SIMM) & 0xFFFFFFFF\nw = mem.load(a & ~3, 4)\ns = (a & 3) * 8\n"
        "RT = (w >> s) | (RT & ~(0xFFFFFFFF >> s) & 0xFFFFFFFF)")
    add("swl", _op(42), "RT, SIMM(RS)",
        "a = (RS + SIMM) & 0xFFFFFFFF\nw = mem.load(a & ~3, 4)\ns = (3 - (a & 3)) * 8\n"
        "m = 0xFFFFFFFF >> s\nmem.store(a & ~3, 4, (w & ~m & 0xFFFFFFFF) | (RT >> s))")
    add("swr", _op(46), "RT, SIMM(RS)",
        "a = (RS + SIMM) & 0xFFFFFFFF\nw = mem.load(a & ~3, 4)\ns = (a & 3) * 8\n"
        "m = (0xFFFFFFFF << s) & 0xFFFFFFFF\n"
        "mem.store(a & ~3, 4, (w & ~m & 0xFFFFFFFF) | ((RT << s) & m))")
    add("ll", _op(48), "RT, SIMM(RS)",
        "a = (RS + SIMM) & 0xFFFFFFFF\nif a & 3:\n    c.badvaddr = a\n    TRAP(EV_ADEL)\n"
        "RT = mem.load(a, 4)\nc.llbit = 1")
    add("sc", _op(56), "RT, SIMM(RS)",
        "a = (RS + SIMM) & 0xFFFFFFFF\nif a & 3:\n    c.badvaddr = a\n    TRAP(EV_ADES)\n"
        "if c.llbit:\n    mem.store(a, 4, RT)\n    c.llbit = 0\n    RT = 1\nelse:\n    RT = 0")
    add("cache", _op(47), "SA, SIMM(RS)", "c.cache_op()")
    add("pref", _op(51), "SA, SIMM(RS)", "pass")
    return rows


INT_ROWS: list[Insn] = _rows()


def all_rows() -> list[Insn]:
    """Every row: integer, then FPU (the FPU rows live in isa_fpu.py)."""
    from afgdb.machine.cpu import isa_fpu

    return INT_ROWS + isa_fpu.FPU_ROWS


class Decoder:
    """Maps an instruction word to its row; most specific mask wins."""

    def __init__(self, rows: list[Insn]) -> None:
        self._by_op: dict[int, list[Insn]] = {}
        for row in sorted(rows, key=lambda r: -bin(r.mask).count("1")):
            ops = [row.match >> 26] if row.mask & 0xFC000000 == 0xFC000000 else list(range(64))
            for op in ops:
                self._by_op.setdefault(op, []).append(row)
        self._cache: dict[int, Insn | None] = {}

    def decode(self, word: int) -> Insn | None:
        try:
            return self._cache[word]
        except KeyError:
            pass
        found = None
        for row in self._by_op.get(word >> 26, ()):
            if word & row.mask == row.match:
                found = row
                break
        if len(self._cache) < 1 << 16:
            self._cache[word] = found
        return found


_decoder: Decoder | None = None


def decoder() -> Decoder:
    global _decoder
    if _decoder is None:
        _decoder = Decoder(all_rows())
    return _decoder


def fields(word: int, pc: int) -> dict[str, int]:
    """The operand fields of word at pc, as the templates name them."""
    imm = word & 0xFFFF
    simm = (imm - 0x10000 if imm & 0x8000 else imm) & 0xFFFFFFFF
    rd = (word >> 11) & 31
    sa = (word >> 6) & 31
    return {
        "RS": (word >> 21) & 31, "RT": (word >> 16) & 31, "RD": rd, "RDN": rd,
        "SA": sa, "LSB": sa, "MSB": rd, "SEL": word & 7,
        "IMM": imm, "SIMM": simm, "UIMM16": imm << 16,
        "BTARGET": (pc + 4 + (simm << 2)) & 0xFFFFFFFF,
        "JTARGET": ((pc + 4) & 0xF0000000) | ((word & 0x3FFFFFF) << 2),
        "FT": (word >> 16) & 31, "FS": (word >> 11) & 31, "FD": sa, "FR": (word >> 21) & 31,
        "CC": (word >> 18) & 7, "FCC": (word >> 8) & 7,
        "PC": pc, "NPC": (pc + 4) & 0xFFFFFFFF,
        "EXTSIZE": rd + 1, "INSSIZE": rd - sa + 1,
    }


_REG_NAMES = ["zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4",
              "t5", "t6", "t7", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9",
              "k0", "k1", "gp", "sp", "s8", "ra"]


def disassemble(word: int, pc: int) -> str:
    """A one-line disassembly, for traces and error messages."""
    row = decoder().decode(word)
    if row is None:
        return f".word {word:#010x}"
    f = fields(word, pc)
    render: dict[str, Callable[[int], str]] = {
        "RS": lambda v: "$" + _REG_NAMES[v], "RT": lambda v: "$" + _REG_NAMES[v],
        "RD": lambda v: "$" + _REG_NAMES[v], "FS": lambda v: f"$f{v}",
        "FT": lambda v: f"$f{v}", "FD": lambda v: f"$f{v}", "FR": lambda v: f"$f{v}",
        "SIMM": lambda v: str(v - (1 << 32) if v & 0x80000000 else v),
    }
    def plain(v: int) -> str:
        return hex(v) if v > 9 else str(v)

    out = row.fmt
    for key in sorted(f, key=len, reverse=True):
        if key in out:
            out = out.replace(key, render.get(key, plain)(f[key]))
    return f"{row.name} {out}".strip()
