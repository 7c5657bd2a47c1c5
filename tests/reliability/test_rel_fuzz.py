"""Protocol fuzzing: whatever a client sends, the stub answers and keeps answering.

Three ways in, one family of hostile inputs (rel_hostile):

- structured: hypothesis builds packets of every command family with hostile
  arguments (huge, negative and overflowing numbers, bogus thread ids and qXfer
  offsets, binary junk) and framing faults, and shrinks a failure to a small case;
- bulk: a seeded random generator feeds the sans-IO `Session` in-process, against a
  real machine running /bin/gdbdemo (10^6 inputs under ``--long``);
- TCP: a smaller batch through the socket of a real ``afgdb serve``.

A crash is an exception out of the session or an "internal error" it logs (a bug of
ours caught at dispatch); a hang is an input that takes longer than the deadline;
memory is the RSS after a warm-up against the RSS at the end. The guest root is a
throwaway copy: vFile may write, truncate and unlink in it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from gdb_session import AfgdbServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_hostile import ErrorLog, Hostile, Peer, World, copy_root, rss_kib

from afgdb import rsp

# Seconds one input may take in-process. The slowest seen: ~3 s, a vCont;r range step of
# 2 000 single steps through code new to the translator, under tracemalloc, on a loaded
# machine (most inputs take well under a millisecond).
DEADLINE = 5.0
TCP_DEADLINE = 10.0  # seconds for a batch over TCP and the answer to a probe after it
WATCHDOG = 60.0  # an input still running after this is a hang: the test fails there
PER_CONNECTION = 1000  # in-process inputs per connection (then it ends, a new one starts)


class Hang(BaseException):
    """Raised by the watchdog; a BaseException so the stub's catch-all cannot eat it."""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return copy_root(str(tmp_path_factory.mktemp("fuzz") / "root"))


@pytest.fixture(scope="module")
def peer(root: str) -> Peer:
    return Peer(root)


@pytest.fixture
def watchdog() -> Iterator[None]:
    def fire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"an input ran for more than {WATCHDOG} s")

    old = signal.signal(signal.SIGALRM, fire)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------ found by the fuzzer

FOUND = [
    # A watchpoint 2**62 bytes long: the engine marked its pages one by one (memory
    # bomb); now refused, as is one that wraps past 2**32.
    (b"Z3,28,74b14480be734e85", b"E"),
    (b"Z4,400180,100000000", b"E"),
    # A NUL in a file name: ValueError from the host call, an internal error.
    (b"vFile:open:2f746d702f0078,1,0", b"F-1,16"),
    (b"vFile:readlink:2f746d702f0078", b"F-1,16"),
    # An offset past the host's off_t: OverflowError, an internal error.
    (b"vFile:pread:1,10,eebe948e2be1b921", b"F-1,"),
    # A vRun argument that is not UTF-8: UnicodeEncodeError, an internal error.
    # (The peer interrupts a resumed program after a few thousand instructions: T02.)
    (b"vRun;2f62696e2f68656c6c6f;ff80", b"T"),
    # The restart register (72), which gdb writes with every pc change, was taken for
    # a general register ("r" + number): ValueError, an internal error.
    (b"P48=00000000", b"OK"),
    # A range step over the whole address space ran 100 000 single steps in one packet
    # (2 s during which no connection was served); now at most 2 000.
    (b"vCont;r0,ffffffff", b""),
]


@pytest.mark.parametrize(("payload", "answer"), FOUND, ids=[p[:20].decode() for p, _ in FOUND])
def test_inputs_the_fuzzer_found(peer: Peer, payload: bytes, answer: bytes) -> None:
    peer.reconnect()
    peer.ask(b"qSupported:multiprocess+")
    peer.ask(b"vFile:open:" + rsp.hex_encode(b"/bin/hello") + b",0,0")  # descriptor 1
    with ErrorLog() as errors:
        t0 = time.perf_counter()
        replies = peer.ask(payload)
        took = time.perf_counter() - t0
    assert not errors.records, errors.records[0]
    assert replies and replies[-1].startswith(answer), replies
    assert took < 1.0


# ------------------------------------------------------------- structured

NUMBERS = st.one_of(
    st.integers(0, 16).map(lambda n: b"%x" % n),
    st.sampled_from([b"0", b"ffffffff", b"100000000", b"7fffffff", b"80000000",
                     b"ffffffffffffffffffff", b"-1", b"", b"zz", b"0x10", b"p1.1", b"p-1.-1",
                     b"p0.0", b"pffff.ffff", b"400000", b"7fff0000", b"f" * 200]),
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
def payloads(draw: st.DrawFn) -> bytes:
    cmd = draw(st.sampled_from(COMMANDS))
    parts = draw(st.lists(st.one_of(NUMBERS, BLOBS.map(rsp.hex_encode), BLOBS), max_size=5))
    seps = draw(st.lists(st.sampled_from([b",", b":", b";", b".", b"="]),
                         min_size=len(parts), max_size=len(parts)))
    body = b"".join(s + p for s, p in zip(seps, parts))
    return cmd + body.lstrip(b",:;")


@st.composite
def wire(draw: st.DrawFn) -> bytes:
    """What reaches the socket: a good frame, or one cut short, with a wrong checksum,
    with a stray escape or run-length code spliced in, or no frame at all."""
    payload = draw(payloads())
    frame = rsp.Connection(rsp.CLIENT).send_packet(payload)
    how = draw(st.sampled_from(["good", "good", "good", "cut", "sum", "splice", "raw"]))
    if how == "cut":
        return frame[: draw(st.integers(0, len(frame) - 1))]
    if how == "sum":
        return frame[:-2] + draw(st.sampled_from([b"00", b"zz", b"f", b""]))
    if how == "splice":
        at = draw(st.integers(0, len(payload)))
        body = payload[:at] + draw(st.sampled_from([b"}", b"*", b"0*\xff", b"}}", b"$", b"#"]))
        body += payload[at:]
        return b"$" + body + b"#%02x" % rsp.checksum(body)
    if how == "raw":
        return draw(st.binary(max_size=200))
    return frame


def test_structured_hostile_packets(peer: Peer, long_mode: bool, figures: object,
                                    watchdog: None) -> None:
    examples = int(os.environ.get("AFGDB_FUZZ_EXAMPLES", 5000 if long_mode else 300))
    seen = {"inputs": 0, "max": 0.0, "examples": 0}
    with ErrorLog() as errors:

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.lists(wire(), min_size=1, max_size=8))
        def batch(inputs: list[bytes]) -> None:
            seen["examples"] += 1
            for data in inputs:
                t0 = time.perf_counter()
                signal.setitimer(signal.ITIMER_REAL, WATCHDOG)
                peer.feed(data)  # any exception here fails the test
                signal.setitimer(signal.ITIMER_REAL, 0)
                seen["max"] = max(seen["max"], time.perf_counter() - t0)
                seen["inputs"] += 1
            assert peer.alive()  # still a working stub afterwards
            assert not errors.records, errors.records[0]
            if not peer.session.targets or seen["examples"] % 200 == 0:
                peer.reconnect()

        batch()
    assert seen["max"] < DEADLINE
    figures.record(  # type: ignore[attr-defined]
        area="Protocol fuzzing",
        what="hypothesis: packets of every family with hostile arguments and framing "
             "faults, in-process Session against /bin/gdbdemo",
        size=f"{seen['examples']} examples, {seen['inputs']} inputs",
        result=f"0 crashes, 0 internal errors; slowest input {seen['max'] * 1000:.0f} ms "
               f"(deadline {DEADLINE * 1000:.0f} ms)",
        examples=seen["examples"], inputs=seen["inputs"], crashes=0,
        max_input_s=round(seen["max"], 4), deadline_s=DEADLINE)


# ------------------------------------------------------------------ bulk

CPU_PACKAGE = os.path.join("afgdb", "machine", "cpu", "")


def _heap() -> tuple[int, int]:
    """Python heap in bytes: (outside afgdb.machine.cpu, inside it). The CPU's block
    translator keeps process-wide caches keyed by guest code, which grow as hostile
    writes make new code; they are counted apart from the rest (stub, codec, kernel)."""
    import tracemalloc  # not at module level: PyPy has none, and collects this file

    gc.collect()
    other = cpu = 0
    for stat in tracemalloc.take_snapshot().statistics("filename"):
        if CPU_PACKAGE in stat.traceback[0].filename:
            cpu += stat.size
        else:
            other += stat.size
    return other, cpu


def test_bulk_hostile_inputs_in_process(peer: Peer, long_mode: bool, figures: object,
                                        watchdog: None) -> None:
    total = 1_000_000 if long_mode else 20_000
    warmup = min(total // 4, 50_000)  # program images and decoder caches fill first
    gen = Hostile(seed=13, world=peer.world)
    peer.reconnect()
    slowest, slowest_input = 0.0, b""
    rss_warm = 0
    heap_warm = (0, 0)
    tracemalloc = pytest.importorskip("tracemalloc", reason="PyPy has no tracemalloc")
    tracemalloc.start(1)
    try:
        with ErrorLog() as errors:
            t_start = time.monotonic()
            for i in range(total):
                data = gen.next()
                t0 = time.perf_counter()
                signal.setitimer(signal.ITIMER_REAL, WATCHDOG)
                try:
                    peer.feed(data)
                except Hang as e:
                    raise Hang(f"{e}: input {i}, {data[:200]!r}") from None
                signal.setitimer(signal.ITIMER_REAL, 0)
                took = time.perf_counter() - t0
                if took > slowest:
                    slowest, slowest_input = took, data
                if i % PER_CONNECTION == PER_CONNECTION - 1:
                    assert peer.alive(), f"the session stopped answering after input {i}"
                    assert not errors.records, errors.records[0]
                    peer.reconnect()
                if i == warmup:
                    heap_warm, rss_warm = _heap(), rss_kib()
            elapsed = time.monotonic() - t_start
        heap_end, rss_end = _heap(), rss_kib()
    finally:
        tracemalloc.stop()
    growth = heap_end[0] - heap_warm[0]
    cpu_growth = heap_end[1] - heap_warm[1]
    rate = total / elapsed
    assert slowest < DEADLINE, f"{slowest:.2f} s for {slowest_input[:100]!r}"
    # Flat: after the warm-up, no cost per input outside the translator's caches. The
    # short run ends while the kernel's program-image cache (8 images, 2 spare address
    # spaces each: bounded) is still filling, hence its looser bound.
    limit = (1 if long_mode else 4) << 20
    assert growth < limit, f"the heap grew {growth} bytes over {total - warmup} inputs"
    figures.record(  # type: ignore[attr-defined]
        area="Protocol fuzzing",
        what="seeded random generator: random bytes, truncated/oversized frames, bad "
             "checksums and escapes, packets with hostile arguments; in-process Session "
             f"against /bin/gdbdemo, a new connection every {PER_CONNECTION} inputs",
        size=f"{total} inputs in {elapsed:.0f} s ({rate:.0f} inputs/s, under tracemalloc)",
        result=f"0 crashes, 0 hangs; slowest input {slowest * 1000:.0f} ms (deadline "
               f"{DEADLINE * 1000:.0f} ms); Python heap after warm-up {heap_warm[0] >> 10} "
               f"KiB, at the end {heap_end[0] >> 10} KiB; the CPU translator's caches "
               f"{heap_warm[1] >> 10} -> {heap_end[1] >> 10} KiB; RSS {rss_warm >> 10} -> "
               f"{rss_end >> 10} MiB",
        inputs=total, warmup=warmup, crashes=0, internal_errors=0, rate_per_s=round(rate),
        max_input_s=round(slowest, 4), slowest_input=repr(slowest_input[:80]),
        deadline_s=DEADLINE, heap_warm_bytes=heap_warm[0], heap_end_bytes=heap_end[0],
        heap_growth_bytes=growth, translator_warm_bytes=heap_warm[1],
        translator_end_bytes=heap_end[1], translator_growth_bytes=cpu_growth,
        rss_warm_kib=rss_warm, rss_end_kib=rss_end, detached_left_running=peer.left_behind,
        translator_pages_dropped=peer.code_pages_dropped)


# ------------------------------------------------------------------- TCP

class TcpPeer:
    """One TCP connection that writes hostile input and reads whatever comes back
    on a thread, so that a big reply never blocks the writer."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=TCP_DEADLINE)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as gdb does
        self.conn = rsp.Connection(rsp.CLIENT)
        self.answered = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            self.conn.feed(data)
            while (ev := self.conn.next_event()) is not rsp.NEED_DATA:
                if isinstance(ev, rsp.Packet) and b"PacketSize=" in ev.data:
                    self.answered.set()

    def probe(self) -> bool:
        """Still answering? (Ctrl-C first, in case the input resumed the program.)"""
        for _ in range(3):  # the first '#' may land inside an escape or a run
            self.answered.clear()
            self.sock.sendall(b"\x03#00" + rsp.Connection(rsp.CLIENT).send_packet(
                b"qSupported:multiprocess+"))
            if self.answered.wait(TCP_DEADLINE):
                return True
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader (close alone does not)
        self.reader.join(TCP_DEADLINE)
        self.sock.close()


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_hostile_inputs_over_tcp(root: str, long_mode: bool, figures: object) -> None:
    total = 100_000 if long_mode else 2_000
    per_connection, per_probe = 100, 20
    with AfgdbServer("/bin/gdbdemo", root=root) as srv:
        pid = srv.proc.pid
        fds0, rss0 = _fd_count(pid), rss_kib(pid)
        gen = Hostile(seed=17, world=World(others=list(range(1, 40))))
        slowest = 0.0
        t_start = time.monotonic()
        for c in range(total // per_connection):
            peer = TcpPeer(srv.address)
            try:
                for _ in range(per_connection // per_probe):
                    t0 = time.monotonic()
                    for _ in range(per_probe):
                        peer.sock.sendall(gen.next())
                    assert peer.probe(), f"connection {c} stopped answering"
                    slowest = max(slowest, time.monotonic() - t0)
            finally:
                peer.close()
        elapsed = time.monotonic() - t_start
        check = TcpPeer(srv.address)
        assert check.probe()
        check.close()
        deadline = time.monotonic() + 10
        while _fd_count(pid) > fds0 and time.monotonic() < deadline:
            time.sleep(0.1)  # the server closes its side of the last connection
        fds1, rss1 = _fd_count(pid), rss_kib(pid)
        log = srv.stderr()
    internal = log.count("internal error")
    assert internal == 0, log[log.index("internal error") - 200:][:3000]
    assert "Traceback" not in log, log[-3000:]
    assert fds1 <= fds0, f"the server holds {fds1 - fds0} more descriptors"
    assert slowest < TCP_DEADLINE
    figures.record(  # type: ignore[attr-defined]
        area="Protocol fuzzing",
        what=f"the same generator through a real `afgdb serve` TCP socket, {per_connection} "
             f"inputs per connection, a probe every {per_probe}",
        size=f"{total} inputs over {total // per_connection} connections in {elapsed:.0f} s",
        result=f"0 crashes, 0 internal errors; slowest batch+probe {slowest * 1000:.0f} ms "
               f"(deadline {TCP_DEADLINE:.0f} s); server fds {fds0} -> {fds1}, RSS "
               f"{rss0 // 1024} -> {rss1 // 1024} MiB",
        inputs=total, connections=total // per_connection, crashes=0,
        max_batch_s=round(slowest, 3), deadline_s=TCP_DEADLINE, fds_before=fds0,
        fds_after=fds1, rss_before_kib=rss0, rss_after_kib=rss1)
