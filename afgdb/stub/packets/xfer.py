"""qXfer objects: features (target.xml), threads, auxv, exec-file, osdata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable
from xml.sax.saxutils import escape

from afgdb import rsp
from afgdb.arch import mips
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets.common import EMPTY, ErrorReply, PacketSpec, Reply, hex_int, split
from afgdb.targets.caps import Launcher, TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session


@dataclass(frozen=True)
class Xfer:
    obj: str
    annex: str
    offset: int
    length: int


def parse_xfer(rest: bytes) -> Xfer:
    obj, op, annex, span = split(rest, b":", 4, "qXfer")
    if op != b"read":
        raise rsp.RemoteProtocolError("only qXfer reads are supported")
    off, length = split(span, b",", 2, "qXfer offset,length")
    return Xfer(obj.decode("ascii", "replace"), annex.decode("utf-8", "replace"),
                hex_int(off, "offset"), hex_int(length, "length"))


def _slice(data: bytes, x: Xfer) -> bytes:
    length = min(x.length, rsp.PACKET_SIZE - 16)
    chunk = data[x.offset:x.offset + length]
    more = x.offset + length < len(data)
    return (b"m" if more else b"l") + chunk


def _features(s: Session, annex: str) -> bytes:
    if annex != "target.xml":
        raise TargetError(E.ENOENT, f"no feature document {annex!r}")
    return mips.target_xml().encode()


def _threads(s: Session, annex: str) -> bytes:
    out = ['<?xml version="1.0"?>', "<threads>"]
    for t in s.targets.values():
        for th in t.threads():
            tid = s.encode_tid(t.pid, th.tid).decode()
            name = f' name="{escape(th.name, {chr(34): "&quot;"})}"' if th.name else ""
            out.append(f'<thread id="{tid}" core="{th.core}"{name}>'
                       f"{escape(th.extra)}</thread>")
    out.append("</threads>")
    return "\n".join(out).encode()


def _target_for_annex(s: Session, annex: str) -> object:
    if annex:
        pid = hex_int(annex.encode(), "pid")
        t = s.targets.get(pid)
        if t is None:
            raise TargetError(E.ESRCH, f"no process {pid} in this session")
        return t
    return s.current_target()


def _auxv(s: Session, annex: str) -> bytes:
    t = _target_for_annex(s, annex)
    fn = getattr(t, "auxv", None)
    if fn is None:
        raise TargetError(E.ENOENT, "no auxiliary vector")
    data: bytes = fn()
    return data


def _exec_file(s: Session, annex: str) -> bytes:
    t = _target_for_annex(s, annex)
    fn = getattr(t, "exec_file", None)
    if fn is None:
        raise TargetError(E.ENOENT, "no executable")
    path: str = fn()
    return path.encode()


def _osdata(s: Session, annex: str) -> bytes:
    system = s.system
    if not isinstance(system, Launcher):
        raise TargetError(E.ENOENT, "no os data")
    head = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "osdata.dtd">\n'
    if annex == "":
        items = [("processes", "Listing of all processes")]
        body = "".join(
            f'<item><column name="Type">{t}</column><column name="Description">{d}</column>'
            f'<column name="Title">{t.capitalize()}</column></item>' for t, d in items)
        return (head + f'<osdata type="types">{body}</osdata>\n').encode()
    if annex != "processes":
        raise TargetError(E.ENOENT, f"no os data {annex!r}")
    rows = []
    for p in system.processes():
        rows.append(
            f'<item><column name="pid">{p.pid}</column>'
            f'<column name="user">{escape(p.user)}</column>'
            f'<column name="command">{escape(p.command)}</column>'
            f'<column name="cores">0</column></item>')
    return (head + '<osdata type="processes">' + "".join(rows) + "</osdata>\n").encode()


OBJECTS: dict[str, tuple[Callable[[Session, str], bytes], str | None]] = {
    "features": (_features, None),
    "threads": (_threads, None),
    "auxv": (_auxv, "Auxv"),
    "exec-file": (_exec_file, "ExecFile"),
    "osdata": (_osdata, None),
}


def handle_xfer(s: Session, x: Xfer) -> Reply:
    entry = OBJECTS.get(x.obj)
    if entry is None:
        return EMPTY
    fn, cap = entry
    if cap is not None and cap not in s.all_caps():
        return EMPTY
    try:
        data = fn(s, x.annex)
    except TargetError as e:
        return ErrorReply(e.errno, e.msg)
    return _slice(data, x)


PACKETS = [PacketSpec(b"qXfer:", parse_xfer, handle_xfer)]
