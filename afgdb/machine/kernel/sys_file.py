"""File system calls over the VFS: open/read/write/stat/getdents and friends (vfs_syscalls.c)."""

from __future__ import annotations

import os
import stat as st
import struct
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from afgdb.machine.kernel import kern_resource
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.files import (
    FD_CLOEXEC,
    O_ACCMODE,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_RDONLY,
    O_TRUNC,
    File,
    HostFile,
)
from afgdb.machine.kernel.uaccess import copyin, copyinstr, copyout, copyout_u32
from afgdb.machine.kernel.vfs import oserror_errno

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

T = TypeVar("T")
AT_FDCWD = -100 & 0xFFFFFFFF
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EMPTY_PATH = 0x1000
IO_MAX = 1 << 24  # bytes moved by one read/write at most (bounded host memory per call)

TCGETS = 0x540D
TIOCGWINSZ = 0x40087468
TIOCGPGRP = 0x40047477
FIONREAD = 0x467F


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _base(k: Kernel, t: LWP, dirfd: int, path: str) -> str:
    """The directory a relative path starts from (guest path)."""
    if path.startswith("/") or dirfd == AT_FDCWD:
        return t.proc.cwd
    f = t.proc.fds.get(dirfd)
    if not isinstance(f, HostFile) or not f.is_dir:
        raise SyscallError(E.ENOTDIR)
    return f.path


def _os(fn: Callable[..., T], *a: Any) -> T:
    try:
        return fn(*a)
    except OSError as e:
        raise SyscallError(oserror_errno(e)) from None


def sys_read(k: Kernel, t: LWP, fd: int, buf: int, count: int) -> int:
    f = t.proc.fds.get(fd)
    data = f.read(min(count, IO_MAX))
    copyout(t, buf, data)
    return len(data)


def sys_write(k: Kernel, t: LWP, fd: int, buf: int, count: int) -> int:
    f = t.proc.fds.get(fd)
    return f.write(copyin(t, buf, min(count, IO_MAX)))


def _iovecs(t: LWP, iov: int, cnt: int) -> list[tuple[int, int]]:
    if _s32(cnt) < 0 or cnt > 1024:
        raise SyscallError(E.EINVAL)
    raw = copyin(t, iov, 8 * cnt)
    return [struct.unpack_from("<II", raw, 8 * i) for i in range(cnt)]


def sys_writev(k: Kernel, t: LWP, fd: int, iov: int, cnt: int) -> int:
    f = t.proc.fds.get(fd)
    data = b"".join(copyin(t, base, min(n, IO_MAX)) for base, n in _iovecs(t, iov, cnt))
    return f.write(data) if data else 0


def sys_readv(k: Kernel, t: LWP, fd: int, iov: int, cnt: int) -> int:
    f = t.proc.fds.get(fd)
    vecs = _iovecs(t, iov, cnt)
    data = f.read(min(sum(n for _b, n in vecs), IO_MAX))
    pos = 0
    for base, n in vecs:
        if pos >= len(data):
            break
        copyout(t, base, data[pos:pos + n])
        pos += n
    return len(data)


def sys_pread64(k: Kernel, t: LWP, fd: int, buf: int, count: int, pad: int, lo: int,
                hi: int) -> int:
    data = t.proc.fds.get(fd).pread(min(count, IO_MAX), lo | (hi << 32))
    copyout(t, buf, data)
    return len(data)


def sys_pwrite64(k: Kernel, t: LWP, fd: int, buf: int, count: int, pad: int, lo: int,
                 hi: int) -> int:
    return t.proc.fds.get(fd).pwrite(copyin(t, buf, min(count, IO_MAX)), lo | (hi << 32))


def do_open(k: Kernel, t: LWP, dirfd: int, path: str, flags: int, mode: int) -> int:
    p = t.proc
    if path.startswith("/proc/"):  # synthetic per-process files (procfs.py)
        from afgdb.machine.kernel import procfs

        pf = procfs.open_file(k, t, path, flags)
        if pf is not None:
            return p.fds.install(pf, cloexec=bool(flags & O_CLOEXEC))
    base = _base(k, t, dirfd, path)
    follow = not flags & O_NOFOLLOW
    guest = k.vfs.resolve(path, base, follow=follow)
    host = k.vfs.host(guest)
    hflags = {0: os.O_RDONLY, 1: os.O_WRONLY, 2: os.O_RDWR, 3: os.O_RDWR}[flags & O_ACCMODE]
    if flags & O_CREAT:
        hflags |= os.O_CREAT
    if flags & O_EXCL:
        hflags |= os.O_EXCL
    if flags & O_TRUNC:
        hflags |= os.O_TRUNC
    if flags & O_DIRECTORY:
        hflags |= os.O_DIRECTORY
    if not follow:
        hflags |= os.O_NOFOLLOW
    kern_resource.check_nfile(k)
    try:
        is_dir = os.path.isdir(host)
        if is_dir and flags & O_ACCMODE != O_RDONLY:
            raise SyscallError(E.EISDIR)
        fd = os.open(host, hflags | os.O_CLOEXEC, mode & ~p.umask & 0o7777)
    except OSError as e:
        raise SyscallError(oserror_errno(e)) from None
    f = HostFile(fd, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC), guest, is_dir)
    try:
        return p.fds.install(f, cloexec=bool(flags & O_CLOEXEC))
    except SyscallError:
        f.close()
        raise


def sys_open(k: Kernel, t: LWP, path: int, flags: int, mode: int) -> int:
    return do_open(k, t, AT_FDCWD, copyinstr(t, path), flags, mode)


def sys_openat(k: Kernel, t: LWP, dirfd: int, path: int, flags: int, mode: int) -> int:
    return do_open(k, t, dirfd, copyinstr(t, path), flags, mode)


def sys_close(k: Kernel, t: LWP, fd: int) -> int:
    t.proc.fds.close(fd)
    return 0


def sys_lseek(k: Kernel, t: LWP, fd: int, off: int, whence: int) -> int:
    pos = t.proc.fds.get(fd).seek(_s32(off), whence)
    if pos > 0x7FFFFFFF:
        raise SyscallError(E.EOVERFLOW)
    return pos


def sys_llseek(k: Kernel, t: LWP, fd: int, hi: int, lo: int, result: int, whence: int) -> int:
    off = (hi << 32) | lo
    if off & (1 << 63):
        off -= 1 << 64
    pos = t.proc.fds.get(fd).seek(off, whence)
    copyout(t, result, struct.pack("<q", pos))
    return 0


def sys_ftruncate(k: Kernel, t: LWP, fd: int, length: int) -> int:
    t.proc.fds.get(fd).truncate(length)
    return 0


def sys_ftruncate64(k: Kernel, t: LWP, fd: int, pad: int, lo: int, hi: int) -> int:
    t.proc.fds.get(fd).truncate(lo | (hi << 32))
    return 0


def _fcntl_flags_visible(f: File) -> int:
    return f.flags


def sys_fcntl(k: Kernel, t: LWP, fd: int, cmd: int, arg: int) -> int:
    fds = t.proc.fds
    f = fds.get(fd)
    if cmd in (0, 1030):  # F_DUPFD, F_DUPFD_CLOEXEC
        if arg >= fds.limit:
            raise SyscallError(E.EINVAL)
        return fds.install(f, lowest=arg, cloexec=cmd == 1030)
    if cmd == 1:  # F_GETFD
        return FD_CLOEXEC if fd in fds.cloexec else 0
    if cmd == 2:  # F_SETFD
        if arg & FD_CLOEXEC:
            fds.cloexec.add(fd)
        else:
            fds.cloexec.discard(fd)
        return 0
    if cmd == 3:  # F_GETFL
        return _fcntl_flags_visible(f)
    if cmd == 4:  # F_SETFL
        f.flags = (f.flags & ~(O_APPEND | O_NONBLOCK)) | (arg & (O_APPEND | O_NONBLOCK))
        return 0
    if cmd in (14, 6, 7, 33, 34, 35):  # locks: always granted, nobody else shares files
        return 0
    raise SyscallError(E.EINVAL)


def sys_ioctl(k: Kernel, t: LWP, fd: int, req: int, arg: int) -> int:
    f = t.proc.fds.get(fd)
    if req == TCGETS:
        if not f.isatty():
            raise SyscallError(E.ENOTTY)
        # MIPS struct termios: iflag oflag cflag lflag, line, cc[23]
        tio = struct.pack("<IIIIB", 0x500, 0x5, 0xBF, 0x8A3B, 0) + bytes(23)
        copyout(t, arg, tio)
        return 0
    if req == TIOCGWINSZ:
        if not f.isatty():
            raise SyscallError(E.ENOTTY)
        copyout(t, arg, struct.pack("<HHHH", 24, 80, 0, 0))
        return 0
    if req == TIOCGPGRP:
        if not f.isatty():
            raise SyscallError(E.ENOTTY)
        copyout_u32(t, arg, t.proc.pgid)
        return 0
    if req == FIONREAD:
        copyout_u32(t, arg, 0)
        return 0
    raise SyscallError(E.ENOTTY)


# ------------------------------------------------------------------- stat
def _stat64(s: os.stat_result) -> bytes:
    return struct.pack(
        "<I12xQIIIII12xqiIiIiIIIq",
        s.st_dev & 0xFFFFFFFF, s.st_ino, s.st_mode, s.st_nlink, s.st_uid, s.st_gid,
        s.st_rdev & 0xFFFFFFFF, s.st_size,
        int(s.st_atime), s.st_atime_ns % 10**9, int(s.st_mtime), s.st_mtime_ns % 10**9,
        int(s.st_ctime), s.st_ctime_ns % 10**9, 4096, 0, s.st_blocks)


def _statx(s: os.stat_result) -> bytes:
    def ts(sec: float, ns: int) -> bytes:
        return struct.pack("<qIi", int(sec), ns % 10**9, 0)

    head = struct.pack("<IIQIIIHHQQQQ", 0x7FF, 4096, 0, s.st_nlink, s.st_uid, s.st_gid,
                       s.st_mode, 0, s.st_ino, s.st_size, s.st_blocks, 0)
    times = (ts(s.st_atime, s.st_atime_ns) + ts(s.st_ctime, s.st_ctime_ns)
             + ts(s.st_ctime, s.st_ctime_ns) + ts(s.st_mtime, s.st_mtime_ns))
    devs = struct.pack("<IIII", os.major(s.st_rdev), os.minor(s.st_rdev), os.major(s.st_dev),
                       os.minor(s.st_dev))
    out = head + times + devs
    return out + bytes(256 - len(out))


def _stat_path(k: Kernel, t: LWP, dirfd: int, path: str, follow: bool, empty: bool
               ) -> os.stat_result:
    if not path and empty:
        s = t.proc.fds.get(dirfd).stat()
        if s is None:
            return _fake_stat()
        return s
    guest = k.vfs.resolve(path, _base(k, t, dirfd, path), follow=follow, must_exist=True)
    result: os.stat_result = _os(os.stat if follow else os.lstat, k.vfs.host(guest))
    return result


def _fake_stat() -> os.stat_result:
    """A character device, for descriptors with no host file behind them (a console)."""
    from afgdb.machine.kernel.sys_pipe import fake_stat

    return fake_stat(0o20620, 3, 0, dev=5, gid=5, blksize=1024, rdev=(136 << 8) | 0)


def sys_stat64(k: Kernel, t: LWP, path: int, buf: int) -> int:
    copyout(t, buf, _stat64(_stat_path(k, t, AT_FDCWD, copyinstr(t, path), True, False)))
    return 0


def sys_lstat64(k: Kernel, t: LWP, path: int, buf: int) -> int:
    copyout(t, buf, _stat64(_stat_path(k, t, AT_FDCWD, copyinstr(t, path), False, False)))
    return 0


def sys_fstat64(k: Kernel, t: LWP, fd: int, buf: int) -> int:
    s = t.proc.fds.get(fd).stat() or _fake_stat()
    copyout(t, buf, _stat64(s))
    return 0


def sys_fstatat64(k: Kernel, t: LWP, dirfd: int, path: int, buf: int, flags: int) -> int:
    s = _stat_path(k, t, dirfd, copyinstr(t, path), not flags & AT_SYMLINK_NOFOLLOW,
                   bool(flags & AT_EMPTY_PATH))
    copyout(t, buf, _stat64(s))
    return 0


def sys_statx(k: Kernel, t: LWP, dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    s = _stat_path(k, t, dirfd, copyinstr(t, path), not flags & AT_SYMLINK_NOFOLLOW,
                   bool(flags & AT_EMPTY_PATH))
    copyout(t, buf, _statx(s))
    return 0


def sys_getdents64(k: Kernel, t: LWP, fd: int, dirp: int, count: int) -> int:
    f = t.proc.fds.get(fd)
    if not isinstance(f, HostFile):
        raise SyscallError(E.ENOTDIR)
    ents = f.getdents()
    out = bytearray()
    while f.dirpos < len(ents):
        name, ino, dtype = ents[f.dirpos]
        raw = name.encode("utf-8", "surrogateescape") + b"\0"
        reclen = (19 + len(raw) + 7) & ~7
        if len(out) + reclen > count:
            if not out:
                raise SyscallError(E.EINVAL)
            break
        rec = struct.pack("<QqHB", ino, f.dirpos + 1, reclen, dtype) + raw
        out += rec + bytes(reclen - len(rec))
        f.dirpos += 1
    copyout(t, dirp, bytes(out))
    return len(out)


# -------------------------------------------------------- names and dirs
def sys_readlink(k: Kernel, t: LWP, path: int, buf: int, size: int) -> int:
    return _readlink(k, t, AT_FDCWD, copyinstr(t, path), buf, size)


def sys_readlinkat(k: Kernel, t: LWP, dirfd: int, path: int, buf: int, size: int) -> int:
    return _readlink(k, t, dirfd, copyinstr(t, path), buf, size)


def _readlink(k: Kernel, t: LWP, dirfd: int, path: str, buf: int, size: int) -> int:
    if _s32(size) <= 0:
        raise SyscallError(E.EINVAL)
    if path == "/proc/self/exe" or path == f"/proc/{t.proc.pid}/exe":
        target = t.proc.exe.encode()
    else:
        guest = k.vfs.resolve(path, _base(k, t, dirfd, path), follow=False, must_exist=True)
        host = k.vfs.host(guest)
        if not os.path.islink(host):
            raise SyscallError(E.EINVAL)
        target = _os(os.readlink, host).encode("utf-8", "surrogateescape")
    data = target[:size]
    copyout(t, buf, data)
    return len(data)


def sys_getcwd(k: Kernel, t: LWP, buf: int, size: int) -> int:
    cwd = t.proc.cwd.encode() + b"\0"
    if len(cwd) > size:
        raise SyscallError(E.ERANGE)
    copyout(t, buf, cwd)
    return len(cwd)


def sys_chdir(k: Kernel, t: LWP, path: int) -> int:
    guest = k.vfs.resolve(copyinstr(t, path), t.proc.cwd, must_exist=True)
    if not os.path.isdir(k.vfs.host(guest)):
        raise SyscallError(E.ENOTDIR)
    t.proc.cwd = guest
    return 0


def _access(k: Kernel, t: LWP, dirfd: int, path: str, mode: int) -> int:
    guest = k.vfs.resolve(path, _base(k, t, dirfd, path), must_exist=True)
    host = k.vfs.host(guest)
    if mode & 7 and not os.access(host, mode & 7):
        raise SyscallError(E.EACCES)
    return 0


def sys_access(k: Kernel, t: LWP, path: int, mode: int) -> int:
    return _access(k, t, AT_FDCWD, copyinstr(t, path), mode)


def sys_faccessat(k: Kernel, t: LWP, dirfd: int, path: int, mode: int) -> int:
    return _access(k, t, dirfd, copyinstr(t, path), mode)


def sys_faccessat2(k: Kernel, t: LWP, dirfd: int, path: int, mode: int, flags: int) -> int:
    return _access(k, t, dirfd, copyinstr(t, path), mode)


def _unlink(k: Kernel, t: LWP, dirfd: int, path: str, flags: int) -> int:
    guest = k.vfs.resolve(path, _base(k, t, dirfd, path), follow=False, must_exist=True)
    if guest == "/":
        raise SyscallError(E.EBUSY)
    host = k.vfs.host(guest)
    if flags & AT_REMOVEDIR:
        _os(os.rmdir, host)
    else:
        if os.path.isdir(host) and not os.path.islink(host):
            raise SyscallError(E.EISDIR)
        _os(os.unlink, host)
    return 0


def sys_unlink(k: Kernel, t: LWP, path: int) -> int:
    return _unlink(k, t, AT_FDCWD, copyinstr(t, path), 0)


def sys_unlinkat(k: Kernel, t: LWP, dirfd: int, path: int, flags: int) -> int:
    return _unlink(k, t, dirfd, copyinstr(t, path), flags)


def sys_rmdir(k: Kernel, t: LWP, path: int) -> int:
    return _unlink(k, t, AT_FDCWD, copyinstr(t, path), AT_REMOVEDIR)


def _mkdir(k: Kernel, t: LWP, dirfd: int, path: str, mode: int) -> int:
    guest = k.vfs.resolve(path, _base(k, t, dirfd, path), follow=False)
    _os(os.mkdir, k.vfs.host(guest), mode & ~t.proc.umask & 0o7777)
    return 0


def sys_mkdir(k: Kernel, t: LWP, path: int, mode: int) -> int:
    return _mkdir(k, t, AT_FDCWD, copyinstr(t, path), mode)


def sys_mkdirat(k: Kernel, t: LWP, dirfd: int, path: int, mode: int) -> int:
    return _mkdir(k, t, dirfd, copyinstr(t, path), mode)


def sys_rename(k: Kernel, t: LWP, old: int, new: int) -> int:
    a = k.vfs.host_path(copyinstr(t, old), t.proc.cwd, follow=False, must_exist=True)
    b = k.vfs.host_path(copyinstr(t, new), t.proc.cwd, follow=False)
    _os(os.rename, a, b)
    return 0


def is_dir_mode(mode: int) -> bool:
    return st.S_ISDIR(mode)
