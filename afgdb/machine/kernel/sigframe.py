"""Signal frames: the Linux o32 rt_sigframe that handlers and gdb's unwinder expect.

Layout (arch/mips/kernel/signal.c, ``struct rt_sigframe`` for o32)::

    0    u32 rs_ass[4]           argument save area
    16   u32 rs_pad[2]           (was the trampoline)
    24   siginfo_t rs_info       128 bytes; MIPS order: si_signo, si_code, si_errno
    152  struct ucontext rs_uc:
           +0   uc_flags, +4 uc_link, +8 uc_stack {ss_sp, ss_size, ss_flags}, +20 pad
           +24  struct sigcontext (592 bytes, 8-aligned):
                  0 sc_regmask, 4 sc_status, 8 sc_pc (u64), 16 sc_regs[32] (u64),
                  272 sc_fpregs[32] (u64), 528 sc_acx, 532 sc_fpc_csr, 536 sc_fpc_eir,
                  540 sc_used_math, 544 sc_dsp, 552 sc_mdhi (u64), 560 sc_mdlo (u64),
                  568 sc_hi1, sc_lo1, sc_hi2, sc_lo2, sc_hi3, sc_lo3
           +616 uc_sigmask (16 bytes)
    784  end

The handler runs with a0 = signal, a1 = &rs_info, a2 = &rs_uc, t9 = pc =
handler, sp = frame and ra = the return trampoline ``li v0, 4193; syscall``
in the read-only ``[sigpage]`` that exec maps into every process, which is
the code gdb's mips-linux-tdep recognises as an o32 rt signal trampoline.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel.proc import LWP, SigAction
from afgdb.machine.memory import PROT_EXEC, PROT_READ, AddressSpace, MemFault

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel

SIGPAGE = 0x7FFFF000  # above the stack, below KSEG0
TRAMPOLINE = SIGPAGE  # li v0, 4193 (rt_sigreturn); syscall
TRAMPOLINE_CODE = struct.pack("<II", 0x24021061, 0x0000000C)

INFO_OFF = 24
UC_OFF = 152
SC_OFF = UC_OFF + 24
MASK_OFF = UC_OFF + 616
FRAME_SIZE = 784

SA_SIGINFO = 0x00000008
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
SS_ONSTACK, SS_DISABLE = 1, 2

SI_QUEUE, SI_TIMER, SI_MESGQ = -1, -2, -3
_M32 = 0xFFFFFFFF


def map_sigpage(aspace: AddressSpace) -> None:
    """The read-only executable page holding the signal return trampoline."""
    aspace.map(SIGPAGE, 4096, PROT_READ | PROT_EXEC, name="[sigpage]", kind="anon")
    aspace.write(TRAMPOLINE, TRAMPOLINE_CODE, check=False)


def on_altstack(t: LWP, sp: int) -> bool:
    ss_sp, flags, size = t.sigaltstack
    return not flags & SS_DISABLE and ss_sp < sp <= ss_sp + size


def siginfo_bytes(k: Kernel, sig: int, info: tuple[int, int, int]) -> bytes:
    """A MIPS siginfo_t for info = (si_code, address or value, sending pid)."""
    from afgdb.machine.kernel import signals

    code, addr, sender = info
    body = bytearray(128)
    struct.pack_into("<iii", body, 0, sig, code, 0)
    if sig in (signals.SIGSEGV, signals.SIGBUS, signals.SIGILL, signals.SIGFPE,
               signals.SIGTRAP) and code > 0:
        struct.pack_into("<I", body, 12, addr & _M32)
    elif sig == signals.SIGCHLD and code > 0:
        child = k.procs.get(sender)
        uid = child.uid if child is not None else 0
        st = child.exit_status if child is not None else 0
        status = (st >> 8) & 0xFF if code in (1, 5, 6) else st & 0x7F
        if code == 6:
            status = signals.SIGCONT
        us = (child.icount() * 10 // 10_000_000) if child is not None else 0
        struct.pack_into("<iIiii", body, 12, sender, uid, status, us, 0)
    elif code == SI_TIMER:
        struct.pack_into("<iiI", body, 12, 0, 0, addr & _M32)
    else:
        src = k.procs.get(sender)
        struct.pack_into("<iII", body, 12, sender, src.uid if src is not None else 0,
                         addr & _M32)
    return bytes(body)


def _sigcontext(t: LWP) -> bytes:
    c = t.cpu
    regs = [0] + [c.r[i] & _M32 for i in range(1, 32)]
    out = struct.pack("<IIQ", 0, 0, c.pc & _M32)
    out += struct.pack("<32Q", *regs)
    out += struct.pack("<32Q", *[v & _M32 for v in c.f])
    out += struct.pack("<IIIII", 0, c.fcsr & _M32, 0, 1 if c.fpu_used else 0, 0)
    out += bytes(4)
    out += struct.pack("<QQ", c.r[33] & _M32, c.r[32] & _M32)
    out += bytes(24)
    assert len(out) == 592
    return out


def setup(k: Kernel, t: LWP, sig: int, info: tuple[int, int, int], act: SigAction) -> None:
    """Build an rt_sigframe on t's stack and enter the handler (setup_rt_frame)."""
    from afgdb.machine.kernel import kern_sig, signals

    c = t.cpu
    kern_sig.syscall_interrupted(k, t, act)
    oldmask = t.saved_sigmask if t.saved_sigmask is not None else t.sigmask
    t.saved_sigmask = None
    sp = c.r[29]
    ss_sp, ss_flags, ss_size = t.sigaltstack
    onstack = on_altstack(t, sp)
    sp -= 32  # what Linux leaves for an FPU-emulator trampoline
    if act.flags & SA_ONSTACK and not ss_flags & SS_DISABLE and not onstack and ss_size:
        sp = ss_sp + ss_size
    frame = (sp - FRAME_SIZE) & ~15
    stack_flags = SS_DISABLE if ss_flags & SS_DISABLE else (SS_ONSTACK if onstack else 0)
    uc = struct.pack("<IIIIIi", 0, 0, ss_sp & _M32, ss_size & _M32, stack_flags, 0)
    mask = struct.pack("<QQ", oldmask & ((1 << 64) - 1), oldmask >> 64)
    data = (bytes(INFO_OFF) + siginfo_bytes(k, sig, info) + uc + _sigcontext(t) + mask)
    assert len(data) == FRAME_SIZE
    try:
        t.proc.aspace.write(frame, data)
    except MemFault:
        # No room for the frame: the process dies of SIGSEGV, as force_sigsegv does.
        signals.kill_process(k, t.proc, signals.SIGSEGV, core=True,
                             info=(signals.SI_KERNEL, 0, 0))
        return
    if not act.flags & SA_NODEFER:
        t.sigmask |= signals.bit(sig)
    t.sigmask |= act.mask
    t.sigmask &= ~(signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP))
    if act.flags & SA_RESETHAND:
        t.proc.sigactions[sig] = SigAction()
    c.r[4] = sig
    c.r[5] = frame + INFO_OFF
    c.r[6] = frame + UC_OFF
    c.r[29] = frame
    c.r[31] = TRAMPOLINE
    c.r[25] = act.handler & _M32
    c.pc = act.handler & _M32


def sigreturn(k: Kernel, t: LWP) -> None:
    """rt_sigreturn: restore registers, FPU state, mask and altstack from the frame at sp."""
    from afgdb.machine.kernel import signals

    c = t.cpu
    frame = c.r[29]
    try:
        data = t.proc.aspace.read(frame, FRAME_SIZE)
    except MemFault:
        signals.kill_process(k, t.proc, signals.SIGSEGV, core=True,
                             info=(signals.SI_KERNEL, 0, 0))
        return
    sc = SC_OFF
    pc = struct.unpack_from("<Q", data, sc + 8)[0]
    regs = struct.unpack_from("<32Q", data, sc + 16)
    fregs = struct.unpack_from("<32Q", data, sc + 272)
    fcsr = struct.unpack_from("<I", data, sc + 532)[0]
    used_math = struct.unpack_from("<I", data, sc + 540)[0]
    mdhi, mdlo = struct.unpack_from("<QQ", data, sc + 552)
    for i in range(1, 32):
        c.r[i] = regs[i] & _M32
    c.r[33] = mdhi & _M32
    c.r[32] = mdlo & _M32
    c.pc = pc & _M32
    if used_math:
        for i in range(32):
            c.f[i] = fregs[i] & _M32
        c.fcsr = fcsr
    lo, hi = struct.unpack_from("<QQ", data, MASK_OFF)
    t.sigmask = (lo | (hi << 64)) & ~(signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP))
    ss_sp, ss_size, ss_flags = struct.unpack_from("<IIi", data, UC_OFF + 8)
    if not on_altstack(t, c.r[29]):
        if ss_flags & SS_DISABLE:
            t.sigaltstack = (0, SS_DISABLE, 0)
        elif ss_size >= 2048:
            t.sigaltstack = (ss_sp, ss_flags & ~SS_ONSTACK, ss_size)
