"""pid 0: the kernel as a read-only debug target.

Everything is read from kernel memory (`afgdb.machine.kernel.kmem`), the
way a kernel debugger reads a live kernel: the thread list is the
``alllwp`` list walked in memory, a thread's registers are its saved
frame there (user LWPs: the trapframe at the top of their kernel stack;
system LWPs: the switchframe in their pcb, other registers unavailable),
and memory reads of KSEG0/KSEG1/KSEG2 addresses are reads of the physical
memory image. A user address (below 0x80000000) is read in the address
space of the selected thread's process (`read_thread_memory`).

Thread ids are `kmem.thread_id(pid, lid)` (``l_tid``): ``(pid << 16) |
lid``, system LWPs (pid 0) being 1..8; names are ``l_name``, and
qThreadExtraInfo says ``pid.lid state [wait message]``.

gdb gets the kernel symbol file as its executable: qXfer:exec-file says
``/netbsd`` and vFile opens the shipped ``ksym/netbsd.sym`` under that name
(read-only; no other path). The target implements no write, breakpoint or
resume capability, so the stub refuses those packets; `refusal` is the
message it gives.

Only root may open it: `open_kernel` checks the uid (the guest's AF_GDB
socket passes the caller's; the server's kernel socket checks the peer's
host uid itself).

Must not: change any machine state.
"""

from __future__ import annotations

import os
import struct
import tempfile

from afgdb.arch import mips
from afgdb.machine.kernel import kmem as kmem_mod
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.kmem import KERNEL_PATH, SYMBOL_FILE, KMem
from afgdb.machine.memory import MemFault
from afgdb.targets.caps import StopEvent, Stopped, TargetError, ThreadInfo

KSEG0 = kmem_mod.KSEG0
READ_ONLY = "pid 0 is the kernel and read-only: no writes, breakpoints or resumption"

_STAT = {1: "idle", 2: "runnable", 3: "sleeping", 4: "stopped", 5: "zombie", 7: "on cpu"}
_SF_REGS = {16 + i: f"pcb_context.sf_s{i}" for i in range(8)}
_SF_REGS.update({30: "pcb_context.sf_s8", 29: "pcb_context.sf_sp",
                 31: "pcb_context.sf_ra", 32: "pcb_context.sf_sr"})


def default_kernel_socket() -> str:
    """Where `afgdb serve --kernel` listens and `afgdb connect 0` looks by default."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(base, f"afgdb-{os.getuid()}-kernel.sock")


def open_kernel(kernel: Kernel, uid: int) -> KernelTarget:
    """pid 0 for a caller with this uid (guest uid, or the host uid mapped to 0)."""
    if uid != 0:
        raise TargetError(E.EPERM, "only root may open pid 0 (the kernel)")
    return KernelTarget(kernel)


class KernelTarget:
    """The whole machine, seen from inside its kernel."""

    pid = 0
    read_only = True

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.km: KMem = kmem_mod.attach(kernel)

    # ------------------------------------------------------------ threads
    def _lwps(self) -> dict[int, int]:
        """tid -> struct lwp address, for every live LWP on alllwp."""
        km = self.km
        L = km.L
        out: dict[int, int] = {}
        for a in km.lwp_addrs():
            if km.get(a, L, "l_stat") != km.sf.enums["LSZOMB"]:
                out[km.get(a, L, "l_tid")] = a
        return dict(sorted(out.items()))

    def _lwp(self, tid: int) -> int:
        lwps = self._lwps()
        if tid in (0, -1) and lwps:
            return next(iter(lwps.values()))
        a = lwps.get(tid)
        if a is None:
            raise TargetError(E.ESRCH, f"no thread {tid:#x} on pid 0")
        return a

    def threads(self) -> list[ThreadInfo]:
        km = self.km
        return [ThreadInfo(tid, km.get(a, km.L, "l_name"), self._extra(a))
                for tid, a in self._lwps().items()]

    def thread_extra_info(self, tid: int) -> str:
        return self._extra(self._lwp(tid))

    def _extra(self, a: int) -> str:
        km, L = self.km, self.km.L
        proc = km.r32(a + L.off("l_proc"))
        pid = km.get(proc, km.P, "p_pid") if proc else 0
        state = _STAT.get(km.get(a, L, "l_stat"), "?")
        wmesg = km.get(a, L, "l_wmesg")
        text = f"{pid}.{km.get(a, L, 'l_lid')} {state}"
        return f"{text} on {wmesg}" if wmesg else text

    # ---------------------------------------------------------- registers
    def read_registers(self, tid: int) -> list[int | None]:
        km = self.km
        a = self._lwp(tid)
        vals: list[int | None] = [None] * mips.NUM_REGS
        utf = km.get(a, km.L, "l_md.md_utf")
        if utf:  # a user LWP: the trapframe (r0..pc, f0..f31, fsr, fir)
            tf = km.TF
            raw = km.read(utf, tf.size)
            words = struct.unpack(f"<{len(raw) // 4}I", raw)
            regs = tf.fields["tf_regs"]
            fregs = tf.fields["tf_fregs"]
            base, fbase = regs.offset // 4, fregs.offset // 4
            vals[:regs.count] = words[base:base + regs.count]
            vals[38:38 + fregs.count] = words[fbase:fbase + fregs.count]
            vals[70] = words[tf.fields["tf_fsr"].offset // 4]
            vals[71] = words[tf.fields["tf_fir"].offset // 4]
            vals[72] = 0
            return vals
        pcb = km.get(a, km.L, "l_addr")  # a system LWP: switched out in mi_switch
        for n, path in _SF_REGS.items():
            vals[n] = km.get(pcb, km.PCB, path)
        vals[0] = 0
        vals[mips.PC] = km.sf.sym("mi_switch")
        return vals

    # ------------------------------------------------------------- memory
    def read_memory(self, addr: int, length: int) -> bytes:
        return self.read_thread_memory(0, addr, length)

    def read_thread_memory(self, tid: int, addr: int, length: int) -> bytes:
        """Kernel addresses from kernel memory; user addresses in tid's process."""
        if addr >= KSEG0:
            data = self.km.read(addr, length)
            if not data and length:
                raise TargetError(E.EFAULT, f"no kernel memory at {addr:#x}")
            return data
        proc = self.km.proc_of_lwp(self._lwp(tid)) if tid not in (0, -1) else None
        if proc is None or not proc.alive:
            raise TargetError(E.EFAULT, f"{addr:#x} is a user address and thread {tid:#x} "
                              "has no user address space")
        out = bytearray()
        while length > 0:
            n = min(length, 4096 - (addr & 4095), KSEG0 - addr)
            try:
                out += proc.aspace.read(addr, n, check=False)
            except MemFault:
                break
            addr += n
            length -= n
            if addr >= KSEG0:
                break
        if not out:
            raise TargetError(E.EFAULT, f"cannot read user memory at {addr:#x}")
        return bytes(out)

    # ------------------------------------------------------------ the rest
    def stop_event(self) -> StopEvent | None:
        return Stopped(kmem_mod.thread_id(0, 1), 0)  # lwp0: pid 0 is read from the scheduler

    def exec_file(self) -> str:
        return KERNEL_PATH

    def resolve_path(self, path: str, follow: bool = True) -> str:
        if path != KERNEL_PATH:
            raise TargetError(E.ENOENT, f"pid 0 serves only {KERNEL_PATH}")
        return SYMBOL_FILE

    def refusal(self) -> str:
        return READ_ONLY
