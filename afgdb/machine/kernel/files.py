"""Open files and descriptor tables (NetBSD's struct file and filedesc)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.vfs import oserror_errno

O_ACCMODE = 3
O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
# MIPS open flags (differ from x86)
O_APPEND = 0x0008
O_NONBLOCK = 0x0080
O_CREAT = 0x0100
O_TRUNC = 0x0200
O_EXCL = 0x0400
O_NOCTTY = 0x0800
O_LARGEFILE = 0x2000
O_DIRECTORY = 0x10000
O_NOFOLLOW = 0x20000
O_CLOEXEC = 0x80000
O_PATH = 0x200000

FD_CLOEXEC = 1
T = TypeVar("T")
MAX_FDS = 1024


class File:
    """An open file description, shared by dup'ed descriptors and across fork."""

    kind = "file"

    def __init__(self, flags: int = O_RDWR) -> None:
        self.flags = flags
        self.refs = 0
        self.path = ""

    def read(self, n: int) -> bytes:
        raise SyscallError(E.EBADF)

    def write(self, data: bytes) -> int:
        raise SyscallError(E.EBADF)

    def pread(self, n: int, off: int) -> bytes:
        raise SyscallError(E.ESPIPE)

    def pwrite(self, data: bytes, off: int) -> int:
        raise SyscallError(E.ESPIPE)

    def seek(self, off: int, whence: int) -> int:
        raise SyscallError(E.ESPIPE)

    def stat(self) -> os.stat_result | None:
        return None

    def isatty(self) -> bool:
        return False

    def readable_now(self) -> bool:
        return True

    def writable_now(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def getdents(self) -> list[tuple[str, int, int]]:
        raise SyscallError(E.ENOTDIR)

    def truncate(self, length: int) -> None:
        raise SyscallError(E.EINVAL)


class HostStream(File):
    """One of the host's stdin/stdout/stderr, for `afgdb run`."""

    kind = "tty"

    def __init__(self, fd: int, flags: int) -> None:
        super().__init__(flags)
        self.fd = fd
        self.path = f"/dev/pts/{fd}" if os.isatty(fd) else f"pipe:[{fd}]"

    def read(self, n: int) -> bytes:
        try:
            return os.read(self.fd, n)
        except OSError as e:
            raise SyscallError(oserror_errno(e)) from None

    def write(self, data: bytes) -> int:
        try:
            view = memoryview(data)
            while view:
                k = os.write(self.fd, view)
                view = view[k:]
            return len(data)
        except BrokenPipeError:
            raise SyscallError(E.EPIPE) from None
        except OSError as e:
            raise SyscallError(oserror_errno(e)) from None

    def stat(self) -> os.stat_result | None:
        try:
            return os.fstat(self.fd)
        except OSError:
            return None

    def isatty(self) -> bool:
        return os.isatty(self.fd)


class BufferStream(File):
    """A captured stdio stream (the server's programs): writes collect in a buffer."""

    kind = "tty"

    def __init__(self, flags: int, data: bytes = b"") -> None:
        super().__init__(flags)
        self.inbuf = bytearray(data)
        self.out = bytearray()
        self.path = "/dev/console"
        self.on_write: list[object] = []

    def read(self, n: int) -> bytes:
        d = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return d

    def write(self, data: bytes) -> int:
        self.out += data
        for cb in self.on_write:
            cb(data)  # type: ignore[operator]
        return len(data)

    def isatty(self) -> bool:
        return True


class HostFile(File):
    """A regular file or directory inside the guest root."""

    open_count = 0  # host descriptors held by every guest file of this host process

    def __init__(self, fd: int, flags: int, path: str, is_dir: bool) -> None:
        super().__init__(flags)
        self.fd = fd
        HostFile.open_count += 1
        self.path = path
        self.is_dir = is_dir
        self.kind = "dir" if is_dir else "file"
        self._dents: list[tuple[str, int, int]] | None = None
        self.dirpos = 0

    def _io(self, fn: Callable[..., T], *a: Any) -> T:
        try:
            return fn(*a)
        except OSError as e:
            raise SyscallError(oserror_errno(e)) from None

    def read(self, n: int) -> bytes:
        if self.is_dir:
            raise SyscallError(E.EISDIR)
        if self.flags & O_ACCMODE == O_WRONLY:
            raise SyscallError(E.EBADF)
        data: bytes = self._io(os.read, self.fd, n)
        return data

    def write(self, data: bytes) -> int:
        if self.flags & O_ACCMODE == O_RDONLY:
            raise SyscallError(E.EBADF)
        if self.flags & O_APPEND:
            self._io(os.lseek, self.fd, 0, os.SEEK_END)
        n: int = self._io(os.write, self.fd, data)
        return n

    def pread(self, n: int, off: int) -> bytes:
        data: bytes = self._io(os.pread, self.fd, n, off)
        return data

    def pwrite(self, data: bytes, off: int) -> int:
        n: int = self._io(os.pwrite, self.fd, data, off)
        return n

    def seek(self, off: int, whence: int) -> int:
        if self.is_dir:
            if off == 0 and whence == 0:
                self.dirpos = 0
                self._dents = None
            return 0
        if whence not in (0, 1, 2):
            raise SyscallError(E.EINVAL)
        pos: int = self._io(os.lseek, self.fd, off, whence)
        return pos

    def stat(self) -> os.stat_result | None:
        result: os.stat_result = self._io(os.fstat, self.fd)
        return result

    def truncate(self, length: int) -> None:
        self._io(os.ftruncate, self.fd, length)

    def getdents(self) -> list[tuple[str, int, int]]:
        """(name, inode, d_type) entries, '.' and '..' first, then sorted (deterministic)."""
        if not self.is_dir:
            raise SyscallError(E.ENOTDIR)
        if self._dents is None:
            ents: list[tuple[str, int, int]] = [(".", 1, 4), ("..", 1, 4)]
            for de in sorted(os.scandir(self.fd), key=lambda d: d.name):
                try:
                    if de.is_symlink():
                        t = 10
                    elif de.is_dir():
                        t = 4
                    elif de.is_file():
                        t = 8
                    else:
                        t = 0
                    ents.append((de.name, de.inode(), t))
                except OSError:
                    continue
            self._dents = ents
        return self._dents

    def close(self) -> None:
        if self.fd < 0:
            return
        HostFile.open_count -= 1
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1


@dataclass
class FDTable:
    """Descriptor number -> (open file, close-on-exec)."""

    fds: dict[int, File] = field(default_factory=dict)
    cloexec: set[int] = field(default_factory=set)
    limit: int = MAX_FDS  # RLIMIT_NOFILE of the owner (kern_resource keeps it)

    def get(self, fd: int) -> File:
        f = self.fds.get(fd)
        if f is None:
            raise SyscallError(E.EBADF)
        return f

    def install(self, f: File, lowest: int = 0, cloexec: bool = False) -> int:
        fd = lowest
        while fd in self.fds:
            fd += 1
        if fd >= self.limit:
            raise SyscallError(E.EMFILE)
        self.set(fd, f, cloexec)
        return fd

    def set(self, fd: int, f: File, cloexec: bool = False) -> None:
        if fd in self.fds:
            self.close(fd)
        f.refs += 1
        self.fds[fd] = f
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def close(self, fd: int) -> None:
        f = self.fds.pop(fd, None)
        if f is None:
            raise SyscallError(E.EBADF)
        self.cloexec.discard(fd)
        f.refs -= 1
        if f.refs <= 0:
            f.close()

    def fork(self) -> FDTable:
        t = FDTable(dict(self.fds), set(self.cloexec), self.limit)
        for f in t.fds.values():
            f.refs += 1
        return t

    def close_on_exec(self) -> None:
        for fd in sorted(self.cloexec):
            if fd in self.fds:
                self.close(fd)

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)
