"""copyin/copyout: guest memory access for system calls, faults become EFAULT."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.memory import MemFault

if TYPE_CHECKING:
    from afgdb.machine.kernel.proc import LWP


def copyout(t: LWP, addr: int, data: bytes) -> None:
    if not addr and data:
        raise SyscallError(E.EFAULT)
    try:
        t.proc.aspace.write(addr, data)
    except MemFault:
        raise SyscallError(E.EFAULT) from None


def copyin(t: LWP, addr: int, n: int) -> bytes:
    if n == 0:
        return b""
    try:
        return t.proc.aspace.read(addr, n)
    except MemFault:
        raise SyscallError(E.EFAULT) from None


def copyinstr(t: LWP, addr: int, limit: int = 4096) -> str:
    """A path or name: NUL-terminated, decoded with surrogateescape like the host does."""
    try:
        raw = t.proc.aspace.read_cstr(addr, limit)
    except MemFault:
        raise SyscallError(E.EFAULT) from None
    return raw.decode("utf-8", "surrogateescape")


def copyin_u32(t: LWP, addr: int) -> int:
    try:
        return t.proc.aspace.read_u32(addr)
    except MemFault:
        raise SyscallError(E.EFAULT) from None


def copyout_u32(t: LWP, addr: int, v: int) -> None:
    copyout(t, addr, struct.pack("<I", v & 0xFFFFFFFF))
