"""Kernel memory: the kernel's bookkeeping as bytes in simulated physical memory, for pid 0.

Owns the machine's physical memory image (KSEG0: physical memory
direct-mapped at 0x80000000, KSEG1 the same uncached at 0xa0000000, KSEG2
at 0xc0000000 mapped through ``kseg2_ptes``), the page allocator behind
it, and the copies of struct proc / struct lwp / run queue / softint queues
/ clock / hostname that gdb reads there with the types of
``include/kern.h``.

Layouts are never written down in Python: `SymbolFile` reads every struct
member offset, enum value and symbol address from the DWARF of the shipped
kernel symbol file ``ksym/netbsd.sym`` (built from ``include/kern.h`` by
``ksym/Makefile``) with pyelftools, or, where pyelftools is missing (PyPy
without it), from ``ksym/netbsd.json``, which the same Makefile generates
from the DWARF (``python -m afgdb.machine.kernel.kmem --write-json``) and a
test compares with it. The image's own sections (text, rodata, data) are
copied from the ELF's program headers, so gdb disassembles real code there.

Kept up to date at the moments the kernel changes, not on read: the kernel
calls the hooks of the `KMem` it finds in ``kernel.extensions["kmem"]``:
`KMem.switch` after every scheduling slice or debugger step (the LWP's
registers go to its trapframe; new, exited and reaped processes and LWPs,
exec's new comm, the run queue and the clock are written), `KMem.lwp_state`
when an LWP is made runnable or sleeps, `KMem.sync` when processes or LWPs
are created, stopped or exit outside a slice. `attach` creates one.

System LWPs (of proc0, pid 0): swapper (lwp0: the scheduler), idle/0, one
softint LWP per softint queue (softclk/0, softbio/0, softnet/0, softser/0),
reaper and coredhandoff. Their saved context is a switchframe in the pcb
at the bottom of their kernel stack: switched out in ``mi_switch``, called
from their thread function.

Thread ids (`thread_id`): ``(pid << 16) | lid`` while pid < 0x8000 and
lid < 0x10000 (what kernel dumps use, `afgdb.machine.elfcore.kernel_tid`),
else ``(pid << 32) | lid``: unique and non-zero for every LWP of the
machine, system LWPs being 1..8.

Must not: change any Proc/LWP/Kernel state (it only reads them); import
anything of the debugger side.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from afgdb.machine.cpu.state import FIR_VALUE, HI, LO
from afgdb.machine.kernel.proc import LSRUN, LSSLEEP, LSSTOP, LSZOMB, SACTIVE, SZOMB

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc

KSYM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ksym")
SYMBOL_FILE = os.path.join(KSYM_DIR, "netbsd.sym")
LAYOUT_JSON = os.path.join(KSYM_DIR, "netbsd.json")
#: The path pid 0 gives gdb for its executable (qXfer:exec-file, then vFile).
KERNEL_PATH = "/netbsd"

KSEG0 = 0x80000000
KSEG1 = 0xA0000000
KSEG2 = 0xC0000000
PAGE = 4096
USER_STATUS = 0x20000013  # what a user thread's Status reads as (afgdb.arch.mips)

# The structs and enums of kern.h that the Python side uses.
STRUCTS = ("proc", "lwp", "trapframe", "switchframe", "pcb", "vmspace", "cpu_info",
           "softint", "uvm_physmem", "timespec64", "vclock")

#: (name, flags, thread function, wait message, softint index) of proc0's LWPs.
SYSTEM_LWPS = (
    ("swapper", "", "sched_main", "", -1),
    ("idle/0", "LW_IDLE", "idle_loop", "", -1),
    ("softclk/0", "", "softint_thread", "softint", 0),
    ("softbio/0", "", "softint_thread", "softint", 1),
    ("softnet/0", "", "softint_thread", "softint", 2),
    ("softser/0", "", "softint_thread", "softint", 3),
    ("reaper", "", "reaper_thread", "reaper", -1),
    ("coredhandoff", "", "cored_handoff_thread", "coredq", -1),
)
SOFTINTS = (("softclock", 1), ("softbio", 1), ("softnet", 2), ("softserial", 2))  # spl.py

_LSTAT = {LSRUN: "LSRUN", LSSLEEP: "LSSLEEP", LSSTOP: "LSSTOP", LSZOMB: "LSZOMB"}
_PSTAT = {SACTIVE: "SACTIVE", "stopped": "SSTOP", SZOMB: "SZOMB", "dead": "SDEAD"}


def thread_id(pid: int, lid: int) -> int:
    """pid 0's thread id for LWP lid of process pid (unique, non-zero; see the docstring)."""
    if pid < 0x8000 and lid < 0x10000:
        return (pid << 16) | lid
    return (pid << 32) | lid


# ------------------------------------------------------------------ layouts

@dataclass(frozen=True)
class Field:
    """One scalar or string member, at a byte offset within its outermost struct."""

    offset: int
    size: int  # bytes of one element
    kind: str  # "u" unsigned, "i" signed, "p" pointer, "s" char array
    count: int = 1  # array elements (for "s": the buffer's length)


@dataclass(frozen=True)
class Struct:
    name: str
    size: int
    fields: dict[str, Field]  # dotted paths: "p_list.le_next", "tf_regs"

    def off(self, path: str) -> int:
        return self.fields[path].offset


@dataclass
class SymbolFile:
    """What kmem needs from the kernel symbol file: layouts, enum values, symbols."""

    structs: dict[str, Struct]
    enums: dict[str, int]
    symbols: dict[str, tuple[int, int]]  # name -> (address, size)
    source: str = ""  # "dwarf" or "json"

    def sym(self, name: str) -> int:
        return self.symbols[name][0]

    def to_json(self) -> dict[str, Any]:
        return {
            "structs": {n: {"size": s.size, "fields": {k: [f.offset, f.size, f.kind, f.count]
                                                      for k, f in s.fields.items()}}
                        for n, s in sorted(self.structs.items())},
            "enums": dict(sorted(self.enums.items())),
            "symbols": {k: list(v) for k, v in sorted(self.symbols.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SymbolFile:
        structs = {n: Struct(n, s["size"], {k: Field(*v) for k, v in s["fields"].items()})
                   for n, s in data["structs"].items()}
        return cls(structs, dict(data["enums"]),
                   {k: (v[0], v[1]) for k, v in data["symbols"].items()}, "json")

    @classmethod
    def from_dwarf(cls, path: str = SYMBOL_FILE) -> SymbolFile:
        from elftools.elf.elffile import ELFFile
        from elftools.elf.sections import SymbolTableSection

        with open(path, "rb") as f:
            elf = ELFFile(f)
            symbols: dict[str, tuple[int, int]] = {}
            symtab = elf.get_section_by_name(".symtab")
            assert isinstance(symtab, SymbolTableSection)
            for s in symtab.iter_symbols():
                if s.name and s["st_info"]["type"] in ("STT_OBJECT", "STT_FUNC", "STT_NOTYPE") \
                        and s["st_shndx"] != "SHN_UNDEF":
                    symbols[s.name] = (s["st_value"], s["st_size"])
            structs: dict[str, Struct] = {}
            enums: dict[str, int] = {}
            dwarf = elf.get_dwarf_info()
            for cu in dwarf.iter_CUs():
                for die in cu.get_top_DIE().iter_children():
                    if die.tag == "DW_TAG_structure_type" and "DW_AT_name" in die.attributes \
                            and "DW_AT_byte_size" in die.attributes:
                        name = die.attributes["DW_AT_name"].value.decode()
                        fields: dict[str, Field] = {}
                        _members(die, "", 0, fields)
                        structs[name] = Struct(name, die.attributes["DW_AT_byte_size"].value,
                                               fields)
                    elif die.tag == "DW_TAG_enumeration_type":
                        for e in die.iter_children():
                            if e.tag == "DW_TAG_enumerator":
                                enums[e.attributes["DW_AT_name"].value.decode()] = \
                                    e.attributes["DW_AT_const_value"].value
        return cls(structs, enums, symbols, "dwarf")


def _strip(die: Any) -> Any:
    while die.tag in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type"):
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def _members(sdie: Any, prefix: str, base: int, out: dict[str, Field]) -> None:
    for m in sdie.iter_children():
        if m.tag != "DW_TAG_member":
            continue
        name = prefix + m.attributes["DW_AT_name"].value.decode()
        off = base + m.attributes["DW_AT_data_member_location"].value
        t = _strip(m.get_DIE_from_attribute("DW_AT_type"))
        if t.tag == "DW_TAG_structure_type":
            _members(t, name + ".", off, out)
        elif t.tag == "DW_TAG_array_type":
            elem = _strip(t.get_DIE_from_attribute("DW_AT_type"))
            count = 1
            for sub in t.iter_children():
                if sub.tag == "DW_TAG_subrange_type":
                    count *= sub.attributes["DW_AT_upper_bound"].value + 1
            size = elem.attributes["DW_AT_byte_size"].value
            is_char = elem.tag == "DW_TAG_base_type" and b"char" in \
                elem.attributes["DW_AT_name"].value
            out[name] = Field(off, size, "s" if is_char else _kind(elem), count)
        else:
            out[name] = Field(off, t.attributes["DW_AT_byte_size"].value
                              if "DW_AT_byte_size" in t.attributes else 4, _kind(t))


def _kind(t: Any) -> str:
    if t.tag == "DW_TAG_pointer_type":
        return "p"
    if t.tag == "DW_TAG_base_type":
        enc = t.attributes["DW_AT_encoding"].value
        return "i" if enc in (5, 6) else "u"  # DW_ATE_signed, DW_ATE_signed_char
    return "i" if t.tag == "DW_TAG_enumeration_type" else "u"


@functools.cache
def symbol_file() -> SymbolFile:
    """The layouts, from the DWARF when pyelftools is importable, else from the JSON."""
    try:
        import elftools  # noqa: F401
    except ImportError:
        with open(LAYOUT_JSON) as f:
            return SymbolFile.from_json(json.load(f))
    return SymbolFile.from_dwarf(SYMBOL_FILE)


def image_segments(path: str = SYMBOL_FILE) -> list[tuple[int, bytes, int]]:
    """(vaddr, file bytes, memory size) of each PT_LOAD (no pyelftools needed)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x7fELF\x01\x01":
        raise ValueError(f"{path}: not a little-endian ELF32 file")
    phoff, = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    out = []
    for i in range(phnum):
        p_type, off, vaddr, _pa, filesz, memsz = struct.unpack_from(
            "<IIIIII", data, phoff + i * phentsize)
        if p_type == 1:
            out.append((vaddr, data[off:off + filesz], memsz))
    return out


# --------------------------------------------------------------- phys memory

class PhysMem:
    """Physical memory: sparse 4 KiB pages that read as zeros until written."""

    def __init__(self, npages: int) -> None:
        self.npages = npages
        self.pages: dict[int, bytearray] = {}

    def _page(self, pfn: int) -> bytearray:
        pg = self.pages.get(pfn)
        if pg is None:
            if not 0 <= pfn < self.npages:
                raise ValueError(f"physical address {pfn * PAGE:#x} beyond memory")
            pg = self.pages[pfn] = bytearray(PAGE)
        return pg

    def read(self, pa: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            pfn, off = divmod(pa, PAGE)
            k = min(n, PAGE - off)
            if not 0 <= pfn < self.npages:
                raise ValueError(f"physical address {pa:#x} beyond memory")
            pg = self.pages.get(pfn)
            out += pg[off:off + k] if pg is not None else bytes(k)
            pa += k
            n -= k
        return bytes(out)

    def write(self, pa: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            pfn, off = divmod(pa + pos, PAGE)
            k = min(len(data) - pos, PAGE - off)
            self._page(pfn)[off:off + k] = data[pos:pos + k]
            pos += k


# --------------------------------------------------------------- the kernel

@dataclass
class _LwpRec:
    lwp: LWP | None  # None for system LWPs
    addr: int
    kstack: int
    slot: int
    pid: int
    last: tuple[Any, ...] = ()
    ra: int = 0


@dataclass
class _ProcRec:
    proc: Proc | None
    addr: int
    vm: int
    lwps: dict[int, _LwpRec] = field(default_factory=dict)  # id(LWP) -> record
    last: tuple[Any, ...] = ()
    last_vm: tuple[Any, ...] = ()


class KMem:
    """The kernel's data in simulated memory, and the hooks that keep it current."""

    def __init__(self, kernel: Kernel, sf: SymbolFile | None = None) -> None:
        self.kernel = kernel
        self.sf = sf or symbol_file()
        s = self.sf.structs
        self.L, self.P, self.TF, self.PCB = s["lwp"], s["proc"], s["trapframe"], s["pcb"]
        self.VM = s["vmspace"]
        e = self.sf.enums
        self.npages = self.sf.symbols["vm_physmap"][1]
        self.nkseg2 = self.sf.symbols["kseg2_ptes"][1] // 4
        self.mem = PhysMem(self.npages)
        self.kstack_size = e["KSTACK_PAGES"] * PAGE
        self._map = self.sf.sym("vm_physmap")
        self._ptes = self.sf.sym("kseg2_ptes")
        self._free: list[int] = []
        self._pools: dict[int, list[int]] = {}
        self._slots: list[int] = []
        self._next_slot = 0
        self._procs: dict[int, _ProcRec] = {}  # id(Proc) -> record
        self._runq: tuple[int, ...] = ()
        self._hostname = ""
        self.nswitch = 0
        self.last_lwp = 0
        self._boot()

    # ------------------------------------------------------------ memory
    @staticmethod
    def kseg0(pa: int) -> int:
        return KSEG0 + pa

    def translate(self, va: int) -> int | None:
        """Physical address of kernel virtual address va, or None (unmapped)."""
        if KSEG0 <= va < KSEG1:
            pa = va - KSEG0
        elif KSEG1 <= va < KSEG2:
            pa = va - KSEG1
        elif va >= KSEG2:
            i = (va - KSEG2) // PAGE
            if i >= self.nkseg2:
                return None
            pte = self.r32(self._ptes + 4 * i)
            if not pte & 1:
                return None
            pa = (pte & ~(PAGE - 1)) + (va & (PAGE - 1))
        else:
            return None
        return pa if pa < self.npages * PAGE else None

    def read(self, va: int, n: int) -> bytes:
        """Bytes at kernel virtual address va; shorter if memory ends or is unmapped."""
        out = bytearray()
        while n > 0:
            k = min(n, PAGE - (va & (PAGE - 1)))
            pa = self.translate(va)
            if pa is None:
                break
            out += self.mem.read(pa, k)
            va = (va + k) & 0xFFFFFFFF
            n -= k
            if va == 0:
                break
        return bytes(out)

    def write(self, va: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            a = va + pos
            k = min(len(data) - pos, PAGE - (a & (PAGE - 1)))
            pa = self.translate(a)
            if pa is None:
                raise ValueError(f"kmem: write to unmapped kernel address {a:#x}")
            self.mem.write(pa, data[pos:pos + k])
            pos += k

    def r32(self, va: int) -> int:
        pa = va - KSEG0 if KSEG0 <= va < KSEG1 else self.translate(va)
        assert pa is not None
        v: int = struct.unpack("<I", self.mem.read(pa, 4))[0]
        return v

    def w32(self, va: int, v: int) -> None:
        self.write(va, struct.pack("<I", v & 0xFFFFFFFF))

    def put(self, base: int, st: Struct, values: dict[str, Any]) -> None:
        """Write members of st (dotted paths) at base, each encoded as DWARF says."""
        for path, v in values.items():
            f = st.fields[path]
            self.write(base + f.offset, _encode(f, v))

    def get(self, base: int, st: Struct, path: str) -> Any:
        f = st.fields[path]
        raw = self.read(base + f.offset, f.size * f.count)
        if f.kind == "s":
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        vals = [int.from_bytes(raw[i:i + f.size], "little", signed=f.kind == "i")
                for i in range(0, len(raw), f.size)]
        return vals if f.count > 1 else vals[0]

    # ---------------------------------------------------------- allocator
    def _set_page(self, pfn: int, use: str) -> None:
        self.mem.write(self._map - KSEG0 + pfn, bytes([self.sf.enums[use]]))

    def alloc_page(self, use: str) -> int:
        """A zeroed physical page for use (an enum page_use name); returns its pfn."""
        if not self._free:
            raise MemoryError("kmem: out of physical memory")
        pfn = self._free.pop()
        self.mem.pages.pop(pfn, None)
        self._set_page(pfn, use)
        self._counts()
        return pfn

    def free_page(self, pfn: int) -> None:
        self.mem.pages.pop(pfn, None)
        self._set_page(pfn, "PG_FREE")
        self._free.append(pfn)
        self._counts()

    def _counts(self) -> None:
        m = self.mem.read(self._map - KSEG0, self.npages)
        e = self.sf.enums
        self.put(self.sf.sym("physmem"), self.sf.structs["uvm_physmem"], {
            "pm_free": m.count(e["PG_FREE"]), "pm_pool": m.count(e["PG_POOL"]),
            "pm_kstack": m.count(e["PG_KSTACK"])})

    def alloc(self, size: int) -> int:
        """A zeroed object of size bytes from its pool (never straddles a page)."""
        size = (size + 7) & ~7
        free = self._pools.setdefault(size, [])
        if not free:
            base = KSEG0 + self.alloc_page("PG_POOL") * PAGE
            free.extend(reversed(range(base, base + PAGE - size + 1, size)))
        a = free.pop()
        self.write(a, bytes(size))
        return a

    def release(self, addr: int, size: int) -> None:
        self._pools[(size + 7) & ~7].append(addr)

    def alloc_kstack(self) -> tuple[int, int]:
        """(lowest KSEG2 address, slot) of a new kernel stack after an unmapped guard page."""
        per = self.kstack_size // PAGE + 1
        if self._slots:
            slot = self._slots.pop()
        else:
            slot = self._next_slot
            if (slot + 1) * per > self.nkseg2:
                raise MemoryError("kmem: out of KSEG2 for kernel stacks")
            self._next_slot += 1
        first = slot * per + 1
        for i in range(per - 1):
            pfn = self.alloc_page("PG_KSTACK")
            self.w32(self._ptes + 4 * (first + i), pfn * PAGE | 1)
        return KSEG2 + first * PAGE, slot

    def free_kstack(self, slot: int) -> None:
        per = self.kstack_size // PAGE + 1
        for i in range(1, per):
            pte = self._ptes + 4 * (slot * per + i)
            self.free_page(self.r32(pte) // PAGE)
            self.w32(pte, 0)
        self._slots.append(slot)

    # --------------------------------------------------------------- boot
    def _boot(self) -> None:
        sf, k = self.sf, self.kernel
        e = sf.enums
        end = sf.sym("kernel_end") - KSEG0
        for va, data, _memsz in image_segments():
            self.mem.write(va - KSEG0, data)
        first = sf.sym("kernel_text") - KSEG0
        for pfn in range(self.npages):
            use = "PG_RESERVED" if pfn < first // PAGE else \
                "PG_KIMAGE" if pfn < end // PAGE else "PG_FREE"
            if use != "PG_FREE":
                self._set_page(pfn, use)
        self._free = list(range(self.npages - 1, end // PAGE - 1, -1))
        self.put(sf.sym("physmem"), sf.structs["uvm_physmem"], {
            "pm_start": end, "pm_end": self.npages * PAGE, "pm_npages": self.npages,
            "pm_map": sf.sym("vm_physmap")})
        self._counts()
        from afgdb.machine.kernel.kernel import BOOT_EPOCH_NS, NS_PER_INSN

        boot = BOOT_EPOCH_NS - k.clock_ns
        self.put(sf.sym("boottime"), sf.structs["timespec64"],
                 {"tv_sec": boot // 10**9, "tv_nsec": boot % 10**9})
        self.put(sf.sym("vclock"), sf.structs["vclock"], {"vc_hz": 10**9 // NS_PER_INSN})
        ci = sf.sym("cpu_info_store")
        cst = sf.structs["cpu_info"]
        rq = ci + cst.off("ci_schedstate.spc_runq.tqh_first")
        self.put(ci, cst, {"ci_curlwp": sf.sym("lwp0"),
                           "ci_schedstate.spc_runq.tqh_last": rq})
        # proc0 and its system LWPs.
        p0 = sf.sym("proc0")
        rec = _ProcRec(None, p0, self.alloc(self.VM.size))
        self._procs[0] = rec
        self._list_insert(sf.sym("allproc"), p0, self.P.off("p_list.le_next"))
        self.put(p0, self.P, {"p_stat": e["SACTIVE"], "p_comm": "system",
                              "p_vmspace": rec.vm, "p_nlwps": len(SYSTEM_LWPS)})
        self.put(rec.vm, self.VM, {"vm_refcnt": 1})
        sist = sf.structs["softint"]
        for lid, (name, flag, fn, wmesg, si) in reversed(list(enumerate(SYSTEM_LWPS, 1))):
            addr = sf.sym("lwp0") if lid == 1 else self.alloc(self.L.size)
            kstack, slot = self.alloc_kstack()
            lr = _LwpRec(None, addr, kstack, slot, 0, ra=self._resume_in(fn))
            rec.lwps[-lid] = lr
            self._lwp_link(rec, lr)
            stat = "LSONPROC" if lid == 1 else "LSRUN" if flag == "LW_IDLE" else "LSSLEEP"
            self.put(addr, self.L, {
                "l_lid": lid, "l_stat": e[stat], "l_tid": thread_id(0, lid),
                "l_flag": e["LW_SYSTEM"] | (e[flag] if flag else 0)
                | (e["LW_SINTR"] if stat == "LSSLEEP" else 0),
                "l_wmesg": wmesg, "l_syscall": -1, "l_name": name, "l_kstack": kstack,
                "l_addr": kstack})
            sp = kstack + self.kstack_size - 64
            self.put(kstack, self.PCB, {"pcb_context.sf_sp": sp, "pcb_context.sf_ra": lr.ra})
            if flag == "LW_IDLE":
                self.put(ci, cst, {"ci_idlelwp": addr})
            if si >= 0:
                sname, ipl = SOFTINTS[si]
                base = sf.sym("softints") + si * sist.size
                self.put(base, sist, {"si_name": sname, "si_ipl": ipl, "si_lwp": addr})
                self.put(kstack, self.PCB, {"pcb_context.sf_s0": base})
        self.sync()

    def _resume_in(self, fn: str) -> int:
        """The return address of fn's first `jal mi_switch` (its delay slot included)."""
        start, size = self.sf.symbols[fn]
        jal = 0x0C000000 | ((self.sf.sym("mi_switch") >> 2) & 0x3FFFFFF)
        code = self.read(start, size)
        for i in range(0, len(code), 4):
            if struct.unpack_from("<I", code, i)[0] == jal:
                return start + i + 8
        return start

    # -------------------------------------------------------------- lists
    def _list_insert(self, head: int, elm: int, off: int) -> None:
        first = self.r32(head)
        self.w32(elm + off, first)
        if first:
            self.w32(first + off + 4, elm + off)
        self.w32(head, elm)
        self.w32(elm + off + 4, head)

    def _list_remove(self, elm: int, off: int) -> None:
        nxt, prev = self.r32(elm + off), self.r32(elm + off + 4)
        if nxt:
            self.w32(nxt + off + 4, prev)
        self.w32(prev, nxt)
        self.w32(elm + off, 0)
        self.w32(elm + off + 4, 0)

    def _lwp_link(self, rec: _ProcRec, lr: _LwpRec) -> None:
        self._list_insert(self.sf.sym("alllwp"), lr.addr, self.L.off("l_list.le_next"))
        self._list_insert(rec.addr + self.P.off("p_lwps.lh_first"), lr.addr,
                          self.L.off("l_sibling.le_next"))
        self.put(lr.addr, self.L, {"l_proc": rec.addr})

    # -------------------------------------------------------------- hooks
    def switch(self, t: LWP) -> None:
        """t left the CPU (end of a slice or a debugger step): registers, clock, queues."""
        self.nswitch += 1
        rec = self._procs.get(id(t.proc))
        lr = rec.lwps.get(id(t)) if rec is not None else None
        if lr is not None:
            self.last_lwp = lr.addr
            self._write_frame(lr, t)
        self.sync()

    def lwp_state(self, t: LWP) -> None:
        """t was made runnable or went to sleep."""
        rec = self._procs.get(id(t.proc))
        lr = rec.lwps.get(id(t)) if rec is not None else None
        if lr is not None:
            self._write_lwp(lr, t)
        self._write_runq()

    def lwp_changed(self, t: LWP) -> None:
        """Something else of t changed (registers written by a debugger, exec)."""
        rec = self._procs.get(id(t.proc))
        lr = rec.lwps.get(id(t)) if rec is not None else None
        if lr is not None:
            self._write_frame(lr, t)
        self.sync()

    def sync(self) -> None:
        """Bring the structs in line with the kernel: new/gone procs and LWPs, fields."""
        k = self.kernel
        present: dict[int, Proc] = {}
        for p in k.procs.values():
            if k.procs.get(p.pid) is p:
                present[id(p)] = p
        for key in [key for key, r in self._procs.items() if key and key not in present]:
            self._drop_proc(key)
        for key, p in present.items():
            rec = self._procs.get(key)
            if rec is None:
                rec = self._new_proc(p)
            live: dict[int, LWP] = {id(t): t for t in p.lwps if t.state != LSZOMB}
            for lk in [lk for lk in rec.lwps if lk not in live]:
                self._drop_lwp(rec, lk)
            for lk, t in live.items():
                lr = rec.lwps.get(lk)
                if lr is None:
                    lr = self._new_lwp(rec, t)
                self._write_lwp(lr, t)
            self._write_proc(rec, p)
        self._write_runq()
        self._write_globals()

    # ------------------------------------------------------------ writers
    def _new_proc(self, p: Proc) -> _ProcRec:
        rec = _ProcRec(p, self.alloc(self.P.size), self.alloc(self.VM.size))
        self._procs[id(p)] = rec
        self._list_insert(self.sf.sym("allproc"), rec.addr, self.P.off("p_list.le_next"))
        self.put(rec.addr, self.P, {"p_vmspace": rec.vm})
        self.put(rec.vm, self.VM, {"vm_refcnt": 1})
        return rec

    def _drop_proc(self, key: int) -> None:
        rec = self._procs.pop(key)
        for lk in list(rec.lwps):
            self._drop_lwp(rec, lk)
        self._list_remove(rec.addr, self.P.off("p_list.le_next"))
        self.release(rec.addr, self.P.size)
        self.release(rec.vm, self.VM.size)

    def _new_lwp(self, rec: _ProcRec, t: LWP) -> _LwpRec:
        kstack, slot = self.alloc_kstack()
        lr = _LwpRec(t, self.alloc(self.L.size), kstack, slot, t.proc.pid)
        rec.lwps[id(t)] = lr
        self._lwp_link(rec, lr)
        utf = kstack + self.kstack_size - ((self.TF.size + 7) & ~7)
        self.put(lr.addr, self.L, {"l_kstack": kstack, "l_addr": kstack,
                                   "l_md.md_utf": utf})
        self._write_frame(lr, t)
        return lr

    def _drop_lwp(self, rec: _ProcRec, lk: int) -> None:
        lr = rec.lwps.pop(lk)
        off = self.L.off("l_list.le_next")
        self._list_remove(lr.addr, off)
        self._list_remove(lr.addr, self.L.off("l_sibling.le_next"))
        self.free_kstack(lr.slot)
        self.release(lr.addr, self.L.size)

    def _write_frame(self, lr: _LwpRec, t: LWP) -> None:
        c = t.cpu
        regs = list(c.r[:32]) + [USER_STATUS, c.r[LO], c.r[HI], c.badvaddr, 0, c.pc]
        regs += list(c.f[:32]) + [c.fcsr, FIR_VALUE]
        utf = lr.kstack + self.kstack_size - ((self.TF.size + 7) & ~7)
        self.write(utf, struct.pack(f"<{len(regs)}I", *[v & 0xFFFFFFFF for v in regs]))

    def _write_lwp(self, lr: _LwpRec, t: LWP) -> None:
        e = self.sf.enums
        pid = t.proc.pid
        wchan, wmesg = self._wchan(t.wchan) if t.state == LSSLEEP else (0, "")
        mask = [(t.sigmask >> (32 * i)) & 0xFFFFFFFF for i in range(4)]
        pend = [(t.pending >> (32 * i)) & 0xFFFFFFFF for i in range(4)]
        now = (t.lid, pid, t.state, wchan, wmesg, t.wakeup_at, t.in_syscall, mask, pend,
               t.name, t.cpu.icount)
        if now == lr.last:
            return
        lr.last = now
        self.put(lr.addr, self.L, {
            "l_lid": t.lid, "l_tid": thread_id(pid, t.lid),
            "l_stat": e[_LSTAT.get(t.state, "LSRUN")],
            "l_flag": e["LW_SINTR"] if t.state == LSSLEEP else 0,
            "l_wchan": wchan, "l_wmesg": wmesg, "l_wakeup": t.wakeup_at or 0,
            "l_syscall": t.in_syscall, "l_sigmask": mask, "l_sigpend": pend,
            "l_icount": t.cpu.icount, "l_name": t.name})

    def _wchan(self, w: object) -> tuple[int, str]:
        """(address of the struct it names, message) of a wait channel."""
        if isinstance(w, tuple) and w and isinstance(w[0], str):
            msg = w[0]
            if len(w) > 1 and isinstance(w[1], int):
                target = self.kernel.procs.get(w[1])
                rec = self._procs.get(id(target)) if target is not None else None
                if rec is not None:
                    return rec.addr, msg
            return 0, msg
        if isinstance(w, str):
            return 0, w
        return 0, type(w).__name__.lower()

    def _write_proc(self, rec: _ProcRec, p: Proc) -> None:
        e = self.sf.enums
        parent = self.kernel.proc_of(p.ppid)
        prec = self._procs.get(id(parent)) if parent is not None else None
        nl = len(p.live_lwps())
        now = (p.pid, p.ppid, p.pgid, p.sid, p.state, p.uid, p.euid, p.gid, p.egid, nl,
               p.exit_status, p.nospawn, p.comm, prec.addr if prec else 0, p.start_ns)
        if now != rec.last:
            rec.last = now
            self.put(rec.addr, self.P, {
                "p_pid": p.pid, "p_ppid": p.ppid, "p_pgid": p.pgid, "p_sid": p.sid,
                "p_stat": e[_PSTAT.get(p.state, "SACTIVE")], "p_uid": p.uid,
                "p_euid": p.euid, "p_gid": p.gid, "p_egid": p.egid, "p_nlwps": nl,
                "p_xstat": p.exit_status, "p_nospawn": p.nospawn, "p_comm": p.comm,
                "p_pptr": prec.addr if prec else 0, "p_start": p.start_ns})
        a = p.aspace
        vm = (len(a.frames), len(a.regions), a.brk_start, a.brk, a.mmap_base)
        if vm != rec.last_vm:
            rec.last_vm = vm
            self.put(rec.vm, self.VM, {"vm_rssize": vm[0], "vm_nregions": vm[1],
                                       "vm_brk_start": vm[2], "vm_brk": vm[3],
                                       "vm_mmap_base": vm[4]})

    def _write_runq(self) -> None:
        k = self.kernel
        addrs: list[int] = []
        for t in k.runq:
            rec = self._procs.get(id(t.proc))
            lr = rec.lwps.get(id(t)) if rec is not None else None
            if lr is not None and t.state == LSRUN and lr.addr not in addrs:
                addrs.append(lr.addr)
        now = tuple(addrs)
        if now == self._runq:
            return
        L = self.L
        nxt, prev = L.off("l_runq.tqe_next"), L.off("l_runq.tqe_prev")
        for a in self._runq:
            if a not in now and self._owned(a):
                self.w32(a + nxt, 0)
                self.w32(a + prev, 0)
        ci = self.sf.sym("cpu_info_store")
        cst = self.sf.structs["cpu_info"]
        head = ci + cst.off("ci_schedstate.spc_runq.tqh_first")
        last = head
        for a in now:
            self.w32(last, a)
            self.w32(a + prev, last)
            last = a + nxt
        self.w32(last, 0)
        self.w32(ci + cst.off("ci_schedstate.spc_runq.tqh_last"), last)
        self.w32(ci + cst.off("ci_schedstate.spc_count"), len(now))
        self._runq = now

    def _owned(self, addr: int) -> bool:
        return any(lr.addr == addr for r in self._procs.values() for lr in r.lwps.values())

    def _write_globals(self) -> None:
        k, sf = self.kernel, self.sf
        self.put(sf.sym("vclock"), sf.structs["vclock"], {
            "vc_ns": k.clock_ns, "vc_insns": k.insns, "vc_idle_ns": k.idle_ns})
        self.put(sf.sym("cpu_info_store"), sf.structs["cpu_info"], {
            "ci_schedstate.spc_nswitch": self.nswitch,
            "ci_schedstate.spc_lastlwp": self.last_lwp})
        nl = sum(len(r.lwps) for r in self._procs.values())
        self.write(sf.sym("nprocs"), struct.pack("<ii", len(self._procs), nl))
        if k.hostname != self._hostname:
            self._hostname = k.hostname
            size = sf.symbols["hostname"][1]
            self.write(sf.sym("hostname"), k.hostname.encode()[:size - 1].ljust(size, b"\0"))

    # ------------------------------------------------------------ readers
    def lwp_addrs(self) -> Iterator[int]:
        """Every LWP on alllwp, walked in memory."""
        a = self.r32(self.sf.sym("alllwp"))
        off = self.L.off("l_list.le_next")
        while a:
            yield a
            a = self.r32(a + off)

    def proc_of_lwp(self, addr: int) -> Proc | None:
        """The kernel's Proc behind a struct lwp (for reads of its user memory)."""
        for r in self._procs.values():
            for lr in r.lwps.values():
                if lr.addr == addr:
                    return r.proc
        return None


def _encode(f: Field, v: Any) -> bytes:
    if f.kind == "s":
        raw = v.encode("utf-8", "replace") if isinstance(v, str) else bytes(v)
        return raw[:f.count - 1].ljust(f.count, b"\0")
    vals = v if isinstance(v, (list, tuple)) else [v]
    mask = (1 << (8 * f.size)) - 1
    return b"".join((int(x) & mask).to_bytes(f.size, "little") for x in vals)


def attach(kernel: Kernel) -> KMem:
    """The kernel's memory image, created once and hooked into the kernel."""
    km = kernel.extensions.get("kmem")
    if isinstance(km, KMem):
        return km
    km = KMem(kernel)
    kernel.extensions["kmem"] = km
    kernel.on_proc_exit.append(lambda p: km.sync())
    return km


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m afgdb.machine.kernel.kmem",
                                 description="Kernel symbol file layouts (ksym/netbsd.sym).")
    ap.add_argument("--write-json", action="store_true",
                    help=f"write {os.path.relpath(LAYOUT_JSON)} from the DWARF")
    ns = ap.parse_args(argv)
    sf = SymbolFile.from_dwarf(SYMBOL_FILE)
    text = json.dumps(sf.to_json(), indent=1, sort_keys=True) + "\n"
    if ns.write_json:
        with open(LAYOUT_JSON, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
