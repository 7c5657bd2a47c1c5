"""Time on the virtual clock, uname, getrandom, and calls that are deliberately absent."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError, WouldBlock
from afgdb.machine.kernel.uaccess import copyin, copyout

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

CLOCK_REALTIME = 0
UTS_RELEASE = b"6.1.0-afgdb"
UTS_VERSION = b"#1 SMP afgdb"


def _now(k: Kernel, clk: int) -> int:
    if clk in (0, 5, 8, 11):  # REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI
        return k.realtime_ns()
    if clk in (1, 4, 6, 7, 9):  # MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM
        return k.clock_ns
    if clk in (2, 3):  # PROCESS/THREAD_CPUTIME_ID
        return k.current.proc.icount() * 10 if k.current else 0
    if clk < 0:  # a CPU clock of another process/thread
        return 0
    raise SyscallError(E.EINVAL)


def sys_clock_gettime(k: Kernel, t: LWP, clk: int, tp: int) -> int:
    ns = _now(k, clk)
    copyout(t, tp, struct.pack("<ii", ns // 10**9, ns % 10**9))
    return 0


def sys_clock_gettime64(k: Kernel, t: LWP, clk: int, tp: int) -> int:
    ns = _now(k, clk)
    copyout(t, tp, struct.pack("<qq", ns // 10**9, ns % 10**9))
    return 0


def sys_clock_getres(k: Kernel, t: LWP, clk: int, tp: int) -> int:
    _now(k, clk)
    if tp:
        copyout(t, tp, struct.pack("<ii", 0, 1))
    return 0


def sys_clock_getres64(k: Kernel, t: LWP, clk: int, tp: int) -> int:
    _now(k, clk)
    if tp:
        copyout(t, tp, struct.pack("<qq", 0, 1))
    return 0


def sys_gettimeofday(k: Kernel, t: LWP, tv: int, tz: int) -> int:
    ns = k.realtime_ns()
    if tv:
        copyout(t, tv, struct.pack("<ii", ns // 10**9, (ns // 1000) % 10**6))
    if tz:
        copyout(t, tz, bytes(8))
    return 0


def sys_time(k: Kernel, t: LWP, tloc: int) -> int:
    s = k.realtime_ns() // 10**9
    if tloc:
        copyout(t, tloc, struct.pack("<i", s))
    return s


def _sleep(k: Kernel, t: LWP, ns: int, absolute_clock: int | None, rem: int,
           rem_fmt: str) -> int:
    """Sleep on the virtual clock. The deadline is kept on the LWP across re-runs."""
    if ns < 0:
        raise SyscallError(E.EINVAL)
    key = ("sleep", t.lid)
    deadline = t.sleep_deadline
    if deadline is None:
        if absolute_clock is not None:
            base = k.realtime_ns() - k.clock_ns if absolute_clock == 0 else 0
            deadline = ns - base
        else:
            deadline = k.clock_ns + ns
        t.sleep_deadline = deadline
    if k.clock_ns < deadline:
        raise WouldBlock(key, deadline)
    t.sleep_deadline = None
    return 0


def _timespec32(t: LWP, addr: int) -> int:
    s: int
    ns: int
    s, ns = struct.unpack("<ii", copyin(t, addr, 8))
    if not 0 <= ns < 10**9:
        raise SyscallError(E.EINVAL)
    return s * 10**9 + ns


def _timespec64(t: LWP, addr: int) -> int:
    s: int
    ns: int
    s, ns = struct.unpack("<qq", copyin(t, addr, 16))
    if not 0 <= ns < 10**9:
        raise SyscallError(E.EINVAL)
    return s * 10**9 + ns


def sys_nanosleep(k: Kernel, t: LWP, req: int, rem: int) -> int:
    return _sleep(k, t, _timespec32(t, req), None, rem, "<ii")


def sys_clock_nanosleep(k: Kernel, t: LWP, clk: int, flags: int, req: int, rem: int) -> int:
    ns = _timespec32(t, req)
    return _sleep(k, t, ns, clk if flags & 1 else None, rem, "<ii")


def sys_clock_nanosleep64(k: Kernel, t: LWP, clk: int, flags: int, req: int, rem: int) -> int:
    ns = _timespec64(t, req)
    return _sleep(k, t, ns, clk if flags & 1 else None, rem, "<qq")


def sys_uname(k: Kernel, t: LWP, buf: int) -> int:
    fields = [b"Linux", k.hostname.encode(), UTS_RELEASE, UTS_VERSION, b"mips", b"(none)"]
    copyout(t, buf, b"".join(f[:64].ljust(65, b"\0") for f in fields))
    return 0


def sys_getrandom(k: Kernel, t: LWP, buf: int, count: int, flags: int) -> int:
    count = min(count, 1 << 20)
    copyout(t, buf, k.random_bytes(count, b"getrandom%d" % t.lid))
    return count


def sys_enosys(k: Kernel, t: LWP, *args: int) -> int:
    raise SyscallError(E.ENOSYS)
