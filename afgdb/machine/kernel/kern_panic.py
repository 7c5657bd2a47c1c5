"""Kernel panic: dump the whole machine as one ELF core (the seed's "kernel crash dump").

The dump holds no user pages: one NT_PRSTATUS per LWP of the machine (the
panicking one first, the panic signal in every note so gdb prints it), with
thread ids ``(pid << 16) | lid`` as pid 0 shows them, and PT_LOADs of the
kernel's physical memory at their KSEG0 addresses (p_paddr = physical), plus
the KSEG2 mappings (kernel stacks) as aliases of the same file bytes. gdb
opens it with the kernel symbol file (``ksym/netbsd.sym``): ``info threads``
lists every LWP, ``p hostname`` and ``p *allproc.lh_first`` read kernel data.

Registers come from kernel memory, as a kernel debugger would read them: a
user LWP's trapframe, or a system LWP's switchframe (pc = mi_switch).
"""

from __future__ import annotations

import os
import struct
from typing import IO, TYPE_CHECKING, Any

from afgdb.machine import elfcore
from afgdb.machine.kernel import kmem as kmem_mod

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel

SIGABRT = 6
_SF = {16 + i: f"pcb_context.sf_s{i}" for i in range(8)}
_SF.update({30: "pcb_context.sf_s8", 29: "pcb_context.sf_sp", 31: "pcb_context.sf_ra"})


def _gregs_of_lwp(km: kmem_mod.KMem, a: int) -> list[int]:
    """The o32 gregset of the LWP whose struct lwp is at a, from its saved frame."""
    g = [0] * elfcore.NGREG
    utf = km.get(a, km.L, "l_md.md_utf")
    if utf:
        tf = km.TF
        raw = km.read(utf, tf.size)
        words = struct.unpack(f"<{len(raw) // 4}I", raw)
        base = tf.fields["tf_regs"].offset // 4
        r = words[base:base + 38]  # r0..r31, sr, lo, hi, badvaddr, cause, pc
        g[6:38] = r[:32]
        g[38], g[39], g[40], g[41], g[42], g[43] = r[33], r[34], r[37], r[35], r[32], r[36]
        return g
    pcb = km.get(a, km.L, "l_addr")
    for n, path in _SF.items():
        g[6 + n] = km.get(pcb, km.PCB, path)
    g[40] = km.sf.sym("mi_switch")
    g[42] = km.get(pcb, km.PCB, "pcb_context.sf_sr")
    return g


def write_panic_dump(k: Kernel, stream: IO[bytes] | Any, message: str,
                     sig: int = SIGABRT) -> elfcore.CoreResult:
    """Write the machine's kernel dump to stream (single pass)."""
    km = kmem_mod.attach(k)
    km.sync()
    threads: list[elfcore.ThreadRegs] = []
    for a in km.lwp_addrs():
        tid = km.get(a, km.L, "l_tid")
        threads.append(elfcore.ThreadRegs(tid, _gregs_of_lwp(km, a)))
    current = k.current
    if current is not None:  # the panicking LWP first: gdb selects it
        want = kmem_mod.thread_id(current.proc.pid, current.lid)
        threads.sort(key=lambda t: t.pr_pid != want)
    segments = [elfcore.Segment(kmem_mod.KSEG0 + pfn * kmem_mod.PAGE, kmem_mod.PAGE,
                                bytes(page), paddr=pfn * kmem_mod.PAGE)
                for pfn, page in sorted(km.mem.pages.items())]
    for i in range(km.nkseg2):
        va = kmem_mod.KSEG2 + i * kmem_mod.PAGE
        pa = km.translate(va)
        if pa is not None and pa // kmem_mod.PAGE in km.mem.pages:
            segments.append(elfcore.Segment(va, kmem_mod.PAGE,
                                            bytes(km.mem.pages[pa // kmem_mod.PAGE]), paddr=pa))
    return elfcore.write_kernel_dump(stream, threads, segments, cursig=sig,
                                     fname=os.path.basename(kmem_mod.SYMBOL_FILE),
                                     psargs=f"panic: {message}", panic=message,
                                     time_ns=k.realtime_ns())


def panic(k: Kernel, message: str, sig: int = SIGABRT) -> str:
    """Dump the machine and say where the dump went: cored if configured, else
    /var/crash/vmcore.N inside the guest root (as savecore would leave it)."""
    from afgdb.machine.kernel import kern_core

    k.log(f"panic: {message}")
    cfg = k.extensions.get("coredump_config")
    path = cfg.get("socket") if isinstance(cfg, dict) else None
    path = path or os.environ.get("AFGDB_CORED_SOCKET")
    if path:
        def write(stream: Any) -> None:
            write_panic_dump(k, stream, message, sig)

        try:
            ident = kern_core.hand_over(path, 30.0, write, "kernel", 0, 0, "kernel", sig)
            return f"cored:{ident}"
        except Exception as e:  # cored down or refusing: keep the dump ourselves
            k.log(f"panic: cored unreachable ({e}); writing the dump locally")
    crash = os.path.join(k.vfs.root, "var", "crash")
    os.makedirs(crash, exist_ok=True)
    n = 0
    while os.path.exists(os.path.join(crash, f"vmcore.{n}")):
        n += 1
    out = os.path.join(crash, f"vmcore.{n}")
    with open(out, "wb") as fh:
        write_panic_dump(k, fh, message, sig)
    return out
