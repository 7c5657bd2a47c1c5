"""Hostile RSP input, made fast from a seeded `random.Random` (the bulk volume of the
fuzzing tests), and an in-process peer that feeds it to a sans-IO `Session` against a
real machine running real MIPS programs.

One input is one chunk of bytes as a client could write it: random bytes, a truncated
or oversized frame, a bad checksum, a broken escape or run-length code, or a well-framed
packet of any command family with hostile arguments (huge lengths in m/X/vFile, negative
and overflowing addresses, thread ids of other processes, bogus qXfer offsets, vCont
with thousands of actions)."""

from __future__ import annotations

import logging
import os
import random
import shutil
from dataclasses import dataclass, field

from gdb_session import ROOT

from afgdb import rsp
from afgdb.machine.cpu import translate
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.stub import Session
from afgdb.targets.caps import TargetError
from afgdb.targets.process import ProcessTarget
from afgdb.targets.system import System

PROGRAMS = ["/bin/gdbdemo", "/bin/hello", "/bin/loop", "/bin/threads", "/bin/fib"]

NUMBERS = [b"0", b"1", b"4", b"7f", b"ff", b"1000", b"ffff", b"10000", b"100000",
           b"7fffffff", b"80000000", b"fffffffc", b"ffffffff", b"100000000",
           b"ffffffffffffffff", b"1" + b"0" * 40, b"-1", b"-80000000", b"", b"zz",
           b"0x10", b" 1", b"1 ", b"+1", b"f" * 300, b"400000", b"7fff0000", b"7ffeffff"]
ADDRESSES = [b"400000", b"400180", b"7fff0000", b"7ffefff0", b"80000000", b"a0000000",
             b"bfc00000", b"fffff000", b"ffffffff", b"0", b"10", b"-10", b"100000000",
             b"ffffffffffffffffffff"]


def copy_root(dest: str) -> str:
    """A throwaway copy of the shipped guest root (vFile may write and unlink in it)."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns("corpus"))
    return dest


@dataclass
class World:
    """Pids the generator aims at: its own processes, others', none at all."""

    own: list[int] = field(default_factory=list)
    others: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        return self.own + self.others + [0, 1, 2, 0x7FFFFFFF, 0xFFFFFFFF]


class Hostile:
    """Seeded generator of hostile inputs: `next()` gives one chunk of bytes."""

    def __init__(self, seed: int, world: World) -> None:
        self.r = random.Random(seed)
        self.world = world
        self.client = rsp.Connection(rsp.CLIENT)
        self.rle = rsp.Connection(rsp.SERVER)  # clients must not run-length encode; a hostile one does
        self.kinds = [
            (self.random_bytes, 10), (self.truncated, 6), (self.oversized, 1),
            (self.bad_checksum, 5), (self.bad_escape, 5), (self.acks_and_breaks, 3),
            (self.packet, 70),
        ]
        self.families = [
            (self.memory_read, 8), (self.memory_write, 8), (self.registers, 6),
            (self.breakpoint, 6), (self.thread_select, 6), (self.xfer, 8), (self.vfile, 8),
            (self.vcont, 6), (self.resume_short, 3), (self.process, 3), (self.query, 8),
            (self.monitor, 2), (self.signals, 3), (self.mangled, 8),
        ]
        self._kind_fns, self._kind_w = zip(*self.kinds)
        self._fam_fns, self._fam_w = zip(*self.families)

    # ----------------------------------------------------------- pieces
    def num(self) -> bytes:
        r = self.r
        c = r.random()
        if c < 0.4:
            return r.choice(NUMBERS)
        if c < 0.8:
            return b"%x" % r.getrandbits(r.choice((4, 8, 16, 32, 33, 64)))
        return b"%x" % r.randrange(0, 64)

    def addr(self) -> bytes:
        return self.r.choice(ADDRESSES) if self.r.random() < 0.6 else self.num()

    def blob(self, n: int = 64) -> bytes:
        return self.r.randbytes(self.r.randrange(0, n))

    def hexblob(self, n: int = 64) -> bytes:
        b = rsp.hex_encode(self.blob(n))
        return b[:-1] if self.r.random() < 0.1 else b  # an odd number of digits

    def pid(self) -> int:
        return self.r.choice(self.world.pids())

    def thread(self) -> bytes:
        r = self.r
        c = r.random()
        if c < 0.5:
            p = self.pid()
            t = p if r.random() < 0.7 else r.choice([p + 1, 0, 0x7FFFFFFF, p + 100])
            return b"p%x.%x" % (p, t)
        if c < 0.7:
            return b"%x" % self.pid()
        return r.choice([b"-1", b"0", b"p-1.-1", b"p0.0", b"p-1.0", b"pffffffffff.1",
                         b"p1.", b"p.1", b"p", b"", b"zz", b"p1.1.1", b"-2", b"p-2.-1"])

    # ----------------------------------------------------------- framing
    def frame(self, payload: bytes) -> bytes:
        if self.r.random() < 0.2:
            return self.rle.send_packet(payload, rle=True)
        return self.client.send_packet(payload)

    def random_bytes(self) -> bytes:
        r = self.r
        if r.random() < 0.1:
            return r.randbytes(r.randrange(64, 4096))
        return r.randbytes(r.randrange(0, 64))

    def truncated(self) -> bytes:
        f = self.frame(self.payload())
        return f[: self.r.randrange(0, len(f))]

    def oversized(self) -> bytes:
        r = self.r
        if r.random() < 0.2:  # a flood of frame starts: one bad frame each
            return b"$" * r.randrange(1000, 20_000)
        n = rsp.DEFAULT_MAX_PACKET_SIZE + r.choice((1, 100, 5000, 200_000))
        body = r.choice((b"0", b"X", b"}")) * n if r.random() < 0.5 else r.randbytes(n)
        return b"$" + body + (b"#00" if r.random() < 0.7 else b"")

    def bad_checksum(self) -> bytes:
        f = bytearray(self.frame(self.payload()))
        c = self.r.random()
        if c < 0.5:
            f[-1] = self.r.choice(b"0123456789abcdef")
            f[-2] = self.r.choice(b"0123456789abcdefxyz")
        elif c < 0.8:
            del f[-1]
        else:
            f[-2:] = b"#"
        return bytes(f)

    def bad_escape(self) -> bytes:
        r = self.r
        body = bytearray(self.payload())
        junk = r.choice([b"}", b"}}", b"}\x00", b"*", b"*\xff", b"**", b"0*", b"0*\x1d",
                         b"0* ", b"}*", b"*}", b"#", b"$", b"\x03", b"0*~" * 100])
        at = r.randrange(0, len(body) + 1)
        body[at:at] = junk
        raw = bytes(body)
        return b"$" + raw + b"#%02x" % rsp.checksum(raw)

    def acks_and_breaks(self) -> bytes:
        r = self.r
        return bytes(r.choice(b"+-\x03") for _ in range(r.randrange(1, 20)))

    # --------------------------------------------------------- packets
    def packet(self) -> bytes:
        return self.frame(self.payload())

    def payload(self) -> bytes:
        fn = self.r.choices(self._fam_fns, self._fam_w)[0]
        out: bytes = fn()
        return out

    def memory_read(self) -> bytes:
        return b"m%s,%s" % (self.addr(), self.num())

    def memory_write(self) -> bytes:
        r = self.r
        if r.random() < 0.5:
            return b"M%s,%s:%s" % (self.addr(), self.num(), self.hexblob())
        return b"X%s,%s:%s" % (self.addr(), self.num(), rsp.escape_binary(self.blob()))

    def registers(self) -> bytes:
        r = self.r
        c = r.randrange(4)
        if c == 0:
            return b"g" + (b";thread:" + self.thread() if r.random() < 0.3 else b"")
        if c == 1:
            return b"G" + self.hexblob(400)
        if c == 2:
            return b"p" + self.num()
        return b"P%s=%s" % (self.num(), self.hexblob(12))

    def breakpoint(self) -> bytes:
        r = self.r
        extra = b""
        if r.random() < 0.2:
            extra = b";X%s,%s" % (self.num(), self.hexblob(20)) * r.randrange(1, 5)
        return b"%s%s,%s,%s%s" % (r.choice(b"Zz").to_bytes(1, "little"),
                                  r.choice([b"0", b"1", b"2", b"3", b"4", b"5", b"-1", b"ff"]),
                                  self.addr(), self.num(), extra)

    def thread_select(self) -> bytes:
        r = self.r
        c = r.randrange(5)
        if c == 0:
            return b"H" + r.choice([b"g", b"c", b"x", b""]) + self.thread()
        if c == 1:
            return b"T" + self.thread()
        if c == 2:
            return b"qThreadExtraInfo," + self.thread()
        if c == 3:
            return r.choice([b"qfThreadInfo", b"qsThreadInfo", b"qC"])
        return b"qAttached" + r.choice([b"", b":" + self.num()])

    def xfer(self) -> bytes:
        r = self.r
        obj, annex = r.choice([
            (b"features", b"target.xml"), (b"features", b"mips-cpu.xml"),
            (b"features", b"../../etc/passwd"), (b"features", b""), (b"threads", b""),
            (b"auxv", b""), (b"exec-file", b"%x" % self.pid()), (b"exec-file", b""),
            (b"osdata", b"processes"), (b"osdata", b""), (b"osdata", b"bogus"),
            (b"libraries", b""), (b"libraries-svr4", b""), (b"bogus", b""),
            (b"features", self.blob(20)),
        ])
        op = r.choice([b"read", b"read", b"read", b"write", b"", b"reed"])
        tail = b"%s,%s" % (self.num(), self.num())
        if op == b"write":
            tail = self.num() + b":" + rsp.escape_binary(self.blob())
        return b"qXfer:%s:%s:%s:%s" % (obj, op, annex, tail)

    def path(self) -> bytes:
        r = self.r
        p = r.choice([b"/bin/gdbdemo", b"/bin/hello", b"/etc/passwd", b"/tmp/fuzz",
                      b"/tmp/fuzz2", b"/../../../etc/passwd", b"/proc/self/exe",
                      b"/bin", b"/", b"", b"/nonexistent", b"a" * 5000,
                      b"/tmp/" + b"../" * 50 + b"etc/shadow", b"/tmp/\x00x", self.blob(30)])
        return rsp.hex_encode(p)

    def vfile(self) -> bytes:
        r = self.r
        fd = r.choice([b"1", b"2", b"3", b"0", b"ffffffff", b"-1", self.num()])
        op = r.randrange(9)
        if op == 0:
            flags = r.choice([b"0", b"1", b"2", b"201", b"601", b"a01", b"ffffffff", b"-1"])
            return b"vFile:open:%s,%s,%s" % (self.path(), flags, r.choice([b"1ff", b"0", b"-1"]))
        if op == 1:
            return b"vFile:pread:%s,%s,%s" % (fd, self.num(), self.num())
        if op == 2:
            return b"vFile:pwrite:%s,%s,%s" % (fd, self.num(), rsp.escape_binary(self.blob()))
        if op == 3:
            return b"vFile:close:" + fd
        if op == 4:
            return b"vFile:fstat:" + fd
        if op == 5:
            return b"vFile:unlink:" + rsp.hex_encode(r.choice([b"/tmp/fuzz", b"/tmp",
                                                                b"/tmp/fuzz2", b"/nope"]))
        if op == 6:
            return b"vFile:readlink:" + self.path()
        if op == 7:
            return b"vFile:setfs:" + self.num()
        return b"vFile:" + self.blob(20) + b":" + self.blob(20)

    def action(self) -> bytes:
        r = self.r
        a = r.choice([b"c", b"s", b"t", b"C%s" % self.num(), b"S%s" % self.num(),
                      b"r%s,%s" % (self.addr(), self.addr()), b"x", b"", b"cc"])
        if r.random() < 0.6:
            a += b":" + self.thread()
        return a

    def vcont(self) -> bytes:
        r = self.r
        if r.random() < 0.05:
            n = r.choice((1000, 5000, 20000))
            return b"vCont;" + b";".join([self.action()] * n)
        return b"vCont;" + b";".join(self.action() for _ in range(r.randrange(0, 8)))

    def resume_short(self) -> bytes:
        r = self.r
        return r.choice([b"c", b"s", b"C", b"S"]) + r.choice(
            [b"", self.num(), self.num() + b";" + self.addr(), b";" + self.addr()])

    def process(self) -> bytes:
        r = self.r
        c = r.randrange(6)
        if c == 0:
            prog = r.choice(PROGRAMS + ["/bin/nonexistent", "/bin", "", "/etc/passwd",
                                        "../../../bin/sh"]).encode()
            args = [rsp.hex_encode(self.blob(20)) for _ in range(r.randrange(0, 4))]
            return b";".join([b"vRun", rsp.hex_encode(prog), *args])
        if c == 1:
            return b"vAttach;%x" % self.pid()
        if c == 2:
            return b"vKill;%x" % self.pid()
        if c == 3:
            return b"D;%x" % self.pid() if r.random() < 0.5 else b"D"
        if c == 4:
            return b"vAttach;" + self.num()
        return r.choice([b"k", b"!", b"R00", b"vKill;" + self.num(), b"D;" + self.num()])

    def query(self) -> bytes:
        r = self.r
        return r.choice([
            b"qSupported:multiprocess+;swbreak+;hwbreak+;fork-events+;vfork-events+;"
            b"exec-events+;error-message+;xmlRegisters=mips",
            b"qSupported:" + self.blob(40), b"qSupported", b"?", b"qOffsets",
            b"qSymbol::", b"qSymbol:" + self.hexblob(), b"vMustReplyEmpty", b"vCont?",
            b"QNonStop:1", b"QNonStop:0", b"QThreadEvents:1", b"QThreadEvents:0",
            b"QThreadEvents:" + self.num(), b"qTStatus", b"qGetTLSAddr:1,2,3",
            b"QStartNoAckMode", b"QDisableRandomization:1", b"qL1200000000000000000",
        ])

    def monitor(self) -> bytes:
        cmd = self.r.choice([b"ps", b"help", b"insns", b"", b"bogus", self.blob(40)])
        return b"qRcmd," + rsp.hex_encode(cmd)

    def signals(self) -> bytes:
        r = self.r
        nums = b";".join(self.num() for _ in range(r.randrange(0, 12)))
        return r.choice([b"QPassSignals:", b"QProgramSignals:", b"QCatchSyscalls:1;",
                         b"QCatchSyscalls:0", b"QCatchSyscalls:"]) + nums

    def mangled(self) -> bytes:
        """A packet of another family with a random cut, splice or byte flip."""
        p = bytearray(self.r.choice(self._fam_fns[:-1])())
        r = self.r
        if p:
            c = r.randrange(3)
            at = r.randrange(len(p))
            if c == 0:
                del p[at:]
            elif c == 1:
                p[at] = r.randrange(256)
            else:
                p[at:at] = self.blob(8)
        return bytes(p)

    # ------------------------------------------------------------ entry
    def next(self) -> bytes:
        fn = self.r.choices(self._kind_fns, self._kind_w)[0]
        out: bytes = fn()
        return out


class Peer:
    """A `Session` over a private machine, fed raw bytes as a client would send them.

    A resumed program runs `run` instructions after the input and is then interrupted
    (Ctrl-C), as a client that gives up waiting would; the stop reply is drained."""

    def __init__(self, root: str, run: int = 2000) -> None:
        self.kernel = Kernel(root, stdin=BufferStream(0), stdout=BufferStream(1),
                             stderr=BufferStream(1))
        self.system = System(self.kernel)
        self.root = root
        self._pristine = {}
        for prog in PROGRAMS:
            with open(os.path.join(ROOT, prog[1:]), "rb") as fh:
                self._pristine[prog] = fh.read()
        self.run = run
        self.left_behind = 0  # processes detached (D) by a connection, killed by sweep
        # A process another debugger holds, and one nobody holds (vAttach may take it).
        self.held: ProcessTarget = self.system.launch(["/bin/loop"], owner="other")
        self.world = World(others=[self.held.pid, self.free()])
        self.session = self.new_session()
        self.code_pages_dropped = 0
        self._pages = set(getattr(getattr(translate, "_store", None), "shards", {}))

    def free(self) -> int:
        """A process nobody debugs (vAttach may take it, vKill may end it)."""
        t = self.system.launch(["/bin/loop"], owner="nobody")
        t.detach()
        return t.pid

    def new_session(self) -> Session:
        s = Session(self.system, name="fuzz")
        s.progress = lambda: self.kernel.insns
        s.add_target(self.system.launch(["/bin/gdbdemo"]), created=True)
        self.world.own = list(s.targets)
        return s

    def reconnect(self) -> None:
        """The connection ends (its processes killed or detached); a new one starts."""
        self.session.close()
        for prog in PROGRAMS:  # vFile may have truncated or overwritten them (root may)
            path = os.path.join(self.root, prog[1:])
            try:
                with open(path, "rb") as fh:
                    same = fh.read() == self._pristine[prog]
            except OSError:
                same = False
            if not same:  # (only then: a rewritten file is a new version to the kernel)
                shutil.copyfile(os.path.join(ROOT, prog[1:]), path)
        self.left_behind += self.sweep()
        self.code_pages_dropped += self.prune_code_store()
        self.session = self.new_session()

    def prune_code_store(self) -> int:
        """Drop the translator's compiled code for guest code pages first seen after
        start-up; returns how many. The store is process-wide and keyed by page contents,
        so every write into program text (M, X, vFile on a binary) adds a page that is
        never dropped: a growth of the translator's cache, not of the stub, measured
        apart (`code_pages_dropped`) so that the memory figure is the stub's own."""
        store = getattr(translate, "_store", None)
        shards = getattr(store, "shards", None)
        if not isinstance(shards, dict):
            return 0
        extra = [page for page in shards if page not in self._pages]
        for page in extra:
            del shards[page]
            getattr(store, "dirty", set()).discard(page)  # and never written to disk
        return len(extra)

    def sweep(self) -> int:
        """Kill what earlier connections left running on purpose (detached with D), and
        the free process (the fuzzer writes into its code), so that the machine, like the
        memory, stays the same size however long the run; returns how many were left
        running besides the free process."""
        keep = {1, self.held.pid}
        n = 0
        for pid in {p.pid for p in self.kernel.procs.values() if p.alive} - keep:
            try:
                self.system.open(pid, "sweep").kill()
            except TargetError:
                continue  # exiting already
            n += pid != self.world.others[1]
        self.kernel.run(self.run)  # let init reap them
        self.world.others[1] = self.free()
        return n
        self.session = self.new_session()

    def feed(self, data: bytes) -> bytes:
        s = self.session
        out = bytearray(s.receive(data))
        while True:
            if s.running:
                self.kernel.run(self.run)
                s.tick(idle=not self.kernel.runnable())
                s.interrupt()
                out += s.poll()
                if s.running:  # nothing to stop (e.g. its threads all exited): run more
                    self.kernel.run(self.run)
                    out += s.poll()
            more = s.receive(b"")
            if not more:
                break
            out += more
        self.world.own = list(s.targets)
        return bytes(out)

    def ask(self, payload: bytes) -> list[bytes]:
        """One well-formed request on a fresh codec state; the packets that came back."""
        conn = rsp.Connection(rsp.CLIENT, ack_mode=self.session.conn.ack_mode)
        # '#' ends any frame a truncated input left open; '-' and '+' are harmless.
        conn.feed(self.feed(b"#00" + conn.send_packet(payload)))
        out = []
        while (ev := conn.next_event()) is not rsp.NEED_DATA:
            if isinstance(ev, rsp.Packet):
                out.append(ev.data)
        return out

    def alive(self) -> bool:
        for _ in range(3):  # the first '#' may land inside an escape or a run
            if any(b"PacketSize=" in r for r in self.ask(b"qSupported:multiprocess+")):
                return True
        return False

    def process_count(self) -> int:
        return len({p.pid for p in self.kernel.procs.values() if p.alive})


def rss_kib(pid: int | None = None) -> int:
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class ErrorLog(logging.Handler):
    """Collects what afgdb logs at ERROR and above (the stub's "internal error" for an
    exception it caught at dispatch: a bug of ours, counted as a crash)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))

    def __enter__(self) -> ErrorLog:
        logging.getLogger("afgdb").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("afgdb").removeHandler(self)
