"""afgdb.client against a real server: the ptrace replacement, end to end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from afgdb.client import (
    Client,
    Execd,
    Exited,
    Forked,
    Killed,
    NoResumed,
    RemoteError,
    Stopped,
    SyncClient,
    SyscallEntry,
    SyscallExit,
    ThreadExited,
    ThreadId,
    UsageError,
    VforkDone,
    parse_stop_reply,
)
from afgdb.harness import ServerProcess, ServerThread, default_root
from afgdb.machine.kernel import linux_abi as E

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGTRAP, SIGINT, SIGSTOP = 5, 2, 23


def symbols(program: str) -> dict[str, int]:
    """Addresses of a shipped guest program's symbols."""
    with open(os.path.join(default_root(), program.lstrip("/")), "rb") as f:
        elf = ELFFile(f)
        table = elf.get_section_by_name(".symtab")
        assert isinstance(table, SymbolTableSection)
        return {s.name: s["st_value"] for s in table.iter_symbols() if s.name}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess() as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[SyncClient]:
    with SyncClient.connect(server.address) as c:
        yield c


def test_breakpoint_registers_watchpoint_memory(server: ServerProcess, client: SyncClient) -> None:
    sym = symbols("/bin/gdbdemo")
    start = client.run("/bin/gdbdemo")
    assert start.signal == SIGTRAP and start.pc == client.read_register("pc")
    assert client.pid is not None

    client.set_breakpoint(sym["add_step"])
    stop = client.cont()
    assert stop == Stopped(SIGTRAP, client.thread, "swbreak", None, sym["add_step"])
    assert (client.read_register("a0"), client.read_register("a1")) == (0, 1)  # total, step
    client.write_register("a1", 5)
    regs = client.registers()
    assert regs["r5"] == 5 and regs["pc"] == sym["add_step"]
    assert client.read_memory(sym["config"], 5) == b"demo\0"
    assert client.read_string(sym["config"]) == b"demo"

    client.remove_breakpoint(sym["add_step"])
    client.set_watchpoint(sym["counter"], 4, "write")
    stop = client.cont()
    assert isinstance(stop, Stopped) and stop.reason == "watch"
    assert stop.address == sym["counter"]
    assert client.read_u32(sym["counter"]) == 0  # MIPS: the stop comes before the store
    client.remove_watchpoint(sym["counter"], 4, "write")
    assert client.step() == Stopped(SIGTRAP, client.thread, "", None, client.read_register("pc"))
    assert client.read_u32(sym["counter"]) == 5  # counter += delta, with our delta

    client.write_memory(sym["counter"], (100).to_bytes(4, "little"))
    pid = client.pid
    assert client.cont() == Exited(1, pid)
    assert client.pid is None
    assert "counter=219 " in server.output()  # 100 + the 119 later calls


def test_single_step(client: SyncClient) -> None:
    sym = symbols("/bin/hello")
    client.run("/bin/hello")
    pcs = [client.read_register("pc")]
    assert pcs[0] == sym["__start"]
    for _ in range(200):
        ev = client.step()
        assert isinstance(ev, Stopped) and ev.signal == SIGTRAP and ev.reason == ""
        assert ev.pc == client.read_register("pc")
        pcs.append(ev.pc)
    assert len(set(pcs)) > 50  # it moved through real code, one unit at a time
    assert all(a != b for a, b in zip(pcs, pcs[1:]))


def trace_syscalls_reference(program: str) -> list[tuple[str, int | None]]:
    """(name, result) of each system call, from `afgdb run --trace-syscalls`."""
    proc = subprocess.run([sys.executable, "-m", "afgdb", "run", "--trace-syscalls", program],
                          capture_output=True, text=True, cwd=REPO, check=True)
    errno = {name: num for num, name in E.ERRNO_NAMES.items()}
    out: list[tuple[str, int | None]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"\d+ (\w+)\(.*\) = (.*)$", line)
        assert m, line
        result = m.group(2)
        if result == "?":
            value = None
        elif result.startswith("-1 "):
            value = -errno[result[3:]]
        else:
            value = int(result)
        out.append((m.group(1), value))
    return out


def test_syscall_trace_matches_trace_syscalls(client: SyncClient) -> None:
    client.run("/bin/hello")
    client.catch_syscalls()
    calls: list[tuple[str, int | None]] = []
    for ev in client.events():
        if isinstance(ev, SyscallEntry):
            calls.append((ev.name, None))
        elif isinstance(ev, SyscallExit):
            assert calls[-1] == (ev.name, None)
            calls[-1] = (ev.name, ev.result)
        else:
            assert ev == Exited(0, ev.pid)
    assert calls == trace_syscalls_reference("/bin/hello")
    assert calls[-1] == ("exit_group", None)


def test_catch_some_syscalls_with_arguments(server: ServerProcess, client: SyncClient) -> None:
    client.run("/bin/hello")
    client.catch_syscalls([E.SYSCALL_BASE + 4])  # write only
    entry = client.cont()
    assert isinstance(entry, SyscallEntry) and entry.name == "write"
    fd, buf, count = entry.args[:3]
    assert (fd, client.read_memory(buf, count)) == (1, b"hello, world\n")
    assert server.output() == ""  # stopped before the write
    assert client.cont() == SyscallExit(4004, entry.thread, 13)
    client.catch_syscalls(False)
    assert isinstance(client.cont(), Exited)
    assert server.output() == "hello, world\n"


def test_interrupt_and_kill(client: SyncClient) -> None:
    client.run("/bin/loop")
    client.resume()
    with pytest.raises(UsageError):
        client.read_register("pc")  # all-stop: not while it runs
    client.interrupt()
    stop = client.wait(timeout=30)
    assert isinstance(stop, Stopped) and stop.signal == SIGINT
    assert client.read_u32(symbols("/bin/loop")["counter"]) > 0
    pid = client.pid
    client.kill()
    assert client.pid is None
    assert pid not in [t.pid for t in client.threads()]


def test_attach_and_detach(server: ServerProcess, client: SyncClient) -> None:
    counter = symbols("/bin/loop")["counter"]
    client.run("/bin/loop")
    pid = client.pid
    assert pid is not None
    client.detach()  # runs on, undebugged
    with SyncClient.connect(server.address) as other:
        stop = other.attach(pid)
        assert stop.signal == SIGSTOP and other.pid == pid
        assert re.search(rf"{pid} .* stopped .* /bin/loop", other.monitor("ps"))
        seen = other.read_u32(counter)
        other.detach()
    assert "stopped" not in client.monitor("ps")  # running again
    client.attach(pid)
    assert client.read_u32(counter) >= seen
    client.kill()
    assert str(pid) not in client.monitor("ps").split("\n", 2)[-1]


def test_unix_socket_and_errors() -> None:  # and the in-process server
    path = os.path.join(tempfile.mkdtemp(), "afgdb.sock")
    with ServerThread(unix=path) as srv, SyncClient.connect(srv.address) as c:
        assert srv.address == path
        with pytest.raises(UsageError):
            c.kill()  # no process yet
        with pytest.raises(RemoteError) as err:
            c.run("/bin/no-such-program")
        assert "no-such-program" in str(err.value)
        c.run("/bin/hello")
        with pytest.raises(UsageError):
            c.read_register("xyz")
        with pytest.raises(RemoteError):
            c.read_memory(0, 4)
        pid = c.pid
        assert c.cont() == Exited(0, pid)
        assert srv.output() == "hello, world\n"


@pytest.mark.anyio
async def test_async_client(server: ServerProcess) -> None:
    async with await Client.connect(server.address) as c:
        await c.run("/bin/args", "one", "two")
        await c.catch_syscalls([4004])
        writes = []
        async for ev in c.events():
            if isinstance(ev, SyscallEntry):
                writes.append(await c.read_memory(ev.args[1], ev.args[2]))
        assert b"".join(writes) == server.output().encode()
        assert b"two" in b"".join(writes)


@pytest.mark.parametrize("reply, event", [
    (b"T05thread:p2.2;25:80054000;swbreak:;core:0;",
     Stopped(5, ThreadId(2, 2), "swbreak", None, 0x400580)),
    (b"T05hwbreak:;thread:3;", Stopped(5, ThreadId(0, 3), "hwbreak")),
    (b"T05awatch:4a1000;thread:p2.2;", Stopped(5, ThreadId(2, 2), "awatch", 0x4a1000)),
    (b"T05library:;thread:p2.2;", Stopped(5, ThreadId(2, 2), "library")),
    (b"T05create:;thread:p2.3;", Stopped(5, ThreadId(2, 3), "create")),
    (b"T05fork:p3.3;thread:p2.2;", Forked(ThreadId(3, 3), ThreadId(2, 2))),
    (b"T05vfork:p3.3;thread:p2.2;", Forked(ThreadId(3, 3), ThreadId(2, 2), vfork=True)),
    (b"T05vforkdone:;thread:p2.2;", VforkDone(ThreadId(2, 2))),
    (b"T05exec:2f62696e2f68656c6c6f;thread:p2.2;", Execd("/bin/hello", ThreadId(2, 2))),
    (b"T05syscall_entry:fa4;thread:p2.2;", SyscallEntry(4004, ThreadId(2, 2))),
    (b"T05syscall_return:fa4;thread:p2.2;", SyscallExit(4004, ThreadId(2, 2))),
    (b"T10thread:p2.2;", Stopped(21, ThreadId(2, 2))),  # gdb's SIGURG (16) is 21 on MIPS
    (b"T1ethread:p2.2;", Stopped(16, ThreadId(2, 2))),  # gdb's SIGUSR1 (30) is 16 on MIPS
    (b"S02", Stopped(2)),
    (b"W00", Exited(0)),
    (b"W01;process:2a", Exited(1, 42)),
    (b"X0b;process:2", Killed(11, 2)),
    (b"w00;p2.3", ThreadExited(0, ThreadId(2, 3))),
    (b"N", NoResumed()),
])
def test_parse_stop_reply(reply: bytes, event: object) -> None:
    assert parse_stop_reply(reply) == event
