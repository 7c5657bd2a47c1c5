"""What every packet family shares: reply types, thread ids, number parsing, the spec row.

A packet is parsed once, by the parser of its `PacketSpec`, into a frozen
dataclass; the handler receives that value and the session. Parsers raise
`RemoteProtocolError` on malformed input (the session answers ``E`` and
carries on); handlers raise `TargetError` when the target refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

from afgdb.rsp import RemoteProtocolError

if TYPE_CHECKING:
    from afgdb.stub.session import Session


# ------------------------------------------------------------- replies

@dataclass(frozen=True)
class ErrorReply:
    """``E.text`` when gdb accepts it (it said ``error-message+``), otherwise ``E NN``."""

    errno: int
    text: str


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The target was resumed: the stop reply comes when it stops.
RESUMED = _Marker("RESUMED")
#: Send nothing (``k``).
NO_REPLY = _Marker("NO_REPLY")


@dataclass(frozen=True)
class Output:
    """Console output (``O`` packets) followed by a final reply (qRcmd)."""

    text: str
    final: bytes | ErrorReply


Reply = Union[bytes, ErrorReply, _Marker, Output]

OK = b"OK"
EMPTY = b""


# ----------------------------------------------------------- numbers

_HEX = frozenset(b"0123456789abcdefABCDEF")


def hex_int(s: bytes, what: str = "number") -> int:
    """A hex number (digits only: no sign, prefix, spaces); RemoteProtocolError otherwise."""
    if not s or len(s) > 32 or not _HEX.issuperset(s):
        raise RemoteProtocolError(f"bad {what}: {bytes(s[:40])!r}")
    return int(s, 16)


def optional_pid(rest: bytes, sep: bytes, what: str) -> int | None:
    """The `<sep>pid` suffix of packets such as qAttached:pid and D;pid, or None without one."""
    if not rest:
        return None
    if not rest.startswith(sep):
        raise RemoteProtocolError(f"bad {what}")
    return hex_int(rest[1:], "pid")


def split(s: bytes, sep: bytes, n: int, what: str) -> list[bytes]:
    parts = s.split(sep, n - 1)
    if len(parts) != n:
        raise RemoteProtocolError(f"malformed {what}: {s[:60]!r}")
    return parts


# -------------------------------------------------------------- thread ids

ALL = -1
ANY = 0


@dataclass(frozen=True)
class ThreadId:
    """``p<pid>.<tid>`` or ``<tid>``: pid None when not given; -1 all, 0 any."""

    pid: int | None
    tid: int

    def encode(self, multiprocess: bool) -> bytes:
        tid = b"-1" if self.tid == ALL else b"%x" % self.tid
        if multiprocess and self.pid is not None:
            pid = b"-1" if self.pid == ALL else b"%x" % self.pid
            return b"p" + pid + b"." + tid
        return tid


def _id_number(s: bytes) -> int:
    if s == b"-1":
        return ALL
    return hex_int(s, "thread id")


def parse_thread_id(s: bytes) -> ThreadId:
    if s.startswith(b"p"):
        pid_s, dot, tid_s = s[1:].partition(b".")
        pid = _id_number(pid_s)
        return ThreadId(pid, _id_number(tid_s) if dot else ALL)
    return ThreadId(None, _id_number(s))


# ------------------------------------------------------------------ specs

@dataclass(frozen=True)
class PacketSpec:
    """One packet: the prefix that names it, its parser and its handler.

    ``needs`` names a capability (afgdb.targets.caps) the session must have
    for the packet to be live; ``missing`` says what to answer otherwise
    ("empty": gdb learns the packet is unsupported, "error": refused).
    """

    prefix: bytes
    parse: Callable[[bytes], Any]
    handle: Callable[[Session, Any], Reply]
    needs: str | None = None
    missing: str = "empty"
    scope: str = "target"  # where `needs` is looked for: "target" or "system"


def no_args(rest: bytes) -> None:
    return None


def raw(rest: bytes) -> bytes:
    return rest
