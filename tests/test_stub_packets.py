"""Raw RSP against the stub: malformed and unknown packets, errors, capabilities.

Most tests talk to a sans-IO `Session` over a machine in this process (fast);
one goes through a real socket to `afgdb serve`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from gdb_session import ROOT, AfgdbServer

from afgdb import rsp
from afgdb.arch import mips
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.stub import Session
from afgdb.targets.system import System


class Client:
    """gdb's end of a session, in-process."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.c = rsp.Connection(rsp.CLIENT)
        self.pending: list[bytes] = []

    def send_raw(self, data: bytes) -> list[bytes]:
        self.c.feed(self.s.receive(data))
        out = []
        while True:
            ev = self.c.next_event()
            if ev is rsp.NEED_DATA:
                break
            if isinstance(ev, rsp.Packet):
                out.append(ev.data)
        return out

    def ask(self, payload: bytes) -> bytes:
        replies = self.send_raw(self.c.send_packet(payload))
        assert len(replies) == 1, replies
        return replies[0]


@pytest.fixture
def machine() -> Iterator[tuple[System, Kernel]]:
    k = Kernel(ROOT, stdin=BufferStream(0), stdout=BufferStream(1), stderr=BufferStream(1))
    yield System(k), k


@pytest.fixture
def client(machine: tuple[System, Kernel]) -> Client:
    system, _ = machine
    s = Session(system, name="test")
    s.add_target(system.launch(["/bin/gdbdemo"]), created=True)
    c = Client(s)
    c.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+;error-message+")
    return c


def test_qsupported_is_derived_from_capabilities(machine: tuple[System, Kernel]) -> None:
    system, _ = machine
    c = Client(Session(system))
    feats = c.ask(b"qSupported:multiprocess+;swbreak+;xmlRegisters=i386").decode().split(";")
    assert "PacketSize=20000" in feats
    for f in ("multiprocess+", "swbreak+", "qXfer:features:read+", "qXfer:auxv:read+",
              "qXfer:exec-file:read+", "qXfer:threads:read+", "QPassSignals+",
              "vContSupported+", "QCatchSyscalls+", "QStartNoAckMode+"):
        assert f in feats
    assert "hwbreak+" not in feats  # gdb did not offer it
    assert "error-message+" not in feats
    assert not any(f.startswith(("QNonStop", "fork-events", "qXfer:libraries")) for f in feats)


def test_unknown_packets_get_the_empty_reply(client: Client) -> None:
    for p in (b"qCRC:0,4", b"vCtrlC", b"qTStatus", b"Qbogus", b"jThreadsInfo", b"i", b"bc",
              b"vFile:frobnicate:1", b"qXfer:libraries:read::0,100", b"vMustReplyEmpty"):
        assert client.ask(p) == b"", p


def test_malformed_packets_get_errors_and_the_session_lives(client: Client) -> None:
    for p in (b"m", b"mzz,4", b"m400000", b"m-1,4", b"M400000,4:zz", b"M400000,2:00",
              b"X400000,5:ab", b"Z0,,4", b"Z9,400000,4", b"p", b"pxyz", b"P25", b"Pzz=00",
              b"G0", b"Hx1", b"vCont;q", b"vCont;", b"C", b"Szz", b"qXfer:features:read:",
              b"qThreadExtraInfo,pz", b"vAttach;zz", b"vRun;zz", b"vKill;", b"D;x",
              b"QCatchSyscalls:7", b"QNonStop:2", b"vFile:open:zz,0,0", b"qRcmd,zz"):
        reply = client.ask(p)
        assert reply.startswith(b"E"), (p, reply)
    # Still answering, still stopped where it was.
    assert client.ask(b"?").startswith(b"T05")


def test_garbage_bad_checksums_and_interrupts_between_packets(client: Client) -> None:
    assert client.send_raw(b"garbage\x00\xff$m0,4#00") == []  # bad checksum: '-' and nothing
    assert client.send_raw(b"\x03")  == []  # not running: nothing to interrupt
    assert client.ask(b"g")[:8] == b"00000000"


def test_error_text_only_when_gdb_accepts_it(machine: tuple[System, Kernel]) -> None:
    system, _ = machine
    plain = Client(Session(system))
    plain.ask(b"qSupported:multiprocess+")
    assert plain.ask(b"m0,4") == b"E03"  # ESRCH: no process yet, as E NN
    texty = Client(Session(system))
    texty.ask(b"qSupported:error-message+")
    assert texty.ask(b"m0,4").startswith(b"E.no process")


def test_registers_g_p_P_layout(client: Client) -> None:
    g = client.ask(b"g")
    assert len(g) == 2 * mips.G_SIZE
    pc = int.from_bytes(bytes.fromhex(g[8 * 37:8 * 38].decode()), "little")
    assert pc == 0x4006C0
    assert client.ask(b"p25") == g[8 * 37:8 * 38]
    assert client.ask(b"P2=78563412") == b"OK"
    assert client.ask(b"p2") == b"78563412"
    assert client.ask(b"p48") == b"00000000"  # restart (72)
    assert client.ask(b"p49").startswith(b"E")


def test_memory_read_write_and_partial_reads(client: Client) -> None:
    head = client.ask(b"m400000,4")
    assert bytes.fromhex(head.decode()) == b"\x7fELF"
    assert client.ask(b"X400000,0:") == b"OK"
    assert client.ask(b"M7ffefe00,4:01020304") == b"OK"
    assert client.ask(b"m7ffefe00,4") == b"01020304"
    assert client.ask(b"m0,4").startswith(b"E")  # unmapped


def test_pid0_style_target_refuses_writes(machine: tuple[System, Kernel]) -> None:
    system, _ = machine
    system.launch(["/bin/hello"])
    s = Session(None, targets=(system.kernel_target(),), multiprocess_ok=False)
    c = Client(s)
    feats = c.ask(b"qSupported:multiprocess+").decode()
    assert "multiprocess+" not in feats and "vContSupported+" not in feats
    assert c.ask(b"g")[:8] == b"00000000"
    for p in (b"G00", b"P2=00000000", b"M400000,1:00", b"vCont;c", b"c", b"Z0,400000,4"):
        assert c.ask(p).startswith(b"E"), p


def test_vfile_stays_inside_the_guest_root(client: Client) -> None:
    name = b"/../../../etc/passwd".hex().encode()
    reply = client.ask(b"vFile:open:" + name + b",0,0")
    assert reply.startswith(b"F-1") or reply.startswith(b"F")
    if not reply.startswith(b"F-1"):  # it opened the guest's /etc/passwd, not the host's
        fd = reply[1:]
        data = client.ask(b"vFile:pread:" + fd + b",1000,0")
        with open(f"{ROOT}/etc/passwd", "rb") as f:
            assert data.split(b";", 1)[1] == f.read()[:0x1000]
    fd = client.ask(b"vFile:open:" + b"/bin/hello".hex().encode() + b",0,0")[1:]
    st = client.ask(b"vFile:fstat:" + fd)
    assert st.startswith(b"F40;")
    assert client.ask(b"vFile:close:" + fd) == b"F0"
    assert client.ask(b"vFile:pread:63,10,0") == b"F-1,9"  # EBADF


def test_qxfer_objects(client: Client) -> None:
    xml = client.ask(b"qXfer:features:read:target.xml:0,10000")
    assert xml.startswith(b"l<?xml") and b"org.gnu.gdb.mips.linux" in xml
    assert client.ask(b"qXfer:exec-file:read::0,100") == b"l/bin/gdbdemo"
    auxv = client.ask(b"qXfer:auxv:read::0,1000")
    assert auxv[:1] == b"l" and len(auxv) > 16
    threads = client.ask(b"qXfer:threads:read::0,1000")
    assert b'<thread id="p' in threads
    first = client.ask(b"qXfer:features:read:target.xml:0,10")
    assert first == b"m" + mips.target_xml().encode()[:0x10]


def test_socket_session_survives_garbage() -> None:
    with AfgdbServer("/bin/hello") as srv:
        host, port = srv.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            c = rsp.Connection(rsp.CLIENT)
            sock.sendall(b"\x00\xffjunk$#00$qC#b4+")
            sock.sendall(c.send_packet(b"QStartNoAckMode"))
            buf = b""
            while b"$OK#9a" not in buf:
                buf += sock.recv(4096)
            c.start_no_ack_mode()
            sock.sendall(c.send_packet(b"?"))
            c.feed(buf.split(b"$OK#9a", 1)[1])
            while True:
                ev = c.next_event()
                if ev is rsp.NEED_DATA:
                    c.feed(sock.recv(4096))
                    continue
                if isinstance(ev, rsp.Packet):
                    assert ev.data.startswith(b"T05")
                    break
