"""Translated code kept from a finished address space, for the next space made alike.

When a process made from a cached program image (image_cache) or forked from
a parent (kern_fork) is done with its address space, the space object and its
code cache are kept, with the frames that code was translated from pinned;
the pages themselves are released. The next space made from the same source
is that object, refilled as a fork of the source, and its code cache keeps
every translation whose page still holds the pinned frame: a frame shared by
two holders is never written in place (a write copies it first), so it still
has the bytes the code came from. Only code pages are pinned, so a parent
that writes its memory after a child is gone does not pay for copies.
Nothing is kept that a debugger, breakpoint or watchpoint is involved in, or
that another engine than the block translator runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb.machine.cpu import engine
from afgdb.machine.cpu.engine import CodeCache
from afgdb.machine.memory import AddressSpace, Frame

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import Proc


@dataclass(eq=False)
class Kept:
    aspace: AddressSpace  # released: no pages, no regions; its tables are the code's
    cache: CodeCache
    pins: dict[int, Frame]  # page -> the frame its translated code was made from


def keepable(k: Kernel, p: Proc) -> bool:
    """p's space and code may be kept (the caller knows no other process shares them)."""
    cache = p.cache
    return (cache.aspace is p.aspace and k.cpu_run is engine.run and p.tracer is None
            and not cache.breakpoints and not cache.watch_ranges
            and not p.aspace.watched_pages)


def stash(p: Proc, source: AddressSpace) -> Kept:
    """Release p's pages but keep its space object and the code made from pages it still
    shares with source, the space it was made from; p is left an empty pair, so a dead
    or exec'ing process holds nothing another will run in."""
    a, cache = p.aspace, p.cache
    sf = source.frames
    pins = {pn: sf[pn] for pn in cache.by_page if a.frames.get(pn, a) is sf.get(pn)}
    for fr in pins.values():
        fr.refs += 1  # shared with source: charged to the pool by source, not by the pin
    for pn in [pn for pn in cache.by_page if pn not in pins]:
        cache.invalidate_page(pn)  # written here, or never source's: it cannot match again
    a.release()
    p.aspace = AddressSpace()
    p.cache = CodeCache(p.aspace)
    return Kept(a, cache, pins)


def revive(kept: Kept, source: AddressSpace) -> tuple[AddressSpace, CodeCache]:
    """The kept space, now a copy-on-write fork of source, and the code still valid in it."""
    a, cache = kept.aspace, kept.cache
    sf = source.frames
    for pn in [pn for pn in cache.by_page if kept.pins.get(pn) is not sf.get(pn, kept)]:
        cache.invalidate_page(pn)
    unpin(kept)
    source.fork(into=a)
    for pn in cache.by_page:
        a.mark_code(pn)  # writes to these pages must reach the kept code
    return a, cache


def unpin(kept: Kept | None) -> None:
    """Let go of the pinned frames (a kept space not revived is dropped this way)."""
    if kept is not None:
        for fr in kept.pins.values():
            fr.unref()
        kept.pins.clear()
