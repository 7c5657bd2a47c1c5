"""FPU (CP1) helpers called from the instruction table's FPU rows.

Owns the arithmetic of the MIPS32r2 FPU as qemu-mipsel 7.2 runs it for its
default CPU, the 24Kf: IEEE 754 single and double precision with the
*legacy* NaN encoding (a NaN whose top fraction bit is set is signalling;
every NaN an operation produces is the default NaN 0x7FBFFFFF /
0x7FF7FFFFFFFFFFFF, qemu's default-NaN mode when FCSR.NAN2008 is 0), the
four FCSR rounding modes, the cause/flag/enable bits of FCSR and the
legacy 0x7FFFFFFF result of an invalid conversion to an integer.
madd/msub/nmadd/nmsub round twice (after the multiply and after the add),
as qemu does for pre-R6 CPUs.

Registers: ``c.f`` holds 32 raw 32-bit words (Status.FR=0: a double lives in
an even/odd pair, low word in the even register); ``c.fcsr`` is FCSR (fcr31).
Helpers read and write those, set FCSR and raise ``FPUException`` when an
enabled exception fires (the FCSR cause bits then say which: the destination
is not written and the flag bits are not updated, as on the hardware).

Every arithmetic helper has a fast path for round-to-nearest with ordinary
operands and results (host float arithmetic plus an exactness test for the
Inexact flag) and an exact slow path (integer arithmetic, all rounding
modes, NaN/infinity/zero/subnormal/overflow cases) that the fast path falls
back to whenever it is not certain. Not modelled: the Flush-to-zero bit
(FCSR.FS; stored but ignored, as qemu with FS=0), the Unimplemented-operation
cause (never raised), paired single. Must not touch: anything outside CP1
state (memory is the rows' business).
"""

from __future__ import annotations

import math
import struct
from typing import Any, Optional

from afgdb.machine.cpu.state import FIR_VALUE


class FPUException(Exception):
    """An enabled IEEE exception or an unimplemented operation: SIGFPE for the process."""


def cc(c: Any, n: int) -> bool:
    """FCSR condition code n (FCC0 is bit 23, FCC1..7 are bits 25..31)."""
    bit = 23 if n == 0 else 24 + n
    return bool(c.fcsr >> bit & 1)


def cc_bit(n: int) -> int:
    """The FCSR mask of condition code n."""
    return 1 << (23 if n == 0 else 24 + n)


# ------------------------------------------------------------------ FCSR layout
RN, RZ, RP, RM = 0, 1, 2, 3  # FCSR.RM: nearest-even, toward zero, toward +inf, toward -inf
F_I, F_U, F_O, F_Z, F_V, F_E = 1, 2, 4, 8, 16, 32  # Inexact Underflow Overflow DivZero Invalid Unimpl
FLAG_SHIFT, ENABLE_SHIFT, CAUSE_SHIFT = 2, 7, 12
CAUSE_CLEAR = 0xFFFC0FFF  # FCSR with the cause field cleared
FCSR_WRITABLE = 0xFF83FFFF  # 24Kf: NAN2008, ABS2008 and bits 20-22 read as zero
FCC_MASK = 0xFE800000

DNAN_S = 0x7FBFFFFF  # legacy default NaNs
DNAN_D = 0x7FF7FFFFFFFFFFFF
INT32_INVALID = 0x7FFFFFFF
INT64_INVALID = 0x7FFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

_NAMES = ((F_V, "invalid operation"), (F_Z, "division by zero"), (F_O, "overflow"),
          (F_U, "underflow"), (F_I, "inexact"))


def _trap(c: Any, fc: int, cause: int) -> None:
    """Set the cause field and raise: an enabled exception fired."""
    c.fcsr = (fc & CAUSE_CLEAR) | (cause << CAUSE_SHIFT)
    fired = cause & (fc >> ENABLE_SHIFT)
    raise FPUException("FPU " + ", ".join(n for b, n in _NAMES if fired & b))


def _commit(c: Any, cause: int) -> None:
    """Record an operation's exceptions: cause replaced, flags accumulated, or a trap."""
    fc = c.fcsr
    if cause:
        if (fc >> ENABLE_SHIFT) & cause & 0x1F:
            _trap(c, fc, cause)
        c.fcsr = (fc & CAUSE_CLEAR) | (cause << CAUSE_SHIFT) | (cause << FLAG_SHIFT)
    else:
        c.fcsr = fc & CAUSE_CLEAR


# ------------------------------------------------------------ raw <-> host floats
_S_II = struct.Struct("<II")
_S_D = struct.Struct("<d")
_S_I = struct.Struct("<I")
_S_F = struct.Struct("<f")
_S_Q = struct.Struct("<Q")
_pII, _uII = _S_II.pack, _S_II.unpack
_pD, _uD = _S_D.pack, _S_D.unpack
_pI, _uI = _S_I.pack, _S_I.unpack
_pF, _uF = _S_F.pack, _S_F.unpack

_DMIN = 2.2250738585072014e-308  # smallest normal double
_DMAX = 1.7976931348623157e308
_SAFE_LO = 2.0 ** -900  # range in which Dekker's exact-product test cannot under/overflow
_SAFE_HI = 2.0 ** 990
_FMIN = 2.0 ** -126  # smallest normal single
_FOVF = (2.0 - 2.0 ** -24) * 2.0 ** 127  # singles at or above this round to infinity (RN)
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for doubles


def _two_prod_err(a: float, b: float, p: float) -> float:
    """a*b - p exactly (p = fl(a*b)) by Dekker's algorithm; callers keep operands in range."""
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def get_d(c: Any, i: int) -> float:
    """The double in FPR pair i, i+1 as a host float."""
    f = c.f
    return float(_uD(_pII(f[i], f[i + 1]))[0])


def get_s(c: Any, i: int) -> float:
    return float(_uF(_pI(c.f[i]))[0])


def _put_d(c: Any, i: int, bits: int) -> None:
    f = c.f
    f[i] = bits & M32
    f[i + 1] = bits >> 32


# ====================================================================== exact core
# Formats: 0 single, 1 double.
_PREC = (24, 53)
_FBITS = (23, 52)
_EMAX_F = (0xFF, 0x7FF)
_BIAS = (127, 1023)
_EMIN = (-126, -1022)
_EMAX = (127, 1023)
_SIGN = (1 << 31, 1 << 63)
_DNAN = (DNAN_S, DNAN_D)
_INF = (0x7F800000, 0x7FF0000000000000)
_MAXF = (0x7F7FFFFF, 0x7FEFFFFFFFFFFFFF)

# Operand classes.
ZERO, FIN, INF, QNAN, SNAN = 0, 1, 2, 3, 4

Dec = tuple[int, int, int, int]  # (class, sign, m, e): value (-1)**sign * m * 2**e


def decode(x: int, fmt: int) -> Dec:
    """Classify raw bits of a single (fmt 0) or double (fmt 1)."""
    fb = _FBITS[fmt]
    ex = (x >> fb) & _EMAX_F[fmt]
    frac = x & ((1 << fb) - 1)
    sign = 1 if x & _SIGN[fmt] else 0
    if ex == _EMAX_F[fmt]:
        if not frac:
            return INF, sign, 0, 0
        return (SNAN if frac >> (fb - 1) else QNAN), sign, 0, 0  # legacy: quiet bit set = sNaN
    if ex == 0:
        if not frac:
            return ZERO, sign, 0, 0
        return FIN, sign, frac, 1 - _BIAS[fmt] - fb
    return FIN, sign, frac | (1 << fb), ex - _BIAS[fmt] - fb


def is_nan(x: int, fmt: int) -> bool:
    return (x & ~_SIGN[fmt]) > _INF[fmt]


def _zero(sign: int, fmt: int) -> int:
    return _SIGN[fmt] if sign else 0


def _inf(sign: int, fmt: int) -> int:
    return _INF[fmt] | (_SIGN[fmt] if sign else 0)


def _nan_result(a: Dec, b: Dec | None = None, c: Dec | None = None) -> int:
    """Flags for an operation with a NaN operand: Invalid if any is signalling."""
    for d in (a, b, c):
        if d is not None and d[0] == SNAN:
            return F_V
    return 0


def _round_bit(rm: int, sign: int, m: int, rem: int, den: int) -> int:
    if rm == RN:
        twice = rem << 1
        return 1 if twice > den or (twice == den and m & 1) else 0
    if rm == RZ:
        return 0
    if rm == RP:
        return 0 if sign else 1
    return 1 if sign else 0


def round_exact(sign: int, n: int, d: int, e: int, fmt: int, rm: int) -> tuple[int, int]:
    """Round (-1)**sign * n/d * 2**e (n > 0, d > 0) to format fmt: (bits, flags).

    Underflow is signalled when the result is tiny after rounding and inexact
    (softfloat's default tininess detection, which qemu keeps for MIPS).
    """
    p = _PREC[fmt]
    emin = _EMIN[fmt]
    k = n.bit_length() - d.bit_length()
    if k >= 0:
        if n < d << k:
            k -= 1
    elif n << -k < d:
        k -= 1
    top = k + e  # 2**top <= value < 2**(top + 1)
    q = max(top, emin) - (p - 1)  # exponent of the result's ulp
    sh = q - e
    num, den = (n, d << sh) if sh >= 0 else (n << -sh, d)
    m, rem = divmod(num, den)
    flags = 0
    if rem:
        flags = F_I
        m += _round_bit(rm, sign, m, rem, den)
        if top < emin:
            tiny = True
            if top == emin - 1:  # may round up to the smallest normal with unbounded exponent
                q2 = top - (p - 1)
                sh2 = q2 - e
                num2, den2 = (n, d << sh2) if sh2 >= 0 else (n << -sh2, d)
                m2, rem2 = divmod(num2, den2)
                m2 += _round_bit(rm, sign, m2, rem2, den2) if rem2 else 0
                tiny = m2 != 1 << p
            if tiny:
                flags |= F_U
    if m == 1 << p:
        m >>= 1
        q += 1
    sbit = _SIGN[fmt] if sign else 0
    if m >> (p - 1):
        biased = q + (p - 1) + _BIAS[fmt]
        if q + (p - 1) > _EMAX[fmt]:
            flags |= F_O | F_I
            if rm == RN or (rm == RP and not sign) or (rm == RM and sign):
                return _INF[fmt] | sbit, flags
            return _MAXF[fmt] | sbit, flags
        return sbit | (biased << _FBITS[fmt]) | (m & ((1 << _FBITS[fmt]) - 1)), flags
    return sbit | m, flags  # subnormal or zero


def _dyadic(sign: int, m: int, e: int, fmt: int, rm: int) -> tuple[int, int]:
    return round_exact(sign, m, 1, e, fmt, rm)


def add_bits(x: int, y: int, fmt: int, rm: int, sub: bool = False) -> tuple[int, int]:
    """x + y (or x - y) on raw bits: (bits, flags)."""
    a = decode(x, fmt)
    b = decode(y, fmt)
    if a[0] >= QNAN or b[0] >= QNAN:
        return _DNAN[fmt], _nan_result(a, b)
    ca, sa, ma, ea = a
    cb, sb, mb, eb = b
    if sub:
        sb ^= 1
    if ca == INF or cb == INF:
        if ca == INF and cb == INF and sa != sb:
            return _DNAN[fmt], F_V
        return _inf(sa if ca == INF else sb, fmt), 0
    if ca == ZERO and cb == ZERO:
        return _zero((sa | sb) if rm == RM else (sa & sb), fmt), 0
    if ca == ZERO:
        return _dyadic(sb, mb, eb, fmt, rm)
    if cb == ZERO:
        return _dyadic(sa, ma, ea, fmt, rm)
    e = min(ea, eb)
    va = ma << (ea - e)
    vb = mb << (eb - e)
    v = (vb if sb == 0 else -vb) + (va if sa == 0 else -va)
    if v == 0:
        return _zero(1 if rm == RM else 0, fmt), 0
    return _dyadic(1 if v < 0 else 0, abs(v), e, fmt, rm)


def mul_bits(x: int, y: int, fmt: int, rm: int) -> tuple[int, int]:
    a = decode(x, fmt)
    b = decode(y, fmt)
    if a[0] >= QNAN or b[0] >= QNAN:
        return _DNAN[fmt], _nan_result(a, b)
    sign = a[1] ^ b[1]
    if a[0] == INF or b[0] == INF:
        if a[0] == ZERO or b[0] == ZERO:
            return _DNAN[fmt], F_V
        return _inf(sign, fmt), 0
    if a[0] == ZERO or b[0] == ZERO:
        return _zero(sign, fmt), 0
    return _dyadic(sign, a[2] * b[2], a[3] + b[3], fmt, rm)


def div_bits(x: int, y: int, fmt: int, rm: int) -> tuple[int, int]:
    a = decode(x, fmt)
    b = decode(y, fmt)
    if a[0] >= QNAN or b[0] >= QNAN:
        return _DNAN[fmt], _nan_result(a, b)
    sign = a[1] ^ b[1]
    if a[0] == INF:
        if b[0] == INF:
            return _DNAN[fmt], F_V
        return _inf(sign, fmt), 0
    if b[0] == INF:
        return _zero(sign, fmt), 0
    if b[0] == ZERO:
        if a[0] == ZERO:
            return _DNAN[fmt], F_V
        return _inf(sign, fmt), F_Z
    if a[0] == ZERO:
        return _zero(sign, fmt), 0
    return round_exact(sign, a[2], b[2], a[3] - b[3], fmt, rm)


def sqrt_bits(x: int, fmt: int, rm: int) -> tuple[int, int]:
    a = decode(x, fmt)
    cls, sign, m, e = a
    if cls >= QNAN:
        return _DNAN[fmt], _nan_result(a)
    if cls == ZERO:
        return x, 0  # sqrt(-0) = -0
    if sign:
        return _DNAN[fmt], F_V
    if cls == INF:
        return x, 0
    if e & 1:
        m <<= 1
        e -= 1
    k = max(0, (2 * _PREC[fmt] + 4 - m.bit_length()) // 2 + 1)  # enough root bits to round
    m <<= 2 * k
    s = math.isqrt(m)
    if s * s == m:
        return _dyadic(0, s, e // 2 - k, fmt, rm)
    return round_exact(0, 2 * s + 1, 2, e // 2 - k, fmt, rm)  # s < root < s+1: sticky half


def cvt_ff(x: int, src: int, dst: int, rm: int) -> tuple[int, int]:
    """Between single (0) and double (1)."""
    a = decode(x, src)
    if a[0] >= QNAN:
        return _DNAN[dst], _nan_result(a)
    if a[0] == ZERO:
        return _zero(a[1], dst), 0
    if a[0] == INF:
        return _inf(a[1], dst), 0
    return _dyadic(a[1], a[2], a[3], dst, rm)


def int_to_f(v: int, fmt: int, rm: int) -> tuple[int, int]:
    """A signed integer to single/double."""
    if v == 0:
        return 0, 0
    return _dyadic(1 if v < 0 else 0, abs(v), 0, fmt, rm)


def f_to_int(x: int, fmt: int, rm: int, width: int) -> tuple[int, int]:
    """Round single/double to a signed width-bit integer: (unsigned result, flags).

    NaN, infinities and out-of-range values give the legacy 0x7FFF... result
    and only the Invalid flag (qemu with FCSR.NAN2008=0).
    """
    bad = INT32_INVALID if width == 32 else INT64_INVALID
    cls, sign, m, e = decode(x, fmt)
    if cls >= INF:
        return bad, F_V
    if cls == ZERO:
        return 0, 0
    flags = 0
    if e >= 0:
        v = m << e
    else:
        v, rem = divmod(m, 1 << -e)
        if rem:
            flags = F_I
            v += _round_bit(rm, sign, v, rem, 1 << -e)
    if sign:
        v = -v
    if not -(1 << (width - 1)) <= v < 1 << (width - 1):
        return bad, F_V
    return v & ((1 << width) - 1), flags


def _chs(bits: int, fmt: int) -> int:
    return bits ^ _SIGN[fmt]


def madd_bits(x: int, y: int, z: int, fmt: int, rm: int, kind: int) -> tuple[int, int]:
    """Unfused x*y+z; kind 0 madd, 1 msub (x*y-z), 2 nmadd -(x*y+z), 3 nmsub -(x*y-z)."""
    p, f1 = mul_bits(x, y, fmt, rm)
    r, f2 = add_bits(p, z, fmt, rm, sub=bool(kind & 1))
    if kind & 2:
        r = _chs(r, fmt)
    return r, f1 | f2


def recip_bits(x: int, fmt: int, rm: int) -> tuple[int, int]:
    return div_bits(0x3F800000 if fmt == 0 else 0x3FF0000000000000, x, fmt, rm)


def rsqrt_bits(x: int, fmt: int, rm: int) -> tuple[int, int]:
    s, f1 = sqrt_bits(x, fmt, rm)
    r, f2 = recip_bits(s, fmt, rm)
    return r, f1 | f2


# ============================================================ fast paths (RM = 0)
FastRes = Optional[tuple[float, int]]  # (result, cause) or None: take the slow path


def _fast_add_d(a: float, b: float) -> FastRes:
    r = a + b
    if r - r == 0.0:  # finite (subnormal sums are exact, TwoSum stays exact)
        bb = r - a
        err = (a - (r - bb)) + (b - bb)
        if err == 0.0:
            return r, 0
        if err - err == 0.0:
            return r, F_I
    return None


def _fast_mul_d(a: float, b: float) -> FastRes:
    r = a * b
    ar = abs(r)
    if _SAFE_LO <= ar <= _SAFE_HI and abs(a) <= _SAFE_HI and abs(b) <= _SAFE_HI:
        return r, (F_I if _two_prod_err(a, b, r) != 0.0 else 0)
    if r == 0.0 and (a == 0.0 or b == 0.0) and a - a == 0.0 and b - b == 0.0:
        return r, 0
    return None


def _fast_div_d(a: float, b: float) -> FastRes:
    if _SAFE_LO <= abs(b) <= _SAFE_HI and _SAFE_LO <= abs(a) <= _SAFE_HI:
        r = a / b
        if _SAFE_LO <= abs(r) <= _SAFE_HI:
            p = r * b
            return r, (0 if p == a and _two_prod_err(r, b, p) == 0.0 else F_I)
    return None


def _fast_sqrt_d(a: float) -> FastRes:
    if _SAFE_LO <= a <= _SAFE_HI:
        r = math.sqrt(a)
        p = r * r
        return r, (0 if p == a and _two_prod_err(r, r, p) == 0.0 else F_I)
    return None


def _to_single(r: float, cause: int) -> tuple[int, int]:
    """Round a double that holds the (possibly already rounded) result to single: bits, cause.

    -1 bits: not a normal single result, take the slow path.
    """
    if _FMIN <= abs(r) < _FOVF:
        x: int = _uI(_pF(r))[0]
        if cause or _uF(_pI(x))[0] != r:
            return x, F_I
        return x, 0
    return -1, 0


def _store_d(c: Any, d: int, r: float, cause: int, fc: int) -> None:
    if cause:
        if fc & 0x80:  # Inexact enabled
            _trap(c, fc, cause)
        c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
    else:
        c.fcsr = fc & CAUSE_CLEAR
    f = c.f
    f[d], f[d + 1] = _uII(_pD(r))


def _store_s(c: Any, d: int, x: int, cause: int, fc: int) -> None:
    if cause:
        if fc & 0x80:
            _trap(c, fc, cause)
        c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
    else:
        c.fcsr = fc & CAUSE_CLEAR
    c.f[d] = x


# ======================================================= helpers the rows call
def _slow_d(c: Any, d: int, res: tuple[int, int]) -> None:
    bits, cause = res
    _commit(c, cause)
    _put_d(c, d, bits)


def _slow_s(c: Any, d: int, res: tuple[int, int]) -> None:
    bits, cause = res
    _commit(c, cause)
    c.f[d] = bits


def _bits_d(f: Any, i: int) -> int:
    return int(f[i]) | (int(f[i + 1]) << 32)


# The hot helpers below inline their fast path (CPython pays for every call):
# there the cause is 0 or Inexact (0x1004: cause and flag; 0x80: its enable),
# anything else goes through the exact core.
def add_d(c: Any, d: int, s: int, t: int, sub: int) -> None:
    """add.d / sub.d (sub=1)."""
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        a = _uD(_pII(f[s], f[s + 1]))[0]
        b = _uD(_pII(f[t], f[t + 1]))[0]
        if sub:
            b = -b
        r = a + b
        if r - r == 0.0:  # finite; subnormal sums are exact and TwoSum stays exact
            bb = r - a
            err = (a - (r - bb)) + (b - bb)
            if err == 0.0:
                c.fcsr = fc & CAUSE_CLEAR
                f[d], f[d + 1] = _uII(_pD(r))
                return
            if err - err == 0.0:
                if fc & 0x80:
                    _trap(c, fc, F_I)
                c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
                f[d], f[d + 1] = _uII(_pD(r))
                return
    _slow_d(c, d, add_bits(_bits_d(f, s), _bits_d(f, t), 1, fc & 3, bool(sub)))


def mul_d(c: Any, d: int, s: int, t: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        a = _uD(_pII(f[s], f[s + 1]))[0]
        b = _uD(_pII(f[t], f[t + 1]))[0]
        r = a * b
        if (_SAFE_LO <= abs(r) <= _SAFE_HI and abs(a) <= _SAFE_HI
                and abs(b) <= _SAFE_HI):
            if _two_prod_err(a, b, r) == 0.0:
                c.fcsr = fc & CAUSE_CLEAR
            else:
                if fc & 0x80:
                    _trap(c, fc, F_I)
                c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
            f[d], f[d + 1] = _uII(_pD(r))
            return
    _slow_d(c, d, mul_bits(_bits_d(f, s), _bits_d(f, t), 1, fc & 3))


def div_d(c: Any, d: int, s: int, t: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        a = _uD(_pII(f[s], f[s + 1]))[0]
        b = _uD(_pII(f[t], f[t + 1]))[0]
        if _SAFE_LO <= abs(b) <= _SAFE_HI and _SAFE_LO <= abs(a) <= _SAFE_HI:
            r = a / b
            if _SAFE_LO <= abs(r) <= _SAFE_HI:
                p = r * b
                if p == a and _two_prod_err(r, b, p) == 0.0:
                    c.fcsr = fc & CAUSE_CLEAR
                else:
                    if fc & 0x80:
                        _trap(c, fc, F_I)
                    c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
                f[d], f[d + 1] = _uII(_pD(r))
                return
    _slow_d(c, d, div_bits(_bits_d(f, s), _bits_d(f, t), 1, fc & 3))


def sqrt_d(c: Any, d: int, s: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        res = _fast_sqrt_d(_uD(_pII(f[s], f[s + 1]))[0])
        if res is not None:
            _store_d(c, d, res[0], res[1], fc)
            return
    _slow_d(c, d, sqrt_bits(_bits_d(f, s), 1, fc & 3))


def add_s(c: Any, d: int, s: int, t: int, sub: int) -> None:
    """add.s / sub.s (sub=1): computed in double, then rounded once to single."""
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        a = _uF(_pI(f[s]))[0]
        b = _uF(_pI(f[t]))[0]
        if sub:
            b = -b
        r = a + b
        if _FMIN <= abs(r) < _FOVF:  # a normal single after rounding
            bb = r - a
            err = (a - (r - bb)) + (b - bb)
            packed = _pF(r)
            if err == 0.0 and _uF(packed)[0] == r:
                c.fcsr = fc & CAUSE_CLEAR
            else:
                if fc & 0x80:
                    _trap(c, fc, F_I)
                c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
            f[d] = _uI(packed)[0]
            return
        if r == 0.0 and a - a == 0.0 and b - b == 0.0:  # exact zero
            c.fcsr = fc & CAUSE_CLEAR
            f[d] = _uI(_pF(r))[0]
            return
    _slow_s(c, d, add_bits(f[s], f[t], 0, fc & 3, bool(sub)))


def mul_s(c: Any, d: int, s: int, t: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        r = _uF(_pI(f[s]))[0] * _uF(_pI(f[t]))[0]  # exact in double
        if _FMIN <= abs(r) < _FOVF:
            packed = _pF(r)
            if _uF(packed)[0] == r:
                c.fcsr = fc & CAUSE_CLEAR
            else:
                if fc & 0x80:
                    _trap(c, fc, F_I)
                c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
            f[d] = _uI(packed)[0]
            return
    _slow_s(c, d, mul_bits(f[s], f[t], 0, fc & 3))


def div_s(c: Any, d: int, s: int, t: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        b = _uF(_pI(f[t]))[0]
        if b - b == 0.0 and b != 0.0:
            # A double quotient of singles that is itself a single was exact: a
            # quotient of 24-bit integers has no run of 29 equal bits after its
            # 24th, so rounding to double cannot make an inexact one look short.
            r = _uF(_pI(f[s]))[0] / b
            if _FMIN <= abs(r) < _FOVF:
                packed = _pF(r)
                if _uF(packed)[0] == r:
                    c.fcsr = fc & CAUSE_CLEAR
                else:
                    if fc & 0x80:
                        _trap(c, fc, F_I)
                    c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
                f[d] = _uI(packed)[0]
                return
    _slow_s(c, d, div_bits(f[s], f[t], 0, fc & 3))


def sqrt_s(c: Any, d: int, s: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        a = _uF(_pI(f[s]))[0]
        if _FMIN <= a < _FOVF:
            r = math.sqrt(a)
            x, cause = _to_single(r, 0)
            if x >= 0:
                if not cause:
                    rs = _uF(_pI(x))[0]
                    if rs * rs != a:  # exact in double: 24-bit root squared
                        cause = F_I
                _store_s(c, d, x, cause, fc)
                return
    _slow_s(c, d, sqrt_bits(f[s], 0, fc & 3))


def madd_d(c: Any, d: int, r: int, s: int, t: int, kind: int) -> None:
    """madd/msub/nmadd/nmsub.d fd, fr, fs, ft: fs*ft +/- fr, rounded twice."""
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        p = _fast_mul_d(_uD(_pII(f[s], f[s + 1]))[0], _uD(_pII(f[t], f[t + 1]))[0])
        if p is not None:
            z = _uD(_pII(f[r], f[r + 1]))[0]
            q = _fast_add_d(p[0], -z if kind & 1 else z)
            if q is not None:
                _store_d(c, d, -q[0] if kind & 2 else q[0], p[1] | q[1], fc)
                return
    _slow_d(c, d, madd_bits(_bits_d(f, s), _bits_d(f, t), _bits_d(f, r), 1, fc & 3, kind))


def madd_s(c: Any, d: int, r: int, s: int, t: int, kind: int) -> None:
    fc = c.fcsr
    f = c.f
    _slow_s(c, d, madd_bits(f[s], f[t], f[r], 0, fc & 3, kind))


def recip(c: Any, d: int, s: int, fmt: int) -> None:
    fc = c.fcsr
    if fmt:
        _slow_d(c, d, recip_bits(_bits_d(c.f, s), 1, fc & 3))
    else:
        _slow_s(c, d, recip_bits(c.f[s], 0, fc & 3))


def rsqrt(c: Any, d: int, s: int, fmt: int) -> None:
    fc = c.fcsr
    if fmt:
        _slow_d(c, d, rsqrt_bits(_bits_d(c.f, s), 1, fc & 3))
    else:
        _slow_s(c, d, rsqrt_bits(c.f[s], 0, fc & 3))


# ------------------------------------------------------------------ conversions
def cvt_d_s(c: Any, d: int, s: int) -> None:
    x = c.f[s]
    if (x & 0x7F800000) != 0x7F800000:  # finite: exact
        c.fcsr &= CAUSE_CLEAR
        f = c.f
        f[d], f[d + 1] = _uII(_pD(_uF(_pI(x))[0]))
        return
    _slow_d(c, d, cvt_ff(x, 0, 1, c.fcsr & 3))


def cvt_s_d(c: Any, d: int, s: int) -> None:
    fc = c.fcsr
    f = c.f
    if not fc & 3:
        a = _uD(_pII(f[s], f[s + 1]))[0]
        if _FMIN <= abs(a) < _FOVF or a == 0.0:
            packed = _pF(a)
            if _uF(packed)[0] == a:
                c.fcsr = fc & CAUSE_CLEAR
            else:
                if fc & 0x80:
                    _trap(c, fc, F_I)
                c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
            f[d] = _uI(packed)[0]
            return
    _slow_s(c, d, cvt_ff(_bits_d(f, s), 1, 0, fc & 3))


def cvt_d_w(c: Any, d: int, s: int) -> None:
    v = c.f[s]
    c.fcsr &= CAUSE_CLEAR
    f = c.f
    f[d], f[d + 1] = _uII(_pD(float((v ^ 0x80000000) - 0x80000000)))  # always exact


def cvt_s_w(c: Any, d: int, s: int) -> None:
    v = (c.f[s] ^ 0x80000000) - 0x80000000
    _slow_s(c, d, int_to_f(v, 0, c.fcsr & 3))


def cvt_l(c: Any, d: int, s: int, fmt: int) -> None:
    """cvt.s.l / cvt.d.l: the 64-bit integer in pair s, s+1."""
    v = _bits_d(c.f, s)
    v = (v ^ (1 << 63)) - (1 << 63)
    if fmt:
        _slow_d(c, d, int_to_f(v, 1, c.fcsr & 3))
    else:
        _slow_s(c, d, int_to_f(v, 0, c.fcsr & 3))


def to_w(c: Any, d: int, s: int, fmt: int, mode: int) -> None:
    """cvt/round/trunc/ceil/floor .w.fmt; mode -1 means FCSR.RM."""
    fc = c.fcsr
    f = c.f
    if mode == RZ:
        a = _uD(_pII(f[s], f[s + 1]))[0] if fmt else _uF(_pI(f[s]))[0]
        if -2147483649.0 < a < 2147483648.0:
            v = int(a)
            if v == a:
                c.fcsr = fc & CAUSE_CLEAR
            else:
                if fc & 0x80:
                    _trap(c, fc, F_I)
                c.fcsr = (fc & CAUSE_CLEAR) | 0x1004
            f[d] = v & M32
            return
    x = _bits_d(f, s) if fmt else f[s]
    bits, cause = f_to_int(x, fmt, (fc & 3) if mode < 0 else mode, 32)
    _commit(c, cause)
    f[d] = bits


def to_l(c: Any, d: int, s: int, fmt: int, mode: int) -> None:
    """cvt/round/trunc/ceil/floor .l.fmt into the pair d, d+1."""
    fc = c.fcsr
    f = c.f
    x = _bits_d(f, s) if fmt else f[s]
    bits, cause = f_to_int(x, fmt, (fc & 3) if mode < 0 else mode, 64)
    _commit(c, cause)
    _put_d(c, d, bits)


# ------------------------------------------------------------------ comparisons
def _compare(c: Any, a: float, b: float, cc_n: int, cond: int, nan_cause: int) -> None:
    fc = c.fcsr
    if a == a and b == b:
        res = (cond & 4 and a < b) or (cond & 2 and a == b)
        fc &= CAUSE_CLEAR
    else:
        res = bool(cond & 1)
        if nan_cause:
            if (fc >> ENABLE_SHIFT) & nan_cause:
                _trap(c, fc, nan_cause)
            fc = (fc & CAUSE_CLEAR) | (nan_cause << CAUSE_SHIFT) | (nan_cause << FLAG_SHIFT)
        else:
            fc &= CAUSE_CLEAR
    bit = 1 << (23 if cc_n == 0 else 24 + cc_n)
    c.fcsr = (fc | bit) if res else (fc & ~bit)


def cmp_d(c: Any, s: int, t: int, cc_n: int, cond: int) -> None:
    """c.cond.d: cond is the 4-bit condition (bit 3: signalling on any NaN)."""
    f = c.f
    a = _uD(_pII(f[s], f[s + 1]))[0]
    b = _uD(_pII(f[t], f[t + 1]))[0]
    nan_cause = 0
    if (a != a or b != b) and (cond & 8 or decode(_bits_d(f, s), 1)[0] == SNAN
                               or decode(_bits_d(f, t), 1)[0] == SNAN):
        nan_cause = F_V
    _compare(c, a, b, cc_n, cond, nan_cause)


def cmp_s(c: Any, s: int, t: int, cc_n: int, cond: int) -> None:
    f = c.f
    a = _uF(_pI(f[s]))[0]
    b = _uF(_pI(f[t]))[0]
    nan_cause = 0
    if (a != a or b != b) and (cond & 8 or decode(f[s], 0)[0] == SNAN
                               or decode(f[t], 0)[0] == SNAN):
        nan_cause = F_V
    _compare(c, a, b, cc_n, cond, nan_cause)


# ------------------------------------------------------------ control registers
def cfc1(c: Any, reg: int) -> int:
    """Read FPU control register reg (qemu's view of a 24Kf)."""
    fc = int(c.fcsr)
    if reg == 0:
        return FIR_VALUE
    if reg == 25:  # FCCR
        return ((fc >> 24) & 0xFE) | ((fc >> 23) & 1)
    if reg == 26:  # FEXR
        return fc & 0x0003F07C
    if reg == 28:  # FENR
        return (fc & 0x00000F83) | ((fc >> 22) & 4)
    if reg in (1, 5):  # UFR/FRE aliases, absent on a 24Kf
        return 0
    return fc & M32


def ctc1(c: Any, reg: int, value: int) -> None:
    """Write FPU control register reg; an enabled cause bit traps at once."""
    fc = c.fcsr
    if reg == 25:
        if value & 0xFFFFFF00:
            return
        fc = (fc & 0x017FFFFF) | ((value & 0xFE) << 24) | ((value & 1) << 23)
    elif reg == 26:
        if value & 0x007C0000:
            return
        fc = (fc & 0xFFFC0F83) | (value & 0x0003F07C)
    elif reg == 28:
        if value & 0x007C0000:
            return
        fc = (fc & 0xFEFFF07C) | (value & 0x00000F83) | ((value & 4) << 22)
    elif reg == 31:
        fc = (value & FCSR_WRITABLE) | (fc & ~FCSR_WRITABLE & M32)
    else:
        return
    c.fcsr = fc
    cause = (fc >> CAUSE_SHIFT) & 0x3F
    if cause & (((fc >> ENABLE_SHIFT) & 0x1F) | F_E):
        raise FPUException("FPU exception raised by ctc1")
