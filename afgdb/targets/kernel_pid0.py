"""pid 0: the kernel as a read-only debug target.

Every LWP of the machine is a thread of pid 0 (thread ids are unique
machine-wide), with the registers it has now. Memory reads go to kernel
memory; until the kernel keeps its structures in simulated KSEG0 memory
(another issue) there is none, so reads fail with EFAULT. The target
implements only the base `Target` protocol: the stub refuses writes,
breakpoints and resumption because the capabilities are absent.

Must not: change any machine state.
"""

from __future__ import annotations

from afgdb.arch import mips
from afgdb.machine.cpu.state import FIR_VALUE, HI, LO
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.proc import LWP
from afgdb.targets.caps import StopEvent, Stopped, TargetError, ThreadInfo

KSEG0 = 0x80000000


class KernelTarget:
    """The whole machine, seen from inside its kernel."""

    pid = 0

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def _lwps(self) -> list[LWP]:
        seen: dict[int, LWP] = {}
        for p in self.kernel.procs.values():
            for t in p.live_lwps():
                seen.setdefault(t.lid, t)
        return [seen[k] for k in sorted(seen)]

    def threads(self) -> list[ThreadInfo]:
        return [ThreadInfo(t.lid, t.name, f"pid {t.proc.pid} {t.name} {t.state}")
                for t in self._lwps()]

    def read_registers(self, tid: int) -> list[int | None]:
        for t in self._lwps():
            if t.lid == tid or tid in (0, -1):
                c = t.cpu
                vals: list[int | None] = list(c.r[:32])
                vals += [mips.USER_STATUS, c.r[LO], c.r[HI], c.badvaddr, 0, c.pc]
                vals += list(c.f)
                vals += [c.fcsr, FIR_VALUE, 0]
                return vals
        return [None] * mips.NUM_REGS

    def read_memory(self, addr: int, length: int) -> bytes:
        raise TargetError(E.EFAULT, f"no kernel memory at {addr:#x} (not simulated yet)")

    def stop_event(self) -> StopEvent | None:
        lwps = self._lwps()
        return Stopped(lwps[0].lid if lwps else 1, 0)
