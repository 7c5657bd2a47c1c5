"""Connection abuse against a real `afgdb serve`: clients that vanish mid-packet,
mid-reply and while their program runs, and one that never reads its replies. The
server keeps serving everyone else, and leaves no stopped-forever process behind."""

from __future__ import annotations

import socket
import time

from gdb_session import AfgdbServer

from afgdb import rsp


def _connect(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _ask(sock: socket.socket, conn: rsp.Connection, payload: bytes) -> bytes:
    sock.sendall(conn.send_packet(payload))
    while True:
        ev = conn.next_event()
        if ev is rsp.NEED_DATA:
            data = sock.recv(65536)
            assert data, "server closed the connection"
            conn.feed(data)
        elif isinstance(ev, rsp.Packet):
            sock.sendall(conn.data_to_send())
            return ev.data


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _healthy(address: str) -> bool:
    with _connect(address) as s:
        conn = rsp.Connection(rsp.CLIENT)
        return b"PacketSize" in _ask(s, conn, b"qSupported:multiprocess+")


def _ps(address: str) -> str:
    with _connect(address) as s:
        conn = rsp.Connection(rsp.CLIENT)
        _ask(s, conn, b"qSupported:multiprocess+")
        out = b""
        s.sendall(conn.send_packet(b"qRcmd," + rsp.hex_encode(b"ps")))
        while True:
            ev = conn.next_event()
            if ev is rsp.NEED_DATA:
                conn.feed(s.recv(65536))
            elif isinstance(ev, rsp.Packet):
                if ev.data.startswith(b"O") and ev.data != b"OK":
                    out += rsp.hex_decode(ev.data[1:])
                    continue
                return out.decode()


def test_clients_that_vanish_mid_packet_mid_reply_and_while_running() -> None:
    with AfgdbServer() as srv:
        for i in range(200):
            s = _connect(srv.address)
            kind = i % 4
            if kind == 0:  # half a packet, then gone
                s.sendall(b"$qSupported:multipro")
            elif kind == 1:  # a big reply it never reads
                conn = rsp.Connection(rsp.CLIENT)
                s.sendall(conn.send_packet(b"qXfer:features:read:target.xml:0,20000"))
            elif kind == 2:  # starts a program, lets it run, vanishes
                conn = rsp.Connection(rsp.CLIENT)
                _ask(s, conn, b"qSupported:multiprocess+")
                _ask(s, conn, b"vRun;" + rsp.hex_encode(b"/bin/loop"))
                s.sendall(conn.send_packet(b"vCont;c"))
            else:  # garbage
                s.sendall(bytes(range(256)) * 4)
            s.close()
        assert _healthy(srv.address)
        # Programs started by vanished clients were killed, not left stopped or spinning.
        deadline = time.monotonic() + 30
        while "/bin/loop" in _ps(srv.address) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "/bin/loop" not in _ps(srv.address)


def test_a_client_that_never_reads_does_not_stall_the_others() -> None:
    with AfgdbServer("/bin/gdbdemo") as srv:
        baseline = _rss_mib(srv.proc.pid)
        hog = _connect(srv.address)  # the first connection gets gdbdemo: real 64 KiB reads
        conn = rsp.Connection(rsp.CLIENT)
        conn.start_no_ack_mode()
        request = conn.send_packet(b"m400000,10000")  # 64 KiB of reply each, never read
        hog.setblocking(False)
        sent = 0
        try:
            for _ in range(5000):
                sent += hog.send(request)
        except BlockingIOError:
            pass  # the server stopped reading from it: back-pressure, not buffering
        assert sent > 0
        # Had the server answered every pipelined request at once (128 KiB of hex
        # each), it would now hold hundreds of MiB; it holds what one reply chunk and
        # the socket buffers take.
        time.sleep(1)
        assert _rss_mib(srv.proc.pid) - baseline < 40
        t0 = time.monotonic()
        assert _healthy(srv.address)
        assert time.monotonic() - t0 < 10
        hog.close()
        assert _healthy(srv.address)
