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

A program image's template is never written, so a space made from one keeps
more (``stash(..., whole=True)``): every page it still shares with the
template stays in place, with its table entries, and only the pages it wrote
or added are given back, so that the kept space already is a fresh fork of
the template and reviving it costs nothing per page. This holds when the
template's mappings are still there as they were (else the space is released
as above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb.machine.cpu import engine
from afgdb.machine.cpu.engine import CodeCache
from afgdb.machine.memory import PAGE_LISTS, PAGE_SHIFT, AddressSpace, Frame, _dir_set

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import Proc


@dataclass(eq=False)
class Kept:
    aspace: AddressSpace  # released: no pages, no regions; its tables are the code's
    cache: CodeCache
    pins: dict[int, Frame]  # page -> the frame its translated code was made from
    whole: bool = False  # aspace holds source's pages itself: it is a fork of source already


def keepable(k: Kernel, p: Proc) -> bool:
    """p's space and code may be kept (the caller knows no other process shares them)."""
    cache = p.cache
    return (cache.aspace is p.aspace and k.cpu_run is engine.run and p.tracer is None
            and not cache.breakpoints and not cache.watch_ranges
            and not p.aspace.watched_pages)


def stash(p: Proc, source: AddressSpace, whole: bool = False,
          succ: tuple[AddressSpace, CodeCache] | None = None) -> Kept:
    """Release p's pages but keep its space object and the code made from pages it still
    shares with source, the space it was made from; p is left an empty pair, or succ,
    the pair an exec'ing p goes on with, so that p holds nothing another will run in.
    whole: source is never written (a program template), and the pages shared with it
    stay in the kept space."""
    a, cache = p.aspace, p.cache
    if whole and _back_to_fork_of(a, cache, source):
        kept = Kept(a, cache, {}, whole=True)
    else:
        sf = source.frames
        pins = {pn: sf[pn] for pn in cache.by_page if a.frames.get(pn, a) is sf.get(pn)}
        for fr in pins.values():
            fr.refs += 1  # shared with source: charged to the pool by source, not by the pin
        for pn in [pn for pn in cache.by_page if pn not in pins]:
            cache.invalidate_page(pn)  # written here, or never source's: it cannot match again
        a.release()
        kept = Kept(a, cache, pins)
    if succ is None:  # p is done; an exec'ing p has its next pair, so none is made per exec
        empty = AddressSpace()
        succ = empty, CodeCache(empty)
    p.aspace, p.cache = succ
    return kept


def _back_to_fork_of(a: AddressSpace, cache: CodeCache, source: AddressSpace) -> bool:
    """Turn a, a fork of source that ran, back into what source.fork() gives: pages it
    wrote or added are released, the rest stay shared (copy-on-write, as published).
    False, with a unchanged, if a no longer maps source's regions as source does."""
    for r in source.regions:
        found = a.find_region(r.start)  # source's own Region object, unless a remapped it
        if found is not r and found != r:  # Region compares by value: same range and prot
            return False
    sf = source.frames
    frames = a.frames
    cow = a.cow
    # Frames a holds but source does not: written (copied), added, or moved by mremap.
    own = [pn for pn, fr in frames.items() if sf.get(pn) is not fr]
    a._unpublish_all_writes()  # none of a's pages is writable in place any more
    for pn in own:
        frames.pop(pn).unref()
        cow.discard(pn)
        if pn in a.code_pages:
            a.code_pages.discard(pn)
            cache.invalidate_page(pn)  # written here: its code cannot match again
    back = [pn for pn in own if pn in sf]
    if len(frames) + len(back) != len(sf):  # a dropped some of source's pages too
        back = list(sf.keys() - frames.keys())
    sR32, sR16, sR8 = source.R32, source.R16, source.R8
    R32, R16, R8 = a.R32, a.R16, a.R8
    for pn in back:
        fr = sf[pn]
        fr.refs += 1
        frames[pn] = fr
        cow.add(pn)
        key = pn << PAGE_SHIFT
        if key in sR32:  # what source.fork() copies from source's read tables
            R32[key], R16[key], R8[key] = sR32[key], sR16[key], sR8[key]
            if PAGE_LISTS:
                _dir_set(a.R32L, pn, sR32[key])
        else:
            a._unpublish_read(pn)
    for pn in own:
        if pn not in sf:
            a._unpublish_read(pn)
    if len(cow) != len(frames):  # every page shared with source is copy-on-write
        cow.clear()
        cow.update(frames)
    a.regions = list(source.regions)  # as fork() shares them (never changed in place)
    a.brk_start, a.brk, a.mmap_base = source.brk_start, source.brk, source.mmap_base
    a.pool = source.pool
    return True


def revive(kept: Kept, source: AddressSpace) -> tuple[AddressSpace, CodeCache]:
    """The kept space, now a copy-on-write fork of source, and the code still valid in it."""
    a, cache = kept.aspace, kept.cache
    if kept.whole:
        return a, cache  # its pages are source's, copy-on-write; its code pages marked
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
        if kept.whole:
            kept.aspace.release()
            kept.cache.invalidate_all()
            kept.whole = False
