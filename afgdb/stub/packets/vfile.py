"""Host I/O (vFile): gdb reads the program and other files of the guest root.

Paths are guest paths, resolved by the machine's VFS (never outside the
guest root); descriptors are host descriptors owned by the session and
closed when it ends. Replies are ``F result[,errno][;binary]`` with gdb's
File-I/O errno numbers and ``struct stat`` layout.
"""

from __future__ import annotations

import os
import stat as st
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb import rsp
from afgdb.machine.kernel import linux_abi as E
from afgdb.stub.packets.common import PacketSpec, Reply, hex_int, split
from afgdb.targets.caps import HostIO, ReadOnly, TargetError

if TYPE_CHECKING:
    from afgdb.stub.session import Session

# gdb File-I/O errno values (gdb/doc "Errno Values"), by name.
_FILEIO_ERRNO = {"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EBADF": 9, "EACCES": 13, "EFAULT": 14,
                 "EBUSY": 16, "EEXIST": 17, "ENODEV": 19, "ENOTDIR": 20, "EISDIR": 21,
                 "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "EFBIG": 27, "ENOSPC": 28,
                 "ESPIPE": 29, "EROFS": 30, "ENAMETOOLONG": 91}
_EUNKNOWN = 9999
_BY_GUEST = {getattr(E, name): num for name, num in _FILEIO_ERRNO.items() if hasattr(E, name)}
_BY_HOST = {getattr(__import__("errno"), name): num for name, num in _FILEIO_ERRNO.items()}

# gdb File-I/O open flags.
_O_WRONLY, _O_RDWR, _O_APPEND, _O_CREAT, _O_TRUNC, _O_EXCL = 1, 2, 8, 0x200, 0x400, 0x800
MAX_PREAD = (rsp.PACKET_SIZE - 64) // 2  # escaping may double the binary reply at worst


@dataclass(frozen=True)
class VFile:
    op: str
    args: tuple[bytes, ...]


def parse_vfile(rest: bytes) -> VFile:
    op, colon, args = rest.partition(b":")
    if not colon:
        raise rsp.RemoteProtocolError("vFile needs an operation and ':'")
    name = op.decode("ascii", "replace")
    if name == "pwrite":
        fd, off, data = split(args, b",", 3, "vFile:pwrite")
        return VFile(name, (fd, off, data))
    return VFile(name, tuple(args.split(b",")) if args else ())


def _err(num: int) -> bytes:
    return b"F-1,%x" % num


def _path(a: bytes) -> str:
    raw = rsp.hex_decode(a)
    if b"\0" in raw:  # a C string cannot hold one; the host calls refuse it with ValueError
        raise TargetError(E.EINVAL, "NUL byte in a file name")
    return raw.decode("utf-8", "surrogateescape")


def _fileio_stat(sr: os.stat_result) -> bytes:
    return struct.pack(">IIIIIIIQQQIII", sr.st_dev & 0xFFFFFFFF, sr.st_ino & 0xFFFFFFFF,
                       sr.st_mode, sr.st_nlink, sr.st_uid, sr.st_gid, sr.st_rdev & 0xFFFFFFFF,
                       sr.st_size, sr.st_blksize, sr.st_blocks, int(sr.st_atime) & 0xFFFFFFFF,
                       int(sr.st_mtime) & 0xFFFFFFFF, int(sr.st_ctime) & 0xFFFFFFFF)


def handle_vfile(s: Session, v: VFile) -> Reply:
    fs = s.system
    assert isinstance(fs, HostIO)
    try:
        return _run(s, fs, v)
    except TargetError as e:
        return _err(_BY_GUEST.get(e.errno, _EUNKNOWN))
    except OSError as e:
        return _err(_BY_HOST.get(e.errno or 0, _EUNKNOWN))
    except OverflowError:  # an offset or count beyond what the host call takes
        return _err(_FILEIO_ERRNO["EINVAL"])


def _fd(s: Session, a: bytes) -> int:
    fd = s.vfile_fds.get(hex_int(a, "fd"))
    if fd is None:
        raise TargetError(E.EBADF, "bad vFile descriptor")
    return fd


def _run(s: Session, fs: HostIO, v: VFile) -> bytes:
    a = v.args
    if isinstance(fs, ReadOnly) and (v.op in ("pwrite", "unlink") or (
            v.op == "open" and len(a) == 3 and hex_int(a[1], "flags") & 0xE03)):
        raise TargetError(E.EROFS, fs.refusal())
    if v.op == "setfs":
        return b"F0"  # one file system for every process: the guest root
    if v.op == "open":
        if len(a) != 3:
            raise rsp.RemoteProtocolError("vFile:open takes name,flags,mode")
        flags, mode = hex_int(a[1], "flags"), hex_int(a[2], "mode")
        host = fs.resolve_path(_path(a[0]))
        acc = flags & 3
        oflags = os.O_RDONLY if acc == 0 else os.O_WRONLY if acc == _O_WRONLY else os.O_RDWR
        for bit, hostbit in ((_O_APPEND, os.O_APPEND), (_O_CREAT, os.O_CREAT),
                             (_O_TRUNC, os.O_TRUNC), (_O_EXCL, os.O_EXCL)):
            if flags & bit:
                oflags |= hostbit
        fd = os.open(host, oflags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode & 0o777)
        num = s.vfile_next
        s.vfile_next += 1
        s.vfile_fds[num] = fd
        return b"F%x" % num
    if v.op == "close":
        fd = _fd(s, a[0] if a else b"")
        del s.vfile_fds[hex_int(a[0], "fd")]
        os.close(fd)
        return b"F0"
    if v.op == "pread":
        if len(a) != 3:
            raise rsp.RemoteProtocolError("vFile:pread takes fd,count,offset")
        fd = _fd(s, a[0])
        data = os.pread(fd, min(hex_int(a[1], "count"), MAX_PREAD), hex_int(a[2], "offset"))
        return b"F%x;" % len(data) + data
    if v.op == "pwrite":
        fd = _fd(s, a[0])
        n = os.pwrite(fd, a[2], hex_int(a[1], "offset"))
        return b"F%x" % n
    if v.op == "fstat":
        fd = _fd(s, a[0] if a else b"")
        data = _fileio_stat(os.fstat(fd))
        return b"F%x;" % len(data) + data
    if v.op == "unlink":
        host = fs.resolve_path(_path(a[0] if a else b""), follow=False)
        if st.S_ISDIR(os.lstat(host).st_mode):
            raise TargetError(E.EISDIR, "is a directory")
        os.unlink(host)
        return b"F0"
    if v.op == "readlink":
        host = fs.resolve_path(_path(a[0] if a else b""), follow=False)
        target = os.readlink(host).encode("utf-8", "surrogateescape")
        return b"F%x;" % len(target) + target
    return b""  # an operation we do not implement: unsupported


PACKETS = [PacketSpec(b"vFile:", parse_vfile, handle_vfile, needs="HostIO", scope="system")]
