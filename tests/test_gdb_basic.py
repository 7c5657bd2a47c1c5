"""gdb-multiarch against `afgdb serve`: the sessions a user types (issue 5, "Must show")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from gdb_session import GDB, AfgdbServer, Gdb

from afgdb.machine.cpu.state import FIR_VALUE

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


@pytest.fixture
def demo() -> Iterator[tuple[AfgdbServer, Gdb]]:
    """gdbdemo created stopped at its entry, gdb connected (it loads the program over vFile)."""
    with AfgdbServer("/bin/gdbdemo") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        yield srv, gdb


def test_connect_loads_program_over_vfile_without_file_command() -> None:
    with AfgdbServer("/bin/gdbdemo") as srv, Gdb() as gdb:
        out = gdb.connect(srv.address)
        assert "Reading symbols from target:/bin/gdbdemo" in out
        assert "0x004006c0 in __start ()" in out
        assert "Architecture:" not in out
        assert "mips:isa32r2" in gdb.run("show architecture")
        assert "target:/bin/gdbdemo" in gdb.run("info inferiors")


def test_break_main_continue_bt_with_arguments(demo: tuple[AfgdbServer, Gdb]) -> None:
    srv, gdb = demo
    assert "Breakpoint 1 at 0x400538: file src/gdbdemo.c, line 41." in gdb.run("break main")
    stop = gdb.cont()
    assert (stop.reason, stop.func, stop.line) == ("breakpoint-hit", "main", 41)
    gdb.run("break add_step")
    stop = gdb.cont()
    assert stop.func == "add_step"
    bt = gdb.run("bt")
    assert re.search(r"#0 +add_step \(value=0, delta=1\) at src/gdbdemo.c:\d+", bt), bt
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at src/gdbdemo.c:44", bt), bt


def test_info_registers_and_fpu(demo: tuple[AfgdbServer, Gdb]) -> None:
    _, gdb = demo
    gdb.run("break scaled")
    gdb.cont()
    regs = gdb.run("info registers")
    for name in ("zero", "sp", "ra", "status", "lo", "hi", "badvaddr", "cause", "pc"):
        assert name in regs
    allregs = gdb.run("info all-registers")
    for name in ("f0", "f12", "f31", "fcsr", "fir", "restart"):
        assert re.search(rf"\b{name}\b", allregs), name
    # scaled(2.0, 3): the double 2.0 is the FR=0 pair f12 (low word) / f13 (high word).
    assert gdb.value("/x $f12") == "0x0"
    assert gdb.value("/x $f13") == "0x40000000"
    assert gdb.value("$f13") == "2"
    assert gdb.value("times") == "3"
    assert int(gdb.value("/x $fir"), 16) == FIR_VALUE
    assert "fpu type:" in gdb.run("info float")


def test_finish_prints_double_return_value(demo: tuple[AfgdbServer, Gdb]) -> None:
    _, gdb = demo
    # The shipped programs are built -mfp32: for the default -mfpxx gdb 13 picks no
    # FPU and reads doubles from v0/v1. No `set mipsfpu` is needed.
    gdb.run("break scaled")
    gdb.cont()
    stop = gdb.go("finish")
    assert stop.func == "main"
    text = stop.console + gdb.drain()
    assert "scaled (x=2, times=3)" in text  # the double argument, read from $f12/$f13
    assert "Value returned is $1 = 7" in text


def test_stepi_next_step_until(demo: tuple[AfgdbServer, Gdb]) -> None:
    _, gdb = demo
    gdb.run("break main")
    gdb.cont()
    pc0 = int(gdb.value("/x $pc"), 16)
    gdb.go("stepi")
    assert int(gdb.value("/x $pc"), 16) == pc0 + 4
    stop = gdb.go("next")
    assert stop.func == "main" and stop.line > 41
    for _ in range(6):  # -O2 line order: a few steps through main, then into the call
        stop = gdb.go("step")
        if stop.func != "main":
            break
    assert stop.func == "add_step"
    stop = gdb.go("finish")
    assert stop.func == "main"
    stop = gdb.go("until 45")
    assert (stop.func, stop.line) == ("main", 45)
    assert gdb.value("counter") == "120"


def test_print_structs_and_strings(demo: tuple[AfgdbServer, Gdb]) -> None:
    _, gdb = demo
    gdb.run("break rename_config")
    gdb.cont()
    assert gdb.value("config") == (
        '{name = "demo", \'\\000\' <repeats 11 times>, scale = 1.5, iterations = 120}')
    assert gdb.value("config.name") == '"demo", \'\\000\' <repeats 11 times>'
    assert gdb.value("name") .endswith('"big"')
    gdb.go("finish")
    assert gdb.value("config.name").startswith('"big"')
    assert gdb.value("history[0]") == "7"


def test_set_var_changes_program_output(demo: tuple[AfgdbServer, Gdb]) -> None:
    srv, gdb = demo
    gdb.run("break main")
    gdb.cont()
    gdb.run("set var step = 2")
    gdb.run("set var config.iterations = 10")
    stop = gdb.cont()
    assert stop.exit_code == 1  # counter != 120
    assert "counter=20 total=20 step=2" in srv.output()


def test_program_exit_status_reported(demo: tuple[AfgdbServer, Gdb]) -> None:
    srv, gdb = demo
    stop = gdb.cont()
    assert stop.exit_code == 0
    assert "name=big scale=1.5 s=7 h1=2.25" in srv.output()


def test_conditional_breakpoint_hit_100_times(demo: tuple[AfgdbServer, Gdb]) -> None:
    _, gdb = demo
    gdb.run("break add_step if counter == 99")  # evaluated at each of 100 hits
    stop = gdb.cont()
    assert stop.func == "add_step"
    assert gdb.value("counter") == "99"
    gdb.run("delete")
    gdb.run("break add_step")
    assert "Will ignore next 9 crossings of breakpoint 2." in gdb.run("ignore 2 9")
    gdb.cont()
    assert gdb.value("counter") == "109"
    assert "breakpoint already hit 10 times" in gdb.run("info breakpoints")


def test_watch_and_rwatch_on_globals(demo: tuple[AfgdbServer, Gdb]) -> None:
    _, gdb = demo
    gdb.run("break add_step")
    gdb.cont()
    gdb.run("delete")
    assert "Hardware watchpoint 2: counter" in gdb.run("watch counter")
    stop = gdb.cont()
    assert stop.reason == "watchpoint-trigger"
    assert stop.record["value"] == {"old": "0", "new": "1"}
    # The store is in the delay slot of add_step's `jr ra`: the target stops before
    # the branch, gdb steps over the pair and reports the stop back in main.
    assert stop.func == "main"
    stop = gdb.cont()
    assert stop.record["value"] == {"old": "1", "new": "2"}
    gdb.run("delete")
    assert "Hardware read watchpoint 3: step" in gdb.run("rwatch step")
    stop = gdb.cont()
    assert stop.reason == "read-watchpoint-trigger"
    assert stop.record["value"] == {"value": "1"}
    assert stop.func == "main"


def test_crash_stops_with_sigsegv_then_terminates() -> None:
    with AfgdbServer("/bin/crash") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        stop = gdb.cont()
        assert (stop.reason, stop.signal, stop.func) == ("signal-received", "SIGSEGV", "walk")
        assert "n->next->value = 42" in gdb.run("list 13,13")
        bt = gdb.run("bt")
        assert "#1" in bt and "main" in bt
        stop = gdb.cont()
        assert stop.reason == "exited-signalled" and stop.record["signal-name"] == "SIGSEGV"
        assert "about to crash" in srv.output()


def test_interrupt_infinite_loop_then_signal_0() -> None:
    with AfgdbServer("/bin/loop") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.mi("-exec-continue")
        stop = gdb.interrupt()
        assert stop.signal == "SIGINT"
        first = int(gdb.value("counter"))
        assert first > 0
        # `signal 0`: resume without delivering the SIGINT; the loop goes on.
        gdb.mi('-interpreter-exec console "signal 0 &"')
        stop = gdb.interrupt()
        assert stop.signal == "SIGINT"
        assert int(gdb.value("counter")) > first
        # Now deliver it: the default action ends the program.
        stop = gdb.go("signal SIGINT")
        assert stop.reason == "exited-signalled" and stop.record["signal-name"] == "SIGINT"


def test_threads_info_select_and_bt() -> None:
    with AfgdbServer("/bin/threads") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.run("break worker")
        stop = gdb.cont()
        assert stop.func == "worker"
        gdb.run("delete")
        gdb.run("break threads.c:29")  # inside the mutex: total += s
        stop = gdb.cont()
        threads = gdb.run("info threads")
        ids = re.findall(r"^\*?\s+(\d+)\s+Thread", threads, re.M)
        assert len(ids) >= 2, threads
        for n in ids:
            assert f"[Switching to thread {n} " in gdb.run(f"thread {n}")
            assert "#0" in gdb.run("bt")
        all_bt = gdb.run("thread apply all bt")
        assert all_bt.count("\nThread ") == len(ids)
        assert "worker" in all_bt
        gdb.run("delete")
        stop = gdb.cont()
        assert stop.exit_code == 0
        assert "finished=4" in srv.output()


def test_run_twice_in_one_session_extended_remote() -> None:
    with AfgdbServer() as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        gdb.run("set remote exec-file /bin/args")
        stop = gdb.go("run one two")
        assert stop.exit_code == 0
        stop = gdb.go("run three")
        assert stop.exit_code == 0
        out = srv.output()
        assert "argc=3\nargv[0]=/bin/args\nargv[1]=one\nargv[2]=two" in out
        assert "argc=2\nargv[0]=/bin/args\nargv[1]=three" in out


def test_monitor_and_info_os_processes() -> None:
    with AfgdbServer("/bin/gdbdemo") as srv, Gdb() as gdb:
        gdb.connect(srv.address)
        assert "monitor ps" in gdb.run("monitor help")
        ps = gdb.run("monitor ps")
        assert re.search(r"^\s+\d+\s+\d+\s+stopped\s+1\s+gdb@\S+\s+-\s+/bin/gdbdemo$", ps, re.M), ps
        procs = gdb.run("info os processes")
        assert "/bin/gdbdemo" in procs
