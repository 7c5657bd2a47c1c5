"""FPU rows of the instruction table (COP1 / COP1X, loads and stores of FPRs).

Status.FR=0: ``c.f`` is 32 raw 32-bit registers, a double (or a 64-bit
integer) lives in an even/odd pair with its low word in the even register.
Rows whose double/long operands name an odd register do not decode (the
encodings are reserved with FR=0, so they raise SIGILL), which the masks
below express by requiring the low bit of those register fields to be 0.

Memory: loads and stores index the fast page tables (``R32``/``W32``) when
the page is there (a miss raises KeyError or IndexError) and fall back to the address space's slow path
(``mem.load``/``mem.store``: faults, demand paging, copy-on-write, watched
pages) otherwise; the two give identical results.

Arithmetic is one call into ``fpu`` per instruction; bit moves (mov, abs,
neg, mfc1, movz, ...) are inline. Semantics live in ``fpu.py``; this module
only says which helper each encoding calls.
"""

from __future__ import annotations

from afgdb.machine.cpu.isa import K_BRANCH, Insn
from afgdb.machine.memory import PAGE_INDEX

_COP1 = 17 << 26
_COP1X = 19 << 26
FMT_S, FMT_D, FMT_W, FMT_L = 16, 17, 20, 21

# Register fields' low bits (an odd register there is reserved with FR=0).
_E_FT = 1 << 16
_E_FS = 1 << 11
_E_FD = 1 << 6
_E_FR = 1 << 21
_FT0 = 0x001F0000  # ft field must be zero (unary ops)

COND_NAMES = ("f", "un", "eq", "ueq", "olt", "ult", "ole", "ule",
              "sf", "ngle", "seq", "ngl", "lt", "nge", "le", "ngt")


def _ev(*regs: str) -> int:
    m = 0
    for r in regs:
        m |= {"ft": _E_FT, "fs": _E_FS, "fd": _E_FD, "fr": _E_FR}[r]
    return m


def _load_word(dst: str) -> str:
    return (f"try:\n    {dst} = R32{PAGE_INDEX}[(a & 4095) >> 2]\n"
            f"except (KeyError, IndexError):\n    {dst} = mem.load(a, 4)")


def _store_word(src: str) -> str:
    return (f"try:\n    W32{PAGE_INDEX}[(a & 4095) >> 2] = {src}\n"
            f"except (KeyError, IndexError):\n    mem.store(a, 4, {src})")


def _load_double(reg: str) -> str:
    return (f"try:\n    p = R32{PAGE_INDEX}\n    i = (a & 4095) >> 2\n    lo = p[i]\n    hi = p[i + 1]\n"
            "except (KeyError, IndexError):\n    lo = mem.load(a, 4)\n    hi = mem.load(a + 4, 4)\n"
            f"f = c.f\nf[{reg}] = lo\nf[{reg} + 1] = hi")


def _store_double(reg: str) -> str:
    # Aligned to 8, both words share a page: the first write succeeds only if both can.
    return (f"f = c.f\ntry:\n    p = W32{PAGE_INDEX}\n    i = (a & 4095) >> 2\n"
            f"    p[i] = f[{reg}]\n    p[i + 1] = f[{reg} + 1]\n"
            f"except (KeyError, IndexError):\n"
            f"    mem.store(a, 4, f[{reg}])\n    mem.store(a + 4, 4, f[{reg} + 1])")


_ADDR_IMM = "a = (RS + SIMM) & 0xFFFFFFFF\n"
_ADDR_IDX = "a = (RS + RT) & 0xFFFFFFFF\n"


def _align(size: int, ev: str) -> str:
    return f"if a & {size - 1}:\n    c.badvaddr = a\n    TRAP({ev})\n"


def _rows() -> list[Insn]:
    rows: list[Insn] = []

    def add(name: str, mask: int, match: int, fmt: str, sem: str, **kw: object) -> None:
        rows.append(Insn(name, mask, match, fmt, sem, fpu=True, **kw))  # type: ignore[arg-type]

    def cop1(name: str, fmt: int, funct: int, ops: str, sem: str, even: int = 0,
             unary: bool = False) -> None:
        mask = 0xFFE0003F | even | (_FT0 if unary else 0)
        add(name, mask, _COP1 | (fmt << 21) | funct, ops, sem)

    # --- loads and stores
    add("lwc1", 0xFC000000, 49 << 26, "FT, SIMM(RS)",
        _ADDR_IMM + _align(4, "EV_ADEL") + _load_word("c.f[FT]"))
    add("swc1", 0xFC000000, 57 << 26, "FT, SIMM(RS)",
        _ADDR_IMM + _align(4, "EV_ADES") + _store_word("c.f[FT]"))
    add("ldc1", 0xFC000000 | _E_FT, 53 << 26, "FT, SIMM(RS)",
        _ADDR_IMM + _align(8, "EV_ADEL") + _load_double("FT"))
    add("sdc1", 0xFC000000 | _E_FT, 61 << 26, "FT, SIMM(RS)",
        _ADDR_IMM + _align(8, "EV_ADES") + _store_double("FT"))
    # COP1X indexed forms: fd (bits 10..6) for loads, fs (bits 15..11) for stores.
    add("lwxc1", 0xFC00F83F, _COP1X | 0, "FD, RT(RS)",
        _ADDR_IDX + _align(4, "EV_ADEL") + _load_word("c.f[FD]"))
    add("ldxc1", 0xFC00F83F | _E_FD, _COP1X | 1, "FD, RT(RS)",
        _ADDR_IDX + _align(8, "EV_ADEL") + _load_double("FD"))
    add("luxc1", 0xFC00F83F | _E_FD, _COP1X | 5, "FD, RT(RS)",
        _ADDR_IDX + "a &= 0xFFFFFFF8\n" + _load_double("FD"))
    add("swxc1", 0xFC0007FF, _COP1X | 8, "FS, RT(RS)",
        _ADDR_IDX + _align(4, "EV_ADES") + _store_word("c.f[FS]"))
    add("sdxc1", 0xFC0007FF | _E_FS, _COP1X | 9, "FS, RT(RS)",
        _ADDR_IDX + _align(8, "EV_ADES") + _store_double("FS"))
    add("suxc1", 0xFC0007FF | _E_FS, _COP1X | 13, "FS, RT(RS)",
        _ADDR_IDX + "a &= 0xFFFFFFF8\n" + _store_double("FS"))
    add("prefx", 0xFC0007FF, _COP1X | 15, "SA, RT(RS)", "pass")

    # --- moves between GPRs and FPRs / control registers
    add("mfc1", 0xFFE007FF, _COP1 | (0 << 21), "RT, FS", "RT = c.f[FS]")
    add("cfc1", 0xFFE007FF, _COP1 | (2 << 21), "RT, FS", "RT = fpu.cfc1(c, FS)")
    add("mfhc1", 0xFFE007FF | _E_FS, _COP1 | (3 << 21), "RT, FS", "RT = c.f[FS + 1]")
    add("mtc1", 0xFFE007FF, _COP1 | (4 << 21), "RT, FS", "c.f[FS] = RT")
    add("ctc1", 0xFFE007FF, _COP1 | (6 << 21), "RT, FS", "fpu.ctc1(c, FS, RT)")
    add("mthc1", 0xFFE007FF | _E_FS, _COP1 | (7 << 21), "RT, FS", "c.f[FS + 1] = RT")

    # --- branches on condition codes: bc1f/bc1t/bc1fl/bc1tl (nd bit 17, tf bit 16)
    bit = "(1 << (CC + 23 + (CC + 7) // 8))"
    for nd, tf, name in ((0, 0, "bc1f"), (0, 1, "bc1t"), (1, 0, "bc1fl"), (1, 1, "bc1tl")):
        cond = f"c.fcsr & {bit}" if tf else f"not c.fcsr & {bit}"
        add(name, 0xFFE30000, _COP1 | (8 << 21) | (nd << 17) | (tf << 16), "CC, BTARGET", "",
            kind=K_BRANCH, cond=cond, likely=bool(nd))

    # --- arithmetic
    ev3 = _ev("fd", "fs", "ft")
    ev2 = _ev("fd", "fs")
    for fmt, sfx, dbl in ((FMT_S, "s", False), (FMT_D, "d", True)):
        e3 = ev3 if dbl else 0
        e2 = ev2 if dbl else 0
        cop1(f"add.{sfx}", fmt, 0, "FD, FS, FT", f"fpu.add_{sfx}(c, FD, FS, FT, 0)", e3)
        cop1(f"sub.{sfx}", fmt, 1, "FD, FS, FT", f"fpu.add_{sfx}(c, FD, FS, FT, 1)", e3)
        cop1(f"mul.{sfx}", fmt, 2, "FD, FS, FT", f"fpu.mul_{sfx}(c, FD, FS, FT)", e3)
        cop1(f"div.{sfx}", fmt, 3, "FD, FS, FT", f"fpu.div_{sfx}(c, FD, FS, FT)", e3)
        cop1(f"sqrt.{sfx}", fmt, 4, "FD, FS", f"fpu.sqrt_{sfx}(c, FD, FS)", e2, unary=True)
        cop1(f"recip.{sfx}", fmt, 21, "FD, FS", f"fpu.recip(c, FD, FS, {int(dbl)})", e2,
             unary=True)
        cop1(f"rsqrt.{sfx}", fmt, 22, "FD, FS", f"fpu.rsqrt(c, FD, FS, {int(dbl)})", e2,
             unary=True)
        # abs/neg/mov never touch FCSR (qemu's legacy abs/neg flip bits, NaNs included)
        if dbl:
            cop1("abs.d", fmt, 5, "FD, FS",
                 "f = c.f\nf[FD] = f[FS]\nf[FD + 1] = f[FS + 1] & 0x7FFFFFFF", e2, unary=True)
            cop1("mov.d", fmt, 6, "FD, FS", "f = c.f\nf[FD] = f[FS]\nf[FD + 1] = f[FS + 1]",
                 e2, unary=True)
            cop1("neg.d", fmt, 7, "FD, FS",
                 "f = c.f\nf[FD] = f[FS]\nf[FD + 1] = f[FS + 1] ^ 0x80000000", e2, unary=True)
            mv = "f = c.f\n    f[FD] = f[FS]\n    f[FD + 1] = f[FS + 1]"
        else:
            cop1("abs.s", fmt, 5, "FD, FS", "c.f[FD] = c.f[FS] & 0x7FFFFFFF", unary=True)
            cop1("mov.s", fmt, 6, "FD, FS", "c.f[FD] = c.f[FS]", unary=True)
            cop1("neg.s", fmt, 7, "FD, FS", "c.f[FD] = c.f[FS] ^ 0x80000000", unary=True)
            mv = "c.f[FD] = c.f[FS]"
        # conditional moves: movf/movt.fmt (cc bits 20..18, tf bit 16), movz/movn.fmt
        add(f"movf.{sfx}", 0xFFE3003F | e2, _COP1 | (fmt << 21) | 17, "FD, FS, CC",
            f"if not c.fcsr & {bit}:\n    {mv}")
        add(f"movt.{sfx}", 0xFFE3003F | e2, _COP1 | (fmt << 21) | (1 << 16) | 17, "FD, FS, CC",
            f"if c.fcsr & {bit}:\n    {mv}")
        cop1(f"movz.{sfx}", fmt, 18, "FD, FS, RT", f"if RT == 0:\n    {mv}", e2)
        cop1(f"movn.{sfx}", fmt, 19, "FD, FS, RT", f"if RT != 0:\n    {mv}", e2)
        # conversions to integers: mode -1 = FCSR.RM, else 0 round, 1 trunc, 2 ceil, 3 floor
        fi = int(dbl)
        efs = _ev("fs") if dbl else 0
        for funct, op, mode in ((8, "round", 0), (9, "trunc", 1), (10, "ceil", 2),
                                (11, "floor", 3)):
            cop1(f"{op}.l.{sfx}", fmt, funct, "FD, FS", f"fpu.to_l(c, FD, FS, {fi}, {mode})",
                 efs | _E_FD, unary=True)
            cop1(f"{op}.w.{sfx}", fmt, funct + 4, "FD, FS", f"fpu.to_w(c, FD, FS, {fi}, {mode})",
                 efs, unary=True)
        cop1(f"cvt.w.{sfx}", fmt, 36, "FD, FS", f"fpu.to_w(c, FD, FS, {fi}, -1)", efs,
             unary=True)
        cop1(f"cvt.l.{sfx}", fmt, 37, "FD, FS", f"fpu.to_l(c, FD, FS, {fi}, -1)", efs | _E_FD,
             unary=True)
        # compares: c.cond.fmt cc, fs, ft (cc bits 10..8, bits 7..6 zero)
        ecmp = _ev("fs", "ft") if dbl else 0
        for ci, cname in enumerate(COND_NAMES):
            add(f"c.{cname}.{sfx}", 0xFFE000FF | ecmp, _COP1 | (fmt << 21) | 0x30 | ci,
                "FCC, FS, FT", f"fpu.cmp_{sfx}(c, FS, FT, FCC, {ci})")
        # COP1X multiply-add: fd = fs*ft + fr (rounded twice), fmt in bits 2..0
        e4 = _ev("fd", "fs", "ft", "fr") if dbl else 0
        for funct, op, kind in ((32, "madd", 0), (40, "msub", 1), (48, "nmadd", 2),
                                (56, "nmsub", 3)):
            add(f"{op}.{sfx}", 0xFC00003F | e4, _COP1X | funct | (fmt - 16), "FD, FR, FS, FT",
                f"fpu.madd_{sfx}(c, FD, FR, FS, FT, {kind})")

    # --- conversions between formats
    cop1("cvt.d.s", FMT_S, 33, "FD, FS", "fpu.cvt_d_s(c, FD, FS)", _E_FD, unary=True)
    cop1("cvt.s.d", FMT_D, 32, "FD, FS", "fpu.cvt_s_d(c, FD, FS)", _E_FS, unary=True)
    cop1("cvt.s.w", FMT_W, 32, "FD, FS", "fpu.cvt_s_w(c, FD, FS)", unary=True)
    cop1("cvt.d.w", FMT_W, 33, "FD, FS", "fpu.cvt_d_w(c, FD, FS)", _E_FD, unary=True)
    cop1("cvt.s.l", FMT_L, 32, "FD, FS", "fpu.cvt_l(c, FD, FS, 0)", _E_FS, unary=True)
    cop1("cvt.d.l", FMT_L, 33, "FD, FS", "fpu.cvt_l(c, FD, FS, 1)", _E_FS | _E_FD, unary=True)
    return rows


FPU_ROWS: list[Insn] = _rows()
