"""Record and replay what a run takes from the host, so that it can be repeated exactly.

The machine is deterministic: the clock is virtual, scheduling is by
instruction count, 'random' bytes (getrandom, AT_RANDOM) are hashed from
machine state. What comes from outside is the host stdio: the bytes of every
read and how they were cut (a read of a pipe returns what has arrived), and
what fstat, isatty and the descriptor's name say (glibc buffers a tty, a pipe
and a file differently). `record` wraps the host streams and logs each of
those answers in order; `replay` answers from the log instead of the host, so
the run takes the same path to the same instruction counts and output.
Writes are outputs: they go to the host in both modes.

Log: JSON lines, a header ``{"afgdb-replay": 1, "stdio": [...]}`` then one
event per host answer ``{"fd", "op", ...}``. A replayed run that asks
something else than the log holds (other program, other root) raises
`ReplayError` rather than drift.

Not recorded: the guest root directory (files are read from it as they are).
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from afgdb.machine.kernel.files import File

_STAT_EXTRA = ("st_rdev", "st_blocks", "st_blksize", "st_atime_ns", "st_mtime_ns",
               "st_ctime_ns")


class ReplayError(Exception):
    """The replayed run asked for something the log does not hold next."""


def _stat_to_json(s: os.stat_result | None) -> Any:
    if s is None:
        return None
    return [list(s)[:10], {k: getattr(s, k, 0) for k in _STAT_EXTRA}]


def _stat_from_json(v: Any) -> os.stat_result | None:
    return None if v is None else os.stat_result(tuple(v[0]), v[1])


class _Recorded(File):
    """A host stdio stream whose every answer is written to the log."""

    def __init__(self, inner: File, fd: int, log: IO[str]) -> None:
        super().__init__(inner.flags)
        self.inner, self.fd, self.log = inner, fd, log
        self.kind, self.path = inner.kind, inner.path

    def _note(self, op: str, **v: Any) -> None:
        self.log.write(json.dumps({"fd": self.fd, "op": op, **v}) + "\n")
        self.log.flush()  # a run that dies still leaves its log

    def read(self, n: int) -> bytes:
        data = self.inner.read(n)
        self._note("read", n=n, data=data.hex())
        return data

    def write(self, data: bytes) -> int:
        return self.inner.write(data)

    def isatty(self) -> bool:
        v = self.inner.isatty()
        self._note("isatty", v=v)
        return v

    def stat(self) -> os.stat_result | None:
        s = self.inner.stat()
        self._note("stat", v=_stat_to_json(s))
        return s

    def readable_now(self) -> bool:
        return self.inner.readable_now()

    def writable_now(self) -> bool:
        return self.inner.writable_now()


class _Replayed(File):
    """A stdio stream that answers from the log; writes still reach the host."""

    def __init__(self, player: _Player, fd: int, out: File, kind: str, path: str,
                 flags: int) -> None:
        super().__init__(flags)
        self.player, self.fd, self.out = player, fd, out
        self.kind, self.path = kind, path

    def read(self, n: int) -> bytes:
        ev = self.player.next(self.fd, "read", n=n)
        return bytes.fromhex(ev["data"])

    def write(self, data: bytes) -> int:
        return self.out.write(data)

    def isatty(self) -> bool:
        return bool(self.player.next(self.fd, "isatty")["v"])

    def stat(self) -> os.stat_result | None:
        return _stat_from_json(self.player.next(self.fd, "stat")["v"])


class _Player:
    def __init__(self, lines: list[str]) -> None:
        self.events = [json.loads(ln) for ln in lines if ln.strip()]
        self.pos = 0

    def next(self, fd: int, op: str, **want: Any) -> dict[str, Any]:
        ev = self.events[self.pos] if self.pos < len(self.events) else None
        if ev is None or ev["fd"] != fd or ev["op"] != op or any(
                ev.get(k) != v for k, v in want.items()):
            asked = {"fd": fd, "op": op, **want}
            raise ReplayError(f"replay diverged at event {self.pos + 1}: the run asked "
                              f"{asked}, the log has {ev or 'nothing more'}")
        self.pos += 1
        out: dict[str, Any] = ev
        return out

    @property
    def done(self) -> bool:
        return self.pos == len(self.events)


def record(stdio: tuple[File, File, File], log: IO[str]) -> tuple[File, File, File]:
    """Wrap the host stdio so every answer it gives is logged to `log`."""
    log.write(json.dumps({"afgdb-replay": 1, "stdio": [
        {"kind": f.kind, "path": f.path, "flags": f.flags} for f in stdio]}) + "\n")
    log.flush()
    a, b, c = (_Recorded(f, i, log) for i, f in enumerate(stdio))
    return a, b, c


def replay(log: IO[str], outputs: tuple[File, File, File]) -> tuple[File, File, File]:
    """Stdio that answers from a `record` log; writes go to `outputs`.
    `is_done(stream)` tells afterwards whether the whole log was used."""
    lines = log.read().splitlines()
    if not lines:
        raise ReplayError("empty replay log")
    head = json.loads(lines[0])
    if head.get("afgdb-replay") != 1:
        raise ReplayError("not an afgdb replay log")
    player = _Player(lines[1:])
    a, b, c = (_Replayed(player, i, outputs[i], d["kind"], d["path"], d["flags"])
               for i, d in enumerate(head["stdio"]))
    return a, b, c


def is_done(stream: File) -> bool:
    """Whether a replayed run consumed its whole log (True for anything else)."""
    return not isinstance(stream, _Replayed) or stream.player.done


__all__ = ["ReplayError", "is_done", "record", "replay"]
