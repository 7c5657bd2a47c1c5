"""futex(2): fast user-space locking (NetBSD's sys_futex.c, Linux semantics).

WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, WAKE_OP, REQUEUE and CMP_REQUEUE,
private or not (every futex is keyed by address space and address: shared
futexes across processes are not supported), timeouts on the virtual clock.
Waiters queue in FIFO order per futex; each sleeps on its own wait channel,
so a wake costs nothing for the ones left waiting. A woken waiter re-runs
its call (the kernel's WouldBlock protocol) and finds itself in ``woken``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError, WouldBlock
from afgdb.machine.kernel.proc import LSZOMB, LWP, Proc
from afgdb.machine.kernel.uaccess import copyin, copyin_u32, copyout_u32

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 2, 3, 4
FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 5, 9, 10
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
BITSET_MATCH_ANY = 0xFFFFFFFF

Key = tuple[int, int]


@dataclass
class FutexTable:
    queues: dict[Key, list[LWP]] = field(default_factory=dict)
    waiting: dict[int, tuple[Key, int]] = field(default_factory=dict)  # lid -> key, bitset
    woken: set[int] = field(default_factory=set)


def table(k: Kernel) -> FutexTable:
    ft: FutexTable | None = k.extensions.get("futex")
    if ft is None:
        ft = FutexTable()
        k.extensions["futex"] = ft
        k.extensions["futex_wake"] = lambda p, addr, n: wake_addr(k, p, addr, n)
    return ft


def _key(p: Proc, uaddr: int) -> Key:
    return (id(p.aspace), uaddr)


def _wchan(t: LWP) -> tuple[str, int]:
    return ("futex", t.lid)


def cancel(k: Kernel, t: LWP) -> None:
    """Forget t's wait (its call was interrupted by a signal or the thread is gone)."""
    ft: FutexTable | None = k.extensions.get("futex")
    if ft is None:
        return
    ft.woken.discard(t.lid)
    entry = ft.waiting.pop(t.lid, None)
    if entry is not None:
        q = ft.queues.get(entry[0])
        if q is not None and t in q:
            q.remove(t)
            if not q:
                del ft.queues[entry[0]]


def _wake(k: Kernel, ft: FutexTable, key: Key, n: int, bitset: int = BITSET_MATCH_ANY) -> int:
    q = ft.queues.get(key)
    if not q:
        return 0
    woke = 0
    for u in list(q):
        if woke >= n:
            break
        if u.state == LSZOMB or u.lid not in ft.waiting:
            q.remove(u)
            ft.waiting.pop(u.lid, None)
            continue
        if not ft.waiting[u.lid][1] & bitset:
            continue
        q.remove(u)
        del ft.waiting[u.lid]
        ft.woken.add(u.lid)
        k.wakeup(_wchan(u))
        woke += 1
    if not q:
        ft.queues.pop(key, None)
    return woke


def wake_addr(k: Kernel, p: Proc, addr: int, n: int) -> int:
    """Wake n waiters of addr in p (CLONE_CHILD_CLEARTID at thread exit)."""
    return _wake(k, table(k), _key(p, addr), n)


def _requeue(ft: FutexTable, src: Key, dst: Key, n: int) -> int:
    q = ft.queues.get(src)
    if not q or n <= 0:
        return 0
    moved = q[:n]
    del q[:n]
    if not q:
        del ft.queues[src]
    dq = ft.queues.setdefault(dst, [])
    for u in moved:
        dq.append(u)
        if u.lid in ft.waiting:
            ft.waiting[u.lid] = (dst, ft.waiting[u.lid][1])
    return len(moved)


def _timeout(k: Kernel, t: LWP, op: int, cmd: int, utime: int, fmt: str) -> int | None:
    if not utime:
        return None
    s, ns = (int(x) for x in struct.unpack(fmt, copyin(t, utime, struct.calcsize(fmt))))
    if s < 0 or not 0 <= ns < 10**9:
        raise SyscallError(E.EINVAL)
    v = s * 10**9 + ns
    if cmd == FUTEX_WAIT_BITSET:  # absolute, on CLOCK_MONOTONIC or CLOCK_REALTIME
        if op & FUTEX_CLOCK_REALTIME:
            v -= k.realtime_ns() - k.clock_ns
        return v
    return k.clock_ns + v


def _wait(k: Kernel, t: LWP, uaddr: int, val: int, deadline_fn: object, bitset: int) -> int:
    ft = table(k)
    if t.lid in ft.woken:
        ft.woken.discard(t.lid)
        ft.waiting.pop(t.lid, None)
        t.sleep_deadline = None
        return 0
    if t.lid in ft.waiting:
        d = t.sleep_deadline
        if d is not None and k.clock_ns >= d:
            cancel(k, t)
            t.sleep_deadline = None
            raise SyscallError(E.ETIMEDOUT)
        raise WouldBlock(_wchan(t), d)
    if uaddr & 3:
        raise SyscallError(E.EINVAL)
    if not bitset:
        raise SyscallError(E.EINVAL)
    deadline = deadline_fn() if callable(deadline_fn) else None
    if copyin_u32(t, uaddr) != val & 0xFFFFFFFF:
        raise SyscallError(E.EAGAIN)
    if deadline is not None and k.clock_ns >= deadline:
        raise SyscallError(E.ETIMEDOUT)
    key = _key(t.proc, uaddr)
    ft.queues.setdefault(key, []).append(t)
    ft.waiting[t.lid] = (key, bitset)
    t.sleep_deadline = deadline
    raise WouldBlock(_wchan(t), deadline)


def _sext12(v: int) -> int:
    return v - 0x1000 if v & 0x800 else v


def _wake_op(k: Kernel, t: LWP, uaddr: int, n1: int, uaddr2: int, n2: int, val3: int) -> int:
    ft = table(k)
    op = (val3 >> 28) & 7
    shift = (val3 >> 28) & 8
    cmp = (val3 >> 24) & 15
    oparg = _sext12((val3 >> 12) & 0xFFF)
    cmparg = _sext12(val3 & 0xFFF)
    if shift:
        oparg = 1 << (oparg & 31)
    old = copyin_u32(t, uaddr2)
    if op == 0:
        new = oparg
    elif op == 1:
        new = old + oparg
    elif op == 2:
        new = old | oparg
    elif op == 3:
        new = old & ~oparg
    elif op == 4:
        new = old ^ oparg
    else:
        raise SyscallError(E.ENOSYS)
    copyout_u32(t, uaddr2, new)
    sold = old - (1 << 32) if old & 0x80000000 else old
    if cmp == 0:
        hit = sold == cmparg
    elif cmp == 1:
        hit = sold != cmparg
    elif cmp == 2:
        hit = sold < cmparg
    elif cmp == 3:
        hit = sold <= cmparg
    elif cmp == 4:
        hit = sold > cmparg
    elif cmp == 5:
        hit = sold >= cmparg
    else:
        raise SyscallError(E.ENOSYS)
    woke = _wake(k, ft, _key(t.proc, uaddr), n1)
    if hit:
        woke += _wake(k, ft, _key(t.proc, uaddr2), n2)
    return woke


def _futex(k: Kernel, t: LWP, uaddr: int, op: int, val: int, utime: int, uaddr2: int,
           val3: int, fmt: str) -> int:
    cmd = op & FUTEX_CMD_MASK & 0xFFFFFFFF
    ft = table(k)
    if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        if op & FUTEX_CLOCK_REALTIME and cmd == FUTEX_WAIT:
            raise SyscallError(E.ENOSYS)
        bitset = BITSET_MATCH_ANY if cmd == FUTEX_WAIT else val3

        def deadline() -> int | None:
            return _timeout(k, t, op, cmd, utime, fmt)

        return _wait(k, t, uaddr, val, deadline, bitset)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        bitset = BITSET_MATCH_ANY if cmd == FUTEX_WAKE else val3
        if not bitset:
            raise SyscallError(E.EINVAL)
        return _wake(k, ft, _key(t.proc, uaddr), _nr(val), bitset)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if cmd == FUTEX_CMP_REQUEUE and copyin_u32(t, uaddr) != val3 & 0xFFFFFFFF:
            raise SyscallError(E.EAGAIN)
        woke = _wake(k, ft, _key(t.proc, uaddr), _nr(val))
        moved = _requeue(ft, _key(t.proc, uaddr), _key(t.proc, uaddr2), _nr(utime))
        return woke + moved
    if cmd == FUTEX_WAKE_OP:
        return _wake_op(k, t, uaddr, _nr(val), uaddr2, _nr(utime), val3)
    raise SyscallError(E.ENOSYS)


def _nr(v: int) -> int:
    return 0x7FFFFFFF if v & 0x80000000 else v


def sys_futex(k: Kernel, t: LWP, uaddr: int, op: int, val: int, utime: int, uaddr2: int,
              val3: int) -> int:
    return _futex(k, t, uaddr, op, val, utime, uaddr2, val3, "<ii")


def sys_futex_time64(k: Kernel, t: LWP, uaddr: int, op: int, val: int, utime: int,
                     uaddr2: int, val3: int) -> int:
    return _futex(k, t, uaddr, op, val, utime, uaddr2, val3, "<qq")
