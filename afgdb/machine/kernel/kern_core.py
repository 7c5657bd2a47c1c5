"""Core dumps of dying processes (NetBSD's kern_core.c): where the core goes.

`install(kernel, config)` registers the ``coredump`` hook that
`signals.kill_process` calls when a signal's default action is core. The
hook honours RLIMIT_CORE (soft limit 0: no core; otherwise the core is cut
at the limit, as Linux does), then hands the core to cored over its unix
socket (`afgdb.machine.handoff` framing); when cored cannot be reached or
does not confirm, it writes ``core.<pid>`` in the process's working
directory inside the guest root, like Linux with a plain core_pattern, and
logs where it went. The process is still intact while this runs, so a
failed handoff is simply written again to the file: no core is lost.

`write_process_core` dumps a live process without disturbing it (for
``afgdb dump PID`` / ``monitor dump``). Owns nothing else: the ELF layout is
`afgdb.machine.elfcore`'s, delivery policy is cored's.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable

from afgdb.machine import elfcore, handoff

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP, Proc

ENV_SOCKET = "AFGDB_CORED_SOCKET"


@dataclass
class CoreConfig:
    """Where the machine sends cores."""

    socket: str | None = None  # cored's socket; None: $AFGDB_CORED_SOCKET, else no cored
    timeout: float = 30.0  # seconds to wait for cored to take the stream
    fallback: bool = True  # write core.<pid> in the process's cwd when cored fails
    name: str = "core.{pid}"  # fallback file name (fields: pid, program)
    full: bool = False  # also dump read-only file-backed pages

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None) -> CoreConfig:
        m = dict(m or {})
        unknown = set(m) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown core config key(s): {', '.join(sorted(unknown))}")
        return cls(**m)

    def socket_path(self) -> str | None:
        return self.socket or os.environ.get(ENV_SOCKET) or None


def write_process_core(kernel: Kernel | None, proc: Proc, stream: IO[bytes] | Any,
                       sig: int = 0, info: tuple[int, int, int] = (0, 0, 0),
                       first: LWP | None = None, *, full: bool = False,
                       limit: int | None = None) -> elfcore.CoreResult:
    """A core of proc (left running and unchanged) to any binary stream; sig 0 = live dump."""
    return elfcore.write_process_core(kernel, proc, stream, sig, info, first, full=full,
                                      limit=limit)


class CoreDumper:
    """The ``coredump`` kernel hook: cored first, then the fallback file."""

    def __init__(self, kernel: Kernel, config: CoreConfig) -> None:
        self.kernel = kernel
        self.config = config
        self.last: str = ""  # where the last core went ("cored:<id>", a host path, or "")

    def __call__(self, proc: Proc, sig: int, info: tuple[int, int, int]) -> bool:
        k = self.kernel
        limit = elfcore.core_limit(proc)
        if limit == 0:
            self.last = ""
            return False  # RLIMIT_CORE 0: no core, and the status says so
        sock = self.config.socket_path()
        if sock:
            try:
                cid = self.send(sock, proc, sig, info, limit)
                self.last = f"cored:{cid}"
                k.log(f"pid {proc.pid} ({proc.comm}): core handed to cored ({cid})")
                return True
            except (OSError, handoff.HandoffError) as e:
                why = f"cored at {sock} unreachable: {e}"
            except CoredRefused as e:
                why = f"cored refused the core: {e}"
        else:
            why = "no cored socket configured"
        if not self.config.fallback:
            k.log(f"pid {proc.pid}: no core ({why})")
            return False
        return self.write_fallback(proc, sig, info, limit, why)

    def send(self, path: str, proc: Proc, sig: int, info: tuple[int, int, int],
             limit: int | None) -> str:
        def write(stream: Any) -> None:
            elfcore.write_process_core(self.kernel, proc, stream, sig, info,
                                       full=self.config.full, limit=limit)

        return hand_over(path, self.config.timeout, write, "process", proc.pid, proc.uid,
                         proc.comm or os.path.basename(proc.exe), sig, exe=proc.exe,
                         guest_time_ns=self.kernel.realtime_ns(), rlimit_core=limit)

    def write_fallback(self, proc: Proc, sig: int, info: tuple[int, int, int],
                       limit: int | None, why: str) -> bool:
        k = self.kernel
        name = self.config.name.format(pid=proc.pid, program=proc.comm or "core")
        try:
            path = k.vfs.host_path(name, proc.cwd)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # as Linux: 0600
            with open(fd, "wb") as f:
                res = elfcore.write_process_core(k, proc, f, sig, info, full=self.config.full,
                                                 limit=limit)
        except Exception as e:  # SyscallError from the VFS or an OSError
            k.log(f"pid {proc.pid}: no core ({why}; and {name} in {proc.cwd}: {e})")
            self.last = ""
            return False
        guest = os.path.join(proc.cwd, name)
        cut = " (truncated by RLIMIT_CORE)" if res.truncated else ""
        k.log(f"pid {proc.pid} ({proc.comm}): core dumped to {guest}{cut} ({why})")
        self.last = path
        return True


class CoredRefused(Exception):
    """cored answered, but not with OK."""


def hand_over(path: str, timeout: float, write: Callable[[Any], None], kind: str, pid: int,
              uid: int, program: str, signal: int, **extra: Any) -> str:
    """Stream one dump to cored at unix socket `path`; returns cored's id for it.

    `write(stream)` writes the core (any single-pass writer: a process core,
    or a kernel dump with kind="kernel"). Raises OSError/HandoffError when
    cored cannot be reached or the stream breaks, CoredRefused when cored
    answers anything but OK; the caller then keeps the dump itself.
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(path)
        out = s.makefile("wb", buffering=1 << 16)
        out.write(handoff.encode_header(kind, pid, uid, program, signal, time.time(), None,
                                        **extra))
        w = handoff.ChunkWriter(out)
        write(w)
        w.close_stream()
        out.close()
        reply = s.makefile("rb").readline(4096).decode(errors="replace").strip()
    finally:
        s.close()
    if reply.startswith("OK"):
        return reply[2:].strip() or "?"
    raise CoredRefused(reply or "connection closed without a reply")


def install(kernel: Kernel, config: CoreConfig | Mapping[str, Any] | None = None) -> CoreDumper:
    """Make `kernel` dump cores: registers and returns the ``coredump`` hook."""
    cfg = config if isinstance(config, CoreConfig) else CoreConfig.from_mapping(config)
    dumper = CoreDumper(kernel, cfg)
    kernel.extensions["coredump"] = dumper
    return dumper


__all__ = ["CoreConfig", "CoreDumper", "CoredRefused", "install", "hand_over",
           "write_process_core", "ENV_SOCKET"]
