"""TCP and unix connections served by an asyncio Protocol: the server's fast path.

gdb talks in lock step (one packet, wait for the reply), so a connection's
speed is its round-trip latency. Through anyio's socket streams a round trip
costs a task wake-up, two epoll registrations and an extra event-loop pass
(measured: ~7,000 lock-step packets/s against ~27,000/s here). Here the event
loop hands the bytes straight to `data_received`, which answers them and
writes the reply before returning: no task, no extra pass.

Used only when the server runs on asyncio (anyio's default backend); the
stream path in afgdb.server serves every other case. This module moves
bytes and knows nothing of RSP: the `Link` it is given answers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import selectors
import socket
import time
import weakref
from typing import Callable, Protocol

log = logging.getLogger("afgdb.server")


class Link(Protocol):
    """One connection's answerer (afgdb.server.Link)."""

    def answer(self, data: bytes) -> bytes: ...
    def more(self) -> bytes: ...
    def settle(self) -> bytes: ...
    def stop_reply(self) -> bytes: ...
    def may_linger(self) -> bool: ...
    def close(self) -> None: ...


# How long a connection keeps polling its socket after answering, for gdb's next
# packet, while the machine has nothing to run. gdb sends it within tens to hundreds
# of microseconds; a process asleep in epoll costs ~50 us more to wake on a virtual
# machine (measured here: 80 -> 24 us per lock-step round trip between CPUs, and
# `stepi` 0.59x -> 1.03x qemu's rate). Polling yields the CPU between tries, so a
# peer on the same CPU still runs. A busy machine keeps the loop awake anyway.
LINGER = 1e-3
# At most this long in one go, however fast the peer talks (other connections are
# answered as soon as they send: see _linger).
LINGER_CHAIN = 4e-3
RECV_SIZE = 1 << 16


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop we run on, or None (another anyio backend)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class RspProtocol(asyncio.Protocol):
    """One connection: bytes in, answers out, stop replies when the machine stops."""

    def __init__(self, make_link: Callable[[str, Callable[[], None]], Link],
                 chunk: int, linger: float = LINGER,
                 watch: selectors.BaseSelector | None = None) -> None:
        self.make_link = make_link
        self.chunk = chunk
        self.linger = linger if watch is not None else 0.0
        self.watch = watch  # every connection's and listener's socket: who else is waiting
        self.fd = -1
        self.link: Link | None = None
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.blocked = False  # the peer is not reading: the write buffer is full
        self.backlog = False  # requests are waiting in the session for the peer to read
        self.stop_due = False  # a stop-reply callback is scheduled

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=self.chunk)
        sock = transport.get_extra_info("socket")
        if sock is not None and self.watch is not None:
            self.fd = sock.fileno()
            self.watch.register(self.fd, selectors.EVENT_READ)
        peer = transport.get_extra_info("peername")
        name = f"gdb@{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "gdb@unix"
        self.link = self.make_link(name, self._wake)

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self._emit(self.link.answer(data))
            self._linger()

    def _linger(self) -> None:
        """Poll for the next request a little while before going back to the loop: a
        lock-step peer sends it within microseconds, and waking from epoll costs more.
        Not while the machine has work (the loop is awake anyway, and its runner must go
        on) or replies wait to be sent."""
        if self.linger <= 0 or self.fd < 0:
            return
        clock = time.perf_counter
        now = clock()
        end, chain_end = now + self.linger, now + LINGER_CHAIN
        watch = self.watch
        assert watch is not None
        while True:
            link, tr = self.link, self.transport
            if link is None or tr is None or tr.is_closing() or self.backlog or \
                    tr.get_write_buffer_size() or not link.may_linger():
                return
            ready = watch.select(0)
            if not ready:
                if clock() >= end:
                    return
                os.sched_yield()
                continue
            if len(ready) > 1 or ready[0][0].fd != self.fd:
                return  # another connection or a listener waits: the loop is fair to all
            try:
                data = os.read(self.fd, RECV_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                return  # the loop's own read reports it
            if not data:
                return  # end of stream: the loop sees it too and closes
            self._emit(link.answer(data))
            end = min(clock() + self.linger, chain_end)

    def _emit(self, out: bytes) -> None:
        """Send out; answer what the session holds back while the peer keeps reading."""
        link, tr = self.link, self.transport
        assert link is not None and tr is not None
        while len(out) >= self.chunk:  # pipelined requests: answer as we send
            tr.write(out)
            if self.blocked:
                self.backlog = True
                tr.pause_reading()
                return
            out = link.more()
        out += link.settle()
        if out:
            tr.write(out)

    def pause_writing(self) -> None:
        self.blocked = True

    def resume_writing(self) -> None:
        self.blocked = False
        if self.backlog and self.link is not None and self.transport is not None:
            self.backlog = False
            self.transport.resume_reading()
            self._emit(self.link.more())

    def _wake(self) -> None:
        # Called from inside a machine run: send the stop reply from the loop, not from here.
        if not self.stop_due:
            self.stop_due = True
            self.loop.call_soon(self._send_stop)

    def _send_stop(self) -> None:
        self.stop_due = False
        if self.link is not None and self.transport is not None and \
                not self.transport.is_closing():
            out = self.link.stop_reply()
            if out:
                self.transport.write(out)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fd >= 0 and self.watch is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.watch.unregister(self.fd)
            self.fd = -1
        link, self.link = self.link, None
        if link is not None:
            link.close()

    def abort(self) -> None:
        """Server shutdown: drop the connection and end its session now."""
        if self.transport is not None:
            self.transport.abort()
        self.connection_lost(None)


async def serve_sockets(loop: asyncio.AbstractEventLoop, socks: list[socket.socket],
                        make_link: Callable[[str, Callable[[], None]], Link],
                        chunk: int, linger: float = LINGER) -> None:
    """Accept on listening sockets until cancelled; then close every connection."""
    live: weakref.WeakSet[RspProtocol] = weakref.WeakSet()  # open connections
    # poll(2), not epoll: no descriptor of its own (the server keeps a steady count).
    watch = selectors.PollSelector()
    for s in socks:
        watch.register(s.fileno(), selectors.EVENT_READ)  # a new client waits too

    def factory() -> RspProtocol:
        proto = RspProtocol(make_link, chunk, linger, watch)
        live.add(proto)
        return proto

    servers = [await loop.create_server(factory, sock=s) for s in socks]
    try:
        await asyncio.Future()  # until cancelled
    finally:
        for srv in servers:
            srv.close()
        for proto in list(live):
            proto.abort()
        watch.close()
