"""afgdb: a GDB remote-protocol server for a simulated MIPS machine."""

__version__ = "0.1.0"
