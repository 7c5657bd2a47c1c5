"""Guest address spaces: 4 KiB pages, permissions, regions, copy-on-write.

Owns the page frames of every process and the fast lookup tables that
translated code indexes directly (``R32``/``W32``, ``R8``/``W8``,
``R16``/``W16``: page address -> view of the frame). A page is present in a
fast table only while an access of that kind needs no bookkeeping; every
other access (first touch, copy-on-write, a write to a page holding
translated code, a watched page, a fault) misses there and takes the slow
path in this module. Knows nothing of the CPU or of system calls.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from dataclasses import dataclass, field
from typing import Callable

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
USER_TOP = 0x80000000

PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4

if sys.byteorder != "little":  # pragma: no cover - the frames are host-order word arrays
    raise ImportError("afgdb's memory model needs a little-endian host")

_ZERO_PAGE = bytes(PAGE_SIZE)

# Under PyPy the word tables are also kept as two-level lists (directory of 1024
# lists of 1024 pages): its JIT indexes a list in a few machine instructions but
# calls out for every dict lookup. CPython is faster with the dicts.
PAGE_LISTS = sys.implementation.name == "pypy"
# The Python subscript that finds address a's page in R32/W32 (see PAGE_LISTS).
# The dicts are keyed by page address, so code that masks an address with
# 0xFFFFF003 (or 0xFFFFF001) finds no page for a misaligned one: the alignment
# check costs nothing on the fast path.
PAGE_INDEX = "[a >> 22][(a >> 12) & 1023]" if PAGE_LISTS else "[a & 0xFFFFF000]"
_NO_PAGE: array[int] = array("I")  # indexing it raises IndexError: the slow path
_NO_TABLE: list[array[int]] = [_NO_PAGE] * 1024  # shared; never written


def page_directory() -> list[list[array[int]]]:
    return [_NO_TABLE] * 1024


def _dir_set(d: list[list[array[int]]], pn: int, page: array[int]) -> None:
    t = d[pn >> 10]
    if t is _NO_TABLE:
        t = d[pn >> 10] = list(_NO_TABLE)
    t[pn & 1023] = page


def _dir_reset(d: list[list[array[int]]]) -> None:
    """Empty a page directory in place (no new 1024-entry list: one is made per fork and
    exec, and PyPy pays for each in its garbage collector)."""
    for i, t in enumerate(d):
        if t is not _NO_TABLE:
            d[i] = _NO_TABLE


def _dir_clear(d: list[list[array[int]]], pn: int) -> None:
    t = d[pn >> 10]
    if t is not _NO_TABLE:
        t[pn & 1023] = _NO_PAGE


class MemFault(Exception):
    """A guest access that the address space cannot satisfy (becomes SIGSEGV/SIGBUS)."""

    def __init__(self, addr: int, write: bool, mapped: bool) -> None:
        super().__init__(f"{'write' if write else 'read'} fault at {addr:#010x}")
        self.addr = addr
        self.write = write
        self.mapped = mapped  # True: protection fault (SEGV_ACCERR); False: SEGV_MAPERR


class OutOfMemory(MemFault):
    """A page was needed and the machine's page pool is empty (the kernel's OOM case)."""


class PagePool:
    """The machine-wide budget of page frames; a frame shared copy-on-write counts once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # frames
        self.used = 0
        self.peak = 0

    def take(self, addr: int, write: bool) -> None:
        if self.used >= self.limit:
            raise OutOfMemory(addr, write, True)
        self.used += 1
        if self.used > self.peak:
            self.peak = self.used


class Frame:
    """One physical page: a word array with byte and halfword views of the same storage."""

    __slots__ = ("w", "h", "b", "refs", "pool")

    def __init__(self, data: bytes = _ZERO_PAGE, pool: PagePool | None = None) -> None:
        self.w = array("I", data)
        mv = memoryview(self.w)
        self.h = mv.cast("B").cast("H")
        self.b = mv.cast("B")
        self.refs = 1
        self.pool = pool  # charged when made, credited when the last reference goes

    def unref(self) -> None:
        self.refs -= 1
        if self.refs == 0 and self.pool is not None:
            self.pool.used -= 1
            self.pool = None


@dataclass
class Region:
    """A mapping: [start, end) with protection and a name for maps and core files.

    Never changed once made (a change maps a new Region), so that a fork's region
    list shares its parent's Region objects."""

    start: int
    end: int
    prot: int
    name: str = ""
    offset: int = 0  # file offset of a file-backed mapping (for NT_FILE)
    kind: str = "anon"  # anon | file | brk | stack


@dataclass
class AddressSpace:
    """Pages and regions of one guest address space (shared by the threads of a process)."""

    frames: dict[int, Frame] = field(default_factory=dict)
    regions: list[Region] = field(default_factory=list)
    R32: dict[int, array[int]] = field(default_factory=dict)
    W32: dict[int, array[int]] = field(default_factory=dict)
    R16: dict[int, memoryview] = field(default_factory=dict)
    W16: dict[int, memoryview] = field(default_factory=dict)
    R8: dict[int, memoryview] = field(default_factory=dict)
    W8: dict[int, memoryview] = field(default_factory=dict)
    # PAGE_LISTS only (elsewhere empty and unused: a space is made per fork and exec).
    R32L: list[list[array[int]]] = field(default_factory=page_directory if PAGE_LISTS else list)
    W32L: list[list[array[int]]] = field(default_factory=page_directory if PAGE_LISTS else list)
    cow: set[int] = field(default_factory=set)
    code_pages: set[int] = field(default_factory=set)
    watched_pages: set[int] = field(default_factory=set)
    brk_start: int = 0
    brk: int = 0
    mmap_base: int = 0x77000000
    pool: PagePool | None = None  # where new frames are charged (the machine's budget)
    # Called with a page number when translated code from that page must be dropped.
    on_code_write: Callable[[int], None] | None = None
    # Called on every slow-path access to a watched page: (addr, size, is_write).
    on_watch: Callable[[int, int, bool], None] | None = None
    # find_region's index: the regions' start addresses, and which list they index.
    _starts: list[int] = field(default_factory=list, repr=False, compare=False)
    _starts_of: object = field(default=None, repr=False, compare=False)

    # ----------------------------------------------------------------- regions
    def find_region(self, addr: int) -> Region | None:
        regions = self.regions
        if self._starts_of is not regions or len(self._starts) != len(regions):
            # Region lists are replaced or grown, never edited in place: rebuild the index.
            self._starts = [r.start for r in regions]
            self._starts_of = regions
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < regions[i].end:
            return regions[i]
        return None

    def map(self, start: int, length: int, prot: int, name: str = "", kind: str = "anon",
            offset: int = 0) -> None:
        """Map [start, start+length) fresh (zero-filled, replacing what was there)."""
        end = start + ((length + PAGE_MASK) & ~PAGE_MASK)
        if end == start:
            return
        self.unmap(start, end - start)
        i = bisect.bisect_left([r.start for r in self.regions], start)
        self.regions.insert(i, Region(start, end, prot, name, offset, kind))

    def unmap(self, start: int, length: int) -> None:
        end = start + ((length + PAGE_MASK) & ~PAGE_MASK)
        keep: list[Region] = []
        hit: list[tuple[int, int]] = []  # the unmapped parts of regions
        for r in self.regions:
            if r.end <= start or r.start >= end:
                keep.append(r)
                continue
            if r.start < start:
                keep.append(Region(r.start, start, r.prot, r.name, r.offset, r.kind))
            if r.end > end:
                keep.append(Region(end, r.end, r.prot, r.name, r.offset + (end - r.start), r.kind))
            hit.append((max(r.start, start), min(r.end, end)))
        if not hit:
            return  # nothing mapped there, so no page either (frames lie inside regions)
        self.regions = keep
        frames = self.frames
        for lo, hi in hit:
            pns = range(lo >> PAGE_SHIFT, hi >> PAGE_SHIFT)
            # Only pages with a frame need dropping; a big mapping has few of them.
            present = [pn for pn in frames if pn in pns] if len(pns) > len(frames) \
                else [pn for pn in pns if pn in frames]
            for pn in present:
                self._drop_page(pn)

    def protect(self, start: int, length: int, prot: int) -> bool:
        """mprotect: False if part of the range is unmapped (ENOMEM)."""
        end = start + ((length + PAGE_MASK) & ~PAGE_MASK)
        addr = start
        while addr < end:
            r = self.find_region(addr)
            if r is None:
                return False
            addr = r.end
        out: list[Region] = []
        for r in self.regions:
            if r.end <= start or r.start >= end:
                out.append(r)
                continue
            if r.start < start:
                out.append(Region(r.start, start, r.prot, r.name, r.offset, r.kind))
            lo, hi = max(r.start, start), min(r.end, end)
            out.append(Region(lo, hi, prot, r.name, r.offset + (lo - r.start), r.kind))
            if r.end > end:
                out.append(Region(end, r.end, r.prot, r.name, r.offset + (end - r.start), r.kind))
        self.regions = out
        for pn in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
            if pn in self.frames:
                self._publish(pn)
        return True

    def find_free(self, length: int, hint: int = 0) -> int:
        """A free, page-aligned range of length bytes, searching down from mmap_base."""
        length = (length + PAGE_MASK) & ~PAGE_MASK
        if hint and not hint & PAGE_MASK and self._is_free(hint, length) \
                and hint + length <= USER_TOP:
            return hint
        top = self.mmap_base
        for r in reversed(self.regions):
            if r.start >= top:
                continue
            if r.end <= top - length:
                return top - length
            top = min(top, r.start)
        if top - length >= 0x10000:
            return top - length
        raise MemoryError("guest address space exhausted")

    def _is_free(self, start: int, length: int) -> bool:
        return all(r.end <= start or r.start >= start + length for r in self.regions)

    # ------------------------------------------------------------------ frames
    def _publish(self, pn: int) -> None:
        """Put page pn into the fast tables that its protection and state allow."""
        self._publish_in(pn, self.find_region(pn << PAGE_SHIFT))

    def _publish_in(self, pn: int, r: Region | None) -> None:
        """_publish, for a caller that has found pn's region already."""
        fr = self.frames[pn]
        prot = r.prot if r else 0
        watched = pn in self.watched_pages
        key = pn << PAGE_SHIFT
        if prot & PROT_READ and not watched:
            self.R32[key] = fr.w
            self.R16[key] = fr.h
            self.R8[key] = fr.b
            if PAGE_LISTS:
                _dir_set(self.R32L, pn, fr.w)
        else:
            self._unpublish_read(pn)
        if prot & PROT_WRITE and not watched and pn not in self.cow and pn not in self.code_pages:
            self.W32[key] = fr.w
            self.W16[key] = fr.h
            self.W8[key] = fr.b
            if PAGE_LISTS:
                _dir_set(self.W32L, pn, fr.w)
        else:
            self._unpublish_write(pn)

    def _unpublish_read(self, pn: int) -> None:
        key = pn << PAGE_SHIFT
        self.R32.pop(key, None)
        self.R16.pop(key, None)
        self.R8.pop(key, None)
        if PAGE_LISTS:
            _dir_clear(self.R32L, pn)

    def _unpublish_write(self, pn: int) -> None:
        key = pn << PAGE_SHIFT
        self.W32.pop(key, None)
        self.W16.pop(key, None)
        self.W8.pop(key, None)
        if PAGE_LISTS:
            _dir_clear(self.W32L, pn)

    def _drop_page(self, pn: int) -> None:
        fr = self.frames.pop(pn, None)
        if fr is not None:
            fr.unref()
        self._unpublish_read(pn)
        self._unpublish_write(pn)
        self.cow.discard(pn)
        if pn in self.code_pages:
            self.code_pages.discard(pn)
            if self.on_code_write:
                self.on_code_write(pn)

    def frame_for(self, addr: int, write: bool, exec_: bool = False,
                  check: bool = True) -> Frame:
        """The frame behind addr, allocating or un-sharing it as the access needs.

        check=False is the debugger's view: protection is ignored (gdb may
        write breakpoints into text and read PROT_NONE guard pages), but
        unmapped addresses still fault.
        """
        pn = addr >> PAGE_SHIFT
        r = self.find_region(addr)
        if r is None:
            raise MemFault(addr, write, False)
        if check:
            need = PROT_WRITE if write else (PROT_EXEC if exec_ else PROT_READ)
            if not r.prot & need:
                raise MemFault(addr, write, True)
        fr = self.frames.get(pn)
        if fr is None:
            if self.pool is not None:
                self.pool.take(addr, write)
            fr = self.frames[pn] = Frame(pool=self.pool)
            self._publish_in(pn, r)
        if write:
            if pn in self.cow:
                if fr.refs > 1:
                    if self.pool is not None:
                        self.pool.take(addr, write)
                    fr.refs -= 1
                    fr = self.frames[pn] = Frame(fr.w.tobytes(), self.pool)
                self.cow.discard(pn)
                self._publish_in(pn, r)
            if pn in self.code_pages:
                self.code_pages.discard(pn)
                if self.on_code_write:
                    self.on_code_write(pn)
                self._publish_in(pn, r)
        return fr

    def mark_code(self, pn: int) -> None:
        """Translated code was made from page pn: writes must now take the slow path."""
        if pn not in self.code_pages:
            self.code_pages.add(pn)
            if pn << PAGE_SHIFT in self.W32:  # the write tables are filled and cleared together
                self._unpublish_write(pn)

    def set_watched(self, pages: set[int]) -> None:
        """Pages holding a watchpoint: every access to them takes the slow path."""
        old = self.watched_pages
        self.watched_pages = set(pages)
        for pn in old | self.watched_pages:
            if pn in self.frames:
                self._publish(pn)

    # ------------------------------------------------------- guest slow paths
    def load(self, addr: int, size: int) -> int:
        """A CPU load that missed the fast tables, or one that translated code always
        makes here (ll, lwl, lwr; size 1, 2 or 4; aligned)."""
        key = addr & ~PAGE_MASK
        if size == 4:
            w = self.R32.get(key)  # a page there needs no bookkeeping to be read
            if w is not None:
                return w[(addr & PAGE_MASK) >> 2]
        fr = self.frame_for(addr, False)
        if self.watched_pages and self.on_watch and (addr >> PAGE_SHIFT) in self.watched_pages:
            self.on_watch(addr, size, False)
        off = addr & PAGE_MASK
        if size == 4:
            return fr.w[off >> 2]
        if size == 2:
            return int(fr.h[off >> 1])
        return int(fr.b[off])

    def store(self, addr: int, size: int, value: int) -> None:
        """A CPU store that missed the fast tables, or one that translated code always
        makes here (sc, swl, swr)."""
        if size == 4:
            w = self.W32.get(addr & ~PAGE_MASK)  # a page there needs no bookkeeping
            if w is not None:
                w[(addr & PAGE_MASK) >> 2] = value & 0xFFFFFFFF
                return
        fr = self.frame_for(addr, True)
        if self.watched_pages and self.on_watch and (addr >> PAGE_SHIFT) in self.watched_pages:
            self.on_watch(addr, size, True)
        off = addr & PAGE_MASK
        if size == 4:
            fr.w[off >> 2] = value & 0xFFFFFFFF
        elif size == 2:
            fr.h[off >> 1] = value & 0xFFFF
        else:
            fr.b[off] = value & 0xFF

    def fetch(self, addr: int) -> int:
        """An instruction word, for translation (needs PROT_EXEC)."""
        fr = self.frame_for(addr, False, exec_=True)
        return fr.w[(addr & PAGE_MASK) >> 2]

    # ----------------------------------------------- kernel and debugger I/O
    def read(self, addr: int, length: int, check: bool = True) -> bytes:
        """Bytes from guest memory; MemFault if any of it is not readable."""
        out = bytearray()
        while length > 0:
            if addr >= USER_TOP or addr < 0:
                raise MemFault(addr, False, False)
            off = addr & PAGE_MASK
            n = min(length, PAGE_SIZE - off)
            w = self.R32.get(addr - off)
            if w is not None:  # readable: no region lookup needed
                out += w.tobytes()[off:off + n]
                addr += n
                length -= n
                continue
            pn = addr >> PAGE_SHIFT
            fr = self.frames.get(pn)
            if fr is None:
                r = self.find_region(addr)
                if r is None or (check and not r.prot & PROT_READ):
                    raise MemFault(addr, False, r is not None)
                out += _ZERO_PAGE[:n]  # untouched page: read zeros without allocating
            else:
                if check:
                    r = self.find_region(addr)
                    if r is None or not r.prot & PROT_READ:
                        raise MemFault(addr, False, r is not None)
                # Not fr.b[...]: PyPy copies a memoryview slice byte by byte (~0.4 ms a
                # page, most of a debugger's memory read); array.tobytes is one memcpy.
                out += fr.w.tobytes()[off:off + n]
            addr += n
            length -= n
        return bytes(out)

    def write(self, addr: int, data: bytes, check: bool = True) -> None:
        """Copy bytes into guest memory (copy-on-write and code invalidation honoured)."""
        pos = 0
        length = len(data)
        while pos < length:
            if addr >= USER_TOP or addr < 0:
                raise MemFault(addr, True, False)
            off = addr & PAGE_MASK
            n = min(length - pos, PAGE_SIZE - off)
            b = self.W8.get(addr - off)
            if b is not None:  # writable in place: nothing to check, copy or publish
                b[off:off + n] = data[pos:pos + n]
                addr += n
                pos += n
                continue
            fr = self.frame_for(addr, True, check=check)
            if not check:
                # The debugger wrote into a page it may not write; keep fast tables honest.
                self._publish(addr >> PAGE_SHIFT)
            fr.b[off:off + n] = data[pos:pos + n]
            addr += n
            pos += n

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string (without the NUL); MemFault past readable memory."""
        w = self.R32.get(addr & ~PAGE_MASK)
        if w is not None:  # readable: a string that ends in this page is one slice of it
            off = addr & PAGE_MASK
            page = w.tobytes()
            i = page.find(b"\0", off, min(PAGE_SIZE, off + limit))
            if i >= 0:
                return page[off:i]
        out = bytearray()
        while len(out) < limit:
            off = addr & PAGE_MASK
            chunk = self.read(addr, min(PAGE_SIZE - off, limit - len(out)))
            i = chunk.find(b"\0")
            if i >= 0:
                return bytes(out + chunk[:i])
            out += chunk
            addr += len(chunk)
        raise MemFault(addr, False, True)

    def read_u32(self, addr: int) -> int:
        if not addr & 3:
            w = self.R32.get(addr & ~PAGE_MASK)
            if w is not None:  # readable: the word itself (the frames are host-order words)
                return w[(addr & PAGE_MASK) >> 2]
        return int.from_bytes(self.read(addr, 4), "little")

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    # -------------------------------------------------------------- fork/exec
    def fork(self, into: AddressSpace | None = None) -> AddressSpace:
        """A copy-on-write child: frames are shared until either side writes.

        into: an empty (released) space to become the child, keeping its table
        objects, which translated code bound to it still indexes.
        """
        child = AddressSpace() if into is None else into
        assert not child.frames and not child.regions and not child.watched_pages, \
            "fork into a space in use"
        child.regions = list(self.regions)  # Regions are never changed in place: shared
        child.brk_start, child.brk, child.mmap_base = self.brk_start, self.brk, self.mmap_base
        child.pool = self.pool
        frames = self.frames
        for fr in frames.values():
            fr.refs += 1
        # A copy, not an update of the (empty) child's dict: PyPy grows a dict filled
        # key by key through every size on the way, a few times the final storage.
        child.frames = frames.copy()
        self.cow.update(frames)
        child.cow = self.cow.copy()  # cow only ever holds pages that have a frame
        # Every page is now copy-on-write, so neither side may write through the fast
        # tables; the child reads what the parent reads, plus the parent's watched pages.
        # Whole-table copies: a page-by-page _publish costs a region lookup per page.
        self._unpublish_all_writes()
        child.R32.update(self.R32)
        child.R16.update(self.R16)
        child.R8.update(self.R8)
        if PAGE_LISTS:  # the child's directory is empty: only the tables in use are set
            tables = child.R32L
            for i, t in enumerate(self.R32L):
                if t is not _NO_TABLE:
                    tables[i] = list(t)
        for pn in self.watched_pages:
            if pn in frames:
                child._publish(pn)
        return child

    def _unpublish_all_writes(self) -> None:
        # Cleared in place: translated code holds these very tables.
        self.W32.clear()
        self.W16.clear()
        self.W8.clear()
        if PAGE_LISTS:
            _dir_reset(self.W32L)

    def release(self) -> None:
        """Drop every frame (exit or exec)."""
        for fr in self.frames.values():  # Frame.unref, inlined: a page table's worth of calls
            fr.refs -= 1
            if fr.refs == 0 and fr.pool is not None:
                fr.pool.used -= 1
                fr.pool = None
        self.frames.clear()
        self.regions.clear()
        for d in (self.R32, self.W32, self.R16, self.W16, self.R8, self.W8):
            d.clear()
        if PAGE_LISTS:
            _dir_reset(self.R32L)
            _dir_reset(self.W32L)
        self.cow.clear()
        self.code_pages.clear()

    def resident_pages(self) -> int:
        return len(self.frames)

    def private_pages(self) -> int:
        """Pages this space does not share with another (what a fork actually cost)."""
        return sum(1 for fr in self.frames.values() if fr.refs == 1)
