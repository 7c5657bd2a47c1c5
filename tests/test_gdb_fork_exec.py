"""gdb-multiarch over extended-remote: run through the launcher, fork/vfork/exec events,
attach and detach, catch syscall (issue 6, "Must show")."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from gdb_session import GDB, AfgdbServer, Gdb

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


def wait_output(srv: AfgdbServer, text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = srv.output()
        if text in out:
            return out
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the guest output:\n{srv.output()}")


def test_run_starts_through_the_launcher_and_breaks_at_main() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/gdbdemo")
        gdb.run("break main")
        stop = gdb.go("run")
        assert (stop.reason, stop.func) == ("breakpoint-hit", "main")
        # The process is the launcher's pid, exec'd: no longer the launcher.
        assert "gdbdemo" in gdb.run("monitor ps")
        assert "launcher" not in gdb.run("monitor ps")


def test_catch_exec_and_detach_on_fork_off_show_both_inferiors() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/forkexec")
        gdb.run("set detach-on-fork off")
        gdb.run("set follow-fork-mode child")
        assert "Catchpoint 1 (exec)" in gdb.run("catch exec")
        stop = gdb.go("run")
        assert stop.reason == "exec"
        assert stop.record["new-exec"] == "/bin/hello"
        assert "is executing new program: /bin/hello" in stop.console + gdb.drain()
        inferiors = gdb.run("info inferiors")
        rows = re.findall(r"^\*?\s+(\d+)\s+process (\d+)", inferiors, re.M)
        assert len(rows) == 2, inferiors
        assert "target:/bin/forkexec" in inferiors and "target:/bin/hello" in inferiors
        stop = gdb.cont()
        assert stop.reason == "exited-normally"
        assert "hello, world" in wait_output(srv, "hello, world")


def test_follow_fork_child_reaches_a_breakpoint_in_the_child() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/forkexec")
        gdb.run("set follow-fork-mode child")
        gdb.run("break child_work")
        stop = gdb.go("run")
        assert (stop.reason, stop.func) == ("breakpoint-hit", "child_work")
        assert gdb.value("x") == "13"
        assert "[Attaching after" in stop.console + gdb.drain()
        assert "target:/bin/forkexec" in gdb.run("info inferiors")
        stop = gdb.cont()
        assert stop.reason == "exited-normally"
        # The parent was detached and carried on: it reaped the child and said so.
        wait_output(srv, "forkexec: child exited with 0")


def test_catch_fork_and_vfork() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/forkexec", "-v")
        gdb.run("catch vfork")
        stop = gdb.go("run")
        assert stop.reason == "vfork", stop.record
        stop = gdb.cont()
        assert stop.reason == "exited-normally", stop.record
        wait_output(srv, "forkexec: child exited with 0")
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/forkexec")
        gdb.run("catch fork")
        stop = gdb.go("run")
        assert stop.reason == "fork", stop.record
        assert int(stop.record["newpid"]) > 0
        stop = gdb.cont()
        assert stop.reason == "exited-normally"
        wait_output(srv, "forkexec: child exited with 0")


def test_catch_syscall_write() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.start("/bin/hello")
        gdb.run("catch syscall write")
        stop = gdb.go("run")
        assert stop.reason == "syscall-entry", stop.record
        assert stop.record["syscall-name"] == "write"
        assert gdb.value("$a0") == "1"
        stop = gdb.cont()
        assert stop.reason == "syscall-return"
        assert "hello, world" in wait_output(srv, "hello, world")
        stop = gdb.cont()
        assert stop.reason == "exited-normally"


def test_attach_to_a_spinning_process_inspect_detach_and_it_finishes() -> None:
    with AfgdbServer() as srv, Gdb() as starter, Gdb() as gdb:
        # One debugger starts /bin/loop and lets it go: it spins, undebugged.
        starter.connect(srv.address)
        starter.start("/bin/loop", "3000000")
        starter.run("break main")
        starter.go("run")
        pid = int(starter.value("(int)getpid()"))
        starter.run("delete")
        starter.run("detach")
        # Another attaches to it while it runs: every thread stops; inspect; detach.
        gdb.connect(srv.address)
        out = gdb.run(f"attach {pid}")
        assert f"Attaching to process {pid}" in out + gdb.drain()
        assert "target:/bin/loop" in gdb.run("info inferiors")
        counter = int(gdb.value("counter"))
        assert 0 < counter < 3000000
        assert int(gdb.value("counter")) == counter  # stopped: it does not move
        assert "main" in gdb.run("bt") or "tick" in gdb.run("bt")
        gdb.run("detach")
        wait_output(srv, "counter=3000000")


def test_connect_pid_bridges_to_the_process_and_a_second_debugger_is_refused() -> None:
    with AfgdbServer() as srv, Gdb() as starter, Gdb() as gdb:
        starter.connect(srv.address)
        starter.start("/bin/loop", "3000000")
        starter.run("break main")
        starter.go("run")
        pid = int(starter.value("(int)getpid()"))
        starter.run("delete")
        starter.run("detach")
        out = gdb.run(f"target remote | {sys.executable} -m afgdb connect {pid} "
                      f"--server {srv.address}")
        assert "Reading symbols from target:/bin/loop" in out
        assert 0 < int(gdb.value("counter")) < 3000000
        second = subprocess.run([sys.executable, "-m", "afgdb", "connect", str(pid),
                                 "--server", srv.address], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=60)
        assert second.returncode == 1
        assert f"process {pid} is already debugged by gdb@" in second.stderr
        gdb.run("detach")
        wait_output(srv, "counter=3000000")
