"""Find where afgdb and qemu-mipsel part ways on a program: a developer's tool.

Runs PROGRAM under `qemu-mipsel -singlestep -d cpu` and under afgdb one unit
at a time, and reports the first unit whose pc or general registers differ
(registers that hold stack addresses differ by the stacks' offset and are
compared modulo it).

    python scripts/lockstep.py ROOT /bin/corpus/strings [ARGS...]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from afgdb.machine.cpu import engine, isa
from afgdb.machine.kernel.kernel import Kernel

_PC = re.compile(r"^pc=0x([0-9a-f]+) HI=0x([0-9a-f]+) LO=0x([0-9a-f]+)")
_GPR = re.compile(r"^GPR\d\d:((?: \w+ [0-9a-f]{8})+)")


def qemu_states(root: str, prog: str, args: list[str]) -> Iterator[tuple[int, list[int]]]:
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        subprocess.run(["qemu-mipsel", "-singlestep", "-d", "cpu,nochain", "-D", log.name,
                        "-0", prog, root + prog, *args], cwd=root, capture_output=True, env={},
                       check=False)
        pc = None
        regs: list[int] = []
        with open(log.name) as fh:
            for line in fh:
                m = _PC.match(line)
                if m:
                    pc = int(m.group(1), 16)
                    regs = []
                    continue
                g = _GPR.match(line)
                if g and pc is not None:
                    vals = g.group(1).split()[1::2]
                    regs += [int(v, 16) for v in vals]
                    if len(regs) == 32:
                        yield pc, regs


def _same(ours: int, theirs: int, sp_off: int) -> bool:
    """Equal, or both pointers into the initial stack (whose layouts differ)."""
    if ours == theirs or (ours + sp_off) & 0xFFFFFFFF == theirs:
        return True
    return 0x7F000000 <= ours < 0x7FFF0000 and 0x40000000 <= theirs < 0x40900000


def main() -> int:
    pc_only = sys.argv[1] == "--pc-only"
    if pc_only:
        del sys.argv[1]
    start = 0
    if sys.argv[1] == "--from":
        start = int(sys.argv[2], 16)
        del sys.argv[1:3]
    root, prog, *args = sys.argv[1:]
    root = root.rstrip("/")
    k = Kernel(root)
    p = k.spawn(prog, [prog, *args], [])
    t = p.lwps[0]
    q = qemu_states(root, prog, args)
    qpc, qregs = next(q)
    if start:
        while t.cpu.pc != start:
            ex = engine.run(t.cpu, p.cache, 1, step=True)
            if ex.reason == engine.X_EVENT and ex.event == isa.EV_SYSCALL:
                k.syscall(t)
        while qpc != start:
            qpc, qregs = next(q)
    sp_off = (qregs[29] - t.cpu.r[29]) & 0xFFFFFFFF
    history: list[str] = []
    # Registers that already differ where the comparison starts are ignored until they agree.
    noisy = {i for i in range(32) if not _same(t.cpu.r[i], qregs[i], sp_off)} if start else set()
    n = 0
    for qpc, qregs in q:
        before = t.cpu.icount
        ex = engine.run(t.cpu, p.cache, 1, step=True)
        if t.cpu.icount - before == 2:  # qemu logs a delay slot as a unit of its own
            qpc, qregs = next(q, (qpc, qregs))
        if ex.reason == engine.X_EVENT and ex.event == isa.EV_SYSCALL:
            k.syscall(t)
        elif ex.reason != engine.X_BUDGET:
            print(f"afgdb stopped: {ex}")
            break
        n += 1
        c = t.cpu
        diff = [i for i in range(32)
                if not _same(c.r[i], qregs[i], sp_off)] if not pc_only else []
        noisy -= {i for i in noisy if i not in diff}
        diff = [i for i in diff if i not in noisy]
        try:
            word = p.aspace.fetch(c.pc)
            history.append(f"{c.pc:08x} {isa.disassemble(word, c.pc)}")
        except Exception:
            history.append(f"{c.pc:08x} ?")
        history = history[-40:]
        if c.pc != qpc or diff:
            print(f"diverged after {n} units: afgdb pc={c.pc:#x} qemu pc={qpc:#x}")
            for i in range(32):
                mark = " <--" if i in diff else ""
                print(f"  r{i}: afgdb {c.r[i]:#010x} qemu {qregs[i]:#010x}{mark}")
            print("last units (afgdb):")
            print("\n".join("  " + h for h in history))
            return 1
    print(f"no divergence in {n} units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
