"""Breakpoints inserted into code the block engine has already translated (and made
regions of) stop exactly where, and after as many instructions as, the reference
interpreter's do; including the same breakpoints removed and inserted again, as gdb
does at every step."""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

from afgdb.cli import default_root
from afgdb.machine.cpu import engine, interp
from afgdb.machine.kernel import Kernel
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.proc import Proc

ROOT = Path(default_root())


def _symbol(name: str) -> tuple[int, int]:
    with open(ROOT / "bin" / "loop", "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]  # type: ignore[union-attr]
        return int(sym["st_value"]), int(sym["st_size"])


def _machine(reference: bool) -> tuple[Kernel, Proc]:
    k = Kernel(str(ROOT), stdin=BufferStream(0), stdout=BufferStream(1), stderr=BufferStream(1))
    if reference:
        k.cpu_run = interp.run
    p = k.spawn("/bin/loop", ["loop"], [])
    k.run(400_000)  # into main's loop: hot, so made into regions by the block engine
    return k, p


def test_breakpoints_in_hot_translated_code_stop_like_the_interpreter() -> None:
    (_, block_p), (_, ref_p) = _machine(False), _machine(True)
    assert any(u.region for u in block_p.cache.blocks.values())
    main, main_size = _symbol("main")  # tick() is inlined into main's loop
    addrs = list(range(main, main + main_size, 4))
    machines = [(block_p, engine.run), (ref_p, interp.run)]
    hits = 0
    for _ in range(2):  # the second pass re-inserts addresses already seen
        for addr in addrs:
            stops = []
            for p, run in machines:
                c = p.lwps[0].cpu
                p.cache.add_breakpoint(addr)
                ex = run(c, p.cache, 5_000)
                stops.append((ex.reason, c.pc, c.icount))
                p.cache.remove_breakpoint(addr)
                if ex.reason == engine.X_BREAKPOINT:
                    run(c, p.cache, 1, step=True)  # over it, as gdb steps off a breakpoint
            assert stops[0] == stops[1], f"breakpoint at {addr:#x}: {stops}"
            if stops[0][0] == engine.X_BREAKPOINT:
                assert stops[0][1] == addr
                hits += 1
    assert hits >= 2 * 4  # the loop's four instructions, reached on both passes
