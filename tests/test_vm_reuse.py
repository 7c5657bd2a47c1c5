"""A finished process's space kept whole for the next exec of its program: the pages it
shares with the program's template stay, what it wrote or added is given back, and the
kept space is exactly what a fresh copy-on-write fork of the template would be."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_util import fresh_root  # noqa: E402
from test_image_cache import _run  # noqa: E402

from afgdb.machine.kernel import image_cache, vm_reuse  # noqa: E402
from afgdb.machine.kernel.kernel import Kernel  # noqa: E402
from afgdb.machine.kernel.proc import Proc  # noqa: E402
from afgdb.machine.memory import PAGE_LISTS, PAGE_SHIFT, AddressSpace, Region  # noqa: E402


def _tables(a: AddressSpace) -> tuple[object, ...]:
    """Everything of a space that a fork of its template decides, by page."""
    regions = [(r.start, r.end, r.prot, r.name, r.offset, r.kind) for r in a.regions]
    rd = {key: id(w) for key, w in a.R32.items()}
    assert set(a.R16) == set(a.R8) == set(rd)
    if PAGE_LISTS:
        assert {pn << PAGE_SHIFT for pn in range(1 << 20)
                if len(a.R32L[pn >> 10][pn & 1023])} == set(rd)
    return ({pn: id(fr) for pn, fr in a.frames.items()}, set(a.cow), rd, dict(a.W32),
            regions, (a.brk_start, a.brk, a.mmap_base))


def test_a_kept_space_is_a_fresh_fork_of_the_template() -> None:
    with fresh_root() as root:
        k = Kernel(str(root))
        p = k.spawn("/bin/corpus/pm_echo", ["pm_echo", "a", "b"])
        k.run_until_exit(p)  # wrote its data, heap and stack, then exited
        entry = next(e for v, e in image_cache._images(k).items()
                     if v[0].endswith("/bin/corpus/pm_echo"))
        kept = entry.spares[-1]
        assert kept.whole and not kept.pins
        a, t = kept.aspace, entry.template
        fresh = t.fork()
        assert _tables(a) == _tables(fresh)
        assert all(a.frames[pn] is t.frames[pn] for pn in a.frames)
        assert kept.cache.by_page and all(pn in a.code_pages for pn in kept.cache.by_page)
        fresh.release()


def _hello(k: Kernel) -> tuple[Proc, AddressSpace, image_cache.CachedImage, Region]:
    """/bin/hello spawned from its cached image: the process, its space, the image and
    the program's writable data region."""
    p = k.spawn("/bin/hello", ["hello"])
    a, entry = p.aspace, p.image
    assert isinstance(entry, image_cache.CachedImage)
    return p, a, entry, next(r for r in a.regions if r.prot & 2 and r.kind == "file")


def test_pages_the_process_wrote_are_given_back() -> None:
    with fresh_root() as root:
        k = Kernel(str(root))
        p, a, entry, data = _hello(k)
        before = k.pages.used
        a.write(data.start, b"written")  # a private copy of a program page
        text = min(r.start for r in a.regions)
        p.cache.block(p.entry)  # code from the untouched text
        assert k.pages.used > before
        from afgdb.machine.kernel import signals

        signals.exit_process(k, p, 0)
        kept = entry.spares[-1]
        assert kept.aspace is a and kept.whole
        assert k.pages.used == 0  # the stack, the copy: all given back, nothing kept charged
        assert a.frames[data.start >> PAGE_SHIFT] is entry.template.frames[data.start >> PAGE_SHIFT]
        assert a.read(data.start, 7) != b"written"
        assert text >> PAGE_SHIFT in kept.cache.by_page
        a2, cache2 = image_cache.instantiate(k, entry)
        assert a2 is a and cache2 is kept.cache and a2.pool is k.pages
        assert p.entry in cache2.cold  # kept code runs again without translation


def test_a_space_whose_mappings_changed_is_released() -> None:
    """A process that changed the program's mappings keeps only its code (pins)."""
    with fresh_root() as root:
        k = Kernel(str(root))
        p, a, entry, data = _hello(k)
        assert a.protect(data.start, 0x1000, 1)
        assert image_cache.recycle(k, p)
        kept = entry.spares[-1]
        assert not kept.whole and not a.frames
        vm_reuse.unpin(kept)


def test_dropping_a_kept_space_lets_go_of_its_pages() -> None:
    with fresh_root() as root:
        k = Kernel(str(root))
        k.run_until_exit(k.spawn("/bin/hello", ["hello"]))
        entry = next(iter(image_cache._images(k).values()))
        kept = entry.spares[-1]
        t = entry.template
        refs = {pn: fr.refs for pn, fr in t.frames.items()}
        vm_reuse.unpin(kept)
        assert not kept.aspace.frames
        assert all(fr.refs == refs[pn] - 1 for pn, fr in t.frames.items())


def test_runs_are_the_same_with_whole_spaces_kept() -> None:
    """Programs that fork (their copy-on-write pages are then their own too), write their
    code, or exec many times count the same instructions as on a fresh machine."""
    with fresh_root() as root:
        progs = [("/bin/corpus/pm_forkloop", "4"), ("/bin/corpus/smc",),
                 ("/bin/corpus/pm_forkexec",), ("/bin/corpus/pm_cow", "3"),
                 ("/bin/corpus/malloc_stress",)]
        fresh = [_run(Kernel(str(root)), *prog) for prog in progs]
        k = Kernel(str(root))
        for _ in range(3):
            assert [_run(k, *prog) for prog in progs] == fresh
