"""qRcmd: `monitor CMD` in gdb; output goes back as O packets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.stub.packets.common import OK, ErrorReply, Output, PacketSpec, Reply
from afgdb.targets.caps import TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session


def parse_rcmd(rest: bytes) -> str:
    return rsp.hex_decode(rest).decode("utf-8", "replace")


def handle_rcmd(s: Session, command: str) -> Reply:
    fn = getattr(s.system, "monitor", None)
    if fn is None:
        return ErrorReply(1, "no monitor commands here")
    try:
        return Output(fn(command), OK)
    except TargetError as e:
        return Output(e.msg + "\n", ErrorReply(e.errno, e.msg))


PACKETS = [PacketSpec(b"qRcmd,", parse_rcmd, handle_rcmd, needs="Monitor", scope="system")]
