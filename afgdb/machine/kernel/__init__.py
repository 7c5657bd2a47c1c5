"""The simulated kernel: processes, LWPs, system calls, signals, files."""

from afgdb.machine.kernel.kernel import DebugHooks, Kernel

__all__ = ["Kernel", "DebugHooks"]
