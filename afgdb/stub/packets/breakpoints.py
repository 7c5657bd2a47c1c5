"""Breakpoints and watchpoints: Z0/z0 software, Z1/z1 hardware, Z2-4/z2-4 watchpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets.common import EMPTY, OK, PacketSpec, Reply, hex_int, split
from afgdb.targets.caps import ReadOnly, TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session

# A watched range lies inside the 32-bit address space and is at most this long: the
# engine marks every page of every range, so an unbounded length would take memory
# and time in proportion (a length of 2**60 never finishes).
MAX_WATCH_LENGTH = 1 << 24

_CAP = {0: "SwBreakpoints", 1: "HwBreakpoints", 2: "Watchpoints", 3: "Watchpoints",
        4: "Watchpoints"}


@dataclass(frozen=True)
class Point:
    insert: bool
    type: int  # 0 sw, 1 hw, 2 write, 3 read, 4 access
    addr: int
    kind: int  # breakpoint kind (4: MIPS32) or watched length


def _parse(rest: bytes, insert: bool) -> Point:
    # Conditions and commands (";X..." / ";cmds") may follow; we evaluate none.
    body = rest.split(b";", 1)[0]
    typ, addr, kind = split(body, b",", 3, "Z/z packet")
    t = hex_int(typ, "type")
    if t > 4:
        raise rsp.RemoteProtocolError(f"unknown breakpoint type {t}")
    a, k = hex_int(addr, "address") & 0xFFFFFFFF, hex_int(kind, "kind")
    if t >= 2 and not (0 < k <= MAX_WATCH_LENGTH and a + k <= 1 << 32):
        raise rsp.RemoteProtocolError(f"bad watchpoint length {k:#x} at {a:#x}")
    return Point(insert, t, a, k)


def parse_insert(rest: bytes) -> Point:
    return _parse(rest, True)


def parse_remove(rest: bytes) -> Point:
    return _parse(rest, False)


def handle_point(s: Session, p: Point) -> Reply:
    t = s.current_target()
    cap = _CAP[p.type]
    if cap not in s.caps(t):
        if isinstance(t, ReadOnly):
            raise TargetError(E.EPERM, t.refusal())
        if "Writable" not in s.caps(t):
            raise TargetError(E.EPERM, "this target is read-only: no breakpoints")
        return EMPTY  # unsupported: gdb falls back (memory breakpoints, software watch)
    if p.type == 0:
        (t.add_sw_breakpoint if p.insert else t.remove_sw_breakpoint)(  # type: ignore[attr-defined]
            p.addr, p.kind)
    elif p.type == 1:
        (t.add_hw_breakpoint if p.insert else t.remove_hw_breakpoint)(  # type: ignore[attr-defined]
            p.addr, p.kind)
    else:
        (t.add_watchpoint if p.insert else t.remove_watchpoint)(  # type: ignore[attr-defined]
            p.addr, p.kind, p.type)
    return OK


PACKETS = [
    PacketSpec(b"Z", parse_insert, handle_point),
    PacketSpec(b"z", parse_remove, handle_point),
]
