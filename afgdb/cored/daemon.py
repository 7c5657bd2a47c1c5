"""The crash daemon: takes cores over a unix socket, spools them, delivers them.

Every accepted core goes to the spool first (``<spool>/<id>.core`` plus
``<id>.json``) and only then does cored answer ``OK <id>`` to the machine,
so a core is never in memory only. A delivery loop hands spooled cores to
their rule's sink; a sink that fails is retried with exponential backoff
(per rule: while a sink is down, its cores wait together), and the spool
is rescanned at start-up, so cores survive a sink outage and a daemon
restart. A core is removed from the spool only after its sink confirmed
delivery (at-least-once: a crash between delivery and removal delivers it
again, under the same id, so a sink named by ``{id}`` keeps one copy; the
file sink keeps one copy whatever the name, and never replaces another
core's file; the HTTP sink sends ``X-Core-Id``).
A core's id is derived from its header and content, so a sender that
hands the same core over twice (it never saw the first answer) gets the
first id back and the core is kept once. Delivered cores are recorded in
``<spool>/delivered.jsonl`` for `cored list`.

Each rule delivers in its own task, so a sink that hangs (until its
``timeout``) holds up only its own cores. A spool that is over
``spool_max`` or out of disk refuses new cores with ``ERR spool ...``; the
sender keeps the core (the machine falls back to a core file). SIGHUP
re-reads the config (rules, limits, retry times; the socket and the spool
stay what they were); a bad file is refused and the old config kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import stat
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import anyio
from anyio.abc import SocketStream, TaskStatus

from afgdb.cored.config import Config, ConfigError, Rule, load_config
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

    def new_id(self, meta: dict[str, Any], sha256: str = "") -> str:
        """`<time>-<pid>-<hash>`: the hash covers the header and the core's sha256, so
        the same core handed over twice gets the same id (and is kept once)."""
        t = time.strftime("%Y%m%dT%H%M%S", time.gmtime(float(meta.get("time") or time.time())))
        if sha256:
            h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode() + sha256.encode())
            tag = h.hexdigest()[:12]
        else:
            tag = secrets.token_hex(6)
        return f"{t}-{int(meta.get('pid', 0))}-{tag}"

    def known(self, cid: str) -> bool:
        """Whether a core with this id is waiting here."""
        return os.path.exists(self.core_path(cid))

    def usage(self) -> int:
        """Bytes of cores waiting in the spool (incoming halves included)."""
        total = 0
        for d in (self.path, self.incoming):
            with os.scandir(d) as it:
                for e in it:
                    if e.name.endswith(".core"):
                        with contextlib.suppress(OSError):
                            total += e.stat().st_size
        return total

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

    def done(self, item: Item, where: str) -> bool:
        """Journal a delivery and forget the core; False if the journal could not be
        written (the core is delivered all the same: keeping it would send it again)."""
        rec = {"id": item.id, "delivered": time.time(), "to": where, **item.meta}
        journaled = True
        try:
            with open(os.path.join(self.path, "delivered.jsonl"), "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
        except OSError:
            journaled = False
        for p in (item.path, os.path.join(self.path, item.id + ".json")):
            with contextlib.suppress(OSError):
                os.unlink(p)
        return journaled

    def delivered(self) -> list[dict[str, Any]]:
        try:
            with open(os.path.join(self.path, "delivered.jsonl")) as f:
                return [json.loads(ln) for ln in f if ln.strip()]
        except OSError:
            return []


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


async def _listen(path: str) -> anyio.abc.SocketListener:
    """A unix listener that appears at path already listening and already 0600: it is
    bound under a temporary name with umask 077 and renamed into place, so neither a
    sender that sees the path too early nor another user ever finds it open."""
    if os.path.lexists(path) and not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise OSError(f"{path} exists and is not a socket: not replacing it")
    tmp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    old = os.umask(0o177)
    try:
        listener = await anyio.create_unix_listener(tmp, mode=0o600)
    finally:
        os.umask(old)
    os.replace(tmp, path)
    return listener


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
        # Delivery tasks by rule (id() of the Rule: a reload makes new ones), and the
        # cores being delivered, so no core is ever in two deliveries at once.
        self._busy: set[int] = set()
        self._inflight: set[str] = set()
        self._delivered_ids = {str(m.get("id")) for m in self.spool.delivered()}
        self.reloads = 0
        self._config_mtime = _mtime(config.path)

    # ----------------------------------------------------------- serving
    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        for item in self.spool.pending():
            self._queue[item.id] = item
        if self._queue:
            self.log(f"{len(self._queue)} core(s) waiting in {self.spool.path} from before")
        listener = await _listen(self.config.socket)
        self.log(f"listening on {self.config.socket}, spool {self.spool.path}")
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(self._delivery_loop, tg)
            if threading.current_thread() is threading.main_thread():
                tg.start_soon(self._on_sighup)  # signals reach only the main thread
            task_status.started()
            await listener.serve(self.handle, task_group=tg)

    async def _on_sighup(self) -> None:
        with anyio.open_signal_receiver(signal.SIGHUP) as signals:
            # A SIGHUP before this point was ignored (cored_main): catch up on it.
            if _mtime(self.config.path) != self._config_mtime:
                self.reload()
            async for _ in signals:
                self.reload()

    def reload(self) -> bool:
        """Re-read the config file (SIGHUP). Cores in flight keep going; the next
        delivery of every core uses the new rules. False (old config kept) if bad."""
        old = self.config
        try:
            new = load_config(old.path, socket=old.socket)
        except ConfigError as e:
            self.log(f"reload refused, keeping the old config: {e}")
            return False
        if new.spool != old.spool:
            self.log(f"reload: the spool stays {old.spool} until a restart")
            new.spool = old.spool
        self.config = new
        self._config_mtime = _mtime(new.path)
        self._backoff.clear()  # the sinks may be new: try them now
        self._recent.clear()
        self.reloads += 1
        self.log(f"reloaded {new.path}: {len(new.rules)} rule(s)")
        self._wake.set()
        return True

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

    def _room(self) -> str:
        """'' if the spool takes another core, else why not."""
        cap = self.config.spool_max
        if cap is None:
            return ""
        used = self.spool.usage()
        return f"spool full: {used} bytes waiting, spool_max {cap}" if used >= cap else ""

    async def _receive(self, stream: SocketStream) -> str:
        parser = handoff.Parser()
        meta: dict[str, Any] | None = None
        tmp = ""
        f = None
        written = 0
        cap: int | None = None
        drop_reason = ""
        refuse = ""  # the spool cannot take it: the sender is told and keeps the core
        room = 0
        rule: Rule | None = None
        end: handoff.End | None = None
        ok = False

        def discard(why: str) -> None:
            nonlocal f, refuse
            refuse = why
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
                f = None

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
                        refuse = "" if drop_reason else self._room()
                        if not drop_reason and not refuse:
                            tmp = os.path.join(self.spool.incoming,
                                               f"{secrets.token_hex(8)}.core")
                            f = open(tmp, "wb")  # noqa: SIM115 - closed in finally
                            caps = [c for c in (self.config.max_core_size,
                                                rule.max_size if rule else None) if c]
                            cap = min(caps) if caps else None
                            if self.config.spool_max is not None:
                                room = self.config.spool_max - self.spool.usage()
                    elif isinstance(ev, handoff.Data):
                        if f is not None:
                            data = ev.data
                            if cap is not None and written + len(data) > cap:
                                data = data[:max(0, cap - written)]
                            if self.config.spool_max is not None and \
                                    written + len(data) > room:
                                discard(f"spool full: this core would pass spool_max "
                                        f"{self.config.spool_max}")
                            elif data:
                                try:
                                    await anyio.to_thread.run_sync(f.write, data)
                                except OSError as e:  # ENOSPC: read on, then say so
                                    discard(f"spool: {e.strerror or e}")
                                written += len(data)
                    elif isinstance(ev, handoff.End):
                        end = ev
                        break
            if f is not None:
                try:
                    await anyio.to_thread.run_sync(f.flush)
                    os.fsync(f.fileno())
                except OSError as e:
                    discard(f"spool: {e.strerror or e}")
            ok = not refuse
        except TimeoutError:
            raise handoff.HandoffError(
                f"stream not complete after {self.config.accept_timeout:g} s") from None
        finally:
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
            if tmp and not ok:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        assert meta is not None and end is not None
        who = f"{meta.get('program')}[{meta.get('pid')}]"
        if drop_reason:
            self.stats.dropped += 1
            self.log(f"dropped core of {who}: {drop_reason}")
            return f"OK drop {drop_reason}"
        if refuse:
            self.stats.refused += 1
            self.log(f"REFUSED core of {who} ({end.total} bytes): {refuse}")
            return f"ERR {refuse}"
        cid = self.spool.new_id(meta, end.sha256)
        if cid in self._queue or cid in self._delivered_ids or self.spool.known(cid):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self.log(f"core {cid}: {who} handed over again; kept once")
            return f"OK {cid}"
        meta.update(id=cid, received=time.time(), size=written, sha256=end.sha256,
                    original_size=end.total, truncated=written < end.total)
        try:
            self.spool.commit(cid, tmp, meta)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.stats.received += 1
        item = Item(cid, self.spool.core_path(cid), meta)
        cut = f", cut to {written} of {end.total} bytes" if item.truncated else ""
        self.log(f"core {item.id}: {who} signal {meta.get('signal')}, {written} bytes{cut}")
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
    async def _delivery_loop(self, tg: anyio.abc.TaskGroup) -> None:
        while True:
            self._wake = anyio.Event()
            wait = self._start_due(tg)
            if wait is not None:
                with anyio.move_on_after(wait):
                    await self._wake.wait()
            else:
                await self._wake.wait()

    def _start_due(self, tg: anyio.abc.TaskGroup) -> float | None:
        """Start a delivery task for every rule with due cores and none running;
        seconds until a backing-off rule may be tried again."""
        now = time.monotonic()
        next_try: float | None = None
        lanes: dict[int, tuple[Rule, list[Item]]] = {}
        for cid in sorted(self._queue):
            item = self._queue[cid]
            rule = self.config.rule_for(item.meta)
            if rule is None:
                self.log(f"core {cid}: no rule matches any more; keeping it in the spool")
                del self._queue[cid]
                continue
            if id(rule) in self._busy or cid in self._inflight:
                continue
            b = self._backoff.setdefault(rule.index, _Backoff())
            if b.not_before > now:
                wait = b.not_before - now
                next_try = wait if next_try is None else min(next_try, wait)
                continue
            lanes.setdefault(rule.index, (rule, []))[1].append(item)
        for rule, items in lanes.values():
            self._busy.add(id(rule))
            tg.start_soon(self._lane, rule, items)
        return next_try

    async def _lane(self, rule: Rule, items: list[Item]) -> None:
        try:
            await self._deliver_items(rule, items)
        finally:
            self._busy.discard(id(rule))
            self._wake.set()

    async def _deliver_items(self, rule: Rule, items: list[Item]) -> None:
        """Deliver items by rule in order; the first failure backs the rule off."""
        b = self._backoff.setdefault(rule.index, _Backoff())
        for item in items:
            cid = item.id
            # Skip what another task took or delivered, and stop once a reload
            # has given these cores another rule (its own task delivers them).
            if cid not in self._queue or cid in self._inflight:
                continue
            if self.config.rule_for(item.meta) is not rule:
                return
            self._inflight.add(cid)
            try:
                where = await deliver(rule, item)
            except Exception as e:  # noqa: BLE001 - a failed delivery must not stop cored
                if not os.path.exists(item.path):
                    self._queue.pop(cid, None)
                    self.log(f"core {cid}: gone from the spool ({e}); forgetting it")
                    continue
                if not isinstance(e, SinkError):
                    e = SinkError(f"{rule.label}: {type(e).__name__}: {e}")
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
                return
            finally:
                self._inflight.discard(cid)
            b.delay = 0.0
            b.failures = 0
            b.not_before = 0.0
            self._queue.pop(cid, None)
            self._delivered_ids.add(cid)
            if not self.spool.done(item, where):
                self.log(f"core {cid}: delivered, but not written to the journal")
            self.stats.delivered += 1
            self.log(f"core {cid} delivered to {where}")

    @property
    def waiting(self) -> int:
        return len(self._queue)


async def run(config: Config, log: Callable[[str], None] = _log_stderr) -> None:
    await Cored(config, log).serve()


__all__ = ["Cored", "Spool", "Stats", "run"]
