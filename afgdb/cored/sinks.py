"""Where cored delivers a spooled core: a file, a shell pipeline, an HTTP PUT, or nowhere.

Each sink takes a spooled core (a file on disk plus its header) and either
delivers all of it or raises `SinkError` saying why; a failed delivery
leaves the spool untouched so it is retried. Sinks never see the machine.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import glob
import gzip
import hashlib
import os
import re
import shutil
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import ByteStream

from afgdb.cored.config import SIGNAMES, Rule

CHUNK = 1 << 16


class SinkError(Exception):
    """A delivery failed (the core stays in the spool and is retried)."""


@dataclass
class Item:
    """A core waiting in the spool."""

    id: str
    path: str  # the core bytes
    meta: dict[str, Any]  # the handoff header plus cored's own keys

    @property
    def truncated(self) -> bool:
        return bool(self.meta.get("truncated"))


def _clean(v: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(v))[:128] or "_"


def fields(item: Item) -> dict[str, str]:
    m = item.meta
    t = datetime.datetime.fromtimestamp(float(m.get("time", 0)), datetime.timezone.utc)
    sig = int(m.get("signal", 0))
    return {k: _clean(v) for k, v in {
        "pid": m.get("pid", 0), "uid": m.get("uid", 0), "program": m.get("program", ""),
        "signal": sig, "signame": SIGNAMES.get(sig, f"SIG{sig}"),
        "time": t.strftime("%Y%m%dT%H%M%S"), "id": item.id, "kind": m.get("kind", "process"),
    }.items()}


def render(template: str, item: Item) -> str:
    return template.format(**fields(item))


async def deliver(rule: Rule, item: Item) -> str:
    """Deliver item by rule; returns a description of where it went."""
    if rule.sink == "drop":
        return "dropped"
    if rule.sink == "file":
        return await anyio.to_thread.run_sync(_deliver_file, rule, item)
    if rule.sink == "pipeline":
        return await _deliver_pipeline(rule, item)
    if rule.sink == "http":
        return await _deliver_http(rule, item)
    raise SinkError(f"unknown sink {rule.sink}")  # config refuses this; a bug if reached


# ------------------------------------------------------------------- file
def _deliver_file(rule: Rule, item: Item) -> str:
    name = render(rule.name, item)
    dest = os.path.join(rule.directory, name)
    tmp = os.path.join(rule.directory, f".{name}.{item.id}.part")
    try:
        os.makedirs(rule.directory, exist_ok=True)
        with open(item.path, "rb") as src, open(tmp, "wb") as dst:
            if rule.compress == "gzip":
                with gzip.GzipFile(fileobj=dst, mode="wb", mtime=0) as gz:
                    shutil.copyfileobj(src, gz, CHUNK)
            else:
                shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        dest = _place(tmp, dest)
        if item.truncated:
            with open(dest + ".truncated", "w") as f:
                f.write(f"core cut at {item.meta.get('size')} bytes of "
                        f"{item.meta.get('original_size')} (cored max size)\n")
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SinkError(f"file {dest}: {e.strerror or e}") from None
    if rule.keep:
        _rotate(rule, dest)
    return dest


def _digest(path: str) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.digest()


def _place(tmp: str, dest: str) -> str:
    """Give the finished tmp file the name dest, atomically, never replacing another
    core: a name two cores render alike (same program, pid and second) gets ``.1``,
    ``.2``...; a name already holding these very bytes is a redelivery and is kept."""
    mine = b""
    for n in range(1000):
        cand = dest if n == 0 else f"{dest}.{n}"
        try:
            os.link(tmp, cand)  # fails if cand exists, unlike rename
        except FileExistsError:
            mine = mine or _digest(tmp)
            if _digest(cand) == mine:
                os.unlink(tmp)
                return cand
            continue
        except OSError:  # no hard links here: rename, if the name is free
            if os.path.lexists(cand):
                continue
            os.rename(tmp, cand)
            return cand
        os.unlink(tmp)
        return cand
    raise OSError(f"1000 other cores are named {dest}[.N]")


def _rotate(rule: Rule, newest: str) -> None:
    """Keep the newest `keep` files that this rule's name pattern can produce."""
    pattern = os.path.join(glob.escape(rule.directory),
                           re.sub(r"\{[^{}]*\}", "*", glob.escape(rule.name)))
    files = [p for p in set(glob.glob(pattern)) | set(glob.glob(pattern + ".[0-9]*"))
             if not p.endswith(".truncated")]
    files.sort(key=lambda p: (os.path.getmtime(p), p == newest))
    assert rule.keep is not None
    for old in files[:-rule.keep]:
        for p in (old, old + ".truncated"):
            with contextlib.suppress(OSError):
                os.unlink(p)


# --------------------------------------------------------------- pipeline
async def _deliver_pipeline(rule: Rule, item: Item) -> str:
    cmd = render(rule.command, item)
    env = dict(os.environ)
    env.update({f"AFGDB_{k.upper()}": v for k, v in fields(item).items()})
    env["AFGDB_TRUNCATED"] = "1" if item.truncated else "0"
    try:
        proc = await anyio.open_process(["/bin/sh", "-c", cmd], env=env)
    except OSError as e:
        raise SinkError(f"pipeline: cannot start /bin/sh: {e}") from None
    errbuf = bytearray()

    async def drain_stderr() -> None:
        assert proc.stderr is not None
        async for chunk in proc.stderr:
            if len(errbuf) < 4096:
                errbuf.extend(chunk)

    async def drain_stdout() -> None:
        assert proc.stdout is not None
        async for _ in proc.stdout:
            pass

    try:
        with anyio.fail_after(rule.timeout):
            async with anyio.create_task_group() as tg:
                tg.start_soon(drain_stderr)
                tg.start_soon(drain_stdout)
                assert proc.stdin is not None
                try:
                    with open(item.path, "rb") as f:
                        while True:
                            chunk = await anyio.to_thread.run_sync(f.read, CHUNK)
                            if not chunk:
                                break
                            await proc.stdin.send(chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass  # the pipeline stopped reading: its exit status tells why
                await proc.stdin.aclose()
                rc = await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SinkError(f"pipeline `{cmd}` timed out after {rule.timeout:g} s") from None
    finally:
        await proc.aclose()
    if rc != 0:
        err = errbuf.decode(errors="replace").strip().splitlines()
        raise SinkError(f"pipeline `{cmd}` exited with status {rc}"
                        + (f": {err[-1]}" if err else ""))
    return f"| {cmd}"


# ------------------------------------------------------------------- http
async def _deliver_http(rule: Rule, item: Item) -> str:
    url = render(rule.url, item)
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise SinkError(f"http: bad URL {url!r}")
    port = u.port or (443 if u.scheme == "https" else 80)
    path = item.path
    tmp = None
    if rule.compress == "gzip":
        tmp = item.path + ".gz.tmp"
        await anyio.to_thread.run_sync(_gzip_file, item.path, tmp)
        path = tmp
    try:
        size = os.path.getsize(path)
        headers = [
            f"PUT {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1",
            f"Host: {u.netloc.rsplit('@', 1)[-1]}",
            "User-Agent: afgdb-cored",
            "Content-Type: application/octet-stream",
            f"Content-Length: {size}",
            "Connection: close",
            f"X-Core-Id: {item.id}",  # a redelivery carries the same id
            f"X-Core-Pid: {item.meta.get('pid')}",
            f"X-Core-Signal: {item.meta.get('signal')}",
        ]
        if item.truncated:
            headers.append(f"X-Core-Truncated: {item.meta.get('original_size')}")
        user = rule.username or urllib.parse.unquote(u.username or "")
        pw = rule.password or urllib.parse.unquote(u.password or "")
        if user:
            tok = base64.b64encode(f"{user}:{pw}".encode()).decode()
            headers.append(f"Authorization: Basic {tok}")
        head = ("\r\n".join(headers) + "\r\n\r\n").encode()
        with anyio.fail_after(rule.timeout):
            try:
                if u.scheme == "https":
                    ctx = ssl.create_default_context()
                    if not rule.verify:
                        ctx.check_hostname = False
                        ctx.verify_mode = ssl.CERT_NONE
                    stream: ByteStream = await anyio.connect_tcp(
                        u.hostname, port, tls=True, ssl_context=ctx, tls_standard_compatible=False)
                else:
                    stream = await anyio.connect_tcp(u.hostname, port)
            except OSError as e:
                raise SinkError(f"http {url}: cannot connect: {e.strerror or e}") from None
            async with stream:
                try:
                    await stream.send(head)
                    with open(path, "rb") as f:
                        while True:
                            chunk = await anyio.to_thread.run_sync(f.read, CHUNK)
                            if not chunk:
                                break
                            await stream.send(chunk)
                    status, reason = await _read_status(stream)
                except (OSError, anyio.BrokenResourceError, anyio.EndOfStream) as e:
                    raise SinkError(f"http {url}: connection lost: "
                                    f"{str(e) or type(e).__name__}"
                                    ) from None
    except TimeoutError:
        raise SinkError(f"http {url}: no answer within {rule.timeout:g} s") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    if not 200 <= status < 300:
        raise SinkError(f"http PUT {url}: {status} {reason}")
    return url


def _gzip_file(src: str, dst: str) -> None:
    with open(src, "rb") as s, open(dst, "wb") as d, \
            gzip.GzipFile(fileobj=d, mode="wb", mtime=0) as gz:
        shutil.copyfileobj(s, gz, CHUNK)


async def _read_status(stream: ByteStream) -> tuple[int, str]:
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        try:
            buf += await stream.receive()
        except anyio.EndOfStream:
            break
    line = buf.split(b"\r\n", 1)[0].decode("latin-1")
    m = re.match(r"HTTP/\d\.\d (\d{3}) ?(.*)", line)
    if not m:
        raise SinkError(f"http: not an HTTP response: {line[:80]!r}")
    return int(m.group(1)), m.group(2)


__all__ = ["Item", "SinkError", "deliver", "render", "fields"]
