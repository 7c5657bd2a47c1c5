"""Hostile packets against a live session: whatever gdb (or anyone) sends, the
session answers and keeps answering. Hypothesis builds packets from every command
family with hostile arguments (huge, negative and overflowing numbers, bogus thread
ids and qXfer offsets, binary junk); AFGDB_FUZZ_EXAMPLES sets how many (CI: a few
hundred; the long mode: as many as you like)."""

from __future__ import annotations

import os

from gdb_session import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afgdb import rsp
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.stub import Session
from afgdb.targets.system import System

EXAMPLES = int(os.environ.get("AFGDB_FUZZ_EXAMPLES", "300"))

NUMBERS = st.one_of(
    st.integers(0, 16).map(lambda n: b"%x" % n),
    st.sampled_from([b"0", b"ffffffff", b"100000000", b"7fffffff", b"80000000",
                     b"ffffffffffffffffffff", b"-1", b"", b"zz", b"0x10", b"p1.1", b"p-1.-1",
                     b"p0.0", b"pffff.ffff", b"-1", b"400000", b"7fff0000"]),
    st.integers(0, (1 << 40)).map(lambda n: b"%x" % n),
)
BLOBS = st.binary(max_size=64)
COMMANDS = [b"m", b"M", b"X", b"g", b"G", b"p", b"P", b"Z0,", b"Z1,", b"Z2,", b"Z3,", b"Z4,",
            b"z0,", b"z1,", b"z2,", b"z3,", b"z4,", b"H", b"Hg", b"Hc", b"T", b"?",
            b"qC", b"qfThreadInfo", b"qsThreadInfo", b"qThreadExtraInfo,", b"qAttached:",
            b"qXfer:features:read:target.xml:", b"qXfer:threads:read::",
            b"qXfer:auxv:read::", b"qXfer:exec-file:read:", b"qXfer:osdata:read:processes:",
            b"qXfer:bogus:read::", b"vFile:open:", b"vFile:pread:", b"vFile:pwrite:",
            b"vFile:close:", b"vFile:fstat:", b"vFile:readlink:", b"vFile:unlink:",
            b"vFile:setfs:", b"qRcmd,", b"QPassSignals:", b"QProgramSignals:",
            b"QCatchSyscalls:1;", b"QThreadEvents:", b"vCont?", b"vCont;s:", b"vCont;c:",
            b"vCont;r", b"vCont;t:", b"vCont;C", b"vAttach;", b"vKill;", b"D;", b"qOffsets",
            b"qSymbol::", b"vMustReplyEmpty", b"qSupported:", b"QStartNoAckMode", b"s", b"c",
            b"S", b"C", b"vRun;", b"!", b"R", b"i", b"QNonStop:"]


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    cmd = draw(st.sampled_from(COMMANDS))
    parts = draw(st.lists(st.one_of(NUMBERS, BLOBS.map(rsp.hex_encode), BLOBS), max_size=5))
    seps = draw(st.lists(st.sampled_from([b",", b":", b";", b".", b"="]),
                         min_size=len(parts), max_size=len(parts)))
    body = b"".join(s + p for s, p in zip(seps, parts))
    return cmd + body.lstrip(b",:;")


class _Peer:
    def __init__(self) -> None:
        k = Kernel(ROOT, stdin=BufferStream(0), stdout=BufferStream(1), stderr=BufferStream(1))
        self.kernel = k
        self.system = System(k)
        self.session = Session(self.system, name="fuzz")
        self.session.add_target(self.system.launch(["/bin/gdbdemo"]), created=True)
        self.conn = rsp.Connection(rsp.CLIENT)

    def send(self, payload: bytes) -> list[bytes]:
        self.conn.feed(self.session.receive(self.conn.send_packet(payload)))
        if self.session.running:  # a resume: let it run a little, then Ctrl-C
            self.kernel.run(2000)
            self.session.interrupt()
            self.conn.feed(self.session.poll())
        out = []
        while (ev := self.conn.next_event()) is not rsp.NEED_DATA:
            if isinstance(ev, rsp.Packet):
                out.append(ev.data)
        return out


PEER = _Peer()


@settings(max_examples=EXAMPLES, deadline=2000, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packets(), min_size=1, max_size=8))
def test_hostile_packets_get_answers_and_the_session_lives(batch: list[bytes]) -> None:
    for payload in batch:
        PEER.send(payload)  # any Python exception here fails the test
    # Still a working stub afterwards.
    replies = PEER.send(b"qSupported:multiprocess+")
    assert replies and b"PacketSize=" in replies[-1]
