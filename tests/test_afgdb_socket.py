"""AF_GDB sockets (issue 6): Python replacing ptrace, the guest debugger, permissions.

``socket(AF_GDB, SOCK_STREAM, pid)`` gives a byte stream speaking RSP to the
stub of process pid: from Python (afgdb.socketfamily) and from a MIPS
program in the machine (/bin/gdbsock, over the o32 socket system call).
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys

import anyio
import pytest

from afgdb import rsp, socketfamily
from afgdb.cli import default_root
from afgdb.machine.kernel import kern_launch
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.socketfamily import AF_GDB, SOCK_STREAM
from afgdb.stub import Session
from afgdb.targets.system import System

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PipeOut(BufferStream):
    """Captured output that is a pipe, as for `afgdb run` under subprocess (stdio buffers
    the same way, so the system calls are the same)."""

    def isatty(self) -> bool:
        return False

    def stat(self) -> os.stat_result | None:
        from afgdb.machine.kernel.sys_pipe import fake_stat

        return fake_stat(0o10600, 1, 0)


def machine() -> tuple[Kernel, BufferStream]:
    out = PipeOut(1)
    k = Kernel(default_root(), stdin=PipeOut(0), stdout=out, stderr=out)
    k.log = lambda msg: None
    socketfamily.install(k)
    return k, out


def child(k: Kernel, path: str, *args: str) -> int:
    """A process about to exec path (the launcher `run` uses), not yet running."""
    p = kern_launch.fork_launcher(k, path, [path.encode()] + [a.encode() for a in args],
                                  [b"PATH=/bin"])
    return p.pid


def trace_syscalls(program: str, *args: str) -> list[str]:
    """The system call names `afgdb run --trace-syscalls` prints for program."""
    r = subprocess.run([sys.executable, "-m", "afgdb", "run", "--trace-syscalls", program,
                        *args], capture_output=True, text=True, cwd=REPO, timeout=300)
    return re.findall(r"^\d+ (\w+)\(", r.stderr, re.M)


@pytest.mark.parametrize("program", [("/bin/hello",), ("/bin/args", "one", "two")])
def test_python_replaces_ptrace_exec_then_every_syscall(program: tuple[str, ...]) -> None:
    from afgdb.machine.kernel.syscalls import TABLE

    k, out = machine()
    pid = child(k, *program)
    with socketfamily.socket(AF_GDB, SOCK_STREAM, pid, machine=k) as s:
        assert b"exec-events+" in s.request(b"qSupported:multiprocess+;exec-events+")
        assert s.request(b"?").startswith(b"T11")  # connecting stopped it (SIGSTOP)
        stop = s.request(b"vCont;c")
        assert stop.startswith(b"T05")
        assert b"exec:" + rsp.hex_encode(program[0].encode()) + b";" in stop
        assert s.request(b"QCatchSyscalls:1") == b"OK"
        names = []
        while True:
            stop = s.request(b"vCont;c")
            if stop[:1] in (b"W", b"X"):
                break
            m = re.search(rb"syscall_entry:([0-9a-f]+);", stop)
            if m:
                names.append(TABLE[int(m.group(1), 16)].name)
        assert stop.startswith(b"W00")
    assert names == trace_syscalls(*program)
    assert names[-1] == "exit_group" and "write" in names
    assert out.out.decode().startswith("hello, world" if program[0] == "/bin/hello" else "argc")


def test_vrun_forks_a_launcher_and_replies_with_its_exec() -> None:
    k, _ = machine()
    system = System(k)
    sess = Session(system, name="test")
    conn = rsp.Connection(rsp.CLIENT)

    def request(payload: bytes) -> bytes:
        back = sess.receive(conn.send_packet(payload))
        while True:
            conn.feed(back)
            while (ev := conn.next_event()) is not rsp.NEED_DATA:
                if isinstance(ev, rsp.Packet):
                    return ev.data
            k.run(50_000)
            back = sess.poll()

    request(b"qSupported:multiprocess+;exec-events+")
    assert request(b"!") == b"OK"
    reply = request(b"vRun;" + rsp.hex_encode(b"/bin/hello"))
    assert reply.startswith(b"T05"), reply
    assert b"exec:" + rsp.hex_encode(b"/bin/hello") in reply
    (pid,) = sess.targets
    p = k.proc_of(pid)
    assert p is not None and p.ppid == 1 and p.exe == "/bin/hello"
    assert request(b"vRun;" + rsp.hex_encode(b"/no/such")).startswith(b"E")


def test_guest_debugger_program_output() -> None:
    k, out = machine()
    p = k.spawn("/bin/gdbsock", ["gdbsock"], [])
    assert k.run_until_exit(p) == 0
    text = out.out.decode()
    lines = [line for line in text.splitlines() if line.startswith("gdbsock:")]
    child_pid = p.pid + 1
    assert lines[:4] == [
        f"gdbsock: connected to pid {child_pid}",
        "gdbsock: exec events supported",
        "gdbsock: child stopped (T11)",
        "gdbsock: exec /bin/hello, stopped at pc 0x400580",
    ]
    assert re.fullmatch(r"gdbsock: step 1: pc 0x400584", lines[4])
    assert all(line.startswith("gdbsock: step") for line in lines[4:7])
    calls = [int(x) for x in re.findall(r"^gdbsock: syscall (\d+)$", text, re.M)]
    names = trace_syscalls("/bin/hello")
    assert len(calls) == len(names)
    assert calls[-2:] == [4004, 4246]  # write, exit_group
    assert f"gdbsock: {len(names)} system calls, then exit status 0" in lines
    assert lines[-1] == f"gdbsock: child {child_pid} reaped, status 0"
    assert "hello, world" in text


def test_second_debugger_is_refused_naming_the_holder() -> None:
    k, out = machine()
    loop = k.spawn("/bin/loop", ["loop"], [])
    k.run(100_000)
    with socketfamily.socket(AF_GDB, SOCK_STREAM, loop.pid, machine=k, owner="first") as s:
        s.request(b"?")
        with pytest.raises(OSError) as e:
            socketfamily.socket(AF_GDB, SOCK_STREAM, loop.pid, machine=k)
        assert e.value.errno == errno.EBUSY
        assert "already debugged by first" in str(e.value)
        # A guest debugger (root) is refused too, at once: EBUSY, no hang.
        g = k.spawn("/bin/gdbsock", ["gdbsock", "-p", str(loop.pid)], [])
        k.run_until_exit(g)
        assert (f"socket(AF_GDB, SOCK_STREAM, {loop.pid}): Device or resource busy"
                in out.out.decode())
    # Closed: detached; now a guest root debugger may attach (and detach again).
    g = k.spawn("/bin/gdbsock", ["gdbsock", "-p", str(loop.pid)], [])
    k.run_until_exit(g)
    assert f"gdbsock: attached to pid {loop.pid} (T11)" in out.out.decode()
    assert "gdbsock: detached (OK)" in out.out.decode()


def test_non_root_guest_cannot_debug_another_uids_process() -> None:
    k, out = machine()
    loop = k.spawn("/bin/loop", ["loop"], [], uid=0)
    mine = k.spawn("/bin/loop", ["loop"], [], uid=1000, gid=1000)
    k.run(100_000)
    g = k.spawn("/bin/gdbsock", ["gdbsock", "-p", str(loop.pid)], [], uid=1000, gid=1000)
    assert k.run_until_exit(g) == 1 << 8
    assert (f"socket(AF_GDB, SOCK_STREAM, {loop.pid}): Operation not permitted"
            in out.out.decode())
    g = k.spawn("/bin/gdbsock", ["gdbsock", "-p", str(mine.pid)], [], uid=1000, gid=1000)
    assert k.run_until_exit(g) == 0
    assert f"gdbsock: attached to pid {mine.pid}" in out.out.decode()
    # Python callers follow the same rules; setuid-changed processes are root's only.
    with pytest.raises(OSError) as e:
        socketfamily.socket(AF_GDB, SOCK_STREAM, loop.pid, machine=k, uid=1000)
    assert e.value.errno == errno.EPERM and "only the same uid or root" in str(e.value)
    mine.setuid_changed = True
    with pytest.raises(OSError) as e:
        socketfamily.socket(AF_GDB, SOCK_STREAM, mine.pid, machine=k, uid=1000)
    assert e.value.errno == errno.EPERM and "setuid" in str(e.value)
    socketfamily.socket(AF_GDB, SOCK_STREAM, mine.pid, machine=k, uid=0).close()


def test_anyio_stream_to_the_same_stub() -> None:
    k, out = machine()

    async def main() -> bytes:
        pid = child(k, "/bin/hello")
        stream = await socketfamily.open_stream(k, pid)
        conn = rsp.Connection(rsp.CLIENT)

        async def request(payload: bytes) -> bytes:
            await stream.send(conn.send_packet(payload))
            while True:
                ev = conn.next_event()
                if ev is rsp.NEED_DATA:
                    conn.feed(await stream.receive())
                elif isinstance(ev, rsp.Packet):
                    await stream.send(conn.data_to_send())
                    return ev.data

        await request(b"qSupported:multiprocess+;exec-events+")
        assert (await request(b"vCont;c")).startswith(b"T05")
        last = await request(b"vCont;c")
        await stream.aclose()
        return last

    assert anyio.run(main).startswith(b"W00")
    assert out.out == b"hello, world\n"
