"""exec of a cached program image: text shared copy-on-write, a changed file reloaded;
address spaces and translated code reused by the next exec of a program or the next
fork of a parent, running exactly as fresh ones."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402
from corpus_util import fresh_root  # noqa: E402

from afgdb.machine.kernel import image_cache  # noqa: E402
from afgdb.machine.kernel.files import BufferStream  # noqa: E402
from afgdb.machine.kernel.kernel import Kernel  # noqa: E402
from afgdb.machine.kernel.proc import Proc  # noqa: E402
from afgdb.machine.memory import AddressSpace  # noqa: E402


def _run(k: Kernel, path: str, *args: str) -> tuple[bytes, int, int]:
    out = BufferStream(1)
    k.stdio = (BufferStream(0), out, out)
    p = k.spawn(path, [os.path.basename(path), *args])
    status = k.run_until_exit(p)
    return bytes(out.out), status, p.icount()


def test_exec_shares_the_program_pages() -> None:
    with fresh_root() as root:
        k = Kernel(str(root))
        a = k.spawn("/bin/hello", ["hello"]).aspace
        b = k.spawn("/bin/hello", ["hello"]).aspace
        assert a.resident_pages() > 100
        # Only the stack is private; the program's pages are one copy for both.
        assert a.private_pages() == b.private_pages() <= 2
        shared = [pn for pn in a.frames if a.frames[pn] is b.frames.get(pn)]
        assert len(shared) == a.resident_pages() - a.private_pages()


def test_a_rewritten_program_is_loaded_again() -> None:
    with fresh_root() as root:
        k = Kernel(str(root))
        shutil.copy(root / "bin" / "hello", root / "bin" / "prog")
        first = _run(k, "/bin/prog")
        assert first[0] == b"hello, world\n"
        tmp = root / "bin" / "prog.new"
        shutil.copy(root / "bin" / "args", tmp)
        os.replace(tmp, root / "bin" / "prog")
        out, status, _ = _run(k, "/bin/prog", "x")
        assert out != first[0] and status == 0
        assert len([v for v in image_cache._images(k) if v[0].endswith("/bin/prog")]) == 1


def test_a_recycled_address_space_runs_as_a_fresh_one() -> None:
    """Same outputs and instruction counts with and without kept code, including a
    program that writes its own code."""
    with fresh_root() as root:
        k = Kernel(str(root))
        for prog in ("/bin/corpus/smc", "/bin/corpus/pm_forkexec"):
            fresh = _run(Kernel(str(root)), prog)
            runs = [_run(k, prog) for _ in range(3)]
            assert runs == [fresh] * 3, prog
            entry = next(e for v, e in image_cache._images(k).items() if v[0].endswith(prog))
            assert entry.spares  # the second and third runs reused the first one's space


def test_recycling_keeps_only_code_from_unwritten_program_pages() -> None:
    """Code translated from a page the process wrote is dropped; code from the untouched
    program text is kept, and writes to its pages still reach it."""
    with fresh_root() as root:
        k = Kernel(str(root))
        p = k.spawn("/bin/hello", ["hello"])
        a, cache = p.aspace, p.cache
        entry = p.image
        assert isinstance(entry, image_cache.CachedImage)
        text = min(r.start for r in a.regions)
        data = next(r for r in a.regions if r.prot & 2 and r.kind == "file")
        cache.block(p.entry)  # from the untouched text
        assert a.protect(data.start, 0x1000, 7)  # rwx: the template's regions no longer match
        a.write(data.start, bytes.fromhex("0800e003" "00000000"))  # jr ra; nop
        cache.block(data.start)  # from a written page
        assert image_cache.recycle(k, p)
        kept = entry.spares[-1]
        assert kept.aspace is a and kept.cache is cache and p.aspace is not a
        assert not a.frames and set(kept.pins) == set(cache.by_page)
        a2, cache2 = image_cache.instantiate(k, entry)
        assert a2 is a and cache2 is cache and not entry.spares
        assert p.entry in cache.cold and data.start not in cache.cold
        assert data.start >> 12 not in cache.by_page and text >> 12 < data.start >> 12
        assert a.frames[data.start >> 12] is entry.template.frames[data.start >> 12]
        assert a.read(data.start, 8) != bytes.fromhex("0800e003" "00000000")
        assert cache.by_page and all(pn in a.code_pages for pn in cache.by_page)


def test_a_fork_reuses_the_code_of_the_parents_last_child(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fork of pm_forkloop gets the space and code its previous child left, and
    every program runs exactly as without any reuse."""
    from afgdb.machine.kernel import kern_fork

    caches: list[object] = []
    fork_vm = kern_fork._fork_vm

    def spy(p: Proc) -> tuple[AddressSpace, object]:
        a, cache = fork_vm(p)
        caches.append(cache)
        return a, cache

    with fresh_root() as root:
        progs = [("/bin/corpus/pm_forkloop", "5"), ("/bin/corpus/pm_forktree",),
                 ("/bin/corpus/pm_pipeline",), ("/bin/corpus/smc",)]
        with monkeypatch.context() as m:
            m.setattr(image_cache, "recycle", lambda k, p, succ=None: False)
            m.setattr(kern_fork, "keep_for_next_fork", lambda k, p, succ=None: False)
            fresh = [_run(Kernel(str(root)), *prog) for prog in progs]
        monkeypatch.setattr(kern_fork, "_fork_vm", spy)
        k = Kernel(str(root))
        assert _run(k, *progs[0]) == fresh[0]
        assert caches[0] is None and caches[1] is not None and caches.count(caches[1]) == 4
        assert [_run(k, *prog) for prog in progs] == fresh
