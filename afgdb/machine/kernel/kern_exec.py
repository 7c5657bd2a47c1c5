"""execve: check and load a static MIPS ELF, build the initial stack (NetBSD's kern_exec.c).

Static ET_EXEC and static-pie (ET_DYN without PT_INTERP) mipsel o32
programs are accepted; anything else is refused with the errno Linux gives
and a message saying why.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.memory import (
    PAGE_MASK,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
)

PT_LOAD = 1
PT_INTERP = 3
PT_PHDR = 6
PT_GNU_STACK = 0x6474E551
EM_MIPS = 8
ET_EXEC = 2
ET_DYN = 3
PIE_BASE = 0x00400000

STACK_TOP = 0x7FFF0000
STACK_SIZE = 8 << 20

# auxv tags
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31


class ExecFormatError(SyscallError):
    """Not a program this machine runs (ENOEXEC), with the reason."""

    def __init__(self, why: str) -> None:
        super().__init__(E.ENOEXEC, why)
        self.why = why


@dataclass
class Segment:
    vaddr: int
    memsz: int
    filesz: int
    offset: int
    prot: int


@dataclass
class Image:
    entry: int
    phdr: int
    phnum: int
    phent: int
    segments: list[Segment]
    brk: int
    base: int
    exec_stack: bool = False  # PT_GNU_STACK asks for an executable stack (RWE), as Linux maps it


def parse(data: bytes) -> Image:
    """Check an ELF file and describe how to load it; ExecFormatError says what is wrong."""
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise ExecFormatError("not an ELF file")
    if data[4] != 1:
        raise ExecFormatError("not a 32-bit ELF file (ELFCLASS32 needed)")
    if data[5] != 1:
        raise ExecFormatError("not little-endian (mipsel needed)")
    (etype, machine, _ver, entry, phoff, _shoff, flags, _ehsize, phent, phnum,
     *_rest) = struct.unpack_from("<HHIIIIIHHHHHH", data, 16)
    if machine != EM_MIPS:
        raise ExecFormatError(f"e_machine is {machine}, not MIPS (8)")
    if etype not in (ET_EXEC, ET_DYN):
        raise ExecFormatError(f"e_type {etype} is not an executable")
    if flags & 0x20:  # EF_MIPS_64BIT_WHATEVER / not o32 -> ABI checks below
        pass
    abi = flags & 0x0000F000
    if abi not in (0, 0x1000):  # EF_MIPS_ABI_O32 or unset
        raise ExecFormatError("not an o32 program")
    if phent != 32 or phnum == 0 or phoff + phnum * 32 > len(data):
        raise ExecFormatError("bad or truncated program headers")
    segs: list[Segment] = []
    phdr_addr = 0
    base = 0
    phdrs = [struct.unpack_from("<IIIIIIII", data, phoff + i * 32) for i in range(phnum)]
    if any(p[0] == PT_INTERP for p in phdrs):
        raise ExecFormatError("dynamically linked (has PT_INTERP); only static programs run")
    if etype == ET_DYN:
        base = PIE_BASE
    exec_stack = False
    for ptype, off, vaddr, _paddr, filesz, memsz, pflags, _align in phdrs:
        if ptype == PT_GNU_STACK:
            exec_stack = bool(pflags & 1)
        if ptype == PT_PHDR:
            phdr_addr = vaddr + base
        if ptype != PT_LOAD or memsz == 0:
            continue
        if filesz > memsz or off + filesz > len(data):
            raise ExecFormatError("truncated file: a segment extends past its end")
        va = vaddr + base
        if va + memsz > STACK_TOP - STACK_SIZE or va < 0x1000:
            raise ExecFormatError(f"segment at {va:#x} is outside the user address space")
        prot = (PROT_READ if pflags & 4 else 0) | (PROT_WRITE if pflags & 2 else 0) \
            | (PROT_EXEC if pflags & 1 else 0)
        segs.append(Segment(va, memsz, filesz, off, prot))
    if not segs:
        raise ExecFormatError("no loadable segments")
    segs.sort(key=lambda s: s.vaddr)
    for a, b in zip(segs, segs[1:]):
        if a.vaddr + a.memsz > b.vaddr:
            raise ExecFormatError("overlapping segments")
    if not phdr_addr:
        first = segs[0]
        if first.offset <= phoff < first.offset + first.filesz:
            phdr_addr = first.vaddr + phoff - first.offset
    end = max(s.vaddr + s.memsz for s in segs)
    return Image(entry + base, phdr_addr, phnum, phent, segs, (end + PAGE_MASK) & ~PAGE_MASK, base,
                 exec_stack)


def load(aspace: AddressSpace, data: bytes, img: Image, name: str) -> None:
    """Map the image's segments into a fresh address space."""
    for s in img.segments:
        start = s.vaddr & ~PAGE_MASK
        end = (s.vaddr + s.memsz + PAGE_MASK) & ~PAGE_MASK
        aspace.map(start, end - start, s.prot, name=name, kind="file", offset=s.offset)
        if s.filesz:
            aspace.write(s.vaddr, data[s.offset:s.offset + s.filesz], check=False)
    aspace.brk_start = aspace.brk = img.brk
    aspace.map(img.brk, 0, PROT_READ | PROT_WRITE, name="[heap]", kind="brk")


def build_stack(aspace: AddressSpace, img: Image, argv: list[bytes], envp: list[bytes],
                execfn: bytes, creds: tuple[int, int, int, int], random16: bytes
                ) -> tuple[int, bytes]:
    """Map the stack and lay out argc/argv/envp/auxv as Linux does; returns (sp, auxv bytes)."""
    aspace.map(STACK_TOP - STACK_SIZE, STACK_SIZE,
               PROT_READ | PROT_WRITE | (PROT_EXEC if img.exec_stack else 0), name="[stack]",
               kind="stack")
    blob = bytearray()
    sp = STACK_TOP - 16  # a little headroom like Linux's random offset (fixed: deterministic)

    def push_bytes(b: bytes) -> int:
        nonlocal sp
        sp -= len(b)
        blob[:0] = b
        return sp

    execfn_addr = push_bytes(execfn + b"\0")
    env_addrs = [push_bytes(e + b"\0") for e in reversed(envp)][::-1]
    arg_addrs = [push_bytes(a + b"\0") for a in reversed(argv)][::-1]
    platform_addr = push_bytes(b"mips\0")
    random_addr = push_bytes(random16)
    pad = sp & 15
    push_bytes(bytes(pad))
    uid, euid, gid, egid = creds
    aux = [  # Linux's order (fs/binfmt_elf.c create_elf_tables), as qemu-user also gives
        (AT_PHDR, img.phdr), (AT_PHENT, img.phent), (AT_PHNUM, img.phnum),
        (AT_PAGESZ, PAGE_SIZE), (AT_BASE, 0), (AT_FLAGS, 0), (AT_ENTRY, img.entry),
        (AT_UID, uid), (AT_EUID, euid), (AT_GID, gid), (AT_EGID, egid), (AT_HWCAP, 0),
        (AT_CLKTCK, 100), (AT_RANDOM, random_addr), (AT_SECURE, 0), (AT_EXECFN, execfn_addr),
        (AT_PLATFORM, platform_addr), (AT_NULL, 0),
    ]
    auxv = struct.pack(f"<{2 * len(aux)}I", *[x for pair in aux for x in pair])
    words = [len(argv)] + arg_addrs + [0] + env_addrs + [0]
    table = struct.pack(f"<{len(words)}I", *words) + auxv
    sp -= len(table)
    sp &= ~15
    # One write from sp up: the table, the alignment gap (zeros, as the new stack is
    # already there) and the strings.
    gap = bytes(STACK_TOP - 16 - len(blob) - sp - len(table))
    aspace.write(sp, table + gap + blob, check=False)
    return sp, auxv
