"""System-mode MIPS32r2: CP0 state, exceptions and interrupts around the user-mode engine.

Owns the privileged half of one CPU - Status, Cause, EPC, ErrorEPC,
BadVAddr, Count/Compare, EBase - and the loop that runs a kernel image in
KSEG0: between units it takes interrupts, turns the engine's events and
faults into exceptions at the general vector, performs ``eret`` and
``wait``, advances the timer and charges cycles (``machine/cycles.py``).
The instructions themselves are the user-mode table and block engine
(``cpu/isa.py``, ``cpu/engine.py``): there is no second CPU. It knows
nothing of the user-mode kernel (``machine/kernel``) or of the debugger.

Simplifications, all deterministic: interrupts are sampled at block
boundaries, and every CP0 write ends a block, so an interrupt that a
``mtc0`` unmasks is taken before the next instruction; Count advances at
block granularity (half the cycle rate, as on the 24K), except that the
loop single-steps when Compare is close; there is no TLB (a fault is a
TLBL/TLBS exception with BadVAddr); KSEG1 is an alias of the same frames
(code written through KSEG1 does not invalidate KSEG0 translations).
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from afgdb.machine.cpu import isa
from afgdb.machine.cpu.engine import X_BREAKPOINT, X_BUDGET, X_EVENT, X_FAULT, CodeCache, run
from afgdb.machine.cpu.state import CPU, CoprocessorUnusable
from afgdb.machine.cycles import DEFAULT_TABLE, CycleTable, Timing
from afgdb.machine.memory import (
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
)

M32 = 0xFFFFFFFF

# CP0 registers (number, select 0 unless noted).
CP0_BADVADDR = 8
CP0_COUNT = 9
CP0_COMPARE = 11
CP0_STATUS = 12  # sel 1: IntCtl
CP0_CAUSE = 13
CP0_EPC = 14
CP0_PRID = 15  # sel 1: EBase
CP0_CONFIG = 16
CP0_ERROREPC = 30

# Status.
SR_IE = 0x00000001
SR_EXL = 0x00000002
SR_ERL = 0x00000004
SR_KSU_MASK = 0x00000018
SR_IM_MASK = 0x0000FF00
SR_BEV = 0x00400000
SR_CU0 = 0x10000000
SR_WRITABLE = 0xF040FF1F  # CU0-3, BEV, IM0-7, KSU, ERL, EXL, IE

# Cause.
CR_EXC_MASK = 0x0000007C
CR_IP_MASK = 0x0000FF00
CR_IP_SW = 0x00000300  # IP0/IP1: the only interrupt bits software may write
CR_IP_TIMER = 0x00008000  # IP7 (IntCtl.IPTI = 7)
CR_IV = 0x00800000
CR_TI = 0x40000000
CR_BD = 0x80000000

# Cause.ExcCode values.
EXC_INT = 0
EXC_TLBL = 2
EXC_TLBS = 3
EXC_ADEL = 4
EXC_ADES = 5
EXC_SYS = 8
EXC_BP = 9
EXC_RI = 10
EXC_CPU = 11
EXC_OV = 12
EXC_TR = 13
EXC_FPE = 15

KSEG0 = 0x80000000
KSEG1 = 0xA0000000
BEV_BASE = 0xBFC00200
GENERAL_VECTOR = 0x180
PRID_24K = 0x00019300  # MIPS Technologies, 24K
CONFIG_LE = 0x80000000 | 3  # M (Config1 follows), little-endian, K0 = cacheable
INTCTL = 7 << 29  # IPTI: the timer raises IP7

_CPU_PREFIX = "CpU: "

_EVENT_CODES = {
    isa.EV_SYSCALL: EXC_SYS, isa.EV_BREAK: EXC_BP, isa.EV_TRAP: EXC_TR,
    isa.EV_RESERVED: EXC_RI, isa.EV_OVERFLOW: EXC_OV, isa.EV_FPE: EXC_FPE,
    isa.EV_ADEL: EXC_ADEL, isa.EV_ADES: EXC_ADES, isa.EV_COPUNUSABLE: EXC_CPU,
}


class SysCPU(CPU):
    """A CPU with CP0. ``cycles`` comes from the machine's Timing (Count runs at half of it)."""

    __slots__ = ("status", "cause", "epc", "errorepc", "compare", "count_base", "ebase",
                 "timing", "other", "_last_count")

    def __init__(self, timing: Timing) -> None:
        super().__init__()
        self.timing = timing
        self.status = SR_ERL | SR_BEV  # reset state
        self.cause = 0
        self.epc = 0
        self.errorepc = 0
        self.compare = 0
        self.count_base = 0
        self.ebase = KSEG0
        self.other: dict[tuple[int, int], int] = {}
        self._last_count = 0

    # ------------------------------------------------------------ state
    def count(self) -> int:
        return ((self.timing.cycles >> 1) + self.count_base) & M32

    def kernel_mode(self) -> bool:
        st = self.status
        return not st & SR_KSU_MASK or bool(st & (SR_EXL | SR_ERL))

    def interrupt_pending(self) -> bool:
        """An enabled interrupt is asserted and may be taken now."""
        st = self.status
        return bool(st & SR_IE) and not st & (SR_EXL | SR_ERL) and bool(self.cause & st & SR_IM_MASK)

    def update_timer(self) -> None:
        """Raise Cause.TI (IP7) if Count has reached Compare since the last look."""
        now = self.count()
        if not self.cause & CR_TI:
            last = self._last_count
            if ((self.compare - last - 1) & M32) < ((now - last) & M32):
                self.cause |= CR_TI | CR_IP_TIMER
        self._last_count = now

    def timer_cycles_left(self) -> int:
        """Cycles until Count reaches Compare."""
        return 2 * (((self.compare - self.count()) & M32) or (1 << 32))

    # ---------------------------------------------- instruction hooks
    def _privileged(self, what: str) -> None:
        if not self.kernel_mode() and not self.status & SR_CU0:
            raise CoprocessorUnusable(_CPU_PREFIX + what)

    def cp0_read(self, reg: int, sel: int) -> int:
        self._privileged(f"mfc0 ${reg},{sel}")
        if sel == 0:
            if reg == CP0_STATUS:
                return self.status
            if reg == CP0_CAUSE:
                return self.cause
            if reg == CP0_EPC:
                return self.epc
            if reg == CP0_COUNT:
                return self.count()
            if reg == CP0_COMPARE:
                return self.compare
            if reg == CP0_BADVADDR:
                return self.badvaddr
            if reg == CP0_ERROREPC:
                return self.errorepc
            if reg == CP0_PRID:
                return PRID_24K
            if reg == CP0_CONFIG:
                return CONFIG_LE
        if (reg, sel) == (CP0_PRID, 1):
            return self.ebase
        if (reg, sel) == (CP0_STATUS, 1):
            return INTCTL
        return self.other.get((reg, sel), 0)

    def cp0_write(self, reg: int, sel: int, value: int) -> None:
        self._privileged(f"mtc0 ${reg},{sel}")
        if sel == 0:
            if reg == CP0_STATUS:
                self.status = value & SR_WRITABLE
                return
            if reg == CP0_CAUSE:
                keep = self.cause & ~(CR_IP_SW | CR_IV)
                self.cause = keep | (value & (CR_IP_SW | CR_IV))
                return
            if reg == CP0_EPC:
                self.epc = value
                return
            if reg == CP0_COUNT:
                self.count_base = (value - (self.timing.cycles >> 1)) & M32
                self._last_count = value
                return
            if reg == CP0_COMPARE:
                self.compare = value
                self.cause &= ~(CR_TI | CR_IP_TIMER)
                return
            if reg == CP0_ERROREPC:
                self.errorepc = value
                return
            if reg in (CP0_BADVADDR, CP0_PRID, CP0_CONFIG):
                return  # read-only
        if (reg, sel) == (CP0_PRID, 1):
            self.ebase = KSEG0 | (value & 0x3FFFF000)
            return
        self.other[(reg, sel)] = value

    def cache_op(self) -> None:
        self._privileged("cache")  # caches are not modelled: a no-op in kernel mode

    def cp0_di(self, enable: int) -> int:
        self._privileged("di/ei")
        old = self.status
        self.status = (old | SR_IE) if enable else (old & ~SR_IE)
        return old


# ------------------------------------------------------------------ images
@dataclass(frozen=True)
class KernelImage:
    """A statically linked MIPS32 little-endian ELF kernel: its loadable bytes and symbols."""

    path: Path
    entry: int
    segments: tuple[tuple[int, bytes, int], ...]  # (vaddr, file bytes, memsz)
    symbols: dict[str, int]
    functions: tuple[tuple[int, int, str], ...]  # (start, end, name), sorted

    @classmethod
    def load(cls, path: Path) -> KernelImage:
        data = path.read_bytes()
        if data[:6] != b"\x7fELF\x01\x01":
            raise ValueError(f"{path}: not a 32-bit little-endian ELF file")
        (_, _, machine, _, entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         _) = struct.unpack_from("<16sHHIIIIIHHHHHH", data, 0)
        if machine != 8:
            raise ValueError(f"{path}: not a MIPS ELF file")
        segs = []
        for i in range(phnum):
            ptype, off, vaddr, _, filesz, memsz, _, _ = struct.unpack_from(
                "<IIIIIIII", data, phoff + i * phentsize)
            if ptype == 1:  # PT_LOAD
                segs.append((vaddr, data[off:off + filesz], memsz))
        sections = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
                    for i in range(shnum)]
        symbols: dict[str, int] = {}
        funcs: list[tuple[int, int, str]] = []
        for sh in sections:
            if sh[1] != 2:  # SHT_SYMTAB
                continue
            strtab = sections[sh[6]]
            for off in range(sh[4], sh[4] + sh[5], 16):
                name_off, value, size, info, _, shndx = struct.unpack_from("<IIIBBH", data, off)
                if not name_off or shndx == 0:
                    continue
                end = data.index(b"\0", strtab[4] + name_off)
                name = data[strtab[4] + name_off:end].decode()
                if info & 0xF == 2 and size:  # STT_FUNC
                    funcs.append((value, value + size, name))
                if info >> 4 == 1 or name not in symbols:  # prefer globals
                    symbols[name] = value
        return cls(path, entry, tuple(segs), symbols, tuple(sorted(funcs)))

    def function_at(self, addr: int) -> str:
        i = bisect_right(self.functions, (addr, M32 + 1, "")) - 1
        if i >= 0 and self.functions[i][0] <= addr < self.functions[i][1]:
            return self.functions[i][2]
        return f"{addr:#010x}"


# ----------------------------------------------------------------- machine
@dataclass
class ExceptionRecord:
    """One exception taken: the state at entry and, once it returns, at eret."""

    code: int
    epc: int  # where it was taken (the branch, when bd)
    bd: bool
    status: int  # Status before entry
    cause: int  # Cause after entry
    icount: int
    cycles: int
    eret_icount: int = -1
    eret_cycles: int = -1
    return_pc: int = -1


@dataclass(frozen=True)
class Stop:
    """Why SysMachine.run returned: halt, budget, breakpoint, wait or fault."""

    reason: str
    pc: int
    detail: str = ""


class SysMachine:
    """A kernel image in KSEG0 (aliased at KSEG1) run by a SysCPU, with a cycle count."""

    def __init__(self, image: KernelImage, table: CycleTable = DEFAULT_TABLE,
                 keep_log: bool = True) -> None:
        self.image = image
        self.mem = AddressSpace()
        self.cache = CodeCache(self.mem)
        self.timing = Timing(self.mem.fetch, table)
        self.cpu = SysCPU(self.timing)
        self.log: list[ExceptionRecord] = []
        self.keep_log = keep_log
        self._open: list[ExceptionRecord] = []
        self.probes: dict[int, list[tuple[int, int]]] = {}
        self.breakpoints: set[int] = set()
        halt = image.symbols.get("halt")
        # The kernel's `halt: break` ends a run, whether reached through KSEG0 or KSEG1.
        self.halt_pcs = set() if halt is None else {halt, halt - KSEG0 + KSEG1}
        self._load()
        self.cpu.pc = image.entry

    # ----------------------------------------------------------- memory
    def _load(self) -> None:
        lo = min(v for v, _, _ in self.image.segments) & ~PAGE_MASK
        hi = max(v + m for v, _, m in self.image.segments)
        size = (hi - lo + PAGE_MASK) & ~PAGE_MASK
        prot = PROT_READ | PROT_WRITE | PROT_EXEC
        self.mem.map(lo, size, prot, "kseg0")
        for addr in range(lo, lo + size, PAGE_SIZE):
            self.mem.frame_for(addr, True, check=False)
        for vaddr, data, _ in self.image.segments:
            self.write(vaddr, data)
        # KSEG1: the same frames, uncached (the cycle model has no caches anyway).
        alias = lo - KSEG0 + KSEG1
        self.mem.map(alias, size, prot, "kseg1")
        for addr in range(lo, lo + size, PAGE_SIZE):
            fr = self.mem.frames[addr >> PAGE_SHIFT]
            fr.refs += 1
            self.mem.frames[(addr - KSEG0 + KSEG1) >> PAGE_SHIFT] = fr
        self.mem.protect(alias, size, prot)  # publishes the aliased frames

    def write(self, addr: int, data: bytes) -> None:
        """Store bytes into kernel memory (translations of written code are dropped)."""
        pos = 0
        while pos < len(data):
            off = addr & PAGE_MASK
            n = min(len(data) - pos, PAGE_SIZE - off)
            fr = self.mem.frame_for(addr, True, check=False)
            fr.b[off:off + n] = data[pos:pos + n]
            addr += n
            pos += n

    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while length > 0:
            off = addr & PAGE_MASK
            n = min(length, PAGE_SIZE - off)
            fr = self.mem.frame_for(addr, False, check=False)
            out += fr.b[off:off + n]
            addr += n
            length -= n
        return bytes(out)

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, (value & M32).to_bytes(4, "little"))

    def symbol(self, name: str) -> int:
        return self.image.symbols[name]

    # ------------------------------------------------------------- probes
    def add_probe(self, addr: int) -> None:
        """Record (icount, cycles) each time execution reaches addr (before it runs)."""
        self.probes.setdefault(addr, [])
        self.cache.add_breakpoint(addr)  # blocks end there, so the loop sees the address

    def add_breakpoint(self, addr: int) -> None:
        """Stop before addr runs (run() called again resumes from it)."""
        self.breakpoints.add(addr)
        self.cache.add_breakpoint(addr)

    def remove_breakpoint(self, addr: int) -> None:
        self.breakpoints.discard(addr)
        if addr not in self.probes:
            self.cache.remove_breakpoint(addr)

    def enable_profile(self) -> None:
        self.timing.profile = {}

    def profile_by_function(self) -> dict[str, tuple[int, int]]:
        """Instructions and cycles per function so far ('<exception entry>' for the penalty)."""
        out: dict[str, list[int]] = {}
        for addr, (n, cyc) in (self.timing.profile or {}).items():
            name = "<exception entry>" if addr < 0 else self.image.function_at(addr)
            slot = out.setdefault(name, [0, 0])
            slot[0] += n
            slot[1] += cyc
        return {k: (v[0], v[1]) for k, v in out.items()}

    # ----------------------------------------------------------- running
    def take_exception(self, code: int, pc: int, bd: bool = False) -> None:
        """Exception entry: EPC/BD (unless EXL), ExcCode, EXL, jump to the general vector."""
        c = self.cpu
        st = c.status
        if not st & SR_EXL:
            c.epc = pc
            c.cause = (c.cause | CR_BD) if bd else (c.cause & ~CR_BD)
        c.cause = (c.cause & ~CR_EXC_MASK) | (code << 2)
        c.status = st | SR_EXL
        c.pc = ((BEV_BASE if st & SR_BEV else c.ebase) + GENERAL_VECTOR) & M32
        c.llbit = 0
        rec = ExceptionRecord(code, pc, bd, st, c.cause, c.icount, self.timing.cycles)
        self._open.append(rec)
        if self.keep_log:
            self.log.append(rec)
        self.timing.exception_entry()

    def _eret(self) -> None:
        c = self.cpu
        if c.status & SR_ERL:
            c.pc = c.errorepc
            c.status &= ~SR_ERL
        else:
            c.pc = c.epc
            c.status &= ~SR_EXL
        c.llbit = 0
        if self._open:
            rec = self._open.pop()
            rec.eret_icount = c.icount
            rec.eret_cycles = self.timing.cycles
            rec.return_pc = c.pc

    def run(self, max_insns: int = 1 << 62) -> Stop:
        """Run until the kernel halts, a breakpoint, an idle wait, or max_insns instructions."""
        c = self.cpu
        cache = self.cache
        timing = self.timing
        probes = self.probes
        bps = self.breakpoints
        limit = c.icount + max_insns
        resume = c.pc
        while c.icount < limit:
            if c.interrupt_pending():
                self.take_exception(EXC_INT, c.pc)
            pc = c.pc
            if probes and pc in probes:
                probes[pc].append((c.icount, timing.cycles))
            if bps and pc in bps and pc != resume:
                return Stop("breakpoint", pc)
            resume = -1
            ic = c.icount
            st = c.status
            step = bool(st & CR_IP_TIMER & SR_IM_MASK) and timing_near(c)
            ex = run(c, cache, 1, step)
            reason = ex.reason
            if reason == X_BUDGET:
                timing.account(pc, c.icount - ic, c.pc)
                c.update_timer()
                continue
            if reason == X_BREAKPOINT:  # (not with a budget of one block; kept for safety)
                timing.account(pc, c.icount - ic, c.pc)
                c.update_timer()
                continue
            if reason == X_EVENT:
                ev = ex.event
                if ev in (isa.EV_ERET, isa.EV_WAIT):
                    c.icount += 1  # the engine leaves these to us
                n = c.icount - ic
                if n:
                    timing.account(pc, n, -1)
                c.update_timer()
                if ev == isa.EV_ERET:
                    self._eret()
                    continue
                if ev == isa.EV_WAIT:
                    c.pc = (ex.pc + 4) & M32
                    if not self._idle():
                        return Stop("wait", c.pc)
                    continue
                if ev == isa.EV_BREAK and ex.pc in self.halt_pcs:
                    return Stop("halt", ex.pc)
                code = _EVENT_CODES.get(ev, EXC_RI)
                if ev == isa.EV_RESERVED and ex.detail.startswith(_CPU_PREFIX):
                    code = EXC_CPU
                self.take_exception(code, ex.pc, ex.in_delay_slot)
                continue
            if reason == X_FAULT:
                n = c.icount - ic
                if n:
                    timing.account(pc, n, -1)
                f = ex.fault
                assert f is not None
                if f.addr == ex.pc and c.status & SR_EXL:
                    return Stop("fault", ex.pc, f"cannot fetch the exception handler at {f.addr:#x}")
                c.badvaddr = f.addr
                self.take_exception(EXC_TLBS if f.write else EXC_TLBL, ex.pc,
                                    _is_branch_at(self, ex.pc) and f.addr != ex.pc)
                continue
            return Stop("watch", ex.pc)  # watchpoints are not used in system mode
        return Stop("budget", c.pc)

    def _idle(self) -> bool:
        """wait: sleep until the timer fires; False if nothing can ever wake the CPU."""
        c = self.cpu
        if c.interrupt_pending():
            return True
        st = c.status
        if not st & SR_IE or st & (SR_EXL | SR_ERL) or not st & CR_IP_TIMER:
            return False
        self.timing.idle(c.timer_cycles_left())
        c.update_timer()
        return True


def timing_near(c: SysCPU) -> bool:
    """Compare is close enough that blocks must be single-stepped to take the tick on time."""
    return not c.cause & CR_TI and c.timer_cycles_left() <= 512


def _is_branch_at(m: SysMachine, pc: int) -> bool:
    try:
        row = isa.decoder().decode(m.mem.fetch(pc))
    except Exception:
        return False
    return row is not None and row.kind in (isa.K_BRANCH, isa.K_JUMP, isa.K_JUMPREG)
