"""The crash daemon: takes cores over a unix socket, spools them, delivers them.

Every accepted core goes to the spool first (``<spool>/<id>.core`` plus
``<id>.json``) and only then does cored answer ``OK <id>`` to the machine,
so a core is never in memory only. A delivery loop hands spooled cores to
their rule's sink; a sink that fails is retried with exponential backoff
(per rule: while a sink is down, its cores wait together), and the spool
is rescanned at start-up, so cores survive a sink outage and a daemon
restart. A core is removed from the spool only after its sink confirmed
delivery (at-least-once: a crash between delivery and removal delivers it
again; file sinks overwrite the same name). Delivered cores are recorded
in ``<spool>/delivered.jsonl`` for `cored list`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import anyio
from anyio.abc import SocketStream, TaskStatus

from afgdb.cored.config import Config, Rule
from afgdb.cored.sinks import Item, SinkError, deliver
from afgdb.machine import handoff


def _log_stderr(msg: str) -> None:
    print(f"cored: {msg}", file=sys.stderr, flush=True)


@dataclass
class _Backoff:
    delay: float = 0.0
    not_before: float = 0.0
    failures: int = 0


class Spool:
    """The spool directory: complete cores with their headers, and a delivery journal."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.incoming = os.path.join(path, "incoming")
        os.makedirs(self.incoming, exist_ok=True)
        for name in os.listdir(self.incoming):  # halves of streams that never completed
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.incoming, name))

    def new_id(self, meta: dict[str, Any]) -> str:
        t = time.strftime("%Y%m%dT%H%M%S", time.gmtime(float(meta.get("time") or time.time())))
        return f"{t}-{int(meta.get('pid', 0))}-{secrets.token_hex(3)}"

    def core_path(self, cid: str) -> str:
        return os.path.join(self.path, cid + ".core")

    def commit(self, cid: str, tmp: str, meta: dict[str, Any]) -> None:
        """Make a received core durable: header first, then the core under its final name."""
        jtmp = os.path.join(self.incoming, cid + ".json")
        with open(jtmp, "w") as f:
            json.dump(meta, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(jtmp, os.path.join(self.path, cid + ".json"))
        os.replace(tmp, self.core_path(cid))

    def pending(self) -> list[Item]:
        items = []
        for name in sorted(os.listdir(self.path)):
            if not name.endswith(".json"):
                continue
            cid = name[:-5]
            core = self.core_path(cid)
            if not os.path.exists(core):
                continue
            try:
                with open(os.path.join(self.path, name)) as f:
                    meta = json.load(f)
            except (OSError, ValueError):
                continue
            items.append(Item(cid, core, meta))
        return items

    def update(self, item: Item) -> None:
        tmp = os.path.join(self.incoming, item.id + ".json")
        with open(tmp, "w") as f:
            json.dump(item.meta, f, sort_keys=True)
        os.replace(tmp, os.path.join(self.path, item.id + ".json"))

    def done(self, item: Item, where: str) -> None:
        rec = {"id": item.id, "delivered": time.time(), "to": where, **item.meta}
        with open(os.path.join(self.path, "delivered.jsonl"), "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        for p in (item.path, os.path.join(self.path, item.id + ".json")):
            with contextlib.suppress(OSError):
                os.unlink(p)

    def delivered(self) -> list[dict[str, Any]]:
        try:
            with open(os.path.join(self.path, "delivered.jsonl")) as f:
                return [json.loads(ln) for ln in f if ln.strip()]
        except OSError:
            return []


@dataclass
class Stats:
    received: int = 0
    delivered: int = 0
    dropped: int = 0
    refused: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)


class Cored:
    """The daemon. `serve()` listens and delivers until cancelled."""

    def __init__(self, config: Config, log: Callable[[str], None] = _log_stderr) -> None:
        self.config = config
        self.log = log
        self.spool = Spool(config.spool)
        self.stats = Stats()
        self._backoff: dict[int, _Backoff] = {}
        self._recent: dict[tuple[int, str], deque[float]] = {}
        self._wake = anyio.Event()
        self._queue: dict[str, Item] = {}

    # ----------------------------------------------------------- serving
    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        for item in self.spool.pending():
            self._queue[item.id] = item
        if self._queue:
            self.log(f"{len(self._queue)} core(s) waiting in {self.spool.path} from before")
        listener = await anyio.create_unix_listener(self.config.socket, mode=0o600)
        self.log(f"listening on {self.config.socket}, spool {self.spool.path}")
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(self._delivery_loop)
            task_status.started()
            await listener.serve(self.handle, task_group=tg)

    async def handle(self, stream: SocketStream) -> None:
        """One handoff: header, framed core into the spool, then the answer."""
        async with stream:
            try:
                reply = await self._receive(stream)
            except handoff.HandoffError as e:
                self.stats.refused += 1
                self.log(f"refused a handoff: {e}")
                reply = f"ERR {e}"
            except OSError as e:
                self.stats.refused += 1
                self.log(f"cannot spool a core: {e}")
                reply = f"ERR spool: {e.strerror or e}"
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.stats.refused += 1
                self.log("a sender went away before its core was complete (it keeps it)")
                return
            with contextlib.suppress(anyio.BrokenResourceError, OSError):
                await stream.send(reply.encode() + b"\n")

    async def _receive(self, stream: SocketStream) -> str:
        parser = handoff.Parser()
        meta: dict[str, Any] | None = None
        tmp = ""
        f = None
        written = 0
        cap: int | None = None
        drop_reason = ""
        rule: Rule | None = None
        end: handoff.End | None = None
        ok = False
        try:
            with anyio.fail_after(self.config.accept_timeout):
                while True:
                    ev = parser.next_event()
                    if ev is handoff.NEED_DATA:
                        parser.feed(await stream.receive(1 << 16))
                        continue
                    if isinstance(ev, handoff.Header):
                        meta = ev.meta
                        rule = self.config.rule_for(meta)
                        drop_reason = self._admit(rule, meta)
                        if not drop_reason:
                            cid = self.spool.new_id(meta)
                            meta["id"] = cid
                            tmp = os.path.join(self.spool.incoming, cid + ".core")
                            f = open(tmp, "wb")  # noqa: SIM115 - closed in finally
                            caps = [c for c in (self.config.max_core_size,
                                                rule.max_size if rule else None) if c]
                            cap = min(caps) if caps else None
                    elif isinstance(ev, handoff.Data):
                        if f is not None:
                            data = ev.data
                            if cap is not None and written + len(data) > cap:
                                data = data[:max(0, cap - written)]
                            if data:
                                await anyio.to_thread.run_sync(f.write, data)
                                written += len(data)
                    elif isinstance(ev, handoff.End):
                        end = ev
                        break
            ok = True
        except TimeoutError:
            raise handoff.HandoffError(
                f"stream not complete after {self.config.accept_timeout:g} s") from None
        finally:
            if f is not None:
                f.close()
            if tmp and not ok:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        assert meta is not None and end is not None
        if drop_reason:
            self.stats.dropped += 1
            self.log(f"dropped core of {meta.get('program')}[{meta.get('pid')}]: {drop_reason}")
            return f"OK drop {drop_reason}"
        try:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            meta.update(received=time.time(), size=written, sha256=end.sha256,
                        original_size=end.total, truncated=written < end.total)
            self.spool.commit(meta["id"], tmp, meta)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.stats.received += 1
        item = Item(meta["id"], self.spool.core_path(meta["id"]), meta)
        cut = f", cut to {written} of {end.total} bytes" if item.truncated else ""
        self.log(f"core {item.id}: {meta.get('program')}[{meta.get('pid')}] signal "
                 f"{meta.get('signal')}, {written} bytes{cut}")
        self._queue[item.id] = item
        self._wake.set()
        return f"OK {item.id}"

    def _admit(self, rule: Rule | None, meta: dict[str, Any]) -> str:
        """'' to take the core, else why it is dropped (no rule, drop rule, rate limit)."""
        if rule is None:
            return "no rule matches"
        if rule.sink == "drop":
            return f"{rule.label}"
        if rule.rate is not None:
            n, per = rule.rate
            now = time.monotonic()
            q = self._recent.setdefault((rule.index, str(meta.get("program"))), deque())
            while q and q[0] <= now - per:
                q.popleft()
            if len(q) >= n:
                return f"rate limit of {rule.label}: {n} per {per:g} s"
            q.append(now)
        return ""

    # ---------------------------------------------------------- delivery
    async def _delivery_loop(self) -> None:
        while True:
            wait = await self.deliver_due()
            self._wake = anyio.Event()
            if self._queue and wait is not None:
                with anyio.move_on_after(wait):
                    await self._wake.wait()
            elif not self._queue:
                await self._wake.wait()

    async def deliver_due(self) -> float | None:
        """Try every queued core whose sink is not backing off; seconds until the next try."""
        now = time.monotonic()
        next_try: float | None = None
        for cid in sorted(self._queue):
            item = self._queue.get(cid)
            if item is None:
                continue
            rule = self.config.rule_for(item.meta)
            if rule is None:
                self.log(f"core {cid}: no rule matches any more; keeping it in the spool")
                del self._queue[cid]
                continue
            b = self._backoff.setdefault(rule.index, _Backoff())
            if b.not_before > now:
                wait = b.not_before - now
                next_try = wait if next_try is None else min(next_try, wait)
                continue
            try:
                where = await deliver(rule, item)
            except SinkError as e:
                b.failures += 1
                b.delay = min(self.config.retry_max,
                              b.delay * 2 if b.delay else self.config.retry_initial)
                b.not_before = time.monotonic() + b.delay
                item.meta["attempts"] = int(item.meta.get("attempts", 0)) + 1
                item.meta["last_error"] = str(e)
                self.stats.failures += 1
                self.stats.errors.append(str(e))
                with contextlib.suppress(OSError):
                    self.spool.update(item)
                self.log(f"core {cid}: {e}; retry in {b.delay:g} s")
                next_try = b.delay if next_try is None else min(next_try, b.delay)
                continue
            b.delay = 0.0
            b.failures = 0
            b.not_before = 0.0
            del self._queue[cid]
            self.spool.done(item, where)
            self.stats.delivered += 1
            self.log(f"core {cid} delivered to {where}")
        return next_try

    @property
    def waiting(self) -> int:
        return len(self._queue)


async def run(config: Config, log: Callable[[str], None] = _log_stderr) -> None:
    await Cored(config, log).serve()


__all__ = ["Cored", "Spool", "Stats", "run"]
