"""Runs a thread's instructions: block dispatch, the slow path, and why it stopped.

``CodeCache`` belongs to an address space (threads share it); ``run`` runs
one thread for up to a budget of instructions and returns an ``Exit``
saying why it stopped. Guest faults never escape as Python exceptions:
they come back as ``Exit`` values that the kernel turns into signals.
"""

from __future__ import annotations

import sys
import time
import types
import zlib
from dataclasses import dataclass
from types import TracebackType

from afgdb.machine.cpu import fpu, isa
from afgdb.machine.cpu.state import CPU, CoprocessorUnusable
from afgdb.machine.cpu.translate import (
    COUNT_SHIFT,
    EVENT_MASK,
    MAX_BLOCK,
    Block,
    compile_block,
    compile_region,
)
from afgdb.machine.memory import PAGE_LISTS, PAGE_SHIFT, AddressSpace, MemFault

# Why run() returned.
X_BUDGET = 0  # ran its budget
X_EVENT = 1  # an instruction raised an isa.EV_* event (syscall, break, trap, ...)
X_FAULT = 2  # memory fault (fault holds it)
X_BREAKPOINT = 3  # reached a debugger breakpoint (before executing it)
X_WATCH = 4  # a watched address was accessed (after the access completed)


@dataclass
class Exit:
    reason: int
    pc: int  # the instruction concerned (a branch's pc for delay-slot events)
    event: int = 0  # isa.EV_* without EV_BD
    in_delay_slot: bool = False
    fault: MemFault | None = None
    detail: str = ""
    watch: tuple[int, int, bool] | None = None  # (addr, size, is_write)


HOT = 16  # runs of a block before it becomes a region's entry
JUMP_TARGETS = 4  # targets of one jump to a register that regions may take in


class Yield(Exception):
    """The host deadline passed before translating more code: run() returns early."""


class WatchHit(Exception):
    def __init__(self, addr: int, size: int, write: bool) -> None:
        self.hit = (addr, size, write)


class CodeCache:
    """Translated blocks of one address space, and its debugger breakpoints."""

    def __init__(self, aspace: AddressSpace) -> None:
        self.aspace = aspace
        self.blocks: dict[int, Block] = {}  # what the dispatch loop runs: hot regions, blocks
        self.cold: dict[int, Block] = {}  # blocks run fewer than HOT times
        self.hits: dict[int, int] = {}
        self.slow_blocks: dict[int, Block] = {}
        self.short: dict[int, dict[int, Block]] = {}  # pc -> max_insns -> block (short_block)
        self.mid: set[int] = set()  # where slices ended inside blocks (stopped_inside)
        self.by_page: dict[int, set[int]] = {}
        self.page_keys: dict[int, str] = {}
        self.breakpoints: set[int] = set()
        self.clear_of: set[int] = set()  # addresses known to be inside no unit but at its start
        # Where cold blocks ending in a jump to a register were seen to go (at most
        # JUMP_TARGETS each): a region made later takes those blocks in, so that calls
        # through a register and returns stay inside it.
        self.jumps: dict[int, list[int]] = {}
        # Host time (perf_counter) past which run() returns at the next unit it would
        # have to translate, so a caller's slice of cold code stays short (0: none).
        self.deadline = 0.0
        self.watch_ranges: list[tuple[int, int, int]] = []  # (addr, len, kind 2=w 3=r 4=a)
        # A module's dict, not a plain one: PyPy's JIT folds global reads from module
        # dicts to constants, but looks names up (allocating the key) in plain dicts.
        self.ns: dict[str, object] = types.ModuleType("afgdb_blocks").__dict__
        self.ns.update({
            "R32": aspace.R32L if PAGE_LISTS else aspace.R32,
            "W32": aspace.W32L if PAGE_LISTS else aspace.W32, "R16": aspace.R16, "W16": aspace.W16,
            "R8": aspace.R8, "W8": aspace.W8, "mem": aspace, "fpu": fpu,
            "__builtins__": __builtins__,
        })
        aspace.on_code_write = self.invalidate_page
        aspace.on_watch = self._on_watch

    # ------------------------------------------------------------ blocks
    def _fetch(self, addr: int) -> int:
        if addr & 3:
            raise MemFault(addr, False, True)
        return self.aspace.fetch(addr)

    def block(self, pc: int, slow: bool = False, max_insns: int = MAX_BLOCK) -> Block:
        """The unit to run at pc. Code starts as single blocks; a block run HOT times
        becomes the entry of a region, which the dispatch loop then finds in
        ``blocks`` (cold code is not worth a region's compile time)."""
        if slow:
            b = self.slow_blocks.get(pc)
            if b is None:
                b = self.slow_blocks[pc] = self._compile(pc, True, max_insns)
            return b
        if max_insns < MAX_BLOCK:
            return self.short_block(pc, max_insns)
        b = self.blocks.get(pc)
        if b is not None:
            return b
        if pc in self.mid:
            return self.short_block(pc, MAX_BLOCK)
        b = self.cold.get(pc)
        if b is None:
            self._check_deadline()
            b = self.cold[pc] = self._compile(pc, False, MAX_BLOCK)
            self.hits[pc] = 0
            return b
        h = self.hits[pc] = self.hits[pc] + 1
        if h >= HOT and pc not in self.breakpoints:
            self._check_deadline()
            region = compile_region(self._fetch, pc, self.ns, stop_at=self.breakpoints,
                                    page_key=self._page_key, jumps=self.jumps, entries=self.blocks)
            self._track(region)
            self.blocks[pc] = region
            del self.cold[pc]
            return region
        return b

    def follow(self, prev: Block | None, pc: int) -> Block:
        """block(pc), which prev (the unit run last) went on to."""
        if prev is not None and prev.dynamic:
            seen = self.jumps.get(prev.start)
            if seen is None:
                if len(self.jumps) >= 8192:
                    self.jumps.clear()
                seen = self.jumps[prev.start] = []
            if pc not in seen and len(seen) < JUMP_TARGETS:
                seen.append(pc)
        return self.block(pc)

    def _check_deadline(self) -> None:
        if self.deadline and time.perf_counter() > self.deadline:
            raise Yield

    def stopped_inside(self, pc: int) -> None:
        """A slice ended at pc, likely inside a block: the rest of that block runs as a
        short block when the thread resumes, and pc never becomes a region's entry (a
        region per place a slice happened to end would be many, and cold)."""
        if len(self.mid) >= 4096:
            self.mid.clear()
        self.mid.add(pc)

    def short_block(self, pc: int, max_insns: int) -> Block:
        """A single block of at most max_insns (a unit more for a branch's delay slot):
        never a region, which could stop before running anything."""
        if max_insns >= MAX_BLOCK:
            b = self.blocks.get(pc)
            if b is not None and not b.region:
                return b
            b = self.cold.get(pc)
            if b is not None:
                return b
        # Kept, so a slice's end runs the same function objects each time (PyPy's JIT
        # guards on them; fresh ones every slice would each cost it a bridge).
        cut = self.short.setdefault(pc, {})
        b = cut.get(max_insns)
        if b is None:
            b = cut[max_insns] = self._compile(pc, False, max_insns)
        return b

    def _compile(self, pc: int, slow: bool, max_insns: int) -> Block:
        b = compile_block(self._fetch, pc, self.ns, slow=slow, max_insns=max_insns,
                          stop_at=self.breakpoints, page_key=self._page_key(pc >> PAGE_SHIFT))
        self._track(b)
        return b

    def _track(self, b: Block) -> None:
        if self.clear_of:
            self.clear_of.difference_update(
                b.ipc if b.region else [a for a in b.ipc if a != b.start])
        for pn in b.pages:
            self.by_page.setdefault(pn, set()).add(b.start)
            self.aspace.mark_code(pn)

    def _page_key(self, pn: int) -> str:
        """Names a code page by address and content, for the compiled-code store."""
        key = self.page_keys.get(pn)
        if key is None:
            # Straight from the frame: system-mode (KSEG) pages are not readable via read().
            fr = self.aspace.frames.get(pn)
            crc = zlib.crc32(fr.b) if fr is not None else 0
            key = f"{pn:05x}-{crc:08x}"
            # Kept only while the page is marked as code: a write to it then drops the key
            # (invalidate_page). Unmarked, a write goes by unseen, and a kept key (made,
            # say, to check a cached region) would name bytes the page no longer holds.
            if pn in self.aspace.code_pages:
                self.page_keys[pn] = key
        return key

    def invalidate_page(self, pn: int) -> None:
        self.page_keys.pop(pn, None)
        for pc in self.by_page.pop(pn, ()):
            self.blocks.pop(pc, None)
            self.cold.pop(pc, None)
            self.slow_blocks.pop(pc, None)
            self.short.pop(pc, None)

    def invalidate_all(self) -> None:
        self.blocks.clear()
        self.cold.clear()
        self.hits.clear()
        self.jumps.clear()
        self.slow_blocks.clear()
        self.short.clear()
        self.by_page.clear()
        self.page_keys.clear()

    # ------------------------------------------------------- breakpoints
    def add_breakpoint(self, addr: int) -> None:
        """Drop only the units that would run through addr unseen: those holding an
        instruction at addr (a region's inner block starting there included). A single
        block that starts at addr stays: the dispatch loop checks breakpoints before
        running a unit, and a block never jumps back into itself."""
        if addr in self.breakpoints:
            return
        self.breakpoints.add(addr)
        if addr in self.clear_of:  # gdb steps by breakpoints: the same few, again and again
            return
        for start in self.by_page.get(addr >> PAGE_SHIFT, ()):
            for table in (self.blocks, self.cold, self.slow_blocks):
                unit = table.get(start)
                if unit is not None and unit.holds(addr) and (unit.region or start != addr):
                    del table[start]
            if start < addr:
                self.short.pop(start, None)
        if len(self.clear_of) >= 4096:
            self.clear_of.clear()
        self.clear_of.add(addr)

    def remove_breakpoint(self, addr: int) -> None:
        # Blocks that end at addr stay right, only shorter than they could be.
        self.breakpoints.discard(addr)

    def set_watchpoints(self, ranges: list[tuple[int, int, int]]) -> None:
        self.watch_ranges = list(ranges)
        pages: set[int] = set()
        for addr, length, _kind in ranges:
            for pn in range(addr >> PAGE_SHIFT, ((addr + max(length, 1) - 1) >> PAGE_SHIFT) + 1):
                pages.add(pn)
        self.aspace.set_watched(pages)

    def _on_watch(self, addr: int, size: int, write: bool) -> None:
        for waddr, wlen, kind in self.watch_ranges:
            overlaps = addr < waddr + wlen and waddr < addr + size
            if overlaps and ((kind == 2 and write) or (kind == 3 and not write) or kind == 4):
                raise WatchHit(waddr if waddr >= addr else addr, size, write)


def _faulting_insn(tb: TracebackType | None, block: Block) -> int:
    """Which instruction of block raised (an index into its ipc/iidx/ids): the deepest
    traceback frame running its code."""
    lasti = -1
    while tb is not None:
        if tb.tb_frame.f_code is block.code:
            lasti = tb.tb_lasti
        tb = tb.tb_next
    return block.insn_at(lasti) if lasti >= 0 else 0


def _unit_at_fault(c: CPU, b: Block, tb: TracebackType | None) -> tuple[int, int]:
    """(instructions completed in the unit before the faulting one's unit, its pc): the
    unit being an instruction, or a branch with its delay slot."""
    k = _faulting_insn(tb, b)
    idx, upc = b.iidx[k], b.ipc[k]
    if b.ids[k]:
        idx -= 1
        upc -= 4
    return (c.rdone if b.region else 0) + idx, upc


def run(c: CPU, cache: CodeCache, budget: int, step: bool = False) -> Exit:
    """Run thread c for up to budget instructions (exactly one unit if step).

    A unit is one instruction, or a branch together with its delay slot.
    On return ``c.pc`` is where execution continues and ``c.icount`` has
    counted every completed instruction.
    """
    r = c.r
    pc = c.pc
    done = 0
    nxt = 0
    bps = cache.breakpoints
    blocks = cache.blocks
    careful = step or bool(bps)
    b: Block | None = None
    while True:
        try:
            if careful:
                # Breakpoints are checked whenever control comes back here; blocks end
                # before them and regions never run into one.
                while done < budget:
                    if pc in bps and (done or b is not None):
                        c.icount += done
                        c.pc = pc
                        return Exit(X_BREAKPOINT, pc)
                    left = budget - done
                    if step or left <= MAX_BLOCK:
                        b = cache.short_block(pc, 1 if step else left)
                    else:
                        u = blocks.get(pc)
                        b = cache.follow(b, pc) if u is None else u
                    nxt = b.fn(r, c, left - MAX_BLOCK)
                    done += nxt >> COUNT_SHIFT
                    if nxt & EVENT_MASK:
                        break
                    pc = nxt & 0xFFFFFFFF
                    if step:
                        budget = 0
            else:
                # The hot loop: look up, call, count. A unit given lim stops before
                # running past it by more than a block, so MAX_BLOCK are left over.
                lim = budget - MAX_BLOCK
                while done < lim:
                    u = blocks.get(pc)
                    b = cache.follow(b, pc) if u is None else u
                    nxt = b.fn(r, c, lim - done)
                    done += nxt >> COUNT_SHIFT
                    if nxt & EVENT_MASK:
                        break
                    pc = nxt & 0xFFFFFFFF
                if not nxt & EVENT_MASK:
                    # The last few: blocks cut to what is left, so the slice ends on
                    # its budget exactly (a branch and its delay slot are one unit).
                    while done < budget:
                        b = cache.short_block(pc, budget - done)
                        nxt = b.fn(r, c, 0)
                        done += nxt >> COUNT_SHIFT
                        if nxt & EVENT_MASK:
                            break
                        pc = nxt & 0xFFFFFFFF
                    else:
                        cache.stopped_inside(pc)
            if done >= budget and not nxt & EVENT_MASK:
                c.icount += done
                c.pc = pc
                return Exit(X_BUDGET, pc)
        except Yield:
            # Translating more would overrun the caller's host deadline: stop between
            # units (pc and done are both at a unit boundary here).
            c.icount += done
            c.pc = pc
            return Exit(X_BUDGET, pc)
        except (KeyError, IndexError):
            # A miss in the fast page tables: redo that unit on the slow path.
            assert b is not None
            idx, pc = _unit_at_fault(c, b, sys.exc_info()[2])
            done += idx
            sb = cache.block(pc, slow=True, max_insns=1)
            try:
                nxt = sb.fn(r, c, 1)
            except MemFault as e:
                c.icount += done
                c.pc = pc
                return Exit(X_FAULT, pc, fault=e)
            except WatchHit as w:
                c.icount += done
                return _watch_exit(c, sb, sys.exc_info()[2], pc, w)
            except HELPER_ERRORS as e:
                c.icount += done
                c.pc = pc
                return helper_exit(e, pc)
            b = sb
            done += nxt >> COUNT_SHIFT
            if not nxt & EVENT_MASK:
                pc = nxt & 0xFFFFFFFF
                if step:
                    c.icount += done
                    c.pc = pc
                    return Exit(X_BUDGET, pc)
                continue
        except MemFault as e:
            if b is None or b.start != pc:  # instruction fetch fault while translating
                c.icount += done
                c.pc = pc
                return Exit(X_FAULT, pc, fault=e)
            idx, upc = _unit_at_fault(c, b, sys.exc_info()[2])
            c.icount += done + idx
            c.pc = upc
            return Exit(X_FAULT, upc, fault=e)
        except HELPER_ERRORS as e:
            assert b is not None
            idx, upc = _unit_at_fault(c, b, sys.exc_info()[2])
            c.icount += done + idx
            c.pc = upc
            return helper_exit(e, upc)
        # An instruction raised an event; done already counts the instructions before it.
        ev = (nxt >> 32) & 0xFFF
        epc = nxt & 0xFFFFFFFF
        base = ev & ~isa.EV_BD
        if base in (isa.EV_SYSCALL, isa.EV_BREAK):
            done += 1  # they complete; the kernel decides where to resume
        c.icount += done
        c.pc = epc
        return Exit(X_EVENT, epc, base, bool(ev & isa.EV_BD))


HELPER_ERRORS = (CoprocessorUnusable, fpu.FPUException, ArithmeticError, ValueError, TypeError)


def helper_exit(e: Exception, pc: int) -> Exit:
    if isinstance(e, CoprocessorUnusable):
        return Exit(X_EVENT, pc, isa.EV_RESERVED, detail=str(e))
    if isinstance(e, fpu.FPUException):
        return Exit(X_EVENT, pc, isa.EV_FPE, detail=str(e))
    return Exit(X_EVENT, pc, isa.EV_RESERVED, detail=f"{type(e).__name__}: {e}")


def _watch_exit(c: CPU, sb: Block, tb: TracebackType | None, pc: int, w: WatchHit) -> Exit:
    """A watched access: stop before it, with pc at its unit (the branch for a delay slot).

    gdb on MIPS has non-steppable watchpoints: it expects the stop before the
    access completes and steps over the instruction itself (with the watchpoint
    removed) to see the new value. Re-running the unit is safe: a branch's link
    register is rewritten with the same value.
    """
    c.pc = pc
    return Exit(X_WATCH, pc, watch=w.hit)
