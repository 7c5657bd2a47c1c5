"""FPU (CP1) helpers called from the instruction table's FPU rows."""

from __future__ import annotations

from typing import Any


class FPUException(Exception):
    """An enabled IEEE exception or an unimplemented operation: SIGFPE for the process."""


def cc(c: Any, n: int) -> bool:
    """FCSR condition code n (FCC0 is bit 23, FCC1..7 are bits 25..31)."""
    bit = 23 if n == 0 else 24 + n
    return bool(c.fcsr >> bit & 1)
