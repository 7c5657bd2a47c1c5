"""The core handoff wire format: how a dump travels from the machine to cored.

Sans-IO (no sockets here): `encode_header` / `ChunkWriter` produce bytes on
the sending side, `Parser` turns received bytes into events on cored's side.
Both ends import this one module, so the framing is written down once.

Framing (all integers little-endian)::

    magic   8 bytes  b"AFCORE1\\n"
    hlen    u32      length of the header
    header  hlen     UTF-8 JSON object: kind ("process" | "kernel"), pid, uid,
                     program, signal, time (host Unix seconds), size (bytes or
                     null when not known in advance), optional extra keys
    chunk*  u32 n, then n bytes of the core; n = 0 ends the stream
    trailer u64 total bytes, 32 bytes SHA-256 of the core

cored answers with one line: ``OK <id>\\n`` once the dump is safe in its
spool (or ``OK drop <why>\\n`` when a rule discards it), or ``ERR <why>\\n``.
A sender that gets no ``OK`` keeps the dump itself (see kern_core).
The chunk framing and the trailer let cored tell a complete stream from a
sender that died halfway; nothing relies on half-closing the socket.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import IO, Any, Union

MAGIC = b"AFCORE1\n"
MAX_HEADER = 64 * 1024
_U32 = struct.Struct("<I")
_TRAILER = struct.Struct("<Q32s")
HEADER_KEYS = ("kind", "pid", "uid", "program", "signal", "time", "size")


class HandoffError(Exception):
    """The peer broke the framing (bad magic, oversized header, checksum mismatch)."""


def encode_header(kind: str, pid: int, uid: int, program: str, signal: int, time: float,
                  size: int | None = None, **extra: Any) -> bytes:
    meta = {"kind": kind, "pid": pid, "uid": uid, "program": program, "signal": signal,
            "time": time, "size": size, **extra}
    body = json.dumps(meta, sort_keys=True).encode()
    if len(body) > MAX_HEADER:
        raise ValueError("handoff header too large")
    return MAGIC + _U32.pack(len(body)) + body


class ChunkWriter:
    """A write-only binary file object that frames everything written into chunks.

    `close_stream()` writes the end chunk and the trailer. The underlying
    `raw` needs only ``write`` (a socket's makefile("wb"), a pipe, BytesIO).
    """

    def __init__(self, raw: IO[bytes] | Any) -> None:
        self.raw = raw
        self.total = 0
        self.sha = hashlib.sha256()

    def write(self, b: bytes | bytearray | memoryview) -> int:
        n = len(b)
        if n:
            self.raw.write(_U32.pack(n))
            self.raw.write(b)
            self.sha.update(b)
            self.total += n
        return n

    def close_stream(self) -> None:
        self.raw.write(_U32.pack(0) + _TRAILER.pack(self.total, self.sha.digest()))
        flush = getattr(self.raw, "flush", None)
        if flush is not None:
            flush()


@dataclass(frozen=True)
class Header:
    meta: dict[str, Any]


@dataclass(frozen=True)
class Data:
    data: bytes


@dataclass(frozen=True)
class End:
    total: int
    sha256: str


class NeedData:
    pass


NEED_DATA = NeedData()
Event = Union[Header, Data, End, NeedData]


@dataclass
class Parser:
    """Receiving side: `feed(bytes)`, then `next_event()` until NEED_DATA."""

    buf: bytearray = field(default_factory=bytearray)
    state: str = "magic"
    remaining: int = 0
    total: int = 0
    _sha: Any = field(default_factory=hashlib.sha256)

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next_event(self) -> Event:
        b = self.buf
        if self.state == "magic":
            if len(b) < len(MAGIC) + 4:
                return NEED_DATA
            if bytes(b[:len(MAGIC)]) != MAGIC:
                raise HandoffError("not a core handoff (bad magic)")
            (hlen,) = _U32.unpack_from(b, len(MAGIC))
            if hlen > MAX_HEADER:
                raise HandoffError(f"header of {hlen} bytes is too large")
            if len(b) < len(MAGIC) + 4 + hlen:
                return NEED_DATA
            start = len(MAGIC) + 4
            try:
                meta = json.loads(bytes(b[start:start + hlen]))
            except ValueError as e:
                raise HandoffError(f"header is not JSON: {e}") from None
            if not isinstance(meta, dict) or any(k not in meta for k in HEADER_KEYS[:5]):
                raise HandoffError(f"header lacks one of {', '.join(HEADER_KEYS[:5])}")
            del b[:start + hlen]
            self.state = "chunk"
            return Header(meta)
        if self.state == "chunk":
            if self.remaining:
                if not b:
                    return NEED_DATA
                n = min(self.remaining, len(b))
                out = bytes(b[:n])
                del b[:n]
                self.remaining -= n
                self._sha.update(out)
                self.total += n
                return Data(out)
            if len(b) < 4:
                return NEED_DATA
            (n,) = _U32.unpack_from(b)
            del b[:4]
            if n == 0:
                self.state = "trailer"
            self.remaining = n
            return self.next_event()
        if self.state == "trailer":
            if len(b) < _TRAILER.size:
                return NEED_DATA
            total, digest = _TRAILER.unpack_from(b)
            del b[:_TRAILER.size]
            self.state = "done"
            if total != self.total or digest != self._sha.digest():
                raise HandoffError(f"stream damaged: {self.total} bytes received, "
                                   f"sender says {total}, checksum "
                                   f"{'ok' if digest == self._sha.digest() else 'differs'}")
            return End(total, digest.hex())
        return NEED_DATA


__all__ = ["MAGIC", "encode_header", "ChunkWriter", "Parser", "Header", "Data", "End",
           "NEED_DATA", "HandoffError"]
