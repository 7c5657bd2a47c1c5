"""The simulated MIPS machine. Knows nothing of the GDB protocol."""

from afgdb.machine.kernel import Kernel

__all__ = ["Kernel"]
