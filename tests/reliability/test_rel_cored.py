"""cored under failure: sinks that refuse, hang, reset mid-stream or answer 500; a full
disk under the file sink and under the spool; the config reloaded (SIGHUP) and cored
killed (SIGKILL) while cores are in flight. Every core cored answered OK for arrives
exactly once (sha256 of what was sent against what the sink kept); a core cored cannot
take is refused with ERR to its sender, never dropped in silence."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cored import guest_crash, running_cored, send_core, wait_for, write_config

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("hang", "reset", "500")


class FlakySink:
    """A loopback HTTP PUT server whose every connection gets the next fault from a
    seeded schedule: ok, hang (accept, never read or answer), reset (RST after part of
    the body), 500; `down()` closes the listener so connections are refused. Stored
    bodies are written through a rename, so a sink never holds half a core."""

    def __init__(self, store: Path, fault_rate: float = 0.0, seed: int = 1,
                 slow: bool = False, faults: tuple[str, ...] = FAULTS) -> None:
        self.faults = faults
        self.store = store
        store.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.slow = slow
        self.puts: Counter[str] = Counter()  # successful PUTs per name
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.port = 0
        self.lsock: socket.socket | None = None
        self.up()

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self) -> None:
        if self.lsock is not None:
            # shutdown stops the listening at once (close alone waits for accept() to return)
            with contextlib.suppress(OSError):
                self.lsock.shutdown(socket.SHUT_RDWR)
            self.lsock.close()
            self.lsock = None

    def close(self) -> None:
        self.closing.set()
        self.down()

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            with self.lock:
                mode = (self.rng.choice(self.faults) if self.rng.random() < self.fault_rate
                        else "ok")
            threading.Thread(target=self._serve, args=(conn, mode), daemon=True).start()

    def _serve(self, conn: socket.socket, mode: str) -> None:
        with conn:
            conn.settimeout(30)
            if mode == "hang":
                self.injected["hang"] += 1
                self.closing.wait(60)
                return
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                head, _, body = head.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split()[1]
                length = next(int(ln.split(":", 1)[1]) for ln in lines
                              if ln.lower().startswith("content-length:"))
                if mode == "reset":
                    self.injected["reset"] += 1
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
                    return  # closing with linger 0 sends RST mid-stream
                while len(body) < length:
                    chunk = conn.recv(16384)
                    if not chunk:
                        return
                    body += chunk
                    if self.slow:
                        time.sleep(0.002)
                if mode == "500":
                    self.injected["500"] += 1
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    return
                name = os.path.basename(path)
                tmp = self.store / f".{name}.{threading.get_ident()}"
                tmp.write_bytes(body)
                os.replace(tmp, self.store / name)
                with self.lock:
                    self.puts[name] += 1
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                return


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[FlakySink]:
    s = FlakySink(tmp_path / "sink", fault_rate=0.5, seed=13)
    yield s
    s.close()


def make_cores(n: int, seed: int, big: int = 300_000) -> dict[int, bytes]:
    rng = random.Random(seed)
    return {1000 + i: rng.randbytes(rng.randint(1, big)) for i in range(n)}


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def audit(sent: dict[str, bytes], store: Path) -> tuple[int, int, int]:
    """(delivered, duplicates, lost): sent maps core id -> bytes; the sink names by id."""
    kept = {p.name: sha(p.read_bytes()) for p in store.iterdir() if not p.name.startswith(".")}
    by_sha = Counter(kept.values())
    delivered = sum(1 for cid, b in sent.items() if kept.get(f"{cid}.core") == sha(b))
    duplicates = sum(n - 1 for n in by_sha.values()) + len(
        [k for k in kept if k[:-5] not in sent])
    return delivered, duplicates, len(sent) - delivered


# ------------------------------------------------------- faulty HTTP sinks
def test_sink_faults_each_core_delivered_once(tmp_path: Path, sink: FlakySink,
                                              long_mode: bool, figures: Any) -> None:
    """Half the connections hang, reset or answer 500, and the sink is down (refusing)
    for the first cores; cores of another rule (a file sink) are not held up."""
    n = 200 if long_mode else 24
    cfg = write_config(tmp_path, '[[rule]]\nprogram = "f*"\nsink = "file"\n'
                       f'directory = "{tmp_path}/files"\nname = "{{id}}.core"\n'
                       '[[rule]]\nsink = "http"\ntimeout = 0.5\n'
                       f'url = "http://127.0.0.1:{sink.port}/cores/{{id}}.core"\n')
    cores = make_cores(n, seed=5)
    sent: dict[str, bytes] = {}
    sock = tmp_path / "cored.sock"
    sink.down()
    with running_cored(cfg) as cored:
        for i, (pid, data) in enumerate(cores.items()):
            if i == n // 3:
                sink.up()  # refused until here
            reply = send_core(sock, data, pid=pid, program="crash")
            assert reply.startswith("OK "), reply
            sent[reply.split()[1]] = data
        # A core for the file rule goes through while the HTTP rule is retrying/hanging.
        t0 = time.monotonic()
        assert send_core(sock, b"file-core", pid=7, program="fcrash").startswith("OK ")
        wait_for(lambda: cored.stats.delivered >= 1 and
                 any((tmp_path / "files").glob("*.core")), 10, "the file rule's core")
        file_latency = time.monotonic() - t0
        wait_for(lambda: cored.stats.delivered == n + 1, 120 if long_mode else 60,
                 f"{n} deliveries")
        failures = cored.stats.failures
        errors = " ".join(cored.stats.errors)
    delivered, dups, lost = audit(sent, sink.store)
    refused_seen = "cannot connect" in errors
    assert refused_seen and sum(sink.injected.values()) > 0, (errors[:500], sink.injected)
    assert "no answer within 0.5 s" in errors or sink.injected["hang"] == 0
    assert delivered == n and dups == 0 and lost == 0, (delivered, dups, lost)
    assert file_latency < 5, file_latency
    redelivered = sum(sink.puts.values()) - n
    figures.record(
        area="cored", what="HTTP sink refusing, hanging, resetting mid-stream, answering 500",
        size=f"{n} cores, {sum(sink.injected.values())} faults injected + refused phase",
        result=f"{delivered} delivered, {dups} duplicates, {lost} lost; a file-rule core "
               f"delivered in {file_latency:.2f} s meanwhile",
        cores_sent=n, faults_injected=dict(sink.injected), delivery_failures=failures,
        cores_delivered=delivered, duplicates=dups, redelivered=redelivered, lost=lost,
        other_rule_latency_s=round(file_latency, 3))


def test_hanging_sink_times_out_and_holds_up_only_its_rule(tmp_path: Path,
                                                           figures: Any) -> None:
    sink = FlakySink(tmp_path / "sink", fault_rate=1.0, faults=("hang",))
    cfg = write_config(tmp_path, '[[rule]]\nprogram = "f*"\nsink = "file"\n'
                       f'directory = "{tmp_path}/files"\nname = "{{id}}.core"\n'
                       '[[rule]]\nsink = "http"\ntimeout = 2\n'
                       f'url = "http://127.0.0.1:{sink.port}/cores/{{id}}.core"\n')
    sock = tmp_path / "cored.sock"
    try:
        with running_cored(cfg) as cored:
            assert send_core(sock, b"h" * 1000, pid=1).startswith("OK ")
            wait_for(lambda: sink.injected["hang"] == 1, 10, "the sink to hang")
            t0 = time.monotonic()
            for pid in range(2, 12):
                assert send_core(sock, b"f" * 1000, pid=pid, program="f").startswith("OK ")
            wait_for(lambda: cored.stats.delivered == 10, 10, "the file rule's cores")
            latency = time.monotonic() - t0
            assert cored.stats.failures == 0  # the hang is still in progress
            sink.fault_rate = 0.0
            wait_for(lambda: cored.stats.delivered == 11, 20, "the HTTP core after the hang")
            assert "no answer within 2 s" in cored.stats.errors[0]
    finally:
        sink.close()
    assert latency < 2
    figures.record(area="cored", what="a sink that accepts and never answers (timeout 2 s)",
                   size="1 hung HTTP core, 10 cores of a file rule sent meanwhile",
                   result=f"file rule delivered all 10 in {latency:.2f} s during the hang; "
                          "the hung core timed out, was retried and delivered",
                   cores_sent=11, faults_injected=1, cores_delivered=11, duplicates=0, lost=0,
                   other_rule_latency_s=round(latency, 3))


def test_file_names_that_collide_keep_every_core_once(tmp_path: Path, figures: Any) -> None:
    """Cores that render the same file name (same program and pid: two machines, or a
    restarted one) are all kept; delivering one core twice (cored killed between the
    delivery and its journal) keeps it once."""
    import anyio

    from afgdb.cored.config import load_config
    from afgdb.cored.sinks import Item, deliver

    cfg = write_config(tmp_path, f'[[rule]]\nsink = "file"\ndirectory = "{tmp_path}/out"\n'
                       'name = "{program}.{pid}.core"\n')
    n = 6
    cores = [os.urandom(5000 + i) for i in range(n)]
    with running_cored(cfg) as cored:
        for data in cores:
            assert send_core(tmp_path / "cored.sock", data, pid=42).startswith("OK ")
        wait_for(lambda: cored.stats.delivered == n, 20, "deliveries")
    rule = load_config(str(cfg)).rules[0]
    core = tmp_path / "again.core"
    core.write_bytes(cores[2])
    item = Item("again", str(core), {"program": "synth", "pid": 42})
    for _ in range(2):
        anyio.run(deliver, rule, item)
    kept = [p.read_bytes() for p in (tmp_path / "out").iterdir()]
    assert sorted(kept) == sorted(cores), [len(k) for k in kept]
    figures.record(area="cored", what="file names that collide; one core delivered twice",
                   size=f"{n} cores named synth.42.core, 2 redeliveries of one",
                   result=f"{len(kept)} files, one per core (name, name.1, ...), 0 duplicates,"
                          " 0 overwritten",
                   cores_sent=n, cores_delivered=len(kept), duplicates=len(kept) - n, lost=0)


# ------------------------------------------------------------- full disks
@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_disks_refuse_loudly_and_lose_nothing(tmp_path: Path, long_mode: bool,
                                                   figures: Any) -> None:
    """The file sink's disk fills (a 256 KiB tmpfs): cores wait in the spool until an
    operator makes room. The spool's own disk fills (another tmpfs) and spool_max is
    passed: the sender gets ERR and keeps its core; nothing is dropped in silence."""
    n = 60 if long_mode else 12
    disk, spool = tmp_path / "disk", tmp_path / "spooldisk"
    archive = tmp_path / "archive"
    archive.mkdir()
    cores = make_cores(n, seed=9, big=120_000)

    def drain() -> None:  # the operator makes room
        for p in disk.glob("*.core"):
            shutil.move(str(p), str(archive / p.name))

    with tmpfs(disk, "256k"), tmpfs(spool, "400k"):
        cfg = tmp_path / "cored.toml"
        cfg.write_text(f'[cored]\nsocket = "{tmp_path}/cored.sock"\nspool = "{spool}/s"\n'
                       "retry_initial = 0.05\nretry_max = 0.2\n"
                       f'[[rule]]\nsink = "file"\ndirectory = "{disk}"\nname = "{{id}}.core"\n')
        sock = tmp_path / "cored.sock"
        sent: dict[str, bytes] = {}
        refused: list[str] = []
        kept: dict[int, bytes] = {}
        with running_cored(cfg) as cored:
            for pid, data in cores.items():  # nobody makes room: both disks fill
                reply = send_core(sock, data, pid=pid)
                if reply.startswith("OK "):
                    sent[reply.split()[1]] = data
                else:
                    refused.append(reply)
                    kept[pid] = data  # the sender keeps what cored refused
            wait_for(lambda: cored.stats.failures > 0, 10, "ENOSPC on the sink")

            def settle() -> None:
                deadline = time.monotonic() + 60
                while cored.stats.delivered < len(sent) and time.monotonic() < deadline:
                    drain()
                    time.sleep(0.05)
                drain()

            settle()
            for pid, data in kept.items():  # and hands it over again once there is room
                for _ in range(20):
                    reply = send_core(sock, data, pid=pid)
                    if not reply.startswith("ERR spool: No space left"):
                        break
                    refused.append(reply)
                    settle()
                assert reply.startswith("OK "), reply
                sent[reply.split()[1]] = data
            settle()
            enospc = sum("No space left on device" in e for e in cored.stats.errors)
            # spool_max: a reload makes the limit smaller than one core.
            cfg.write_text(cfg.read_text().replace("retry_max = 0.2",
                                                   'retry_max = 0.2\nspool_max = "10K"'))
            assert cored.reload()
            big = send_core(sock, os.urandom(50_000), pid=9999)
            assert cored.stats.refused == len(refused) + 1
            # The machine, refused the same way, says why and keeps the core itself.
            groot, gpid, logs = guest_crash(tmp_path, sock)
            assert any("cored refused the core: ERR spool full" in m for m in logs), logs
            assert (groot / f"core.{gpid}").read_bytes()[:4] == b"\x7fELF"
        assert big.startswith("ERR spool full"), big
    assert enospc > 0, "the file sink's disk never filled"
    assert refused and all(r.startswith("ERR spool: No space left on device") for r in refused)
    delivered, dups, lost = audit(sent, archive)
    assert len(sent) == n and delivered == n and dups == 0 and lost == 0
    figures.record(
        area="cored", what="full disks: file sink on a 256 KiB tmpfs, spool on a 400 KiB tmpfs, "
                           "spool_max",
        size=f"{n} cores of up to 120 KB (mount -t tmpfs)",
        result=f"{len(refused)} handovers refused with ERR (spool disk full), each core handed over again "
               f"later; 1 refused (spool_max), and a guest crash refused the same way kept "
               f"its core as a file; {enospc} ENOSPC retries at the sink; "
               f"{delivered} delivered once, {dups} duplicates, {lost} lost",
        cores_sent=n + 1, faults_injected=enospc + len(refused) + 1, cores_delivered=delivered,
        refused_loudly=len(refused) + 1, duplicates=dups, lost=lost)


# -------------------------------------------------- SIGHUP and SIGKILL
class Daemon:
    """`python -m afgdb.cored` as its own process, to signal and kill."""

    def __init__(self, cfg: Path, sock: Path) -> None:
        self.cfg, self.sock = cfg, sock
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cfg.parent / "cored.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "afgdb.cored", "--config",
                                          str(self.cfg)], cwd=str(REPO), stderr=log)
        wait_for(self.sock.exists, 20, "cored's socket")

    def kill(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, "cored died by itself"
        self.proc.kill()
        self.proc.wait(10)
        self.sock.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_sighup_and_sigkill_mid_delivery(tmp_path: Path, long_mode: bool,
                                         figures: Any) -> None:
    """A sender hands cores over (retrying until cored says OK) while cored is reloaded
    with SIGHUP and killed with SIGKILL mid-delivery to a slow sink, then restarted."""
    n = 100 if long_mode else 20
    rounds = 20 if long_mode else 6
    sink = FlakySink(tmp_path / "sink", slow=True)
    sock = tmp_path / "cored.sock"
    rules = [f'[[rule]]\nsink = "http"\ntimeout = 5\n'
             f'url = "http://127.0.0.1:{sink.port}/cores/{{id}}.core"\n',
             '[[rule]]\nprogram = "nomatch"\nsink = "drop"\n']

    def config(flip: bool) -> None:  # the reload moves the rule: its index changes
        write_config(tmp_path, "".join(reversed(rules) if flip else rules))

    config(False)
    daemon = Daemon(tmp_path / "cored.toml", sock)
    daemon.start()
    cores = make_cores(n, seed=21, big=600_000)
    sent: dict[str, bytes] = {}
    resends = 0

    def sender() -> None:
        nonlocal resends
        for pid, data in cores.items():
            while True:
                try:
                    reply = send_core(sock, data, pid=pid)
                except OSError:
                    reply = ""
                if reply.startswith("OK "):
                    sent[reply.split()[1]] = data
                    break
                resends += 1
                time.sleep(0.05)

    t = threading.Thread(target=sender)
    t.start()
    kills = hups = 0
    rng = random.Random(3)
    try:
        for r in range(rounds):
            time.sleep(rng.uniform(0.1, 0.4))
            if r % 2:
                config(bool(hups % 2 == 0))
                assert daemon.proc is not None
                daemon.proc.send_signal(signal.SIGHUP)
                hups += 1
            else:
                daemon.kill()
                kills += 1
                time.sleep(rng.uniform(0, 0.2))
                daemon.start()
        t.join(120)
        assert not t.is_alive(), "the sender never got every core in"
        spool = tmp_path / "spool"
        wait_for(lambda: not list(spool.glob("*.core")), 120, "an empty spool")
    finally:
        daemon.stop()
        sink.close()
    log = daemon.log.read_text()
    assert "Traceback" not in log, log
    reloads = log.count("reloaded ")  # a SIGHUP while cored starts is caught up, maybe merged
    assert 0 < reloads <= hups, log[-2000:]
    delivered, dups, lost = audit(sent, sink.store)
    redelivered = sum(sink.puts.values()) - n
    assert len(sent) == n and delivered == n and dups == 0 and lost == 0, (
        len(sent), delivered, dups, lost)
    figures.record(
        area="cored", what="SIGHUP reloads and SIGKILL mid-delivery to a slow sink, restarted",
        size=f"{n} cores up to 600 KB, {kills} SIGKILLs, {hups} SIGHUPs",
        result=f"{delivered} delivered once ({redelivered} redelivered under the same id, kept "
               f"once; {resends} handovers retried by the sender), {dups} duplicates, "
               f"{lost} lost",
        cores_sent=n, faults_injected=kills + hups, kills=kills, sighups=hups, reloads=reloads,
        cores_delivered=delivered, redelivered=redelivered, sender_retries=resends,
        duplicates=dups, lost=lost)
