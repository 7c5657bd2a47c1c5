"""Pipes, descriptor duplication and readiness waiting (sys_pipe.c, sys_descrip.c, sys_select.c).

A pipe holds up to PIPE_SIZE bytes. Writes of at most PIPE_BUF bytes are
atomic; longer blocking writes go in pieces and the caller sleeps between
them (its progress is kept on the pipe, so the re-run call continues where
it stopped). Reading an empty pipe with writers sleeps; without writers it
is end of file. Writing without readers raises SIGPIPE and fails with EPIPE.
poll/select sleep on one wait channel that every pipe event wakes.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel import signals
from afgdb.machine.kernel.errors import SyscallError, WouldBlock
from afgdb.machine.kernel.files import O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY, File
from afgdb.machine.kernel.uaccess import copyin, copyout

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

PIPE_BUF = 4096
PIPE_SIZE = 65536
POLL_WCHAN = ("poll",)
O_DIRECT = 0x8000

POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLRDBAND, POLLWRBAND = 0x40, 0x80, 0x100
POLLWRNORM = POLLOUT  # on MIPS


def fake_stat(mode: int, ino: int, size: int, *, dev: int = 0x0C, gid: int = 0,
              blksize: int = 4096, rdev: int = 0) -> os.stat_result:
    """A complete stat result for an object with no host file (pipes, sockets, consoles).

    The times are given under both CPython's names (st_*_ns) and PyPy's
    (nsec_*): each ignores the other's, and PyPy's st_atime fails without its own."""
    zero_times = {"st_atime": 0.0, "st_mtime": 0.0, "st_ctime": 0.0, "st_atime_ns": 0,
                  "st_mtime_ns": 0, "st_ctime_ns": 0, "nsec_atime": 0, "nsec_mtime": 0,
                  "nsec_ctime": 0}
    return os.stat_result((mode, ino, dev, 1, 0, gid, size, 0, 0, 0),
                          {"st_blocks": 0, "st_blksize": blksize, "st_rdev": rdev, **zero_times})


class Pipe:
    _serial = 0

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.buf = bytearray()
        self.readers = 1
        self.writers = 1
        Pipe._serial += 1
        self.ino = 0x10000 + Pipe._serial
        self.progress: dict[int, tuple[int, int]] = {}  # lid -> (queued, total) of a long write

    def wake(self, which: str) -> None:
        self.k.wakeup(("pipe", id(self), which))
        self.k.wakeup(POLL_WCHAN)


class PipeEnd(File):
    kind = "pipe"

    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(flags)
        self.pipe = pipe
        self.path = f"pipe:[{pipe.ino}]"
        self.closed = False

    @property
    def is_read_end(self) -> bool:
        return self.flags & 3 == O_RDONLY

    def read(self, n: int) -> bytes:
        if not self.is_read_end:
            raise SyscallError(E.EBADF)
        pp = self.pipe
        if n == 0:
            return b""
        if pp.buf:
            data = bytes(pp.buf[:n])
            del pp.buf[:n]
            pp.wake("w")
            return data
        if pp.writers == 0:
            return b""
        if self.flags & O_NONBLOCK:
            raise SyscallError(E.EAGAIN)
        raise WouldBlock(("pipe", id(pp), "r"))

    def write(self, data: bytes) -> int:
        if self.is_read_end:
            raise SyscallError(E.EBADF)
        pp = self.pipe
        k = pp.k
        t = k.current
        lid = t.lid if t is not None else 0
        if pp.readers == 0:
            pp.progress.pop(lid, None)
            if t is not None:
                from afgdb.machine.kernel import kern_sig

                kern_sig.tsignal(k, t, signals.SIGPIPE, signals.SI_USER, 0, t.proc.pid)
            raise SyscallError(E.EPIPE)
        done, total = pp.progress.pop(lid, (0, len(data)))
        if total != len(data):
            done = 0  # a stale record of an interrupted write
        rest = len(data) - done
        if rest <= 0:
            return len(data)
        room = PIPE_SIZE - len(pp.buf)
        if len(data) <= PIPE_BUF and room < len(data):
            if self.flags & O_NONBLOCK:
                raise SyscallError(E.EAGAIN)
            raise WouldBlock(("pipe", id(pp), "w"))
        if room == 0:
            if self.flags & O_NONBLOCK:
                if done:
                    return done
                raise SyscallError(E.EAGAIN)
            pp.progress[lid] = (done, len(data))
            raise WouldBlock(("pipe", id(pp), "w"))
        n = min(room, rest)
        pp.buf += data[done:done + n]
        done += n
        pp.wake("r")
        if done < len(data) and not self.flags & O_NONBLOCK:
            pp.progress[lid] = (done, len(data))
            raise WouldBlock(("pipe", id(pp), "w"))
        return done

    def readable_now(self) -> bool:
        return bool(self.pipe.buf) or self.pipe.writers == 0

    def writable_now(self) -> bool:
        return PIPE_SIZE - len(self.pipe.buf) >= PIPE_BUF or self.pipe.readers == 0

    def poll_events(self) -> int:
        pp = self.pipe
        if self.is_read_end:
            ev = POLLIN | POLLRDNORM if pp.buf else 0
            if pp.writers == 0:
                ev |= POLLHUP
            return ev
        if pp.readers == 0:
            return POLLERR
        return POLLOUT | POLLWRNORM if self.writable_now() else 0

    def stat(self) -> os.stat_result | None:
        return fake_stat(0o10600, self.pipe.ino, len(self.pipe.buf))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.is_read_end:
            self.pipe.readers -= 1
            self.pipe.wake("w")
        else:
            self.pipe.writers -= 1
            self.pipe.wake("r")


def make_pipe(k: Kernel, flags: int) -> tuple[PipeEnd, PipeEnd]:
    pp = Pipe(k)
    nb = flags & O_NONBLOCK
    return PipeEnd(pp, O_RDONLY | nb), PipeEnd(pp, O_WRONLY | nb)


def _install_pair(t: LWP, r: File, w: File, cloexec: bool) -> tuple[int, int]:
    fds = t.proc.fds
    a = fds.install(r, cloexec=cloexec)
    try:
        b = fds.install(w, cloexec=cloexec)
    except SyscallError:
        fds.close(a)
        raise
    return a, b


def sys_pipe(k: Kernel, t: LWP) -> int:
    """o32 pipe(): the two descriptors come back in v0 and v1."""
    r, w = make_pipe(k, 0)
    a, b = _install_pair(t, r, w, False)
    t.cpu.r[3] = b
    return a


def sys_pipe2(k: Kernel, t: LWP, fdsp: int, flags: int) -> int:
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT):
        raise SyscallError(E.EINVAL)
    r, w = make_pipe(k, flags)
    a, b = _install_pair(t, r, w, bool(flags & O_CLOEXEC))
    try:
        copyout(t, fdsp, struct.pack("<ii", a, b))
    except SyscallError:
        t.proc.fds.close(a)
        t.proc.fds.close(b)
        raise
    return 0


# --------------------------------------------------------------------- dup
def sys_dup(k: Kernel, t: LWP, fd: int) -> int:
    f = t.proc.fds.get(fd)
    return t.proc.fds.install(f)


def sys_dup2(k: Kernel, t: LWP, old: int, new: int) -> int:
    fds = t.proc.fds
    f = fds.get(old)
    if new >= fds.limit:
        raise SyscallError(E.EBADF)
    if old == new:
        return new
    fds.set(new, f)
    return new


def sys_dup3(k: Kernel, t: LWP, old: int, new: int, flags: int) -> int:
    fds = t.proc.fds
    if flags & ~O_CLOEXEC:
        raise SyscallError(E.EINVAL)
    f = fds.get(old)
    if old == new:
        raise SyscallError(E.EINVAL)
    if new >= fds.limit:
        raise SyscallError(E.EBADF)
    fds.set(new, f, cloexec=bool(flags & O_CLOEXEC))
    return new


# ------------------------------------------------------------- socketpair
class SocketEnd(PipeEnd):
    """One end of an AF_UNIX SOCK_STREAM socketpair: reads one pipe, writes the other."""

    kind = "socket"

    def __init__(self, rx: Pipe, tx: Pipe, flags: int) -> None:
        File.__init__(self, flags)
        self.pipe = rx
        self.tx = PipeEnd(tx, O_WRONLY | (flags & O_NONBLOCK))
        self.path = f"socket:[{rx.ino}]"
        self.closed = False

    @property
    def is_read_end(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        self.tx.flags = O_WRONLY | (self.flags & O_NONBLOCK)
        return self.tx.write(data)

    def writable_now(self) -> bool:
        return self.tx.writable_now()

    def poll_events(self) -> int:
        ev = super().poll_events() & ~POLLHUP
        if self.pipe.writers == 0:
            ev |= POLLHUP | POLLIN
        out = self.tx.poll_events()
        return ev | (out & (POLLOUT | POLLWRNORM | POLLERR))

    def stat(self) -> os.stat_result | None:
        return fake_stat(0o140777, self.pipe.ino, 0)

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self.tx.close()


AF_UNIX = 1
SOCK_STREAM = 2  # MIPS: SOCK_STREAM is 2, SOCK_DGRAM 1


def sys_socketpair(k: Kernel, t: LWP, domain: int, type_: int, proto: int, sv: int) -> int:
    if domain != AF_UNIX:
        raise SyscallError(E.EAFNOSUPPORT)
    if type_ & 0xF != SOCK_STREAM:
        raise SyscallError(E.EOPNOTSUPP)
    nb = O_NONBLOCK if type_ & O_NONBLOCK else 0
    cloexec = bool(type_ & O_CLOEXEC)
    a2b, b2a = Pipe(k), Pipe(k)
    a = SocketEnd(b2a, a2b, 2 | nb)
    b = SocketEnd(a2b, b2a, 2 | nb)
    fa, fb = _install_pair(t, a, b, cloexec)
    copyout(t, sv, struct.pack("<ii", fa, fb))
    return 0


# -------------------------------------------------------------- poll/select
def file_events(f: File) -> int:
    pe = getattr(f, "poll_events", None)
    if pe is not None:
        ev: int = pe()
        return ev
    ev = 0
    if f.readable_now():
        ev |= POLLIN | POLLRDNORM
    if f.writable_now():
        ev |= POLLOUT | POLLWRNORM
    return ev


def _deadline(k: Kernel, t: LWP, timeout_ns: int | None) -> int | None:
    if timeout_ns is None:
        return None
    if t.sleep_deadline is None:
        t.sleep_deadline = k.clock_ns + timeout_ns
    return t.sleep_deadline


def _finish(t: LWP) -> None:
    t.sleep_deadline = None
    if t.saved_sigmask is not None:
        t.sigmask = t.saved_sigmask
        t.saved_sigmask = None


def _apply_sigmask(t: LWP, sigmask: int, size: int) -> None:
    if not sigmask:
        return
    if size != 16:
        raise SyscallError(E.EINVAL)
    lo, hi = struct.unpack("<QQ", copyin(t, sigmask, 16))
    if t.saved_sigmask is None:
        t.saved_sigmask = t.sigmask
    t.sigmask = (lo | (hi << 64)) & ~(signals.bit(signals.SIGKILL) | signals.bit(signals.SIGSTOP))


def _do_poll(k: Kernel, t: LWP, ufds: int, nfds: int, timeout_ns: int | None) -> int:
    if nfds > 1024:
        raise SyscallError(E.EINVAL)
    raw = bytearray(copyin(t, ufds, 8 * nfds))
    ready = 0
    for i in range(nfds):
        fd, events, _rev = struct.unpack_from("<ihh", raw, 8 * i)
        rev = 0
        if fd >= 0:
            f = t.proc.fds.fds.get(fd)
            if f is None:
                rev = POLLNVAL
            else:
                rev = file_events(f) & ((events & 0xFFFF) | POLLERR | POLLHUP | POLLNVAL)
        struct.pack_into("<h", raw, 8 * i + 6, rev - 0x10000 if rev & 0x8000 else rev)
        if rev:
            ready += 1
    deadline = _deadline(k, t, timeout_ns)
    if ready or (deadline is not None and k.clock_ns >= deadline):
        _finish(t)
        copyout(t, ufds, bytes(raw))
        return ready
    raise WouldBlock(POLL_WCHAN, deadline)


def sys_poll(k: Kernel, t: LWP, ufds: int, nfds: int, timeout: int) -> int:
    ms = timeout - (1 << 32) if timeout & 0x80000000 else timeout
    return _do_poll(k, t, ufds, nfds, None if ms < 0 else ms * 1_000_000)


def _ts(t: LWP, addr: int, fmt: str) -> int | None:
    if not addr:
        return None
    s, ns = (int(x) for x in struct.unpack(fmt, copyin(t, addr, struct.calcsize(fmt))))
    if s < 0 or not 0 <= ns < 10**9:
        raise SyscallError(E.EINVAL)
    return s * 10**9 + ns


def sys_ppoll(k: Kernel, t: LWP, ufds: int, nfds: int, tsp: int, sigmask: int, size: int) -> int:
    timeout = _ts(t, tsp, "<ii")
    _apply_sigmask(t, sigmask, size)
    return _do_poll(k, t, ufds, nfds, timeout)


def sys_ppoll64(k: Kernel, t: LWP, ufds: int, nfds: int, tsp: int, sigmask: int,
                size: int) -> int:
    timeout = _ts(t, tsp, "<qq")
    _apply_sigmask(t, sigmask, size)
    return _do_poll(k, t, ufds, nfds, timeout)


def _do_select(k: Kernel, t: LWP, n: int, rp: int, wp: int, ep: int,
               timeout_ns: int | None) -> int:
    if n > 1024 or n & 0x80000000:
        raise SyscallError(E.EINVAL)
    nbytes = ((n + 31) // 32) * 4
    sets = [int.from_bytes(copyin(t, a, nbytes), "little") if a else 0 for a in (rp, wp, ep)]
    out = [0, 0, 0]
    ready = 0
    for fd in range(n):
        b = 1 << fd
        if not (sets[0] | sets[1] | sets[2]) & b:
            continue
        f = t.proc.fds.fds.get(fd)
        if f is None:
            raise SyscallError(E.EBADF)
        ev = file_events(f)
        if sets[0] & b and ev & (POLLIN | POLLRDNORM | POLLHUP | POLLERR):
            out[0] |= b
            ready += 1
        if sets[1] & b and ev & (POLLOUT | POLLWRNORM | POLLERR):
            out[1] |= b
            ready += 1
        if sets[2] & b and ev & POLLPRI:
            out[2] |= b
            ready += 1
    deadline = _deadline(k, t, timeout_ns)
    if ready or (deadline is not None and k.clock_ns >= deadline):
        _finish(t)
        for a, v in zip((rp, wp, ep), out):
            if a:
                copyout(t, a, v.to_bytes(nbytes, "little"))
        return ready
    raise WouldBlock(POLL_WCHAN, deadline)


def sys_newselect(k: Kernel, t: LWP, n: int, rp: int, wp: int, ep: int, tvp: int) -> int:
    timeout = None
    if tvp:
        s, us = struct.unpack("<ii", copyin(t, tvp, 8))
        if s < 0 or not 0 <= us < 10**6:
            raise SyscallError(E.EINVAL)
        timeout = s * 10**9 + us * 1000
    return _do_select(k, t, n, rp, wp, ep, timeout)


def _pselect(k: Kernel, t: LWP, n: int, rp: int, wp: int, ep: int, tsp: int, sig: int,
             fmt: str) -> int:
    timeout = _ts(t, tsp, fmt)
    if sig:
        mask_ptr, size = struct.unpack("<II", copyin(t, sig, 8))
        _apply_sigmask(t, mask_ptr, size)
    return _do_select(k, t, n, rp, wp, ep, timeout)


def sys_pselect6(k: Kernel, t: LWP, n: int, rp: int, wp: int, ep: int, tsp: int,
                 sig: int) -> int:
    return _pselect(k, t, n, rp, wp, ep, tsp, sig, "<ii")


def sys_pselect6_64(k: Kernel, t: LWP, n: int, rp: int, wp: int, ep: int, tsp: int,
                    sig: int) -> int:
    return _pselect(k, t, n, rp, wp, ep, tsp, sig, "<qq")
