"""Architectural state of one MIPS32 hardware thread (one LWP)."""

from __future__ import annotations

# Indices into CPU.r beyond the 32 general registers.
LO = 32
HI = 33

FIR_VALUE = 0x00739300  # what qemu-mipsel's 24Kf reports: F64, L, W, D, S; no paired single


class CoprocessorUnusable(Exception):
    """A user-mode CP0 access; the kernel turns it into SIGILL."""


class CPU:
    """Registers of one thread. ``r[0..31]`` GPRs, ``r[32]`` LO, ``r[33]`` HI, all unsigned."""

    __slots__ = ("r", "pc", "f", "fcsr", "llbit", "badvaddr", "ulr", "icount", "fpu_used",
                 "rdone")

    def __init__(self) -> None:
        self.r: list[int] = [0] * 34
        self.pc = 0
        self.f: list[int] = [0] * 32  # raw 32-bit FPR halves (FR=0: doubles are even/odd pairs)
        self.fcsr = 0
        self.llbit = 0
        self.badvaddr = 0
        self.ulr = 0  # UserLocal (set_thread_area), read by rdhwr $29
        self.icount = 0
        self.fpu_used = False
        self.rdone = 0  # a region's instructions before the block that raised (engine)

    def copy(self) -> CPU:
        n = CPU()
        n.r = list(self.r)
        n.pc = self.pc
        n.f = list(self.f)
        n.fcsr = self.fcsr
        n.badvaddr = self.badvaddr
        n.ulr = self.ulr
        n.fpu_used = self.fpu_used
        return n

    # Hooks the instruction table calls; user mode has no CP0.
    def rdhwr(self, n: int) -> int:
        if n == 29:
            return self.ulr
        if n == 0:  # CPUNum
            return 0
        if n == 1:  # SYNCI_Step
            return 32
        if n == 2:  # CC
            return self.icount & 0xFFFFFFFF
        if n == 3:  # CCRes
            return 1
        raise CoprocessorUnusable(f"rdhwr ${n}")

    def cp0_read(self, reg: int, sel: int) -> int:
        raise CoprocessorUnusable(f"mfc0 ${reg},{sel} in user mode")

    def cp0_write(self, reg: int, sel: int, value: int) -> None:
        raise CoprocessorUnusable(f"mtc0 ${reg},{sel} in user mode")

    def cp0_di(self, enable: int) -> int:
        raise CoprocessorUnusable("di/ei in user mode")

    def cache_op(self) -> None:
        raise CoprocessorUnusable("cache in user mode")  # privileged: SIGILL, as on Linux
