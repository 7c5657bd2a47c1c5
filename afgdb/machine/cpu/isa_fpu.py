"""FPU rows of the instruction table (COP1 / COP1X, loads and stores of FPRs)."""

from __future__ import annotations

from afgdb.machine.cpu.isa import Insn

FPU_ROWS: list[Insn] = []
