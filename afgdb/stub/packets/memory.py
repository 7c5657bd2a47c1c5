"""Memory: m (read), M (hex write), X (binary write)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.stub.packets.common import OK, PacketSpec, Reply, hex_int, split
from afgdb.targets.caps import ThreadMemory

if TYPE_CHECKING:
    from afgdb.stub.session import Session

#: The most a reply may carry: two hex digits per byte within PacketSize.
MAX_READ = (rsp.PACKET_SIZE - 4) // 2


@dataclass(frozen=True)
class Read:
    addr: int
    length: int


@dataclass(frozen=True)
class Write:
    addr: int
    data: bytes


def parse_read(rest: bytes) -> Read:
    a, n = split(rest, b",", 2, "m packet")
    return Read(hex_int(a, "address") & 0xFFFFFFFF, hex_int(n, "length"))


def handle_read(s: Session, r: Read) -> Reply:
    t = s.current_target()
    if r.length == 0:
        return b""
    n = min(r.length, MAX_READ)
    if s.implements(t, ThreadMemory):  # pid 0: user addresses in the selected thread's process
        tm: ThreadMemory = t  # type: ignore[assignment]
        return rsp.hex_encode(tm.read_thread_memory(s.current_tid(t), r.addr, n))
    return rsp.hex_encode(t.read_memory(r.addr, n))


def parse_write_hex(rest: bytes) -> Write:
    head, data = split(rest, b":", 2, "M packet")
    a, n = split(head, b",", 2, "M packet")
    payload = rsp.hex_decode(data)
    if len(payload) != hex_int(n, "length"):
        raise rsp.RemoteProtocolError("M packet length does not match its data")
    return Write(hex_int(a, "address") & 0xFFFFFFFF, payload)


def parse_write_bin(rest: bytes) -> Write:
    head, data = split(rest, b":", 2, "X packet")
    a, n = split(head, b",", 2, "X packet")
    if len(data) != hex_int(n, "length"):
        raise rsp.RemoteProtocolError("X packet length does not match its data")
    return Write(hex_int(a, "address") & 0xFFFFFFFF, data)


def handle_write(s: Session, w: Write) -> Reply:
    t = s.current_target()
    if w.data:
        t.write_memory(w.addr, w.data)  # type: ignore[attr-defined]
    return OK


PACKETS = [
    PacketSpec(b"m", parse_read, handle_read),
    PacketSpec(b"M", parse_write_hex, handle_write, needs="Writable", missing="error"),
    PacketSpec(b"X", parse_write_bin, handle_write, needs="Writable", missing="error"),
]
