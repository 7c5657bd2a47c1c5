"""A kernel panic dumps the whole machine as an ELF core that gdb-multiarch opens with
the kernel symbol file: every LWP of every process and the system LWPs, kernel data."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from corpus_util import fresh_root

from afgdb.machine.kernel import kern_panic, kmem
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel

GDB = shutil.which("gdb-multiarch")


def _busy_machine(root: Path) -> Kernel:
    k = Kernel(str(root), stdout=BufferStream(1), stderr=BufferStream(1))
    k.spawn("/bin/threads", ["/bin/threads"])
    k.spawn("/bin/loop", ["/bin/loop"])
    k.run(400_000)
    return k


@pytest.mark.skipif(GDB is None, reason="needs gdb-multiarch")
def test_panic_dump_lists_every_lwp_and_reads_kernel_data(tmp_path: Path) -> None:
    with fresh_root() as root:
        k = _busy_machine(root)
        where = kern_panic.panic(k, "test panic")
        assert where.endswith("/var/crash/vmcore.0")
        km = kmem.attach(k)
        want = sorted(km.get(a, km.L, "l_tid") for a in km.lwp_addrs())
        users = sorted(kmem.thread_id(p.pid, t.lid) for p in {id(p): p for p in
                       k.procs.values()}.values() for t in p.live_lwps())
        assert set(users) <= set(want) and len(want) > len(users)  # system LWPs too
        out = subprocess.run(
            [GDB, "-nx", "-batch", "-ex", f"file {kmem.SYMBOL_FILE}", "-ex", f"core-file {where}",
             "-ex", "info threads", "-ex", "p hostname", "-ex", "p allproc.lh_first->p_pid"],
            capture_output=True, text=True, timeout=120).stdout
    assert "Program terminated with signal SIGABRT" in out
    assert "panic: test panic" in out
    shown = sorted(int(n) for n in re.findall(r"^\*?\s+\d+\s+LWP (\d+)", out, re.M))
    assert shown == want
    assert "mi_switch" in out  # system LWPs stopped in the scheduler
    assert '"afgdb"' in out


def test_panic_without_cored_keeps_numbered_dumps(tmp_path: Path) -> None:
    with fresh_root() as root:
        k = _busy_machine(root)
        first = kern_panic.panic(k, "one")
        second = kern_panic.panic(k, "two")
        assert first.endswith("vmcore.0") and second.endswith("vmcore.1")
        assert Path(second).read_bytes()[:4] == b"\x7fELF"
