"""ELF core files for the simulated MIPS machine: process cores and kernel dumps.

Owns the on-disk layout of cores (ELF header, program headers, notes, the
MIPS o32 Linux ``elf_prstatus``/``elf_prpsinfo``/``siginfo_t``/fpregset)
and the single-pass writer. Every binary structure is declared once as a
`Layout` (fields in spec order) that both packs and unpacks, so the tests
read each core back through the same declarations.

The writer makes one forward pass over any binary stream with a ``write``
method (a file, a pipe, a socket's makefile): it computes every offset up
front, writes the headers, the notes and then the segment bytes, pulling
memory page by page, so memory use stays flat whatever the size of the
core. Nothing here seeks, and nothing here knows about sockets or cored.

Process cores follow Linux's layout for a MIPS o32 process, which Debian's
gdb-multiarch reads (see ``notes/kernel-dump-format.md``):

* notes: the dumping (faulting) thread first — NT_PRSTATUS, NT_PRPSINFO,
  NT_SIGINFO, NT_AUXV, NT_FILE, NT_FPREGSET — then NT_PRSTATUS and
  NT_FPREGSET of every other thread (BFD gives a ``.reg2`` to the
  ``.reg`` note before it). ``pr_cursig`` is set in every NT_PRSTATUS so gdb
  prints "Program terminated with signal ...".
* one PT_LOAD per mapped region, in address order. Pages never touched are
  written as zeros (they read as zeros in the guest). **Elided** (p_filesz
  0, as Linux's default ``coredump_filter`` does): the pages of read-only
  file-backed mappings (program text and rodata) except the first page of a
  mapping at file offset 0, which holds the ELF header; gdb reads those
  bytes from the executable. ``full=True`` dumps them too. PROT_NONE
  regions (guard pages) are always elided. The stack region is cut, like a
  Linux stack VMA, to the part the stack has grown into (from its lowest
  touched page up).

Kernel dumps (`write_kernel_dump`) hold the notes the measurements found
gdb-multiarch needs — one NT_PRSTATUS per LWP of the whole machine with a
unique non-zero ``pr_pid = (pid << 16) | lid`` — plus PT_LOADs whose p_vaddr
is the kernel virtual address and p_paddr the physical address. Segments
with the same physical address and size share their file bytes (written
once). More than 65534 program headers use PN_XNUM and section header 0.
Must not touch: the scheduler, signals or the CPU (it only reads them).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Callable, Union

from afgdb.machine.cpu.state import FIR_VALUE
from afgdb.machine.memory import PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from afgdb.machine.cpu.state import CPU
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc


# ------------------------------------------------------------------ layouts
class Layout:
    """A binary structure declared once, in spec order: packs and unpacks.

    Fields are ``(name, format)`` with a `struct` format code; a repeat count
    (``"45I"``) makes a tuple-valued field, ``"16s"`` a bytes field and
    ``"x"`` padding (``name`` ignored). Missing values pack as zeros.
    """

    def __init__(self, name: str, fields: Sequence[tuple[str, str]], endian: str = "<") -> None:
        self.name = name
        self.fields = list(fields)
        self._struct = struct.Struct(endian + "".join(f for _, f in self.fields))
        self.size = self._struct.size
        self._spans: list[tuple[str, int, bool]] = []  # name, item count, tuple-valued
        for fname, fmt in self.fields:
            code = fmt.lstrip("0123456789")
            count = int(fmt[:-len(code)] or 1)
            if code == "x":
                continue
            if code == "s":
                self._spans.append((fname, 1, False))
            else:
                self._spans.append((fname, count, fmt[:-len(code)] != ""))

    def pack(self, **values: Any) -> bytes:
        args: list[Any] = []
        for fname, count, is_tuple in self._spans:
            if fname not in values:
                code = dict(self.fields)[fname][-1]
                args.extend([b"\0"] if code in "sc" else [0] * count)
                continue
            v = values.pop(fname)
            if is_tuple:
                v = list(v)
                if len(v) != count:
                    raise ValueError(f"{self.name}.{fname}: {len(v)} items, need {count}")
                args.extend(v)
            else:
                args.append(v)
        if values:
            raise TypeError(f"{self.name} has no field(s) {', '.join(values)}")
        return self._struct.pack(*args)

    def unpack(self, data: bytes | memoryview, offset: int = 0) -> dict[str, Any]:
        flat = self._struct.unpack_from(data, offset)
        out: dict[str, Any] = {}
        i = 0
        for fname, count, is_tuple in self._spans:
            out[fname] = tuple(flat[i:i + count]) if is_tuple else flat[i]
            i += count
        return out


EHDR = Layout("Elf32_Ehdr", [
    ("e_ident", "16s"), ("e_type", "H"), ("e_machine", "H"), ("e_version", "I"),
    ("e_entry", "I"), ("e_phoff", "I"), ("e_shoff", "I"), ("e_flags", "I"),
    ("e_ehsize", "H"), ("e_phentsize", "H"), ("e_phnum", "H"), ("e_shentsize", "H"),
    ("e_shnum", "H"), ("e_shstrndx", "H"),
])
PHDR = Layout("Elf32_Phdr", [
    ("p_type", "I"), ("p_offset", "I"), ("p_vaddr", "I"), ("p_paddr", "I"),
    ("p_filesz", "I"), ("p_memsz", "I"), ("p_flags", "I"), ("p_align", "I"),
])
SHDR = Layout("Elf32_Shdr", [
    ("sh_name", "I"), ("sh_type", "I"), ("sh_flags", "I"), ("sh_addr", "I"),
    ("sh_offset", "I"), ("sh_size", "I"), ("sh_link", "I"), ("sh_info", "I"),
    ("sh_addralign", "I"), ("sh_entsize", "I"),
])
NHDR = Layout("Elf32_Nhdr", [("n_namesz", "I"), ("n_descsz", "I"), ("n_type", "I")])

NGREG = 45  # MIPS o32 elf_gregset_t
# Word indices in the gregset (arch/mips/include/asm/reg.h, EF_*).
EF_R0, EF_LO, EF_HI, EF_CP0_EPC, EF_CP0_BADVADDR, EF_CP0_STATUS, EF_CP0_CAUSE = \
    6, 38, 39, 40, 41, 42, 43

PRSTATUS = Layout("elf_prstatus (mips o32)", [
    ("si_signo", "i"), ("si_code", "i"), ("si_errno", "i"),  # pr_info
    ("pr_cursig", "h"), ("", "2x"),
    ("pr_sigpend", "I"), ("pr_sighold", "I"),
    ("pr_pid", "i"), ("pr_ppid", "i"), ("pr_pgrp", "i"), ("pr_sid", "i"),
    ("pr_utime", "2i"), ("pr_stime", "2i"), ("pr_cutime", "2i"), ("pr_cstime", "2i"),
    ("pr_reg", f"{NGREG}I"),
    ("pr_fpvalid", "i"),
])
PRPSINFO = Layout("elf_prpsinfo (mips o32)", [
    ("pr_state", "b"), ("pr_sname", "c"), ("pr_zomb", "b"), ("pr_nice", "b"),
    ("pr_flag", "I"), ("pr_uid", "I"), ("pr_gid", "I"),
    ("pr_pid", "i"), ("pr_ppid", "i"), ("pr_pgrp", "i"), ("pr_sid", "i"),
    ("pr_fname", "16s"), ("pr_psargs", "80s"),
])
# MIPS swaps si_code and si_errno relative to other Linux ports.
SIGINFO = Layout("siginfo_t (mips)", [
    ("si_signo", "i"), ("si_code", "i"), ("si_errno", "i"),
    ("si_addr_or_pid", "I"), ("si_uid", "I"), ("", "108x"),
])
# The same siginfo_t with the _sigsys member (SIGSYS with si_code > 0: nospawn, seccomp).
SIGINFO_SYS = Layout("siginfo_t _sigsys (mips)", [
    ("si_signo", "i"), ("si_code", "i"), ("si_errno", "i"),
    ("si_call_addr", "I"), ("si_syscall", "i"), ("si_arch", "I"), ("", "104x"),
])
AUDIT_ARCH_MIPSEL = 0x40000008
FPREGSET = Layout("elf_fpregset_t (mips o32)", [("fpr", "32Q"), ("fcsr", "I"), ("fir", "I")])
NT_FILE_HDR = Layout("NT_FILE header", [("count", "I"), ("page_size", "I")])
NT_FILE_ENTRY = Layout("NT_FILE entry", [("start", "I"), ("end", "I"), ("file_ofs", "I")])

assert PRSTATUS.size == 256 and PRPSINFO.size == 128 and SIGINFO.size == 128
assert SIGINFO_SYS.size == 128
assert FPREGSET.size == 264

ELFCLASS32, ELFDATA2LSB, EV_CURRENT = 1, 1, 1
ET_CORE, EM_MIPS = 4, 8
EF_MIPS_32R2_O32 = 0x70001001  # EF_MIPS_ARCH_32R2 | EF_MIPS_ABI_O32 | EF_MIPS_NOREORDER
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4
PN_XNUM = 0xFFFF
NT_PRSTATUS, NT_FPREGSET, NT_PRPSINFO, NT_AUXV = 1, 2, 3, 6
NT_SIGINFO, NT_FILE = 0x53494749, 0x46494C45
NT_AFGDB_PANIC = 0x100  # "AFGDB" note: the panic message and time of a kernel dump
CORE = b"CORE"

# ExcCode of the Cause register a signal most likely came from (cosmetic, for `info registers`).
_EXC_FOR_SIG = {11: 2, 10: 4, 5: 9, 4: 10, 8: 15, 12: 8, 6: 0, 3: 0}


def _ident() -> bytes:
    return b"\x7fELF" + bytes([ELFCLASS32, ELFDATA2LSB, EV_CURRENT]) + bytes(9)


def note(name: bytes, ntype: int, desc: bytes) -> bytes:
    """One ELF note, name and descriptor padded to 4 bytes."""
    n = name + b"\0"
    return (NHDR.pack(n_namesz=len(n), n_descsz=len(desc), n_type=ntype)
            + n + bytes(-len(n) % 4) + desc + bytes(-len(desc) % 4))


def parse_notes(data: bytes) -> list[tuple[bytes, int, bytes]]:
    """(name, type, desc) of each note in a PT_NOTE segment (for tests and tools)."""
    out = []
    off = 0
    while off + NHDR.size <= len(data):
        h = NHDR.unpack(data, off)
        off += NHDR.size
        name = data[off:off + h["n_namesz"]].rstrip(b"\0")
        off += (h["n_namesz"] + 3) & ~3
        desc = data[off:off + h["n_descsz"]]
        off += (h["n_descsz"] + 3) & ~3
        out.append((name, h["n_type"], desc))
    return out


# ------------------------------------------------------------ thread state
@dataclass
class ThreadRegs:
    """What one NT_PRSTATUS (+ NT_FPREGSET) says about a thread."""

    pr_pid: int
    gregs: Sequence[int]  # NGREG words, gregset order
    fpregs: bytes | None = None  # FPREGSET.size bytes, or None for no NT_FPREGSET
    sigpend: int = 0
    sighold: int = 0
    ppid: int = 0
    pgrp: int = 0
    sid: int = 0
    utime_ns: int = 0


def gregs_of(cpu: CPU, status: int = 0x0000FC13, cause: int = 0,
             badvaddr: int | None = None) -> list[int]:
    """The 45-word o32 gregset of a CPU: r0..r31 at 6..37, lo, hi, epc, badvaddr, status, cause."""
    g = [0] * NGREG
    g[EF_R0:EF_R0 + 32] = [v & 0xFFFFFFFF for v in cpu.r[:32]]
    g[EF_LO] = cpu.r[32] & 0xFFFFFFFF
    g[EF_HI] = cpu.r[33] & 0xFFFFFFFF
    g[EF_CP0_EPC] = cpu.pc & 0xFFFFFFFF
    g[EF_CP0_BADVADDR] = (cpu.badvaddr if badvaddr is None else badvaddr) & 0xFFFFFFFF
    g[EF_CP0_STATUS] = status
    g[EF_CP0_CAUSE] = cause
    return g


def fpregs_of(cpu: CPU) -> bytes:
    """NT_FPREGSET of an FR=0 CPU: slot i's low word is $f(i); even slots carry the pair.

    gdb's mips-linux reader takes each 32-bit FPR from the low half of its
    64-bit slot; putting $f(i+1) in the high half of even slots keeps the
    slot a valid double for readers that take slots as doubles.
    """
    f = cpu.f
    slots = [(f[i] & 0xFFFFFFFF) | (((f[i + 1] & 0xFFFFFFFF) << 32) if i % 2 == 0 else 0)
             for i in range(32)]
    return FPREGSET.pack(fpr=slots, fcsr=cpu.fcsr & 0xFFFFFFFF, fir=FIR_VALUE)


def prstatus(t: ThreadRegs, cursig: int) -> bytes:
    secs, ns = divmod(t.utime_ns, 1_000_000_000)
    return PRSTATUS.pack(
        si_signo=cursig, pr_cursig=cursig, pr_sigpend=t.sigpend & 0xFFFFFFFF,
        pr_sighold=t.sighold & 0xFFFFFFFF, pr_pid=_s32(t.pr_pid), pr_ppid=t.ppid,
        pr_pgrp=t.pgrp, pr_sid=t.sid, pr_utime=(secs, ns // 1000), pr_reg=t.gregs,
        pr_fpvalid=1 if t.fpregs is not None else 0)


def prpsinfo(pid: int, ppid: int, pgrp: int, sid: int, uid: int, gid: int, fname: str,
             psargs: str, state: str = "R") -> bytes:
    return PRPSINFO.pack(
        pr_state={"R": 0, "S": 1, "D": 2, "T": 3, "Z": 4}.get(state, 0),
        pr_sname=state.encode()[:1], pr_uid=uid, pr_gid=gid, pr_pid=pid, pr_ppid=ppid,
        pr_pgrp=pgrp, pr_sid=sid, pr_fname=fname.encode()[:15],
        pr_psargs=psargs.encode(errors="replace")[:79])


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


# ---------------------------------------------------------------- segments
Chunks = Callable[[], Iterable[Union[bytes, bytearray, memoryview]]]


@dataclass
class Segment:
    """One PT_LOAD: memsz bytes at vaddr; the first filesz come from `data`.

    `data` is bytes, or a callable returning an iterable of chunks that
    together hold exactly filesz bytes (read lazily, while writing).
    """

    vaddr: int
    memsz: int
    data: bytes | Chunks = b""
    filesz: int | None = None  # default: memsz
    paddr: int = 0
    flags: int = PF_R | PF_W
    align: int = PAGE_SIZE

    def size_in_file(self) -> int:
        if self.filesz is not None:
            return self.filesz
        if isinstance(self.data, (bytes, bytearray, memoryview)):
            return len(self.data)
        return self.memsz


class CoreTooLarge(Exception):
    """The stream refused more bytes (a size limit was reached); the core is truncated."""


class _Out:
    """Counts, batches and limits writes to the target stream."""

    BATCH = 1 << 18

    def __init__(self, stream: IO[bytes] | Any, limit: int | None) -> None:
        self.stream = stream
        self.limit = limit
        self.pos = 0
        self.pending: list[bytes | bytearray | memoryview] = []
        self.npending = 0
        self.truncated = False

    def write(self, b: bytes | bytearray | memoryview) -> None:
        n = len(b)
        if self.limit is not None and self.pos + n > self.limit:
            b = memoryview(b)[:max(0, self.limit - self.pos)]
            n = len(b)
            self.truncated = True
        self.pending.append(b)
        self.npending += n
        self.pos += n
        if self.npending >= self.BATCH:
            self.flush()
        if self.truncated:
            self.flush()
            raise CoreTooLarge(f"core truncated at {self.limit} bytes")

    def zeros(self, n: int) -> None:
        while n > 0:
            k = min(n, len(_ZEROS))
            self.write(_ZEROS[:k] if k < len(_ZEROS) else _ZEROS)
            n -= k

    def flush(self) -> None:
        if self.pending:
            self.stream.write(b"".join(self.pending))
            self.pending = []
            self.npending = 0


_ZEROS = bytes(1 << 16)


@dataclass
class CoreResult:
    """What a write produced."""

    size: int  # bytes written
    truncated: bool = False  # a size limit cut it short
    phnum: int = 0
    notes: int = 0
    elided: list[tuple[int, int]] = field(default_factory=list)  # regions written without bytes


def write_core(stream: IO[bytes] | Any, notes: bytes, segments: Sequence[Segment], *,
               e_flags: int = EF_MIPS_32R2_O32, limit: int | None = None,
               share_by_paddr: bool = False) -> CoreResult:
    """Write an ET_CORE file in one forward pass: ehdr, [shdr0], phdrs, notes, segment bytes.

    `notes` is the PT_NOTE contents (see `note`). With share_by_paddr,
    segments of equal (paddr, filesz) after the first point at the first
    one's bytes. `limit` truncates the output (RLIMIT_CORE, cored limits).
    """
    phnum = 1 + len(segments)
    xnum = phnum >= PN_XNUM
    off = EHDR.size
    shoff = 0
    if xnum:
        shoff = off
        off += SHDR.size
    phoff = off
    off += phnum * PHDR.size
    note_off = off
    off += len(notes)
    data_off = (off + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    # Lay out segment bytes.
    offsets: list[int] = []
    first_of: dict[tuple[int, int], int] = {}
    owner: list[bool] = []  # does this segment's data get written?
    pos = data_off
    for s in segments:
        n = s.size_in_file()
        key = (s.paddr, n)
        if share_by_paddr and n and key in first_of:
            offsets.append(first_of[key])
            owner.append(False)
            continue
        offsets.append(pos if n else data_off)
        owner.append(bool(n))
        if n:
            if share_by_paddr:
                first_of[key] = pos
            pos += n
    out = _Out(stream, limit)
    result = CoreResult(size=0, phnum=phnum, notes=len(parse_notes(notes)))
    try:
        out.write(EHDR.pack(
            e_ident=_ident(), e_type=ET_CORE, e_machine=EM_MIPS, e_version=EV_CURRENT,
            e_phoff=phoff, e_shoff=shoff, e_flags=e_flags, e_ehsize=EHDR.size,
            e_phentsize=PHDR.size, e_phnum=PN_XNUM if xnum else phnum,
            e_shentsize=SHDR.size if xnum else 0, e_shnum=1 if xnum else 0))
        if xnum:
            out.write(SHDR.pack(sh_info=phnum))
        out.write(PHDR.pack(p_type=PT_NOTE, p_offset=note_off, p_filesz=len(notes), p_align=4))
        for s, o in zip(segments, offsets):
            out.write(PHDR.pack(p_type=PT_LOAD, p_offset=o, p_vaddr=s.vaddr & 0xFFFFFFFF,
                                p_paddr=s.paddr & 0xFFFFFFFF, p_filesz=s.size_in_file(),
                                p_memsz=s.memsz, p_flags=s.flags, p_align=s.align))
        out.write(notes)
        out.zeros(data_off - out.pos)
        for s, own in zip(segments, owner):
            if not own:
                continue
            want = s.size_in_file()
            got = 0
            chunks: Iterable[bytes | bytearray | memoryview]
            chunks = [s.data] if isinstance(s.data, (bytes, bytearray, memoryview)) else s.data()
            for c in chunks:
                if got + len(c) > want:
                    c = memoryview(c)[:want - got]
                out.write(c)
                got += len(c)
                if got == want:
                    break
            if got < want:  # a reader came up short: keep every later offset right
                out.zeros(want - got)
        out.flush()
    except CoreTooLarge:
        result.truncated = True
    result.size = out.pos
    return result


# ---------------------------------------------------------- process cores
def _region_flags(prot: int) -> int:
    return ((PF_R if prot & PROT_READ else 0) | (PF_W if prot & PROT_WRITE else 0)
            | (PF_X if prot & PROT_EXEC else 0))


def _pages(proc: Proc, start: int, end: int) -> Iterator[bytes | memoryview]:
    """The bytes of [start, end) page by page, without allocating untouched pages."""
    frames = proc.aspace.frames
    zero = _ZEROS[:PAGE_SIZE]
    for pn in range(start >> 12, end >> 12):
        fr = frames.get(pn)
        yield zero if fr is None else fr.b


def _ordered_lwps(proc: Proc, first: LWP | None) -> list[LWP]:
    live = proc.live_lwps() or list(proc.lwps)
    if first is not None and first in live:
        live.remove(first)
        live.insert(0, first)
    return live


def process_notes(kernel: Kernel | None, proc: Proc, sig: int,
                  info: tuple[int, int, int] = (0, 0, 0), first: LWP | None = None) -> bytes:
    """The PT_NOTE contents of a process core (Linux order, faulting thread first)."""
    code, addr, sender = info
    lwps = _ordered_lwps(proc, first)
    exc = _EXC_FOR_SIG.get(sig, 0)
    body = bytearray()
    for i, t in enumerate(lwps):
        bad = addr if i == 0 and sig in (10, 11) else None
        status = 0x2000FC13 if t.cpu.fpu_used else 0x0000FC13
        regs = ThreadRegs(
            pr_pid=t.lid, gregs=gregs_of(t.cpu, status, exc << 2 if i == 0 else 0, bad),
            fpregs=fpregs_of(t.cpu), sigpend=t.pending | proc.pending, sighold=t.sigmask,
            ppid=proc.ppid, pgrp=proc.pgid, sid=proc.sid, utime_ns=t.cpu.icount * 10)
        body += note(CORE, NT_PRSTATUS, prstatus(regs, sig))
        if i == 0:
            name = (proc.comm or proc.exe.rsplit("/", 1)[-1])[:15]
            args = b" ".join(proc.argv).decode(errors="replace") or name
            body += note(CORE, NT_PRPSINFO, prpsinfo(
                proc.pid, proc.ppid, proc.pgid, proc.sid, proc.uid, proc.gid, name, args))
            faulted = code > 0 and sig in (4, 5, 7, 8, 10, 11)
            if sig == 12 and code > 0:  # SIGSYS from the kernel: info = (code, call addr, nr)
                body += note(CORE, NT_SIGINFO, SIGINFO_SYS.pack(
                    si_signo=sig, si_code=code, si_call_addr=addr & 0xFFFFFFFF,
                    si_syscall=sender, si_arch=AUDIT_ARCH_MIPSEL))
            else:
                body += note(CORE, NT_SIGINFO, SIGINFO.pack(
                    si_signo=sig, si_code=code,
                    si_addr_or_pid=(addr if faulted else sender) & 0xFFFFFFFF,
                    si_uid=0 if faulted else _sender_uid(kernel, sender)))
            if proc.auxv:
                body += note(CORE, NT_AUXV, proc.auxv)
            body += note(CORE, NT_FILE, nt_file(proc))
        assert regs.fpregs is not None
        body += note(CORE, NT_FPREGSET, regs.fpregs)
    return bytes(body)


def _sender_uid(kernel: Kernel | None, pid: int) -> int:
    if kernel is None or not pid:
        return 0
    p = kernel.proc_of(pid)
    return p.uid if p is not None else 0


def nt_file(proc: Proc) -> bytes:
    """NT_FILE: the file-backed mappings (start, end, offset in pages) and their paths."""
    files = [r for r in proc.aspace.regions if r.kind == "file"]
    body = NT_FILE_HDR.pack(count=len(files), page_size=PAGE_SIZE)
    body += b"".join(NT_FILE_ENTRY.pack(start=r.start, end=r.end, file_ofs=r.offset // PAGE_SIZE)
                     for r in files)
    body += b"".join(r.name.encode() + b"\0" for r in files)
    return body


def process_segments(proc: Proc, full: bool = False
                     ) -> tuple[list[Segment], list[tuple[int, int]]]:
    """One PT_LOAD per region; returns (segments, elided ranges)."""
    segs: list[Segment] = []
    elided: list[tuple[int, int]] = []
    frames = proc.aspace.frames
    for r in sorted(proc.aspace.regions, key=lambda r: r.start):
        start = r.start
        if r.kind == "stack":  # like a Linux stack VMA: only the part the stack grew into
            touched = [pn for pn in range(r.start >> 12, r.end >> 12) if pn in frames]
            start = (min(touched) << 12) if touched else r.end - PAGE_SIZE
        size = r.end - start
        filesz = size
        if not r.prot & PROT_READ:
            filesz = 0
        elif not full and r.kind == "file" and not r.prot & PROT_WRITE:
            filesz = PAGE_SIZE if r.offset == 0 else 0
        if filesz < size:
            elided.append((start + filesz, r.end))

        def chunks(s: int = start, e: int = start + filesz) -> Iterator[bytes | memoryview]:
            return _pages(proc, s, e)

        segs.append(Segment(start, size, chunks, filesz=filesz, flags=_region_flags(r.prot)))
    return segs, elided


def core_limit(proc: Proc) -> int | None:
    """RLIMIT_CORE's soft limit in bytes (None: unlimited; 0: no core)."""
    cur = proc.rlimits.get(4, (None, None))[0]
    if cur is None or cur >= (1 << 63) or cur == 0xFFFFFFFF:
        return None
    return int(cur)


def write_process_core(kernel: Kernel | None, proc: Proc, stream: IO[bytes] | Any,
                       sig: int = 0, info: tuple[int, int, int] = (0, 0, 0),
                       first: LWP | None = None, *, full: bool = False,
                       limit: int | None = None) -> CoreResult:
    """Write a core of proc (alive, not changed) to stream; sig 0 for a live dump.

    The faulting thread (`first`, default the kernel's current LWP when it
    belongs to proc) becomes gdb's current thread. `limit` truncates.
    """
    if first is None and kernel is not None and kernel.current is not None \
            and kernel.current.proc is proc:
        first = kernel.current
    notes = process_notes(kernel, proc, sig, info, first)
    segs, elided = process_segments(proc, full)
    res = write_core(stream, notes, segs, limit=limit)
    res.elided = elided
    return res


# ------------------------------------------------------------ kernel dumps
def write_kernel_dump(stream: IO[bytes] | Any, threads: Sequence[ThreadRegs],
                      segments: Sequence[Segment], *, cursig: int = 0, fname: str = "",
                      psargs: str = "", panic: str = "", time_ns: int = 0,
                      limit: int | None = None) -> CoreResult:
    """A whole-machine dump: one NT_PRSTATUS per LWP (crashing CPU's first), kernel PT_LOADs.

    Thread `pr_pid`s must be unique and non-zero (gdb merges duplicates and
    shows 0 as "process 1"); use `kernel_tid(pid, lid)`. Segments carry
    p_vaddr = kernel VA and p_paddr = PA; those with equal (paddr, size)
    share file bytes. `fname` should be the kernel symbol file's basename.
    """
    seen: set[int] = set()
    for t in threads:
        if t.pr_pid & 0xFFFFFFFF == 0 or t.pr_pid in seen:
            raise ValueError(f"kernel dump thread id {t.pr_pid} is zero or repeated")
        seen.add(t.pr_pid)
    if not threads:
        raise ValueError("a kernel dump needs at least one thread (gdb aborts without .reg)")
    body = bytearray()
    for i, t in enumerate(threads):
        body += note(CORE, NT_PRSTATUS, prstatus(t, cursig))
        if i == 0:
            if fname:
                body += note(CORE, NT_PRPSINFO, prpsinfo(0, 0, 0, 0, 0, 0, fname,
                                                         psargs or fname))
            if panic or time_ns:
                body += note(b"AFGDB", NT_AFGDB_PANIC,
                             struct.pack("<Q", time_ns) + panic.encode() + b"\0")
        if t.fpregs is not None:
            body += note(CORE, NT_FPREGSET, t.fpregs)
    return write_core(stream, bytes(body), segments, limit=limit, share_by_paddr=True)


def kernel_tid(pid: int, lid: int) -> int:
    """The thread id of LWP lid of process pid in a kernel dump (gdb shows `LWP <n>`)."""
    return ((pid & 0x7FFF) << 16) | (lid & 0xFFFF)


__all__ = [
    "Layout", "EHDR", "PHDR", "SHDR", "NHDR", "PRSTATUS", "PRPSINFO", "SIGINFO", "FPREGSET",
    "SIGINFO_SYS",
    "Segment", "ThreadRegs", "CoreResult", "write_core", "write_process_core",
    "write_kernel_dump", "kernel_tid", "gregs_of", "fpregs_of", "parse_notes", "core_limit",
    "process_notes", "process_segments", "note",
]
