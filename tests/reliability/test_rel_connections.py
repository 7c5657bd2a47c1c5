"""Connection abuse against a real `afgdb serve`: clients that vanish mid-packet,
mid-reply and while their program runs; many sessions doing real work at once; a
client that never reads its replies. The server keeps serving everyone else, and
leaves no task, descriptor or stopped-forever process behind: a process its
vanished debugger created is killed, one it attached is detached and runs on."""

from __future__ import annotations

import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from elftools.elf.elffile import ELFFile
from gdb_session import ROOT, AfgdbServer
from rel_hostile import ErrorLog, rss_kib
from rel_server import Client, InProcessServer, fd_count, ps

from afgdb import rsp

SETTLE = 30.0  # seconds the server may take to notice every disconnect


def _settle(condition: object, timeout: float = SETTLE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


def _steady_fds() -> int:
    """This process's descriptor count once it stops changing (the server closes its
    side of a finished connection a moment after the client)."""
    last = fd_count()
    for _ in range(50):
        time.sleep(0.05)
        now = fd_count()
        if now == last:
            return now
        last = now
    return last


def _symbol(program: str, name: str) -> int:
    with open(f"{ROOT}/{program.lstrip('/')}", "rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        return int(symtab.get_symbol_by_name(name)[0]["st_value"])  # type: ignore[union-attr]


def _vanish(c: Client, rst: bool) -> None:
    if rst:  # an abortive close: the server sees ECONNRESET, not an orderly EOF
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def _pid_of(stop: bytes) -> int:
    """The pid of a stop reply's thread:pPID.TID (multiprocess)."""
    field = next(f for f in stop.split(b";") if f.startswith(b"thread:p"))
    return int(field[len(b"thread:p"):].split(b".")[0], 16)


def test_clients_that_vanish_mid_packet_mid_reply_and_while_running(
        long_mode: bool, figures: object) -> None:
    clients = 1000 if long_mode else 100
    kinds = ["mid-packet", "mid-reply", "running (vRun)", "garbage", "mid-escape",
             "attached, running", "attached, stopped", "silent"]
    with InProcessServer() as srv:
        # A process no debugger holds, for the clients that attach and vanish.
        with Client(srv.address) as c:
            c.ask(b"qSupported:multiprocess+")
            c.send(b"vRun;" + rsp.hex_encode(b"/bin/loop"))
            free = _pid_of(c.reply())
            assert c.ask(b"D;%x" % free) == b"OK"
        assert _settle(lambda: srv.sessions() == 0)
        fds0, tasks0 = _steady_fds(), srv.tasks()
        t0 = time.monotonic()
        for i in range(clients):
            kind = kinds[i % len(kinds)]
            c = Client(srv.address)
            if kind == "mid-packet":
                c.sock.sendall(b"$qSupported:multipro")
            elif kind == "mid-reply":  # replies far bigger than the socket buffers, unread
                c.ask(b"qSupported:multiprocess+")
                c.send(b"vRun;" + rsp.hex_encode(b"/bin/gdbdemo"))
                c.reply()
                c.sock.sendall(c.conn.send_packet(b"m400000,10000") * 100)  # 12.8 MB
            elif kind == "running (vRun)":
                c.ask(b"qSupported:multiprocess+")
                c.send(b"vRun;" + rsp.hex_encode(b"/bin/loop"))
                c.reply()
                c.send(b"vCont;c")
            elif kind == "garbage":
                c.sock.sendall(bytes(range(256)) * 4)
            elif kind == "mid-escape":
                c.sock.sendall(b"$X400000,4:}")
            elif kind.startswith("attached"):
                c.ask(b"qSupported:multiprocess+")
                # The previous attacher's disconnect may not be handled yet: EBUSY, retry.
                assert _settle(lambda c=c: c.ask(b"vAttach;%x" % free).startswith(b"T"))
                if kind == "attached, running":
                    c.send(b"vCont;c")
            _vanish(c, rst=i % 2 == 1)
        elapsed = time.monotonic() - t0
        assert _settle(lambda: srv.sessions() == 0), f"{srv.sessions()} sessions linger"
        assert _settle(lambda: fd_count() <= fds0), f"{fd_count() - fds0} descriptors leaked"
        assert _settle(lambda: srv.tasks() <= tasks0), f"{srv.tasks() - tasks0} tasks leaked"
        fds1, tasks1 = fd_count(), srv.tasks()
        rows = ps(srv.address)
        loops = [r for r in rows if r["command"].startswith("/bin/loop")]
        # What vanished clients started was killed; what they attached runs on, free.
        assert [r["pid"] for r in loops] == [str(free)], rows
        assert loops[0]["state"] == "running" and loops[0]["debugger"] == "-", loops
        assert not [r for r in rows if "gdbdemo" in r["command"]], rows
        stopped = [r for r in rows if r["state"] == "stopped"]
        assert not stopped, stopped
    figures.record(  # type: ignore[attr-defined]
        area="Connection abuse",
        what="clients that vanish: " + ", ".join(kinds) + "; every other one with an "
             "abortive close (RST); in-process server",
        size=f"{clients} clients in {elapsed:.1f} s",
        result=f"server descriptors {fds0} -> {fds1}, tasks {tasks0} -> {tasks1}; created "
               "processes killed, the attached one detached and running; 0 stopped-forever",
        clients=clients, fds_before=fds0, fds_after=fds1, tasks_before=tasks0,
        tasks_after=tasks1, stopped_forever=0, leaked_processes=0)


def _real_work(address: str, main: int) -> dict[str, float]:
    """One debugging session: run, break at main, continue, registers, memory, step,
    remove the breakpoint, kill. Returns how long each part took."""
    t = {"start": time.monotonic()}
    with Client(address, timeout=300) as c:
        assert b"multiprocess+" in c.ask(b"qSupported:multiprocess+;swbreak+")
        c.send(b"vRun;" + rsp.hex_encode(b"/bin/gdbdemo"))
        stop = c.reply()
        assert stop.startswith(b"T05") and b"exec:" in stop, stop
        pid = _pid_of(stop)
        assert c.ask(b"Z0,%x,4" % main) == b"OK"
        stop = c.ask(b"vCont;c")
        assert stop.startswith(b"T05") and b"swbreak" in stop, stop
        tid = stop.split(b"thread:")[1].split(b";")[0]
        regs = rsp.hex_decode(c.ask(b"g"))
        pc = int.from_bytes(regs[37 * 4:38 * 4], "little")
        assert pc == main, hex(pc)
        sp = int.from_bytes(regs[29 * 4:30 * 4], "little")
        assert len(rsp.hex_decode(c.ask(b"m%x,100" % sp))) == 0x100
        assert len(rsp.hex_decode(c.ask(b"m%x,40" % main))) == 0x40
        assert c.ask(b"z0,%x,4" % main) == b"OK"
        stop = c.ask(b"vCont;s:" + tid)
        assert stop.startswith(b"T05"), stop
        pc2 = int.from_bytes(rsp.hex_decode(c.ask(b"p25")), "little")
        assert pc2 != main
        assert c.ask(b"vKill;%x" % pid) == b"OK"
    t["end"] = time.monotonic()
    return t


def test_concurrent_sessions_doing_real_work(long_mode: bool, figures: object) -> None:
    sessions = 50 if long_mode else 10
    main = _symbol("/bin/gdbdemo", "main")
    with InProcessServer() as srv, ErrorLog() as errors:
        fds0, tasks0 = fd_count(), srv.tasks()
        t0 = time.monotonic()
        with ThreadPoolExecutor(sessions) as pool:
            results = list(pool.map(lambda _: _real_work(srv.address, main), range(sessions)))
        elapsed = time.monotonic() - t0
        assert _settle(lambda: fd_count() <= fds0), f"{fd_count() - fds0} descriptors leaked"
        assert _settle(lambda: srv.tasks() <= tasks0), f"{srv.tasks() - tasks0} tasks leaked"
        fds1, tasks1 = fd_count(), srv.tasks()
        rows = ps(srv.address)
        assert not [r for r in rows if "gdbdemo" in r["command"]], rows
        assert not errors.records, errors.records[0]
    longest = max(r["end"] - r["start"] for r in results)
    figures.record(  # type: ignore[attr-defined]
        area="Connection abuse",
        what="concurrent sessions, each on its own process: vRun /bin/gdbdemo, break at "
             "main, continue, g, m, step, z0, vKill",
        size=f"{sessions} sessions at once",
        result=f"all {sessions} completed in {elapsed:.1f} s (slowest session "
               f"{longest:.1f} s); server descriptors {fds0} -> {fds1}, tasks {tasks0} -> "
               f"{tasks1}; no process left; in-process server",
        sessions=sessions, elapsed_s=round(elapsed, 2), slowest_session_s=round(longest, 2),
        fds_before=fds0, fds_after=fds1, tasks_before=tasks0, tasks_after=tasks1)


def test_a_client_that_never_reads_does_not_stall_the_others(figures: object) -> None:
    with AfgdbServer("/bin/gdbdemo") as srv:
        pid = srv.proc.pid
        baseline, fds0 = rss_kib(pid), fd_count(pid)
        hog = Client(srv.address)  # the first connection gets gdbdemo: real 64 KiB reads
        hog.conn.start_no_ack_mode()
        request = hog.conn.send_packet(b"m400000,10000")  # 128 KiB of reply each, never read
        hog.sock.setblocking(False)
        sent, blocked = 0, False
        try:
            for _ in range(1_000_000):
                sent += hog.sock.send(request)
        except BlockingIOError:
            blocked = True  # the server stopped reading from it: back-pressure
        assert blocked, f"the server read all {sent} bytes of requests"
        # Had the server answered every pipelined request at once it would now hold
        # hundreds of MiB; it holds what one reply chunk and the socket buffers take.
        time.sleep(1)
        held = rss_kib(pid) - baseline
        assert held < 40 * 1024
        others, slowest = 20, 0.0
        for _ in range(others):
            t0 = time.monotonic()
            with Client(srv.address) as c:
                assert b"PacketSize" in c.ask(b"qSupported:multiprocess+")
            slowest = max(slowest, time.monotonic() - t0)
        assert slowest < 10
        hog.close()
        with Client(srv.address) as c:
            assert b"PacketSize" in c.ask(b"qSupported:multiprocess+")
        assert _settle(lambda: fd_count(pid) <= fds0)
        fds1 = fd_count(pid)
    figures.record(  # type: ignore[attr-defined]
        area="Connection abuse",
        what="a client pipelines `m400000,10000` (128 KiB replies) and never reads; "
             f"{others} other clients connect meanwhile",
        size=f"{sent // len(request)} requests written before the server stopped reading",
        result=f"server RSS +{held // 1024} MiB (bound 40); other clients answered in "
               f"{slowest * 1000:.0f} ms at worst; fds {fds0} -> {fds1}",
        requests_written=sent // len(request), rss_growth_kib=held,
        slowest_other_s=round(slowest, 3), fds_before=fds0, fds_after=fds1)


