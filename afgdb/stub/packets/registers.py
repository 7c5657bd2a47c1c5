"""Registers: g, G, p, P — layouts from afgdb.arch.mips.REGISTERS (target byte order)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.arch import mips
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets.common import OK, ErrorReply, PacketSpec, Reply, hex_int, no_args, split
from afgdb.targets.caps import TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session


def _enc(reg: mips.Reg, value: int | None) -> bytes:
    if value is None:
        return b"x" * (2 * reg.size)
    return value.to_bytes(reg.size, "little").hex().encode()


#: Every register is 32 bits: a full ``g`` block is one struct.pack (a per-register
#: join costs more than the rest of the packet's round trip).
_ALL_WORDS = struct.Struct(f"<{mips.NUM_REGS}I") \
    if all(r.size == 4 for r in mips.REGISTERS) else None


def handle_read_all(s: Session, _: None) -> Reply:
    t = s.current_target()
    vals = t.read_registers(s.current_tid(t))
    if _ALL_WORDS is not None and len(vals) == mips.NUM_REGS and None not in vals:
        return _ALL_WORDS.pack(*vals).hex().encode()
    return b"".join(_enc(r, v) for r, v in zip(mips.REGISTERS, vals))


def parse_write_all(rest: bytes) -> bytes:
    data = rsp.hex_decode(rest)
    if len(data) > mips.G_SIZE:
        raise rsp.RemoteProtocolError(f"G packet of {len(data)} bytes; registers take {mips.G_SIZE}")
    return data


def handle_write_all(s: Session, data: bytes) -> Reply:
    t = s.current_target()
    write = getattr(t, "write_register", None)
    if write is None:
        raise TargetError(E.EPERM, "registers of this target are read-only")
    tid = s.current_tid(t)
    pos = 0
    for r in mips.REGISTERS:
        if pos + r.size > len(data):
            break
        write(tid, r.regnum, int.from_bytes(data[pos:pos + r.size], "little"))
        pos += r.size
    return OK


def parse_regnum(rest: bytes) -> int:
    return hex_int(rest, "register number")


def handle_read_one(s: Session, n: int) -> Reply:
    reg = mips.BY_NUM.get(n)
    if reg is None:
        return ErrorReply(E.EINVAL, f"no register {n}")
    t = s.current_target()
    return _enc(reg, t.read_registers(s.current_tid(t))[n])


@dataclass(frozen=True)
class WriteReg:
    regnum: int
    value: bytes


def parse_write_one(rest: bytes) -> WriteReg:
    n, v = split(rest, b"=", 2, "P packet")
    return WriteReg(hex_int(n, "register number"), rsp.hex_decode(v))


def handle_write_one(s: Session, w: WriteReg) -> Reply:
    reg = mips.BY_NUM.get(w.regnum)
    if reg is None or len(w.value) != reg.size:
        return ErrorReply(E.EINVAL, f"bad register {w.regnum} or size")
    t = s.current_target()
    write = getattr(t, "write_register", None)
    if write is None:
        raise TargetError(E.EPERM, "registers of this target are read-only")
    write(s.current_tid(t), w.regnum, int.from_bytes(w.value, "little"))
    return OK


PACKETS = [
    PacketSpec(b"g", no_args, handle_read_all),
    PacketSpec(b"G", parse_write_all, handle_write_all, needs="Writable", missing="error"),
    PacketSpec(b"p", parse_regnum, handle_read_one),
    PacketSpec(b"P", parse_write_one, handle_write_one, needs="Writable", missing="error"),
]
