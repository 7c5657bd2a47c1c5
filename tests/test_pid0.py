"""pid 0: the kernel's structures in simulated memory, read by gdb through `afgdb connect 0`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
from gdb_session import GDB, REPO, ROOT, TIMEOUT, AfgdbServer, Gdb, GdbError

from afgdb.machine.kernel import kmem
from afgdb.machine.kernel.kernel import Kernel
from afgdb.stub.session import Session
from afgdb.targets.caps import TargetError
from afgdb.targets.kernel_pid0 import READ_ONLY, open_kernel

needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")


# ------------------------------------------------------------ the symbol file

def test_json_offsets_match_the_dwarf() -> None:
    pytest.importorskip("elftools")
    dwarf = kmem.SymbolFile.from_dwarf(kmem.SYMBOL_FILE)
    with open(kmem.LAYOUT_JSON) as f:
        shipped = json.load(f)
    assert dwarf.to_json() == shipped, "run `make -C afgdb/machine/kernel/ksym`"
    assert kmem.SymbolFile.from_json(shipped).structs == dwarf.structs


@pytest.mark.skipif(shutil.which("mipsel-linux-gnu-gcc") is None, reason="no cross compiler")
def test_symbol_file_rebuilds_identically(tmp_path: object) -> None:
    out = os.path.join(str(tmp_path), "ksym")
    shutil.copytree(os.path.join(kmem.KSYM_DIR), out)
    shutil.copytree(os.path.join(kmem.KSYM_DIR, "..", "include"),
                    os.path.join(str(tmp_path), "include"))
    os.unlink(os.path.join(out, "netbsd.sym"))
    subprocess.run(["make", "-s", "-C", out, "netbsd.sym"], check=True)
    with open(os.path.join(out, "netbsd.sym"), "rb") as a, open(kmem.SYMBOL_FILE, "rb") as b:
        assert a.read() == b.read()


# ---------------------------------------------------------- memory, in Python

def _walk_procs(km: kmem.KMem) -> list[tuple[int, str]]:
    out = []
    a = km.r32(km.sf.sym("allproc"))
    while a:
        out.append((km.get(a, km.P, "p_pid"), km.get(a, km.P, "p_comm")))
        a = km.get(a, km.P, "p_list.le_next")
    return out


def _live(k: Kernel) -> list[tuple[int, str]]:
    return sorted((p.pid, p.comm) for p in k.procs.values() if k.procs.get(p.pid) is p)


def test_memory_follows_fork_exec_and_exit() -> None:
    k = Kernel(ROOT, stdout=None)
    k.capture_stdio()
    km = kmem.attach(k)
    p = k.spawn("/bin/corpus/fork_wait", ["fork_wait"])
    seen_child = False
    while p.alive:
        k.run(3000)
        assert sorted(_walk_procs(km)) == sorted(_live(k) + [(0, "system")])
        seen_child |= any(q.ppid == p.pid for q in k.procs.values())
        lwps = {km.get(a, km.L, "l_tid") for a in km.lwp_addrs()}
        want = {kmem.thread_id(t.proc.pid, t.lid) for q in k.procs.values()
                for t in q.live_lwps()} | set(range(1, 9))
        assert lwps == want
    k.run(100_000)
    assert seen_child
    assert sorted(_walk_procs(km)) == [(0, "system"), (1, "init")]
    free = km.get(km.sf.sym("physmem"), km.sf.structs["uvm_physmem"], "pm_free")
    k2 = Kernel(ROOT)
    fresh = kmem.attach(k2)
    assert free == fresh.get(fresh.sf.sym("physmem"), fresh.sf.structs["uvm_physmem"],
                             "pm_free")  # kernel stacks went back; pools keep their pages


def test_pid0_is_root_only_and_refuses_changes() -> None:
    k = Kernel(ROOT)
    with pytest.raises(TargetError, match="only root"):
        open_kernel(k, 1000)
    kt = open_kernel(k, 0)
    s = Session(kt, targets=(kt,), multiprocess_ok=False)
    from test_stub_packets import Client

    c = Client(s)
    c.ask(b"qSupported:multiprocess+;error-message+")
    for pkt in (b"M80102000,1:41", b"X80102000,0:", b"G00", b"P2=00000000", b"c", b"s",
                b"vCont;c", b"Z0,80100028,4", b"Z2,80102000,4"):
        assert c.ask(pkt) == b"E." + READ_ONLY.encode(), pkt
    assert c.ask(b"m80102000,5") == b"afgdb".hex().encode()
    assert c.ask(b"qXfer:exec-file:read::0,100") == b"l/netbsd"
    assert c.ask(b"vFile:open:" + b"/netbsd".hex().encode() + b",1,0").startswith(b"F-1")
    assert c.ask(b"vFile:open:" + b"/etc/passwd".hex().encode() + b",0,0").startswith(b"F-1")


# ------------------------------------------------------------------ with gdb

class KernelServer(AfgdbServer):
    """`afgdb serve` with a kernel socket; `gdb_command` reaches its pid 0."""

    def __init__(self, *program: str) -> None:
        self.kdir = tempfile.mkdtemp(prefix="afgdb-k-")
        self.ksock = os.path.join(self.kdir, "kernel.sock")
        super().__init__(*program, extra=("--kernel-socket", self.ksock))

    @property
    def pid0(self) -> str:
        return f"target remote | {sys.executable} -m afgdb connect 0 --server {self.ksock}"


@pytest.fixture
def server() -> Iterator[KernelServer]:
    with KernelServer() as srv:
        yield srv


def _threads(text: str) -> dict[int, tuple[int, str, str]]:
    """gdb's `info threads` -> {gdb number: (thread id, name, extra)}."""
    out = {}
    for m in re.finditer(r"^\*?\s+(\d+)\s+Thread (\d+) \"([^\"]*)\" \(([^)]*)\)", text, re.M):
        out[int(m.group(1))] = (int(m.group(2)), m.group(3), m.group(4))
    return out


@needs_gdb
def test_gdb_reads_the_kernel(server: KernelServer) -> None:
    with Gdb(f"cd {REPO}") as user, Gdb(f"cd {REPO}") as kgdb:
        user.connect(server.address)
        user.run("set remote exec-file /bin/threads")
        user.run("file target:/bin/threads")
        user.run("break worker")
        user.go("run")
        user_threads = {}
        for m in re.finditer(r"^\*?\s+(\d+)\s+Thread (\d+)\.(\d+)", user.run("info threads"),
                             re.M):
            user_threads[int(m.group(3))] = (int(m.group(1)), int(m.group(2)))
        assert len(user_threads) >= 2

        out = kgdb.run(server.pid0)
        assert "Reading symbols from target:/netbsd" in out
        threads = _threads(kgdb.run("info threads"))
        names = [name for _, name, _ in threads.values()]
        for sysname in ("swapper", "idle/0", "softclk/0", "softbio/0", "softnet/0",
                        "softser/0", "reaper", "coredhandoff"):
            assert names.count(sysname) == 1, names
        ids = [tid for tid, _, _ in threads.values()]
        assert len(set(ids)) == len(ids)
        pid = next(iter(user_threads.values()))[1]
        mine = {tid & 0xFFFF: n for n, (tid, name, _) in threads.items() if tid >> 16 == pid}
        assert set(mine) == set(user_threads), (mine, user_threads)
        assert all(threads[n][1] == "threads" for n in mine.values())

        # The process list, walked in memory.
        assert kgdb.value("allproc.lh_first->p_pid") == str(pid)
        assert kgdb.value("allproc.lh_first->p_comm").startswith('"threads')
        assert "p_stat = SACTIVE" in kgdb.value("*allproc.lh_first")
        assert kgdb.value("allproc.lh_first->p_list.le_next->p_comm").startswith('"init')
        assert kgdb.value("allproc.lh_first->p_pptr->p_pid") == "1"
        assert kgdb.value("proc0.p_lwps.lh_first->l_name").startswith('"swapper')
        assert 'x/s' and '"afgdb"' in kgdb.run("x/s hostname")
        assert kgdb.value("lwp0.l_stat") == "LSONPROC"
        assert kgdb.value("cpu_info_store.ci_idlelwp->l_name").startswith('"idle/0')
        assert kgdb.value("softints[2].si_lwp->l_name").startswith('"softnet/0')
        assert kgdb.value("physmem.pm_npages") == "8192"
        assert "struct lwp {" in kgdb.run("ptype struct lwp")

        # Each user LWP's registers on pid 0 are those its own debugger sees.
        for lid, (unum, _) in user_threads.items():
            user.run(f"thread {unum}")
            want = user.registers(["pc", "sp", "ra", "a0", "v0"])
            kgdb.run(f"thread {mine[lid]}")
            assert kgdb.registers(["pc", "sp", "ra", "a0", "v0"]) == want, lid
            assert "sp " in kgdb.run("info registers")
        # A system LWP: switched out in mi_switch, called from its thread function.
        soft = next(n for n, (_, name, _) in threads.items() if name == "softnet/0")
        kgdb.run(f"thread {soft}")
        bt = kgdb.run("bt")
        assert "mi_switch" in bt and "softint_thread" in bt

        # Read-only, and the session survives every refusal.
        with pytest.raises(GdbError, match="memory|read-only"):
            kgdb.run("set var hostname[0] = 'X'")
        kgdb.run("break idle_loop")
        assert "Cannot insert breakpoint 1" in _refused_continue(kgdb)
        kgdb.run("delete")
        assert READ_ONLY in _refused_continue(kgdb)  # gdb warns and stays stopped
        assert "mi_switch" in kgdb.run("frame")
        assert '"afgdb"' in kgdb.run("x/s hostname")
        assert kgdb.value("allproc.lh_first->p_pid") == str(pid)

        # The machine runs on; pid 0 follows forks and exits.
        user.run("delete")
        assert user.cont().exit_code == 0
        user.run("set remote exec-file /bin/corpus/fork_wait")
        user.run("file target:/bin/corpus/fork_wait")
        user.run("break waitpid")
        assert user.go("run").func == "waitpid"  # its child has been forked
        procs = _proc_list(kgdb)
        fw = [p for p, comm in procs if comm == "fork_wait"]
        assert len(fw) == 2, procs  # the parent and the child it forked
        assert pid not in [p for p, _ in procs]
        child = f"allproc.lh_first->p_pid == {max(fw)} ? allproc.lh_first : 0"
        _wait_for(lambda: kgdb.value(f"({child})->p_stat") == "SZOMB")  # exited, not reaped
        assert kgdb.value(f"({child})->p_xstat") == str(7 << 8)
        assert kgdb.value(f"({child})->p_lwps.lh_first").endswith(" 0x0")
        user.run("delete")
        assert user.cont().exit_code == 0
        _wait_for(lambda: _proc_list(kgdb) == [(1, "init"), (0, "system")])
        assert kgdb.value("nprocs") == "2"


def _refused_continue(g: Gdb) -> str:
    """`continue` on pid 0: what gdb printed until it gave up or stopped again."""
    g.ctl.write('-interpreter-exec console "continue"', read_response=False)
    text = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for r in g.ctl.get_gdb_response(timeout_sec=0.2, raise_error_on_timeout=False):
            if r.get("type") in ("console", "log") and r.get("payload"):
                text.append(str(r["payload"]))
            if (r.get("type") == "result" and r.get("message") == "error") or \
                    (r.get("type") == "notify" and r.get("message") == "stopped"):
                return "".join(text)
    raise AssertionError("gdb neither stopped nor failed: " + "".join(text))


def _proc_list(g: Gdb) -> list[tuple[int, str]]:
    out = []
    expr = "allproc.lh_first"
    for _ in range(64):
        if g.value(f"{expr} == 0") == "1":
            return out
        pid = int(g.value(f"{expr}->p_pid"))
        comm = re.match(r'"([^"\\]*)', g.value(f"{expr}->p_comm"))
        out.append((pid, comm.group(1) if comm else ""))
        expr += "->p_list.le_next"
    raise AssertionError("allproc does not end")


def _wait_for(cond: object) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@needs_gdb
def test_vattach_0_is_refused_and_names_the_command(server: KernelServer) -> None:
    with Gdb() as gdb:
        gdb.connect(server.address)
        with pytest.raises(GdbError, match="Attaching to process 0 failed"):
            gdb.run("attach 0")  # gdb 13 shows no E.text for vAttach; gdb does not die
        assert "process" not in gdb.run("info inferiors").split("\n", 1)[1]
    from test_stub_packets import Client

    from afgdb.targets.system import System

    c = Client(Session(System(Kernel(ROOT))))
    c.ask(b"qSupported:multiprocess+;error-message+")
    assert c.ask(b"!") == b"OK"
    assert b"afgdb connect 0" in c.ask(b"vAttach;0")


NOBODY = 65534


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
                    reason="needs root to run a client as another user")
def test_non_root_client_is_refused(server: KernelServer) -> None:
    os.chmod(server.kdir, 0o755)
    env = {"PYTHONPATH": REPO, "PATH": "/usr/bin:/bin"}
    r = subprocess.run(["/usr/bin/python3", "-m", "afgdb", "connect", "0", "--server",
                        server.ksock], user=NOBODY, env=env, cwd="/", input=b"$?#3f",
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 1 and b"only the server's owner" in r.stderr, r.stderr
    # Even through a socket it could open, the server checks the peer's uid.
    os.chmod(server.ksock, 0o666)
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
             "try:\n s.settimeout(20); s.sendall(b'$?#3f'); print(repr(s.recv(100)))\n"
             "except OSError as e: print('closed', e)")
    r = subprocess.run(["/usr/bin/python3", "-c", probe, server.ksock], user=NOBODY,
                       capture_output=True, timeout=TIMEOUT)
    out = r.stdout.strip()
    assert out == b"b''" or out.startswith(b"closed"), (r.stdout, r.stderr)
    # The owner is served.
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(server.ksock)
        s.sendall(b"$?#3f")
        s.settimeout(20)
        assert b"T05" in s.recv(100)
