"""Command lines: `afgdb cored [--config FILE] [--socket PATH] [run|check|list|show ID]`
and `afgdb cored-handoff` (a Linux ``core_pattern`` pipe handler)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

import anyio

from afgdb.cored.config import SIGNAMES, ConfigError, load_config
from afgdb.cored.daemon import Cored, Spool
from afgdb.machine import handoff

DEFAULT_CONFIG = "/etc/afgdb/cored.toml"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="afgdb cored", description="the afgdb crash daemon")
    ap.add_argument("--config", "-c", default=os.environ.get("AFGDB_CORED_CONFIG",
                                                             DEFAULT_CONFIG))
    ap.add_argument("--socket", help="listen here (overrides [cored] socket)")
    ap.add_argument("action", nargs="?", default="run",
                    choices=["run", "check", "list", "show"],
                    help="run the daemon (default), check the config, list or show cores")
    ap.add_argument("id", nargs="?", help="core id for `show`")
    return ap


def cored_main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    if ns.action == "run" and threading.current_thread() is threading.main_thread():
        # SIGHUP means "reload"; until the daemon listens for it, it must not kill.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        cfg = load_config(ns.config, socket=ns.socket)
    except ConfigError as e:
        print(f"afgdb cored: bad config: {e}", file=sys.stderr)
        return 2
    if ns.action == "check":
        print(f"{cfg.path}: ok, {len(cfg.rules)} rule(s), socket {cfg.socket}, "
              f"spool {cfg.spool}")
        return 0
    if ns.action in ("list", "show"):
        return _list(cfg.spool, ns.id if ns.action == "show" else None, sys.stdout)
    try:
        anyio.run(Cored(cfg).serve)
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print(f"afgdb cored: {e}", file=sys.stderr)
        return 1
    return 0


def _list(spool_dir: str, show: str | None, out: IO[str]) -> int:
    """Like `coredumpctl list`: delivered and waiting cores."""
    spool = Spool(spool_dir)
    rows = [(m, "delivered", m.get("to", "")) for m in spool.delivered()]
    rows += [(it.meta, "spooled", it.meta.get("last_error", "")) for it in spool.pending()]
    if show is not None:
        for meta, state, _where in rows:
            if meta.get("id") == show:
                print(json.dumps({**meta, "state": state}, indent=2, sort_keys=True), file=out)
                return 0
        print(f"afgdb cored: no core {show}", file=sys.stderr)
        return 1
    print(f"{'TIME':<20} {'PID':>6} {'UID':>5} {'SIG':<8} {'STATE':<9} {'SIZE':>10}  "
          f"{'PROGRAM':<16} ID / WHERE", file=out)
    for meta, state, where in sorted(rows, key=lambda r: float(r[0].get("time", 0))):
        t = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(meta.get("time", 0))))
        sig = int(meta.get("signal", 0))
        print(f"{t:<20} {meta.get('pid', ''):>6} {meta.get('uid', ''):>5} "
              f"{SIGNAMES.get(sig, str(sig)):<8} {state:<9} {meta.get('size', ''):>10}  "
              f"{str(meta.get('program', ''))[:16]:<16} {meta.get('id', '')} {where}", file=out)
    return 0


def handoff_main(argv: Sequence[str] | None = None) -> int:
    """`afgdb cored-handoff [--socket S] PID UID SIGNAL PROGRAM` with the core on stdin.

    For a Linux host: ``echo '|/usr/bin/afgdb cored-handoff %P %u %s %e' >
    /proc/sys/kernel/core_pattern``. Exits 0 once cored confirmed the core.
    """
    ap = argparse.ArgumentParser(prog="afgdb cored-handoff")
    ap.add_argument("--socket", default=os.environ.get("AFGDB_CORED_SOCKET",
                                                       "/run/afgdb-cored.sock"))
    ap.add_argument("--kind", default="process", choices=["process", "kernel"])
    ap.add_argument("pid", type=int)
    ap.add_argument("uid", type=int)
    ap.add_argument("signal", type=int)
    ap.add_argument("program")
    ns = ap.parse_args(argv)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(ns.socket)
        out = s.makefile("wb", buffering=1 << 16)
        out.write(handoff.encode_header(ns.kind, ns.pid, ns.uid, ns.program, ns.signal,
                                        time.time(), None, source="core_pattern"))
        w = handoff.ChunkWriter(out)
        src = sys.stdin.buffer
        while True:
            chunk = src.read(1 << 16)
            if not chunk:
                break
            w.write(chunk)
        w.close_stream()
        out.close()
        reply = s.makefile("rb").readline(4096).decode(errors="replace").strip()
    except OSError as e:
        print(f"afgdb cored-handoff: {ns.socket}: {e}", file=sys.stderr)
        return 1
    finally:
        s.close()
    if not reply.startswith("OK"):
        print(f"afgdb cored-handoff: cored said {reply or 'nothing'}", file=sys.stderr)
        return 1
    return 0


__all__ = ["cored_main", "handoff_main"]
