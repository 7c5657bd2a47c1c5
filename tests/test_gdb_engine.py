"""What the block engine must keep exact under a debugger: breakpoints inserted into
code that is already translated and hot, and single steps that count instructions."""

from __future__ import annotations

import pytest
from gdb_session import GDB, QEMU, ROOT, AfgdbServer, Gdb, QemuServer

pytestmark = pytest.mark.skipif(GDB is None, reason="needs gdb-multiarch")


def test_breakpoint_inside_a_hot_translated_loop() -> None:
    with AfgdbServer("/bin/loop") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.mi("-exec-continue")
        stop = gdb.interrupt()  # the loop has run long enough to be translated
        assert stop.signal == "SIGINT"
        assert int(gdb.value("counter")) > 1000
        gdb.run("break tick")
        stop = gdb.cont()
        assert stop.reason == "breakpoint-hit" and stop.func == "tick"
        before = int(gdb.value("counter"))
        stop = gdb.cont()
        assert stop.func == "tick"
        assert int(gdb.value("counter")) == before + 1  # exactly one iteration in between
        gdb.run("delete")
        gdb.mi("-exec-continue")
        stop = gdb.interrupt()  # and with the breakpoint gone the loop runs freely again
        assert int(gdb.value("counter")) > before + 1000


def _stepi_trace(gdb: Gdb) -> list[tuple[int, int]]:
    gdb.run("break tick")
    gdb.cont()
    out = []
    for _ in range(25):
        gdb.go("stepi")
        out.append((int(gdb.value("/x $pc"), 16), int(gdb.value("/x $v0"), 16)))
    return out


@pytest.mark.skipif(QEMU is None, reason="needs qemu-mipsel")
def test_stepi_walks_the_same_path_as_under_qemu() -> None:
    program = f"{ROOT}/bin/loop"
    with QemuServer("/bin/loop", "5") as q, Gdb(f"file {program}") as gdb:
        gdb.connect(q.address, extended=False)
        theirs = _stepi_trace(gdb)
    with AfgdbServer("/bin/loop", "5") as srv, Gdb(f"file {program}") as gdb:
        gdb.connect(srv.address)
        ours = _stepi_trace(gdb)
    assert ours == theirs
