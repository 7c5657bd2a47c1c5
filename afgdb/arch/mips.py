"""The MIPS32 o32 Linux register set as gdb sees it: one table, everything derived.

gdb-multiarch numbers MIPS registers in its "raw" order (mips-tdep.c):
r0..r31, status, lo, hi, badvaddr, cause, pc, f0..f31, fcsr, fir, then
the Linux ``restart`` register. The target description (target.xml), the
``g``/``G`` packet layout and the ``p``/``P`` numbers all come from
`REGISTERS` below; nothing else in afgdb spells a register number.

Also here: the translation between Linux MIPS signal numbers (the guest's)
and gdb's target-independent signal numbers (the protocol's).

Knows nothing of the CPU object: `afgdb.targets.process` maps rows to
machine state by `Reg.name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

ARCHITECTURE = "mips:isa32r2"
OSABI = "GNU/Linux"

CPU = "org.gnu.gdb.mips.cpu"
CP0 = "org.gnu.gdb.mips.cp0"
FPU = "org.gnu.gdb.mips.fpu"
LINUX = "org.gnu.gdb.mips.linux"
FEATURES = (CPU, CP0, FPU, LINUX)


@dataclass(frozen=True)
class Reg:
    """One register: its gdb name, size, remote number and target.xml feature."""

    name: str
    bitsize: int
    regnum: int
    feature: str
    type: str = ""  # target.xml type ("" = gdb's default int of that size)
    group: str = ""

    @property
    def size(self) -> int:
        return self.bitsize // 8


def _table() -> tuple[Reg, ...]:
    rows = [Reg(f"r{i}", 32, i, CPU) for i in range(32)]
    rows += [
        Reg("status", 32, 32, CP0),
        Reg("lo", 32, 33, CPU),
        Reg("hi", 32, 34, CPU),
        Reg("badvaddr", 32, 35, CP0),
        Reg("cause", 32, 36, CP0),
        Reg("pc", 32, 37, CPU, type="code_ptr"),
    ]
    rows += [Reg(f"f{i}", 32, 38 + i, FPU, type="ieee_single") for i in range(32)]
    rows += [
        Reg("fcsr", 32, 70, FPU, group="float"),
        Reg("fir", 32, 71, FPU, group="float"),
        Reg("restart", 32, 72, LINUX, group="system"),
    ]
    return tuple(rows)


#: Every register, in remote-number order (which is the ``g`` packet order).
REGISTERS: tuple[Reg, ...] = _table()
BY_NAME: dict[str, Reg] = {r.name: r for r in REGISTERS}
BY_NUM: dict[int, Reg] = {r.regnum: r for r in REGISTERS}
NUM_REGS = len(REGISTERS)
assert [r.regnum for r in REGISTERS] == list(range(NUM_REGS))

#: o32 ABI names of the general registers (what gdb also accepts: ``$sp``, ``$a0``).
ABI_NAMES: dict[str, str] = {
    "zero": "r0", "at": "r1", "v0": "r2", "v1": "r3",
    **{f"a{i}": f"r{4 + i}" for i in range(4)},
    **{f"t{i}": f"r{8 + i}" for i in range(8)},
    **{f"s{i}": f"r{16 + i}" for i in range(8)},
    "t8": "r24", "t9": "r25", "k0": "r26", "k1": "r27", "gp": "r28", "sp": "r29",
    "fp": "r30", "s8": "r30", "ra": "r31",
}


def lookup(name: str) -> Reg:
    """The register called ``name`` (table name such as ``r4``, or ABI name such as
    ``a0``); KeyError if there is none."""
    return BY_NAME[ABI_NAMES.get(name, name)]


PC = BY_NAME["pc"].regnum
SP = BY_NAME["r29"].regnum
RA = BY_NAME["r31"].regnum
#: Registers sent with every stop reply so that gdb need not ask for them: pc,
#: and every GPR, because gdb steps MIPS in software and evaluates each branch's
#: operands itself (without them a step onto a branch costs a `g` round trip).
EXPEDITED = (PC, *range(32))

#: The size of a ``g`` packet's register block in bytes.
G_SIZE = sum(r.size for r in REGISTERS)

#: What a user-mode thread's CP0 Status reads as: CU1 (FPU usable), FR=0
#: (doubles live in even/odd pairs of 32-bit FPRs), user mode, EXL, IE.
USER_STATUS = 0x20000013


def target_xml() -> str:
    """The complete target description (one document, no xi:include)."""
    out = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
           "<target>", f"  <architecture>{ARCHITECTURE}</architecture>",
           f"  <osabi>{escape(OSABI)}</osabi>"]
    for feature in FEATURES:
        out.append(f'  <feature name="{feature}">')
        for r in REGISTERS:
            if r.feature != feature:
                continue
            attrs = f'name="{r.name}" bitsize="{r.bitsize}" regnum="{r.regnum}"'
            if r.type:
                attrs += f' type="{r.type}"'
            if r.group:
                attrs += f' group="{r.group}"'
            out.append(f"    <reg {attrs}/>")
        out.append("  </feature>")
    out.append("</target>")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ signals
# gdb's own signal numbers (include/gdb/signals.def), by Linux MIPS number.
_LINUX_TO_GDB = {
    1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 10: 10, 11: 11, 12: 12,
    13: 13, 14: 14, 15: 15,
    16: 30,  # SIGUSR1
    17: 31,  # SIGUSR2
    18: 20,  # SIGCHLD
    19: 32,  # SIGPWR
    20: 28,  # SIGWINCH
    21: 16,  # SIGURG
    22: 23,  # SIGIO / SIGPOLL
    23: 17,  # SIGSTOP
    24: 18,  # SIGTSTP
    25: 19,  # SIGCONT
    26: 21,  # SIGTTIN
    27: 22,  # SIGTTOU
    28: 26,  # SIGVTALRM
    29: 27,  # SIGPROF
    30: 24,  # SIGXCPU
    31: 25,  # SIGXFSZ
    32: 77,  # SIGRTMIN-ish: GDB_SIGNAL_REALTIME_32
}
for _n in range(33, 64):
    _LINUX_TO_GDB[_n] = 45 + (_n - 33)  # GDB_SIGNAL_REALTIME_33..63
for _n in range(64, 128):
    _LINUX_TO_GDB[_n] = 78 + (_n - 64)  # GDB_SIGNAL_REALTIME_64..127
_GDB_TO_LINUX = {g: s for s, g in _LINUX_TO_GDB.items()}

GDB_SIGNAL_0 = 0
GDB_SIGNAL_INT = 2
GDB_SIGNAL_TRAP = 5
GDB_SIGNAL_STOP = 17


def to_gdb_signal(sig: int) -> int:
    """Linux MIPS signal number -> gdb's number (143, GDB_SIGNAL_UNKNOWN, if none)."""
    if sig == 0:
        return 0
    return _LINUX_TO_GDB.get(sig, 143)


def from_gdb_signal(gsig: int) -> int | None:
    """gdb's signal number -> Linux MIPS number, None if the guest has no such signal."""
    if gsig == 0:
        return 0
    return _GDB_TO_LINUX.get(gsig)
