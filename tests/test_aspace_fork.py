"""AddressSpace.fork fills the fast tables in bulk: after random histories (writes,
unmaps, mprotects, code marks, watched pages) every table of parent and child says
exactly what a page-by-page publish would, also when forking into a released space."""

from __future__ import annotations

import random

import pytest

from afgdb.machine import memory as M
from afgdb.machine.memory import AddressSpace

PAGES = [*range(0x400, 0x410), 0x420, 0x421, 0x422, 0x7F000, 0x7F001]


def _listed(d: list[list[M.array[int]]]) -> dict[int, M.array[int]]:
    return {(i << 10 | j) << 12: x for i, t in enumerate(d) for j, x in enumerate(t)
            if x is not M._NO_PAGE}


def check_tables(a: AddressSpace) -> None:
    """Each table holds exactly the pages its kind of access may take without the slow path."""
    want_r: dict[int, M.Frame] = {}
    want_w: dict[int, M.Frame] = {}
    for pn, fr in a.frames.items():
        r = a.find_region(pn << 12)
        prot = r.prot if r else 0
        if prot & M.PROT_READ and pn not in a.watched_pages:
            want_r[pn << 12] = fr
        if prot & M.PROT_WRITE and pn not in a.watched_pages | a.cow | a.code_pages:
            want_w[pn << 12] = fr
    for table, want, view in ((a.R32, want_r, "w"), (a.R16, want_r, "h"), (a.R8, want_r, "b"),
                              (a.W32, want_w, "w"), (a.W16, want_w, "h"), (a.W8, want_w, "b")):
        assert table.keys() == want.keys()
        assert all(table[k] is getattr(fr, view) for k, fr in want.items())
    if M.PAGE_LISTS:
        for d, want in ((a.R32L, want_r), (a.W32L, want_w)):
            got = _listed(d)
            assert got.keys() == want.keys() and all(got[k] is want[k].w for k in want)


def _template(rnd: random.Random) -> AddressSpace:
    t = AddressSpace()
    t.map(0x400000, 0x10000, M.PROT_READ | M.PROT_EXEC, name="prog", kind="file")
    t.map(0x420000, 0x3000, M.PROT_READ | M.PROT_WRITE, name="prog", kind="file")
    for pn in PAGES[:19]:
        if rnd.random() < 0.8:
            t.write(pn << 12, bytes([pn & 0xFF]) * 8, check=False)
    return t


def _scribble(a: AddressSpace, rnd: random.Random) -> None:
    a.map(0x7F000000, 0x2000, M.PROT_READ | M.PROT_WRITE)
    for _ in range(rnd.randint(0, 14)):
        op, pn = rnd.random(), rnd.choice(PAGES)
        try:
            if op < 0.45:
                a.write(pn << 12, b"zz", check=rnd.random() < 0.5)
            elif op < 0.55:
                a.unmap(pn << 12, 0x1000)
            elif op < 0.65:
                a.protect(pn << 12, 0x1000, rnd.choice([0, 1, 3, 5]))
            elif op < 0.75 and pn in a.frames:
                a.mark_code(pn)
            elif op < 0.8:
                a.set_watched({pn})
            else:
                a.fetch(pn << 12)
        except M.MemFault:
            pass


@pytest.mark.parametrize("seed", range(60))
def test_fork_publishes_what_each_page_allows(seed: int) -> None:
    rnd = random.Random(seed)
    t = _template(rnd)
    a = t.fork()
    _scribble(a, rnd)
    check_tables(a)
    b = a.fork()  # a may have watched pages: b reads them through its tables
    for s in (t, a, b):
        check_tables(s)
    assert all(a.frames[pn] is b.frames[pn] for pn in a.frames)
    assert b.cow == set(b.frames) and a.cow >= set(a.frames)
    b.set_watched(set())
    _scribble(b, rnd)
    b.set_watched(set())
    b.release()
    a.fork(into=b)  # a released space filled again, its table objects kept
    check_tables(b)
    check_tables(a)
    assert b.frames == a.frames and b.cow == set(a.frames)
