"""The launcher: a process forked from init whose only job is to execve a program.

This is how a debugger's ``run`` starts a program (the seed's AF_GDB
notes): the server forks a launcher, connects to it over AF_GDB, asks to
be told of its exec and continues it; the launcher executes one
``syscall`` (execve of the program, arguments and environment already in
its registers and on its one page), and the debugger takes control at the
exec stop. If execve fails, the launcher calls exit_group(127), as a
shell does for a command it cannot run.

The launcher is a real guest process running real MIPS instructions; it
needs no program in the root file system, so ``run`` works with any
``--root``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from afgdb.machine.cpu.state import CPU
from afgdb.machine.kernel.files import FDTable
from afgdb.machine.kernel.linux_abi import SYSCALL_BASE
from afgdb.machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import Proc

BASE = 0x10000000
SIZE = 0x20000  # code + strings + vectors; the stack at the top
NR_EXECVE = SYSCALL_BASE + 11
NR_EXIT_GROUP = SYSCALL_BASE + 246
CODE = struct.pack(
    "<6I",
    0x0000000C,  # syscall                 (execve: v0, a0-a2 set by fork_launcher)
    0x2404007F,  # li    a0, 127           (only reached when execve failed)
    0x24020000 | NR_EXIT_GROUP,  # li v0, exit_group
    0x0000000C,  # syscall
    0x1000FFFF,  # b     .
    0x00000000,  # nop
)
LAUNCHER_NAME = "launcher"


def fork_launcher(k: Kernel, path: str, argv: list[bytes], envp: list[bytes],
                  uid: int = 0, gid: int = 0, ppid: int = 1) -> Proc:
    """A new process (child of ppid, normally init) about to execve(path, argv, envp).

    Its one LWP is runnable: a debugger attaches to it before the machine runs on.
    """
    blob = bytearray(CODE)
    strings: list[int] = []

    def put(s: bytes) -> int:
        addr = BASE + len(blob)
        blob.extend(s + b"\0")
        return addr

    path_addr = put(path.encode())
    for a in argv:
        strings.append(put(a))
    nargv = len(strings)
    for e in envp:
        strings.append(put(e))
    while len(blob) % 4:
        blob.append(0)
    argv_addr = BASE + len(blob)
    blob += struct.pack(f"<{nargv}I", *strings[:nargv]) + b"\0\0\0\0"
    envp_addr = BASE + len(blob)
    blob += struct.pack(f"<{len(strings) - nargv}I", *strings[nargv:]) + b"\0\0\0\0"
    size = max(SIZE, (len(blob) + 0x8000 + 0xFFF) & ~0xFFF)
    aspace = AddressSpace(pool=k.pages)
    aspace.map(BASE, size, PROT_READ | PROT_WRITE | PROT_EXEC, name="[launcher]")
    aspace.write(BASE, bytes(blob), check=False)
    fds = FDTable()
    for i, f in enumerate(k.stdio):
        fds.set(i, f)
    p = k.new_proc(ppid, aspace, fds)
    p.uid = p.euid = p.suid = uid
    p.gid = p.egid = p.sgid = gid
    p.comm = LAUNCHER_NAME
    p.exe = "[launcher]"
    p.argv = [LAUNCHER_NAME.encode(), path.encode()]
    p.entry = BASE
    cpu = CPU()
    cpu.pc = BASE
    r = cpu.r
    r[2] = NR_EXECVE
    r[4] = path_addr
    r[5] = argv_addr
    r[6] = envp_addr
    r[29] = (BASE + size - 16) & ~7
    k.new_lwp(p, cpu, name=LAUNCHER_NAME)
    return p
