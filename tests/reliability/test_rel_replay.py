"""Determinism as a reliability property: a recorded run (what it took from the host)
replays to the same per-LWP instruction counts and the same output.

The program reads stdin from a pipe that a host thread fills in random pieces at
random moments (so how the reads are cut differs run to run), then forks, and
parent and child hash the input in several threads each. Recorded once, replayed
from the log: every LWP of both processes runs the same number of instructions
and the output is byte for byte the same. Run again on the same bytes without
the log, the cut differs and so do counts and output: the log is what makes the
run repeatable."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from afgdb.machine.kernel import ps, replay
from afgdb.machine.kernel.files import File, HostStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.proc import Proc

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CC = shutil.which("mipsel-linux-gnu-gcc")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CC is None:
        pytest.skip("needs mipsel-linux-gnu-gcc")
    r = tmp_path_factory.mktemp("rrroot")
    (r / "bin").mkdir()
    (r / "tmp").mkdir()
    subprocess.run([CC, "-static", "-O2", "-pthread", "-o", str(r / "bin" / "rr"),
                    str(HERE / "replay_src" / "rr.c")], check=True)
    return r


class _Gated(HostStream):
    """The host's end of stdin, telling the writer when the guest first reads."""

    def __init__(self, fd: int, started: threading.Event) -> None:
        super().__init__(fd, 0)
        self.started = started

    def read(self, n: int) -> bytes:
        self.started.set()
        return super().read(n)


def feed(data: bytes, seed: int | None) -> HostStream:
    """Stdin from a pipe: from the guest's first read on, a thread writes data in random
    pieces with pauses (seed None: all of it at once, before anyone reads)."""
    rfd, wfd = os.pipe()
    if seed is None:
        os.write(wfd, data)
        os.close(wfd)
        return HostStream(rfd, 0)
    rng = random.Random(seed)
    started = threading.Event()

    def writer() -> None:
        started.wait(60)
        pos = 0
        while pos < len(data):
            n = rng.randint(1, 200)
            os.write(wfd, data[pos:pos + n])
            pos += n
            time.sleep(rng.uniform(0, 0.003))
        os.close(wfd)

    threading.Thread(target=writer, daemon=True).start()
    return _Gated(rfd, started)


class _Seen(dict):  # type: ignore[type-arg]
    """k.procs that remembers every process ever in it (reaped ones too)."""

    def __init__(self, procs: dict[int, Proc]) -> None:
        super().__init__(procs)
        self.all: dict[int, Proc] = dict(procs)

    def __setitem__(self, pid: int, p: Proc) -> None:
        self.all.setdefault(pid, p)
        super().__setitem__(pid, p)


def run(root: Path, stdio: tuple[File, File, File]) -> dict[str, int]:
    """Run /bin/rr; {"pid/lid": instructions} for every LWP, plus the machine's totals."""
    k = Kernel(str(root), stdin=stdio[0], stdout=stdio[1], stderr=stdio[2])
    k.log = lambda msg: None
    seen = _Seen(k.procs)
    k.procs = seen
    p = k.spawn("/bin/rr", ["rr"], [])
    assert k.run_until_exit(p) == 0
    counts = {"machine": k.insns, "clock_ns": k.clock_ns}
    for pid, proc in seen.all.items():
        if proc.pid != pid:
            continue  # a thread id's entry
        for lid, n in ps.lwp_icounts(proc).items():
            counts[f"{pid}/{lid}"] = n
    return counts


def out_file(tmp: Path, name: str) -> tuple[Path, HostStream]:
    path = tmp / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    return path, HostStream(fd, 1)


def test_recorded_run_replays_exactly(root: Path, tmp_path: Path, long_mode: bool,
                                      figures: Any) -> None:
    size = 8000 if long_mode else 1500
    seeds = range(5) if long_mode else range(1)
    lwps = events = 0
    differ = 0
    for seed in seeds:
        data = random.Random(100 + seed).randbytes(size).replace(b"\0", b"\n")
        log = tmp_path / f"run{seed}.log"
        o1, s1 = out_file(tmp_path, f"rec{seed}.out")
        with open(log, "w") as f:
            rec = run(root, replay.record((feed(data, seed), s1, s1), f))
        o2, s2 = out_file(tmp_path, f"rep{seed}.out")
        with open(log) as f:
            stdio = replay.replay(f, (s2, s2, s2))
        rep = run(root, stdio)
        assert replay.is_done(stdio[0])
        assert rep == rec
        assert o2.read_bytes() == o1.read_bytes()
        text = o1.read_text()
        assert f"read {size} bytes in " in text and "child exit 0" in text
        assert len(re.findall(r"thread \d", text)) == 5
        lwps += len(rec) - 2
        events += len(log.read_text().splitlines()) - 1
        # The same bytes in one piece, without the log: another cut, another run.
        o3, s3 = out_file(tmp_path, f"fresh{seed}.out")
        fresh = run(root, (feed(data, None), s3, s3))
        differ += sum(1 for key in rec if fresh.get(key) != rec[key])
        assert fresh != rec and o3.read_bytes() != o1.read_bytes()
    assert lwps >= 7 * len(seeds)  # 2 processes: main + 2 threads, main + 3 threads
    figures.record(
        area="determinism", what="record then replay: stdin through a pipe cut at random, "
                                 "fork, 2 + 3 threads hashing it",
        size=f"{len(seeds)} run(s) of {size} stdin bytes, {lwps} LWPs, {events} host events "
             "logged",
        result="replay: identical per-LWP instruction counts, machine total, virtual clock "
               f"and output; the same bytes without the log: {differ} counts differ",
        runs=len(seeds), lwps=lwps, events=events, replay_mismatches=0,
        fresh_run_mismatches=differ)


def test_cli_record_replay(root: Path, tmp_path: Path, figures: Any) -> None:
    """`afgdb run --record LOG` then `--replay LOG`: same output and instruction count;
    a log replayed against another program is refused, not followed blindly."""
    data = random.Random(7).randbytes(1200).replace(b"\0", b"\n")
    log = tmp_path / "cli.log"

    def afgdb(*args: str, stdin: int | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "afgdb", "run", "--stats", "--root",
                               str(root), *args], stdin=stdin, capture_output=True,
                              cwd=str(REPO), timeout=300)

    rfd, wfd = os.pipe()  # the CLI's stdin: a pipe filled in pieces while it runs
    rng = random.Random(3)

    def writer() -> None:
        for i in range(0, len(data), 100):
            os.write(wfd, data[i:i + 100])
            time.sleep(rng.uniform(0, 0.02))
        os.close(wfd)

    threading.Thread(target=writer, daemon=True).start()
    a = afgdb("--record", str(log), "/bin/rr", stdin=rfd)
    os.close(rfd)
    b = afgdb("--replay", str(log), "/bin/rr", stdin=subprocess.DEVNULL)
    assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
    insns = [re.search(rb"afgdb: (\d+) instructions", r.stderr) for r in (a, b)]
    assert insns[0] and insns[1] and insns[0].group(1) == insns[1].group(1)
    assert a.stdout == b.stdout and b"read 1200 bytes" in a.stdout
    shutil.copy(REPO / "afgdb" / "rootfs" / "root" / "bin" / "hello", root / "bin" / "hello")
    c = afgdb("--replay", str(log), "/bin/hello", stdin=subprocess.DEVNULL)
    assert c.returncode == 125 and b"replay" in c.stderr and b"diverged" in c.stderr, c.stderr
    figures.record(area="determinism", what="afgdb run --record / --replay (CLI)",
                   size="1 run, 1200 stdin bytes",
                   result=f"same stdout, same instruction count ({insns[0].group(1).decode()});"
                          " a log replayed against another program: refused (exit 125)",
                   instructions=int(insns[0].group(1)))
