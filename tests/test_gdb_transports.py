"""Transports and process control: stdio pipe, unix socket, attach/detach, disconnect rules."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tempfile
import time

import pytest
from gdb_session import GDB, REPO, ROOT, AfgdbServer, Gdb

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


def test_stdio_pipe_transport() -> None:
    cmd = f"{sys.executable} -m afgdb serve --stdio --root {ROOT} /bin/gdbdemo"
    with Gdb(f"cd {REPO}") as gdb:
        out = gdb.run(f"target remote | {cmd}")
        assert "Reading symbols from target:/bin/gdbdemo" in out
        gdb.run("break add_step")
        stop = gdb.cont()
        assert stop.func == "add_step"
        gdb.run("delete")
        stop = gdb.cont()
        assert stop.exit_code == 0



def test_unix_socket_is_private() -> None:
    path = os.path.join(tempfile.mkdtemp(), "afgdb.sock")
    proc = subprocess.Popen([sys.executable, "-m", "afgdb", "serve", "--unix", path,
                             "--root", ROOT, "/bin/hello"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        while "listening on" not in proc.stderr.readline().decode():
            pass
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with Gdb() as gdb:
            gdb.connect(path)
            stop = gdb.cont()
            assert stop.exit_code == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_attach_detach_and_process_runs_on() -> None:
    with AfgdbServer() as srv:
        with Gdb() as gdb:
            gdb.connect(srv.address)
            gdb.run("set remote exec-file /bin/loop")
            gdb.run("set args 3000000")
            gdb.go("starti")
            pid = int(re.search(r"process (\d+)", gdb.run("info inferiors")).group(1))
            assert "Detaching from program" in gdb.run("detach")
        with Gdb() as gdb:
            gdb.connect(srv.address)
            assert str(pid) in gdb.run("info os processes")
            out = gdb.run(f"attach {pid}")
            assert f"Attaching to process {pid}" in out
            assert "loop.c" in gdb.run("bt") or "tick" in gdb.run("bt")
            first = int(gdb.value("counter"))
            assert 0 < first < 3000000
            gdb.run("detach")
        deadline = time.monotonic() + 60
        while "counter=3000000" not in srv.output():
            assert time.monotonic() < deadline, srv.output()
            time.sleep(0.1)


def test_disconnect_kills_a_created_process() -> None:
    with AfgdbServer("/bin/loop") as srv:
        with Gdb() as gdb:
            gdb.connect(srv.address)
            ps = gdb.run("monitor ps")
            assert "/bin/loop" in ps
        with Gdb() as gdb:
            gdb.connect(srv.address)
            assert "/bin/loop" not in gdb.run("monitor ps")
