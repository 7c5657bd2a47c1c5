"""A real `afgdb serve` inside the test process (on an anyio blocking portal), so a test
can count the server's tasks and descriptors; and a small blocking RSP client."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from concurrent.futures import Future
from typing import Any

from anyio.from_thread import start_blocking_portal
from gdb_session import ROOT

from afgdb import rsp
from afgdb.server import Machine, ServeOptions, make_machine, serve


class InProcessServer:
    """`afgdb serve --listen 127.0.0.1:0` on a thread of this process."""

    def __init__(self, *program: str, root: str = ROOT) -> None:
        opts = ServeOptions(root=root, program=list(program), listen="127.0.0.1:0")
        self._portal_cm = start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self.machine: Machine = make_machine(opts)
        ready = threading.Event()
        where: list[str] = []

        def on_ready(address: str) -> None:
            where.append(address)
            ready.set()

        self._task: Future[Any] = self.portal.start_task_soon(serve, opts, self.machine,
                                                              on_ready)
        if not ready.wait(60):
            self.close()
            raise RuntimeError("the in-process server did not start")
        self.address = where[0]

    def tasks(self) -> int:
        """Tasks alive in the server's event loop (the portal's own included)."""

        async def count() -> int:
            return len(asyncio.all_tasks())

        return self.portal.call(count)

    def sessions(self) -> int:
        return len(self.machine.sessions)

    def close(self) -> None:
        self._task.cancel()
        self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> InProcessServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fd_count(pid: int | None = None) -> int:
    return len(os.listdir(f"/proc/{pid or os.getpid()}/fd"))


class Client:
    """Blocking RSP over TCP: `ask` sends one packet and returns the reply (console
    output packets of qRcmd are collected in `output`)."""

    def __init__(self, address: str, timeout: float = 60.0) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = rsp.Connection(rsp.CLIENT)
        self.output = b""

    def send(self, payload: bytes) -> None:
        self.sock.sendall(self.conn.send_packet(payload))

    def reply(self) -> bytes:
        while True:
            ev = self.conn.next_event()
            if ev is rsp.NEED_DATA:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("the server closed the connection")
                self.conn.feed(data)
            elif isinstance(ev, rsp.Packet):
                self.sock.sendall(self.conn.data_to_send())
                if ev.data.startswith(b"O") and ev.data != b"OK":
                    self.output += rsp.hex_decode(ev.data[1:])
                    continue
                return ev.data

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.reply()

    def monitor(self, command: str) -> str:
        self.output = b""
        self.ask(b"qRcmd," + rsp.hex_encode(command.encode()))
        return self.output.decode(errors="replace")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ps(address: str) -> list[dict[str, str]]:
    """`monitor ps` over a fresh connection, one dict per process."""
    with Client(address) as c:
        c.ask(b"qSupported:multiprocess+")
        lines = c.monitor("ps").splitlines()
    rows = []
    for line in lines[1:]:
        f = line.split(None, 6)
        if len(f) >= 6:
            rows.append({"pid": f[0], "state": f[2], "debugger": f[4],
                         "command": f[6] if len(f) > 6 else ""})
    return rows
