"""cored's TOML configuration: parsed and checked once, at start-up.

A bad file is refused with a `ConfigError` naming the file, the line, the
key and what is wrong. Example (every key shown; only ``sink`` is needed
per rule)::

    [cored]
    socket = "/run/afgdb-cored.sock"   # where the machine hands cores over
    spool = "/var/spool/afgdb-cored"   # cores wait here until delivered
    max_core_size = "512M"             # bigger cores are cut (and marked so)
    spool_max = "2G"                   # past this the spool refuses cores (ERR spool full)
    retry_initial = 1.0                # seconds before the first retry ...
    retry_max = 300.0                  # ... doubling up to this

    [[rule]]                           # first matching rule wins
    program = "crash*"                 # fnmatch glob on the program name
    signal = ["SIGSEGV", 6]            # names or numbers (Linux MIPS)
    uid = 1000                         # or a list
    kind = "process"                   # process | kernel
    sink = "file"                      # file | pipeline | http | drop
    directory = "/var/crash"
    name = "{program}.{pid}.{time}.core"  # taken by another core: name.1, name.2, ...
    max_size = "100M"                  # per-rule size cap
    keep = 10                          # keep the newest N matching files
    rate = "5/60"                      # at most 5 cores per 60 s per program
    compress = "gzip"                  # file and http sinks: none | gzip

    [[rule]]
    sink = "pipeline"
    command = "gzip -c | ssh crash@host 'cat > /srv/cores/{program}.{pid}.core.gz'"

    [[rule]]
    sink = "http"
    url = "https://crash.example/cores/{program}.{pid}.core"
    username = "u"                     # optional basic auth
    password = "p"
    verify = true                      # TLS certificate verification

Template fields (Python ``str.format`` syntax; a literal brace is written
``{{`` or ``}}``): pid, uid, program, signal, signame, time (UTC
YYYYmmddTHHMMSS), id, kind. Values from the guest are reduced to
``[A-Za-z0-9._-]`` before substitution, so neither a path nor a shell
command can be steered by a program's name.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9/3.10
    import tomli as tomllib

SIGNALS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6,
    "SIGIOT": 6, "SIGEMT": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGBUS": 10, "SIGSEGV": 11,
    "SIGSYS": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15, "SIGUSR1": 16, "SIGUSR2": 17,
    "SIGXCPU": 30, "SIGXFSZ": 31,
}
SIGNAMES = {v: k for k, v in reversed(list(SIGNALS.items()))}
SINKS = {"file": "file", "pipeline": "pipeline", "pipe": "pipeline", "http": "http",
         "http_put": "http", "drop": "drop"}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)i?B?\s*$", re.I)
_TEMPLATE_FIELDS = {"pid", "uid", "program", "signal", "signame", "time", "id", "kind"}


class ConfigError(Exception):
    """A configuration problem, with where it is."""

    def __init__(self, path: str, line: int | None, key: str, what: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {what}")
        self.path, self.line, self.key, self.what = path, line, key, what


@dataclass
class Rule:
    index: int
    sink: str
    program: str = "*"
    signals: frozenset[int] | None = None
    uids: frozenset[int] | None = None
    kind: str | None = None
    directory: str = ""
    name: str = "{program}.{pid}.{time}.core"
    command: str = ""
    url: str = ""
    username: str = ""
    password: str = ""
    verify: bool = True
    max_size: int | None = None
    keep: int | None = None
    rate: tuple[int, float] | None = None
    compress: str = "none"
    timeout: float = 60.0

    def matches(self, meta: dict[str, Any]) -> bool:
        if not fnmatch.fnmatchcase(str(meta.get("program", "")), self.program):
            return False
        if self.signals is not None and int(meta.get("signal", 0)) not in self.signals:
            return False
        if self.uids is not None and int(meta.get("uid", -1)) not in self.uids:
            return False
        return self.kind is None or meta.get("kind") == self.kind

    @property
    def label(self) -> str:
        return f"rule {self.index + 1} ({self.sink})"


@dataclass
class Config:
    path: str
    socket: str
    spool: str
    rules: list[Rule] = field(default_factory=list)
    max_core_size: int | None = None
    spool_max: int | None = None
    retry_initial: float = 1.0
    retry_max: float = 300.0
    accept_timeout: float = 60.0

    def rule_for(self, meta: dict[str, Any]) -> Rule | None:
        return next((r for r in self.rules if r.matches(meta)), None)


class _Lines:
    """Finds the line of a key in the TOML text (tomllib does not say)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, table: str, index: int | None, key: str | None) -> int | None:
        hdr = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]" if index is not None
                         else r"^\s*\[\s*" + re.escape(table) + r"\s*\]")
        any_hdr = re.compile(r"^\s*\[")
        seen = -1
        start = None
        for i, ln in enumerate(self.lines):
            if hdr.match(ln):
                seen += 1
                if index is None or seen == index:
                    start = i
                    break
        if start is None:
            return None
        if key is None:
            return start + 1
        kre = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for i in range(start + 1, len(self.lines)):
            if any_hdr.match(self.lines[i]):
                break
            if kre.match(self.lines[i]):
                return i + 1
        return start + 1


def parse_size(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(v, int):
        if v < 0:
            raise ValueError("must not be negative")
        return v
    if isinstance(v, str):
        m = _SIZE.match(v)
        if m:
            return int(m.group(1)) << (10 * " KMGT".index((m.group(2) or " ").upper()))
    raise ValueError(f"{v!r} is not a size (e.g. 1048576, \"64K\", \"512M\", \"2G\")")


def _check_template(t: str, fields: set[str] = _TEMPLATE_FIELDS) -> None:
    for m in re.finditer(r"\{([^{}]*)\}", t.replace("{{", "").replace("}}", "")):
        if m.group(1) not in fields:
            raise ValueError(f"unknown field {{{m.group(1)}}} (known: "
                             f"{', '.join(sorted(fields))})")


def load_config(path: str, *, socket: str | None = None) -> Config:
    """Read and check a cored config file; ConfigError says what and where."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(path, None, "(file)", e.strerror or str(e)) from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ConfigError(path, int(m.group(1)) if m else None, "(syntax)", str(e)) from None
    return parse_config(data, path, text, socket=socket)


def parse_config(data: dict[str, Any], path: str = "<config>", text: str = "",
                 socket: str | None = None) -> Config:
    lines = _Lines(text)

    def fail(table: str, index: int | None, key: str, what: str) -> ConfigError:
        name = f"{table}[{index}].{key}" if index is not None else f"{table}.{key}"
        if table == "":
            name = key
        return ConfigError(path, lines.find(table, index, key) if table else None, name, what)

    for top in data:
        if top not in ("cored", "rule"):
            raise ConfigError(path, lines.find(top, None, None), top,
                              "unknown table (expected [cored] and [[rule]])")
    top_tbl = data.get("cored", {})
    if not isinstance(top_tbl, dict):
        raise fail("", None, "cored", "must be a table")

    def get(tbl: dict[str, Any], tname: str, idx: int | None, key: str, typ: Any,
            default: Any) -> Any:
        if key not in tbl:
            return default
        v = tbl[key]
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            names = {int: "an integer", str: "a string", float: "a number", bool: "true or false"}
            raise fail(tname, idx, key, f"must be {names.get(typ, typ)}, not {v!r}")
        return v

    known_top = {"socket", "spool", "max_core_size", "spool_max", "retry_initial",
                 "retry_max", "accept_timeout"}
    for key in top_tbl:
        if key not in known_top:
            raise fail("cored", None, key, f"unknown key (known: {', '.join(sorted(known_top))})")
    sock = socket or get(top_tbl, "cored", None, "socket", str, "")
    if not sock:
        raise fail("cored", None, "socket", "missing (or pass --socket)")
    spool = get(top_tbl, "cored", None, "spool", str, "")
    if not spool:
        raise fail("cored", None, "spool", "missing: cores wait there when a sink fails")
    cfg = Config(path=path, socket=sock, spool=spool)
    for key in ("max_core_size", "spool_max"):
        if key in top_tbl:
            try:
                setattr(cfg, key, parse_size(top_tbl[key]))
            except ValueError as e:
                raise fail("cored", None, key, str(e)) from None
    for key in ("retry_initial", "retry_max", "accept_timeout"):
        v = get(top_tbl, "cored", None, key, float, getattr(cfg, key))
        if v <= 0:
            raise fail("cored", None, key, "must be positive")
        setattr(cfg, key, v)

    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise fail("", None, "rule", "must be an array of tables ([[rule]])")
    if not rules:
        raise ConfigError(path, None, "rule", "no [[rule]]: every core would be refused")
    known = {"program", "signal", "uid", "kind", "sink", "directory", "name", "command", "url",
             "username", "password", "verify", "max_size", "keep", "rate", "compress",
             "timeout"}
    for i, tbl in enumerate(rules):
        for key in tbl:
            if key not in known:
                raise fail("rule", i, key, f"unknown key (known: {', '.join(sorted(known))})")
        sink = get(tbl, "rule", i, "sink", str, None)
        if sink is None:
            raise fail("rule", i, "sink", "missing (file, pipeline, http or drop)")
        if sink not in SINKS:
            raise fail("rule", i, "sink", f"unknown sink {sink!r} (file, pipeline, http, drop)")
        r = Rule(index=i, sink=SINKS[sink])
        r.program = get(tbl, "rule", i, "program", str, "*")
        if "signal" in tbl:
            sigs = tbl["signal"] if isinstance(tbl["signal"], list) else [tbl["signal"]]
            out = set()
            for s in sigs:
                if isinstance(s, str) and s.upper() in SIGNALS:
                    out.add(SIGNALS[s.upper()])
                elif isinstance(s, str) and "SIG" + s.upper() in SIGNALS:
                    out.add(SIGNALS["SIG" + s.upper()])
                elif isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 128:
                    out.add(s)
                else:
                    raise fail("rule", i, "signal", f"{s!r} is not a signal name or number")
            r.signals = frozenset(out)
        if "uid" in tbl:
            uids = tbl["uid"] if isinstance(tbl["uid"], list) else [tbl["uid"]]
            if not all(isinstance(u, int) and not isinstance(u, bool) for u in uids):
                raise fail("rule", i, "uid", "must be an integer or a list of integers")
            r.uids = frozenset(uids)
        kind = get(tbl, "rule", i, "kind", str, None)
        if kind is not None and kind not in ("process", "kernel"):
            raise fail("rule", i, "kind", f"{kind!r}: must be process or kernel")
        r.kind = kind
        r.directory = get(tbl, "rule", i, "directory", str, "")
        r.name = get(tbl, "rule", i, "name", str, r.name)
        r.command = get(tbl, "rule", i, "command", str, "")
        r.url = get(tbl, "rule", i, "url", str, "")
        r.username = get(tbl, "rule", i, "username", str, "")
        r.password = get(tbl, "rule", i, "password", str, "")
        r.verify = get(tbl, "rule", i, "verify", bool, True)
        r.timeout = get(tbl, "rule", i, "timeout", float, r.timeout)
        r.compress = get(tbl, "rule", i, "compress", str, "none")
        if r.compress not in ("none", "gzip"):
            raise fail("rule", i, "compress", f"{r.compress!r}: must be none or gzip")
        for key in ("name", "command", "url"):
            try:
                _check_template(getattr(r, key))
            except ValueError as e:
                raise fail("rule", i, key, str(e)) from None
        if "max_size" in tbl:
            try:
                r.max_size = parse_size(tbl["max_size"])
            except ValueError as e:
                raise fail("rule", i, "max_size", str(e)) from None
        if "keep" in tbl:
            r.keep = get(tbl, "rule", i, "keep", int, None)
            if r.keep is not None and r.keep < 1:
                raise fail("rule", i, "keep", "must be at least 1")
        if "rate" in tbl:
            v = get(tbl, "rule", i, "rate", str, "")
            m = re.match(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$", v)
            if not m or int(m.group(1)) < 1:
                raise fail("rule", i, "rate", f"{v!r}: write N/SECONDS, e.g. \"5/60\"")
            unit = {"s": 1, "m": 60, "h": 3600}[m.group(3) or "s"]
            r.rate = (int(m.group(1)), float(m.group(2)) * unit)
        need = {"file": ["directory"], "pipeline": ["command"], "http": ["url"], "drop": []}
        for key in need[r.sink]:
            if not getattr(r, key):
                raise fail("rule", i, key if key in tbl else "sink",
                           f"a {r.sink} sink needs `{key}`")
        if r.sink == "http" and not re.match(r"^https?://[^/]+", r.url):
            raise fail("rule", i, "url", f"{r.url!r}: must be an http:// or https:// URL")
        cfg.rules.append(r)
    return cfg


__all__ = ["Config", "ConfigError", "Rule", "load_config", "parse_config", "parse_size",
           "SIGNALS", "SIGNAMES"]
