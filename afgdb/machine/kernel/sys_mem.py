"""Memory system calls: brk, mmap family, mprotect, madvise (uvm_mmap.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from afgdb.machine.kernel import kern_resource
from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.files import HostFile
from afgdb.machine.memory import PAGE_MASK, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, USER_TOP

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

MAP_SHARED, MAP_PRIVATE, MAP_FIXED = 0x1, 0x2, 0x10
MAP_ANONYMOUS = 0x800
MAP_FIXED_NOREPLACE = 0x100000
BRK_LIMIT = 0x70000000


def sys_brk(k: Kernel, t: LWP, addr: int) -> int:
    a = t.proc.aspace
    if addr < a.brk_start:
        return a.brk
    new_end = (addr + PAGE_MASK) & ~PAGE_MASK
    old_end = (a.brk + PAGE_MASK) & ~PAGE_MASK
    if new_end > old_end:
        if addr >= BRK_LIMIT or any(r.start < new_end and r.end > old_end
                                    for r in a.regions if r.kind != "brk"):
            return a.brk  # would collide: Linux returns the old break
        try:
            kern_resource.check_vm(k, t.proc, new_end - old_end)
        except SyscallError:
            return a.brk  # over RLIMIT_AS: the same answer
        a.map(old_end, new_end - old_end, PROT_READ | PROT_WRITE, name="[heap]", kind="brk")
    elif new_end < old_end:
        a.unmap(new_end, old_end - new_end)
    a.brk = addr
    return addr


def _mmap(k: Kernel, t: LWP, addr: int, length: int, prot: int, flags: int, fd: int,
          offset: int) -> int:
    a = t.proc.aspace
    if length == 0 or length > USER_TOP:
        raise SyscallError(E.EINVAL)
    if not flags & (MAP_SHARED | MAP_PRIVATE):
        raise SyscallError(E.EINVAL)
    size = (length + PAGE_MASK) & ~PAGE_MASK
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr & PAGE_MASK or addr + size > USER_TOP:
            raise SyscallError(E.EINVAL)
        if flags & MAP_FIXED_NOREPLACE and not a._is_free(addr, size):
            raise SyscallError(E.EEXIST)
        start = addr
    else:
        try:
            start = a.find_free(size, addr & ~PAGE_MASK)
        except MemoryError:
            raise SyscallError(E.ENOMEM) from None
    overlap = sum(min(r.end, start + size) - max(r.start, start) for r in a.regions
                  if r.start < start + size and r.end > start)
    kern_resource.check_vm(k, t.proc, size - overlap)
    name = ""
    data = b""
    if not flags & MAP_ANONYMOUS:
        f = t.proc.fds.get(fd & 0xFFFFFFFF if fd >= 0 else fd)
        if not isinstance(f, HostFile) or f.is_dir:
            raise SyscallError(E.EACCES if isinstance(f, HostFile) else E.ENODEV)
        name = f.path
        data = f.pread(size, offset)
    a.map(start, size, prot, name=name, kind="file" if name else "anon", offset=offset)
    if data:
        a.write(start, data, check=False)
    # MAP_SHARED of a file is served as a private copy (documented limitation).
    return start


def sys_mmap(k: Kernel, t: LWP, addr: int, length: int, prot: int, flags: int, fd: int,
             off: int) -> int:
    if off & PAGE_MASK:
        raise SyscallError(E.EINVAL)
    return _mmap(k, t, addr, length, prot, flags, fd, off)


def sys_mmap2(k: Kernel, t: LWP, addr: int, length: int, prot: int, flags: int, fd: int,
              pgoff: int) -> int:
    return _mmap(k, t, addr, length, prot, flags, fd, pgoff * PAGE_SIZE)


def sys_munmap(k: Kernel, t: LWP, addr: int, length: int) -> int:
    if addr & PAGE_MASK or length == 0 or addr + length > USER_TOP:
        raise SyscallError(E.EINVAL)
    t.proc.aspace.unmap(addr, length)
    return 0


def sys_mprotect(k: Kernel, t: LWP, addr: int, length: int, prot: int) -> int:
    if addr & PAGE_MASK:
        raise SyscallError(E.EINVAL)
    if length == 0:
        return 0
    if not t.proc.aspace.protect(addr, length, prot & 7):
        raise SyscallError(E.ENOMEM)
    t.proc.cache.invalidate_all()  # execute permission may have been taken away
    return 0


def sys_madvise(k: Kernel, t: LWP, addr: int, length: int, advice: int) -> int:
    if addr & PAGE_MASK:
        raise SyscallError(E.EINVAL)
    if advice == 4:  # MADV_DONTNEED: private anonymous pages read back as zeros
        a = t.proc.aspace
        end = addr + ((length + PAGE_MASK) & ~PAGE_MASK)
        for pn in range(addr >> 12, end >> 12):
            if pn in a.frames:
                a._drop_page(pn)
    return 0


def sys_mremap(k: Kernel, t: LWP, old: int, oldlen: int, newlen: int, flags: int,
               new: int) -> int:
    a = t.proc.aspace
    if old & PAGE_MASK or newlen == 0:
        raise SyscallError(E.EINVAL)
    oldlen = (oldlen + PAGE_MASK) & ~PAGE_MASK
    newlen = (newlen + PAGE_MASK) & ~PAGE_MASK
    r = a.find_region(old)
    if r is None:
        raise SyscallError(E.EFAULT)
    if newlen <= oldlen:
        if newlen < oldlen:
            a.unmap(old + newlen, oldlen - newlen)
        return old
    if old + oldlen > r.end:
        raise SyscallError(E.EFAULT)  # Linux: the old range must be one mapping
    kern_resource.check_vm(k, t.proc, newlen - oldlen)
    if old + newlen <= USER_TOP and a._is_free(old + oldlen, newlen - oldlen):
        a.map(old + oldlen, newlen - oldlen, r.prot, r.name, r.kind)
        return old
    if not flags & 1:  # MREMAP_MAYMOVE
        raise SyscallError(E.ENOMEM)
    try:
        dst = a.find_free(newlen)
    except MemoryError:
        raise SyscallError(E.ENOMEM) from None
    # Move the page frames, not their bytes: untouched pages stay unallocated.
    pns = range(old >> 12, (old + oldlen) >> 12)
    moved = [(pn, a.frames[pn]) for pn in (sorted(a.frames) if len(pns) > len(a.frames) else pns)
             if pn in pns and pn in a.frames]
    a.map(dst, newlen, r.prot, r.name, r.kind)
    delta = (dst - old) >> 12
    for pn, fr in moved:
        fr.refs += 1
        a.frames[pn + delta] = fr
        a.cow.add(pn + delta)  # shared with the old page until unmap drops that one
        a._publish(pn + delta)
    a.unmap(old, oldlen)
    return dst
