"""The FPU (CP1): its rows decode, its fast paths agree with the exact ones, and
guest programs using it behave byte for byte as under qemu-mipsel (24Kf).

The differential tests compile ``tests/fpu_src/*.c`` with Debian's
mipsel-linux-gnu-gcc into a temporary root directory and compare stdout
and exit status of ``afgdb run`` with ``qemu-mipsel``; they are skipped when
either tool is missing.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from afgdb.machine.cpu import fpu, isa
from afgdb.machine.cpu.isa_fpu import FPU_ROWS
from afgdb.machine.cpu.state import CPU

REPO = Path(__file__).absolute().parent.parent
SRC = Path(__file__).resolve().parent / "fpu_src"
CC = shutil.which("mipsel-linux-gnu-gcc")
QEMU = shutil.which("qemu-mipsel")


# ------------------------------------------------------------------ the table
def test_every_fpu_row_decodes_its_own_match() -> None:
    dec = isa.decoder()
    for row in FPU_ROWS:
        assert dec.decode(row.match) is row, row.name
        assert row.fpu


def test_fpu_rows_are_unique() -> None:
    names = [r.name for r in FPU_ROWS]
    assert len(names) == len(set(names))
    for a in FPU_ROWS:
        for b in FPU_ROWS:
            if a is not b:
                # no encoding matches two rows with the same specificity
                both = a.mask & b.mask
                assert (a.match & both) != (b.match & both) or a.mask != b.mask, (a.name, b.name)


@pytest.mark.parametrize("word,text", [
    (0x46241000, "add.d $f0, $f2, $f4"),
    (0x46001001, "sub.s $f0, $f2, $f0"),
    (0x4620620d, "trunc.w.d $f8, $f12"),
    (0x46206304, "sqrt.d $f12, $f12"),
    (0xd7a00010, "ldc1 $f0, 16($sp)"),
    (0x44821000, "mtc1 $v0, $f2"),
    (0x4442f800, "cfc1 $v0, $f31"),
    (0x4c8a1021, "madd.d $f0, $f4, $f2, $f10"),
    (0x4509ffff, "bc1t 2, 0x400000"),
    (0x46241535, "c.ult.d 5, $f2, $f4"),
    (0x462d1011, "movt.d $f0, $f2, 3"),
])
def test_disassembly(word: int, text: str) -> None:
    assert isa.disassemble(word, 0x400000) == text


def test_odd_double_registers_are_reserved() -> None:
    dec = isa.decoder()
    assert dec.decode(0x46241000) is not None  # add.d $f0, $f2, $f4
    assert dec.decode(0x46241040) is None  # add.d $f1, $f2, $f4 (FR=0: reserved)
    assert dec.decode(0xd7a10010) is None  # ldc1 $f1, 16($sp)
    assert dec.decode(0xc7a10010) is not None  # lwc1 $f1 is fine


def test_branch_conditions_read_the_right_cc_bit() -> None:
    for n in range(8):
        c = CPU()
        c.fcsr = fpu.cc_bit(n)
        assert fpu.cc(c, n)
        assert all(not fpu.cc(c, m) for m in range(8) if m != n)
        bit = 1 << (n + 23 + (n + 7) // 8)  # what the bc1f/bc1t/movf/movt templates compute
        assert bit == fpu.cc_bit(n)


# ------------------------------------------- fast paths against the exact core
def _bits(v: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", v))[0])


def _rand_double(rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.6:  # ordinary numbers of moderate size
        return _bits(rng.uniform(-1e6, 1e6))
    if kind < 0.7:  # few significant bits: exact results
        return _bits(float(rng.randint(-4096, 4096)) * 2.0 ** rng.randint(-40, 40))
    return rng.getrandbits(64)  # anything: NaNs, infinities, subnormals, huge


def _rand_single(rng: random.Random) -> int:
    if rng.random() < 0.6:
        return int(struct.unpack("<I", struct.pack("<f", rng.uniform(-1e4, 1e4)))[0])
    return rng.getrandbits(32)


def _run_d(helper: str, x: int, y: int, fcsr: int = 0) -> tuple[int, int]:
    c = CPU()
    c.fcsr = fcsr
    c.f[2], c.f[3] = x & 0xFFFFFFFF, x >> 32
    c.f[4], c.f[5] = y & 0xFFFFFFFF, y >> 32
    if helper == "add":
        fpu.add_d(c, 0, 2, 4, 0)
    elif helper == "sub":
        fpu.add_d(c, 0, 2, 4, 1)
    elif helper == "mul":
        fpu.mul_d(c, 0, 2, 4)
    elif helper == "div":
        fpu.div_d(c, 0, 2, 4)
    else:
        fpu.sqrt_d(c, 0, 2)
    return c.f[0] | (c.f[1] << 32), c.fcsr


def _run_s(helper: str, x: int, y: int, fcsr: int = 0) -> tuple[int, int]:
    c = CPU()
    c.fcsr = fcsr
    c.f[2], c.f[4] = x, y
    if helper == "add":
        fpu.add_s(c, 0, 2, 4, 0)
    elif helper == "sub":
        fpu.add_s(c, 0, 2, 4, 1)
    elif helper == "mul":
        fpu.mul_s(c, 0, 2, 4)
    elif helper == "div":
        fpu.div_s(c, 0, 2, 4)
    else:
        fpu.sqrt_s(c, 0, 2)
    return c.f[0], c.fcsr


def _exact(op: str, x: int, y: int, fmt: int) -> tuple[int, int]:
    if op == "add":
        return fpu.add_bits(x, y, fmt, 0)
    if op == "sub":
        return fpu.add_bits(x, y, fmt, 0, sub=True)
    if op == "mul":
        return fpu.mul_bits(x, y, fmt, 0)
    if op == "div":
        return fpu.div_bits(x, y, fmt, 0)
    return fpu.sqrt_bits(x, fmt, 0)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "sqrt"])
def test_fast_paths_agree_with_exact_arithmetic(op: str) -> None:
    rng = random.Random(op)
    for _ in range(3000):
        x, y = _rand_double(rng), _rand_double(rng)
        if op == "sqrt":
            x &= ~(1 << 63) if rng.random() < 0.8 else M64
        bits, flags = _exact(op, x, y, 1)
        got, fcsr = _run_d(op, x, y)
        assert (got, fcsr) == (bits, flags << 12 | flags << 2), (op, hex(x), hex(y))
        xs, ys = _rand_single(rng), _rand_single(rng)
        if op == "sqrt":
            xs &= 0x7FFFFFFF
        bits, flags = _exact(op, xs, ys, 0)
        got, fcsr = _run_s(op, xs, ys)
        assert (got, fcsr) == (bits, flags << 12 | flags << 2), (op, hex(xs), hex(ys))


M64 = (1 << 64) - 1


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "sqrt"])
def test_round_to_nearest_matches_host_floats(op: str) -> None:
    rng = random.Random(op + "host")
    for _ in range(2000):
        a, b = rng.uniform(-1e3, 1e3), rng.uniform(-1e3, 1e3)
        x = struct.unpack("<Q", struct.pack("<d", a))[0]
        y = struct.unpack("<Q", struct.pack("<d", b))[0]
        want = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b,
                "sqrt": math.sqrt(abs(a))}[op]
        if op == "sqrt":
            x &= ~(1 << 63)
        bits, _flags = _exact(op, x, y, 1)
        assert struct.unpack("<d", struct.pack("<Q", bits))[0] == want


def test_directed_rounding() -> None:
    one = 0x3FF0000000000000
    third = 0x3FD5555555555555
    # 1/3 in each mode: nearest and toward zero/-inf round down, +inf rounds up
    assert fpu.div_bits(one, 0x4008000000000000, 1, 0)[0] == third
    assert fpu.div_bits(one, 0x4008000000000000, 1, 1)[0] == third
    assert fpu.div_bits(one, 0x4008000000000000, 1, 2)[0] == third + 1
    assert fpu.div_bits(one, 0x4008000000000000, 1, 3)[0] == third
    # overflow: RZ gives the largest finite, RN infinity
    big = 0x7FEFFFFFFFFFFFFF
    assert fpu.mul_bits(big, 0x4000000000000000, 1, 1) == (big, fpu.F_O | fpu.F_I)
    assert fpu.mul_bits(big, 0x4000000000000000, 1, 0) == (0x7FF0000000000000,
                                                            fpu.F_O | fpu.F_I)
    # x - x is -0 rounding down, +0 otherwise
    assert fpu.add_bits(one, one, 1, 3, sub=True)[0] == 1 << 63
    assert fpu.add_bits(one, one, 1, 0, sub=True)[0] == 0


def test_conversions_to_int() -> None:
    def d(v: float) -> int:
        return int(struct.unpack("<Q", struct.pack("<d", v))[0])

    assert fpu.f_to_int(d(2.5), 1, 0, 32) == (2, fpu.F_I)  # ties to even
    assert fpu.f_to_int(d(-2.5), 1, 2, 32) == ((-2) & 0xFFFFFFFF, fpu.F_I)
    assert fpu.f_to_int(d(2147483648.0), 1, 1, 32) == (0x7FFFFFFF, fpu.F_V)
    assert fpu.f_to_int(d(-2147483648.5), 1, 1, 32) == (0x80000000, fpu.F_I)
    assert fpu.f_to_int(d(-2147483649.0), 1, 1, 32) == (0x7FFFFFFF, fpu.F_V)
    assert fpu.f_to_int(fpu.DNAN_D, 1, 0, 32) == (0x7FFFFFFF, fpu.F_V)
    assert fpu.f_to_int(d(-1.5), 1, 3, 64) == ((-2) & M64, fpu.F_I)


def test_legacy_nans() -> None:
    snan = 0x7FF8000000000000  # quiet bit set: signalling in the legacy encoding
    qnan = fpu.DNAN_D
    one = 0x3FF0000000000000
    assert fpu.add_bits(snan, one, 1, 0) == (fpu.DNAN_D, fpu.F_V)
    assert fpu.add_bits(qnan, one, 1, 0) == (fpu.DNAN_D, 0)
    assert fpu.cvt_ff(0x7FC00000, 0, 1, 0) == (fpu.DNAN_D, fpu.F_V)
    assert fpu.cvt_ff(0x7FBFFFFF, 0, 1, 0) == (fpu.DNAN_D, 0)


def test_enabled_exception_raises_and_keeps_destination() -> None:
    c = CPU()
    c.fcsr = fpu.F_Z << fpu.ENABLE_SHIFT
    c.f[2], c.f[3] = 0, 0x3FF00000  # 1.0
    c.f[0], c.f[1] = 0x1234, 0x5678
    with pytest.raises(fpu.FPUException):
        fpu.div_d(c, 0, 2, 4)  # 1.0 / 0.0
    assert (c.f[0], c.f[1]) == (0x1234, 0x5678)
    assert c.fcsr >> fpu.CAUSE_SHIFT & 0x3F == fpu.F_Z
    assert not c.fcsr >> fpu.FLAG_SHIFT & 0x1F  # flags untouched on a trap


def test_control_registers() -> None:
    c = CPU()
    fpu.ctc1(c, 31, 0xFFFFFFFF & ~0x3F000)  # everything but cause
    assert c.fcsr == 0xFF83FFFF & ~0x3F000
    assert fpu.cfc1(c, 25) == 0xFF
    assert fpu.cfc1(c, 28) == 0xF87
    c.fcsr = 0
    fpu.ctc1(c, 25, 0x81)
    assert c.fcsr == 0x80800000
    fpu.ctc1(c, 28, 0x7)
    assert c.fcsr == 0x81800003
    with pytest.raises(fpu.FPUException):  # cause bit with its enable set traps at once
        fpu.ctc1(c, 31, (fpu.F_I << fpu.CAUSE_SHIFT) | (fpu.F_I << fpu.ENABLE_SHIFT))


# --------------------------------------------- guest programs against qemu-mipsel
needs_tools = pytest.mark.skipif(CC is None or QEMU is None,
                                 reason="needs mipsel-linux-gnu-gcc and qemu-mipsel")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fpuroot")
    assert CC is not None
    for name, extra in (("fpops", []), ("fplib", ["-frounding-math"]), ("fpsig", [])):
        subprocess.run([CC, "-static", "-O2", *extra, "-o", str(d / name),
                        str(SRC / f"{name}.c"), "-lm"], check=True)
    return d


def _both(root: Path, prog: str, *args: str) -> None:
    assert QEMU is not None
    q = subprocess.run([QEMU, str(root / prog), *args], capture_output=True, timeout=120)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    a = subprocess.run([sys.executable, "-m", "afgdb", "run", "--root", str(root),
                        "/" + prog, *args], capture_output=True, timeout=900, env=env,
                       cwd=str(REPO))
    assert a.stdout == q.stdout, a.stderr.decode(errors="replace")[-2000:]
    # qemu dies of the (same-numbered, for SIGFPE) host signal; afgdb run reports 128 + signal
    qrc = 128 - q.returncode if q.returncode < 0 else q.returncode
    assert a.returncode == qrc, a.stderr.decode(errors="replace")[-2000:]


@needs_tools
def test_every_operation_in_every_rounding_mode(root: Path) -> None:
    _both(root, "fpops")


@needs_tools
def test_glibc_floating_point(root: Path) -> None:
    _both(root, "fplib")


@needs_tools
@pytest.mark.parametrize("case,handler", [
    ("div", ""), ("div", "h"), ("invalid", ""), ("overflow", "h"), ("ctc1", ""),
    ("ctc1", "h"), ("disabled", ""), ("ldc1", "h"),
])
def test_traps(root: Path, case: str, handler: str) -> None:
    _both(root, "fpsig", case, *([handler] if handler else []))
