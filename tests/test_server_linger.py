"""The server polls a connection briefly after answering (aioconn.LINGER): it must stay
fair to other connections and to programs that run meanwhile."""

from __future__ import annotations

import socket
import threading
import time

from gdb_session import AfgdbServer


def _packet(body: bytes) -> bytes:
    return b"$" + body + b"#%02x" % (sum(body) & 0xFF)


class Client:
    """A lock-step remote-protocol client in no-ack mode."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sock.sendall(_packet(b"QStartNoAckMode"))
        assert self.reply() == b"OK"
        self.sock.sendall(b"+")

    def reply(self) -> bytes:
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                body, self.buf = self.buf[start + 1:end], self.buf[end + 3:]
                return body
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            self.buf += data

    def ask(self, body: bytes) -> bytes:
        self.sock.sendall(_packet(body))
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def test_a_chatty_connection_does_not_starve_another() -> None:
    with AfgdbServer("/bin/loop") as srv:
        chatty, other = Client(srv.address), Client(srv.address)
        stop = threading.Event()
        answered = [0]

        def chatter() -> None:
            while not stop.is_set():
                assert chatty.ask(b"qC").startswith(b"QC")
                answered[0] += 1

        th = threading.Thread(target=chatter)
        th.start()
        try:
            worst = 0.0
            for _ in range(200):
                t = time.perf_counter()
                assert other.ask(b"?").startswith((b"T", b"S", b"W", b"X", b"OK"))
                worst = max(worst, time.perf_counter() - t)
        finally:
            stop.set()
            th.join(30)
        chatty.close()
        other.close()
    # Served all along, in turn with the other (lingering on one connection while
    # another waited let this fall to a handful).
    assert answered[0] > 100
    assert worst < 0.5, f"a round trip waited {worst * 1e3:.0f} ms behind the other connection"


def test_a_program_runs_while_its_debugger_is_idle_and_another_chats() -> None:
    """A resumed program keeps running, and its stop reply comes, while another
    connection talks in lock step (the server does not linger while a program runs)."""
    with AfgdbServer("/bin/hello") as srv:
        runner, chatty = Client(srv.address), Client(srv.address)
        runner.sock.sendall(_packet(b"vCont;c"))
        t = time.perf_counter()
        for _ in range(300):
            chatty.ask(b"qC")
        stop = runner.reply()
        while stop.startswith(b"O"):  # console output before the exit
            stop = runner.reply()
        assert stop.startswith(b"W00"), stop
        assert time.perf_counter() - t < 30
        runner.close()
        chatty.close()
        assert "hello" in srv.output().lower()
