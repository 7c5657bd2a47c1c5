"""Sans-IO codec for the GDB Remote Serial Protocol (RSP).

This module owns the wire format and nothing else: packet framing
(``$data#cs``), notifications (``%name:data#cs``), checksums, ``}``
escaping, run-length encoding, ``+``/``-`` acknowledgments, no-ack mode and
the out-of-band interrupt byte (0x03). It turns bytes into typed events and
payloads into bytes; it never touches a socket, a clock or a thread, and it
knows nothing of what a packet means (that is ``afgdb.stub``).

Usage, in the style of h11::

    conn = Connection(SERVER)
    conn.feed(received_bytes)
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            break
        ...                                 # Packet, Interrupt, Ack, Nak, ...
    sock.send(conn.send_packet(b"OK"))      # pending acks are sent first

Bad input from the peer never raises: it is skipped (garbage between
frames) or reported as a `BadPacket` event. `RemoteProtocolError` is raised
only by the helpers that a layer above calls on packet contents
(`hex_decode`, `unescape_binary`). `LocalProtocolError` means our own code
misused the codec.
"""

from __future__ import annotations

import binascii
import enum
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Union

__all__ = [
    "CLIENT",
    "DEFAULT_MAX_PACKET_SIZE",
    "NEED_DATA",
    "PACKET_SIZE",
    "SERVER",
    "Ack",
    "BadPacket",
    "Connection",
    "Event",
    "Interrupt",
    "LocalProtocolError",
    "Nak",
    "NeedData",
    "Notification",
    "Packet",
    "RemoteProtocolError",
    "Role",
    "checksum",
    "escape_binary",
    "hex_decode",
    "hex_encode",
    "unescape_binary",
]

#: The size a stub should advertise as ``PacketSize`` in its qSupported reply.
PACKET_SIZE = 0x20000
#: Default limit on the bytes between ``$`` and ``#`` of an incoming frame:
#: the advertised size plus slack for peers that count differently.
DEFAULT_MAX_PACKET_SIZE = PACKET_SIZE + 64


# ---------------------------------------------------------------- errors


class RemoteProtocolError(Exception):
    """The peer sent something that breaks the protocol.

    The stub turns it into an ``E`` reply; it is never a bug of ours.
    """

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class LocalProtocolError(Exception):
    """Our own code misused the codec: a bug, never the peer's fault."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Packet:
    """A ``$...#cs`` packet with a good checksum; ``data`` is decoded
    (unescaped, and run-length expanded on the client side)."""

    __slots__ = ("data",)
    data: bytes


@dataclass(frozen=True)
class Notification:
    """A ``%name:data#cs`` notification (client side only); ``data`` holds
    the whole decoded payload, e.g. ``b"Stop:T05thread:p1.1;"``."""

    __slots__ = ("data",)
    data: bytes

    @property
    def name(self) -> bytes:
        """The part before the first ``:`` (e.g. ``b"Stop"``)."""
        return self.data.partition(b":")[0]


@dataclass(frozen=True)
class Interrupt:
    """The out-of-band interrupt byte 0x03, seen between packets
    (server side only; inside a packet 0x03 is ordinary data)."""

    __slots__ = ()


@dataclass(frozen=True)
class Ack:
    """``+``: the peer received our last packet (ack mode only)."""

    __slots__ = ()


@dataclass(frozen=True)
class Nak:
    """``-``: the peer asks for our last packet again; write
    `Connection.resend()` (ack mode only)."""

    __slots__ = ()


@dataclass(frozen=True)
class BadPacket:
    """A frame that was dropped: bad checksum, too long, cut short by a new
    ``$``, or undecodable payload. In ack mode a checksum failure has already
    queued a ``-``. Informational: a stub logs it and carries on."""

    __slots__ = ("reason",)
    reason: str


class NeedData(enum.Enum):
    """Type of the `NEED_DATA` sentinel."""

    NEED_DATA = "NEED_DATA"


#: Returned by `Connection.next_event` when more bytes must be fed.
NEED_DATA: Literal[NeedData.NEED_DATA] = NeedData.NEED_DATA

Event = Union[Packet, Notification, Interrupt, Ack, Nak, BadPacket]


class Role(enum.Enum):
    """Which end of the connection this codec serves."""

    SERVER = "server"  # the stub: receives commands and interrupts
    CLIENT = "client"  # the debugger: receives replies, RLE and notifications


SERVER = Role.SERVER
CLIENT = Role.CLIENT


# ---------------------------------------------------------------- helpers

_DOLLAR = 0x24
_HASH = 0x23
_PERCENT = 0x25
_PLUS = 0x2B
_MINUS = 0x2D
_STAR = 0x2A
_ESCAPE = 0x7D
_CTRL_C = 0x03

# Hex digit value per byte, -1 for anything else (int() would accept
# "+1", " 1" and "1_0", which are not checksums).
_HEXVAL = [-1] * 256
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEXVAL[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEXVAL[_c] = 10 + _i
del _i, _c

# Where a frame stops: its '#', or a '$' that starts a new one (as gdb does).
_FRAME_STOP = re.compile(rb"[#$]")
# First byte of anything meaningful between frames, per role.
_START_SERVER = re.compile(rb"[$+\-\x03]")
_START_CLIENT = re.compile(rb"[$%+\-]")
# Escape and run-length markers, for the one-pass decoder.
_MARKERS = re.compile(rb"[}*]")
# First byte that is not zero (end of a run in the difference string).
_NONZERO = re.compile(rb"[^\x00]")
# The byte that ``}`` followed by b stands for.
_UNESCAPED = [bytes((b ^ 0x20,)) for b in range(256)]

# Bytes that are always escaped. gdb requires '#', '$', '}' and, in replies,
# '*'; escaping '*' in both directions is harmless, so we always do.
_ESCAPED = frozenset(b"#$}*")
# Largest repeat count, so that the count character stays printable ('~').
_MAX_RUN = 126 - 29
# Repeat counts whose count character is unsafe: '#' and '$' are forbidden
# by the protocol; '+' and '-' were forbidden by older manuals; '*' and '}'
# would confuse decoders that unescape and expand in separate passes.
_BAD_COUNTS = frozenset(c - 29 for c in b"#$+-*}")


def checksum(data: bytes) -> int:
    """Modulo-256 sum of ``data``: the checksum of a frame whose encoded
    payload is ``data``."""
    n = len(data)
    if n < _CRT_MIN:
        return sum(data) & 0xFF
    # CPython's sum() walks a big reply at ~10 ns a byte (a third of a 64 KiB memory
    # read). The sum modulo 65521 (zlib's adler32) and modulo 255 (the number read
    # base 256: 256 = 1 mod 255) give it exactly, by the Chinese remainder theorem,
    # while it stays below 255 * 65521: hence chunks of _CRT_CHUNK bytes.
    total = 0
    for i in range(0, n, _CRT_CHUNK):
        chunk = data[i:i + _CRT_CHUNK]
        a = ((zlib.adler32(chunk) & 0xFFFF) - 1) % 65521
        c = int.from_bytes(chunk, "little") % 255
        total += a + 65521 * ((c - a) * _INV_65521_MOD_255 % 255)
    return total & 0xFF


_CRT_CHUNK = 65520  # 65520 * 255 < 255 * 65521
_INV_65521_MOD_255 = pow(65521, -1, 255)
# Below this, or on PyPy (whose JIT compiles sum() to a tight loop), sum() is faster.
_CRT_MIN = 1 << 62 if sys.implementation.name == "pypy" else 1024


def hex_encode(data: bytes) -> bytes:
    """Lower-case hex, two digits per byte (``b"\\x01\\xab"`` -> ``b"01ab"``)."""
    return binascii.hexlify(data)


def hex_decode(data: bytes) -> bytes:
    """Inverse of `hex_encode` (either case). Raises `RemoteProtocolError`
    on odd length or a non-hex digit."""
    try:
        return binascii.unhexlify(data)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise RemoteProtocolError(f"bad hex data {bytes(data[:40])!r}: {exc}") from None


def escape_binary(data: bytes) -> bytes:
    """Escape ``# $ } *`` as ``}`` followed by the byte xor 0x20.

    `Connection.send_packet` already does this; use it only where a layer
    above must size escaped data (e.g. to fit a reply in ``PacketSize``).
    """
    if b"}" in data:
        data = data.replace(b"}", b"}]")
    if b"#" in data:
        data = data.replace(b"#", b"}\x03")
    if b"$" in data:
        data = data.replace(b"$", b"}\x04")
    if b"*" in data:
        data = data.replace(b"*", b"}\x0a")
    return bytes(data)


def unescape_binary(data: bytes) -> bytes:
    """Inverse of `escape_binary`; any byte may follow ``}``. Raises
    `RemoteProtocolError` on a ``}`` at the very end."""
    return _decode(bytes(data), rle=False)


def _decode(raw: bytes, rle: bool) -> bytes:
    """Undo escaping and, if ``rle``, run-length encoding, in one pass as
    gdb's ``read_frame`` does: after ``*`` the next byte is a count even if
    it is ``}``, and ``*`` repeats the last *decoded* byte."""
    if b"}" not in raw:
        if not (rle and b"*" in raw):
            return raw
    elif not (rle and b"*" in raw):
        parts = raw.split(b"}")
        if all(parts[1:]):  # else "}}" (an escaped '}') or a lone '}' at the end
            unesc = _UNESCAPED
            out_parts = [parts[0]]
            for part in parts[1:]:
                out_parts.append(unesc[part[0]])
                out_parts.append(part[1:])
            return b"".join(out_parts)
    out = bytearray()
    i = 0
    n = len(raw)
    search = _MARKERS.search
    while True:
        if rle:
            m = search(raw, i)
            j = -1 if m is None else m.start()
        else:
            j = raw.find(b"}", i)
        if j < 0:
            out += raw[i:]
            return bytes(out)
        out += raw[i:j]
        if j + 1 >= n:
            raise RemoteProtocolError(f"payload ends with a lone {chr(raw[j])!r}")
        if raw[j] == _ESCAPE:
            out.append(raw[j + 1] ^ 0x20)
        else:
            count = raw[j + 1] - 29
            if not out:
                raise RemoteProtocolError("run-length marker with nothing to repeat")
            if count <= 0:
                raise RemoteProtocolError(f"bad run-length count byte {raw[j + 1]:#04x}")
            out += out[-1:] * count
        i = j + 2


def _runs_xor(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of every run of four or more identical bytes.

    ``diff`` has a zero byte where a byte equals the next one; it is built
    with big-int xor so that finding runs is ``bytes.find`` rather than a
    Python loop over bytes (CPython: ~0.5 ms per 128 KiB, against ~6 ms for
    the loop and ~5 ms for a regex with a backreference).
    """
    n = len(data)
    if n < 4:
        return
    left = int.from_bytes(data[:-1], "big")
    diff = (left ^ int.from_bytes(data[1:], "big")).to_bytes(n - 1, "big")
    find = diff.find
    nonzero = _NONZERO.search
    i = find(b"\0\0\0")
    while i >= 0:
        m = nonzero(diff, i + 3)
        j = n - 1 if m is None else m.start()  # data[i..j] are equal
        yield i, j + 1
        i = find(b"\0\0\0", j + 1)


def _runs_loop(data: bytes) -> Iterator[tuple[int, int]]:
    """Same as `_runs_xor`, as a plain loop: PyPy's JIT runs it ~7x faster
    than PyPy's big-int conversions."""
    n = len(data)
    if n < 4:
        return
    start = 0
    prev = data[0]
    for j in range(1, n):
        c = data[j]
        if c != prev:
            if j - start >= 4:
                yield start, j
            start = j
            prev = c
    if n - start >= 4:
        yield start, n


_runs = _runs_loop if sys.implementation.name == "pypy" else _runs_xor


def _encode_run(byte: int, length: int) -> bytes:
    """``length`` copies of a byte that needs no escaping, run-length encoded."""
    one = bytes((byte,))
    parts = []
    while length > 0:
        parts.append(one)
        length -= 1
        k = min(length, _MAX_RUN)
        if k < 3:  # then k == length: the tail goes out literally
            parts.append(one * k)
            break
        while k in _BAD_COUNTS:
            k -= 1
        parts.append(bytes((_STAR, k + 29)))
        length -= k
    return b"".join(parts)


def _encode(payload: bytes, rle: bool) -> bytes:
    if not rle:
        return escape_binary(payload)
    parts = []
    last = 0
    for start, end in _runs(payload):
        if start > last:
            parts.append(escape_binary(payload[last:start]))
        byte = payload[start]
        if byte in _ESCAPED:
            # Never repeat an escaped byte: decoders disagree on whether
            # '*' then repeats the escape or the unescaped byte.
            parts.append(escape_binary(payload[start:end]))
        else:
            parts.append(_encode_run(byte, end - start))
        last = end
    if last == 0:
        return escape_binary(payload)
    parts.append(escape_binary(payload[last:]))
    return b"".join(parts)


# The longest run one repeat encodes: '0', then '*~' for 126 - 29 = 97 more copies.
_ZERO_RUN = b"0" * (1 + _MAX_RUN)
_ZERO_RUN_CODE = b"0*" + bytes((_MAX_RUN + 29,))


def _frame(lead: bytes, payload: bytes, rle: bool, zero_runs: bool = False) -> bytes:
    body = _encode(bytes(payload), rle)
    if zero_runs and not rle:
        # A bytes.replace, so C speed: no '*' is left after escaping, and no escaped
        # byte is a '0', so every '0' run is literal text that may be repeated.
        body = body.replace(_ZERO_RUN, _ZERO_RUN_CODE)
    return b"%s%s#%02x" % (lead, body, checksum(body))


# ---------------------------------------------------------------- connection


class Connection:
    """One end of an RSP connection: bytes in, events out; payloads in,
    bytes out.

    ``role`` decides what the peer may send: a SERVER (stub) accepts
    interrupts and takes ``*`` literally (gdb never run-length encodes
    commands); a CLIENT accepts notifications and expands run-length
    encoding. ``max_packet_size`` bounds the bytes between ``$`` and ``#`` of
    an incoming frame; a longer one is dropped as a `BadPacket` and parsing
    resumes at the next ``$``.

    Buffering: after `next_event` returns `NEED_DATA`, at most
    ``max_packet_size + 3`` bytes remain buffered (see `buffered_bytes`), so
    feeding chunks of at most ``max_packet_size`` bytes and draining events
    after each keeps memory under ``2 * max_packet_size + 3`` whatever the
    peer sends.
    """

    def __init__(
        self,
        role: Role,
        *,
        max_packet_size: int = DEFAULT_MAX_PACKET_SIZE,
        ack_mode: bool = True,
    ) -> None:
        if not isinstance(role, Role):
            raise LocalProtocolError(f"role must be SERVER or CLIENT, not {role!r}")
        if max_packet_size < 1:
            raise LocalProtocolError("max_packet_size must be positive")
        self.role = role
        self.max_packet_size = max_packet_size
        #: Frames dropped so far (each also reported as a `BadPacket`).
        self.bad_packets = 0
        self._ack_mode = ack_mode
        self._server = role is Role.SERVER
        self._rle_in = role is Role.CLIENT
        self._start = _START_SERVER if self._server else _START_CLIENT
        self._buf = bytearray()
        self._pos = 0  # first unparsed byte of _buf
        self._scanned = 0  # bytes after an open frame's lead already searched
        self._discarding = False  # skipping the rest of an oversized frame
        self._out = bytearray()  # queued '+' / '-'
        self._unacked: bytes | None = None  # last frame sent, for resend()

    # ------------------------------------------------------------ state

    @property
    def ack_mode(self) -> bool:
        """True until `start_no_ack_mode` is called."""
        return self._ack_mode

    @property
    def buffered_bytes(self) -> int:
        """Bytes fed but not yet consumed."""
        return len(self._buf) - self._pos

    def start_no_ack_mode(self) -> None:
        """Stop sending and expecting ``+``/``-``.

        The stub calls it right after writing the ``OK`` reply to
        ``QStartNoAckMode``; the client right after receiving that ``OK``.
        Acks already queued are still returned by `data_to_send`; a ``+`` or
        ``-`` arriving afterwards (gdb acks the ``OK``) is ignored.
        """
        self._ack_mode = False
        self._unacked = None

    # ------------------------------------------------------------ input

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer. An empty ``data`` is a no-op
        (end of stream is the I/O layer's business)."""
        if data:
            self._buf += data

    def next_event(self) -> Event | Literal[NeedData.NEED_DATA]:
        """Parse the next event from the fed bytes, or return `NEED_DATA`.

        Never raises on any input. In ack mode, a good packet queues ``+``
        and a checksum failure queues ``-`` (see `data_to_send`).
        """
        buf = self._buf
        while True:
            pos = self._pos
            end = len(buf)
            if self._discarding:
                j = buf.find(b"$", pos)
                if j < 0:
                    self._pos = end
                    return self._need_data()
                self._discarding = False
                self._pos = pos = j
            if pos >= end:
                return self._need_data()
            c = buf[pos]
            if c == _DOLLAR:
                event = self._parse_frame(pos, end, packet=True)
            elif c == _PLUS:
                self._pos = pos + 1
                if not self._ack_mode:
                    continue
                self._unacked = None
                return Ack()
            elif c == _MINUS:
                self._pos = pos + 1
                if not self._ack_mode:
                    continue
                return Nak()
            elif c == _CTRL_C and self._server:
                self._pos = pos + 1
                return Interrupt()
            elif c == _PERCENT and not self._server:
                event = self._parse_frame(pos, end, packet=False)
            else:
                # Garbage between frames: skip to the next interesting byte.
                m = self._start.search(buf, pos + 1)
                self._pos = end if m is None else m.start()
                continue
            if event is None:
                return self._need_data()
            return event

    def single_packet(self, data: bytes) -> bytes | None:
        """The payload, when data is exactly one well-formed packet with nothing
        buffered before it and nothing in it to unescape; else None, and data is
        untouched: `feed` it. What a lock-step peer sends is nearly always this, and
        it spares the general parser's passes."""
        n = len(data)
        if n < 4 or self._pos != len(self._buf) or data[0] != _DOLLAR or \
                data[n - 3] != _HASH or n - 4 > self.max_packet_size:
            return None
        raw = data[1:n - 3]
        if b"#" in raw or b"$" in raw or b"}" in raw or (self._rle_in and b"*" in raw):
            return None
        hi = _HEXVAL[data[n - 2]]
        lo = _HEXVAL[data[n - 1]]
        if hi < 0 or lo < 0 or (hi << 4 | lo) != checksum(raw):
            return None  # the general parser reports it
        if self._ack_mode:
            self._out += b"+"
        return raw

    def _need_data(self) -> Literal[NeedData.NEED_DATA]:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        return NEED_DATA

    def _bad(self, reason: str, nak: bool = False) -> BadPacket:
        self.bad_packets += 1
        if nak and self._ack_mode:
            self._out += b"-"
        return BadPacket(reason)

    def _parse_frame(self, pos: int, end: int, packet: bool) -> Event | None:
        """Parse the frame whose ``$``/``%`` is at ``pos``; None if incomplete."""
        buf = self._buf
        body = pos + 1
        limit = body + self.max_packet_size  # last index where '#' may be
        m = _FRAME_STOP.search(buf, body + self._scanned, limit + 1)
        if m is None:
            if end > limit:
                self._scanned = 0
                self._pos = body
                self._discarding = True
                return self._bad(f"frame longer than {self.max_packet_size} bytes")
            self._scanned = end - body
            return None
        h = m.start()
        if buf[h] == _DOLLAR:
            self._scanned = 0
            self._pos = h
            return self._bad("frame cut short by a new '$'")
        if h + 2 >= end:
            self._scanned = h - body  # resume at the '#'
            return None
        self._scanned = 0
        raw = bytes(buf[body:h])
        hi = _HEXVAL[buf[h + 1]]
        lo = _HEXVAL[buf[h + 2]]
        if hi < 0 or lo < 0:
            self._pos = h + 1  # the two bytes may start the next frame
            return self._bad(f"malformed checksum {bytes(buf[h + 1 : h + 3])!r}", nak=packet)
        self._pos = h + 3
        got = (hi << 4) | lo
        want = checksum(raw)
        if got != want:
            return self._bad(f"checksum {got:02x}, computed {want:02x}", nak=packet)
        if packet and self._ack_mode:
            # Transmission was fine; a payload we cannot decode is the
            # peer's error, and asking again would bring the same bytes.
            self._out += b"+"
        try:
            data = _decode(raw, self._rle_in)
        except RemoteProtocolError as exc:
            return self._bad(exc.msg)
        return Packet(data) if packet else Notification(data)

    # ------------------------------------------------------------ output

    def data_to_send(self) -> bytes:
        """Drain queued acknowledgments (``+`` and ``-``)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def send_packet(self, payload: bytes, *, rle: bool = False,
                    zero_runs: bool = False) -> bytes:
        """Frame ``payload`` (arbitrary bytes) as ``$...#cs``.

        Returns any queued acknowledgments followed by the frame, so a reply
        never overtakes the ``+`` for its command. ``rle=True`` run-length
        encodes (server side only: stubs do not decode it); ``zero_runs=True``
        encodes only runs of 98 ``0`` characters, at the cost of one
        ``bytes.replace`` (untouched memory reads as such runs of hex digits;
        the full encoder costs ~13 ms per 64 KiB of code). In ack mode the
        frame is kept for `resend`.
        """
        if (rle or zero_runs) and not self._server:
            raise LocalProtocolError("run-length encoding is for replies; a client must not use it")
        frame = _frame(b"$", payload, rle, zero_runs)
        if self._ack_mode:
            self._unacked = frame
        if self._out:
            return self.data_to_send() + frame
        return frame

    def send_notification(self, payload: bytes, *, rle: bool = False) -> bytes:
        """Frame ``payload`` (e.g. ``b"Stop:T05..."``) as ``%...#cs``.

        Server side only. Notifications are never acknowledged, so they are
        not kept for `resend`. Queued acks come first, as in `send_packet`.
        """
        if not self._server:
            raise LocalProtocolError("only a server sends notifications")
        return self.data_to_send() + _frame(b"%", payload, rle)

    def send_interrupt(self) -> bytes:
        """The interrupt byte 0x03 (client side only), after queued acks."""
        if self._server:
            raise LocalProtocolError("only a client sends interrupts")
        return self.data_to_send() + b"\x03"

    def resend(self) -> bytes:
        """The last packet framed by `send_packet` and not yet acknowledged
        (call it on `Nak`); ``b""`` if there is none or in no-ack mode."""
        return self._unacked or b""
