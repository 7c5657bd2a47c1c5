"""Who may open AF_GDB to whom, and what pid 0 refuses: the permission matrix.

Guest callers (a MIPS program's ``socket(AF_GDB, SOCK_STREAM, pid)``) and
Python callers (`afgdb.socketfamily.socket`) against processes of root, of
the same uid, of another uid, a process that changed its credentials
(setresuid), pid 0, the caller itself and a pid that does not exist. Host
side: the sockets afgdb creates are 0600, pid 0's unix socket serves only the
server's owner (SO_PEERCRED), and TCP binds only loopback unless
``--allow-remote``."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_cored import running_cored, wait_for, write_config

from afgdb import socketfamily
from afgdb.cli import check_listen
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel
from afgdb.socketfamily import AF_GDB, SOCK_STREAM

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHIPPED = REPO / "afgdb" / "rootfs" / "root"
CC = shutil.which("mipsel-linux-gnu-gcc")
NOBODY = 65534
OK, EPERM, ESRCH = "ok", f"E{errno.EPERM}", f"E{errno.ESRCH}"

# target -> expected result for each caller (root, uid 1000, root that became 1000)
TARGETS = ["root", "same", "other", "setuid", "pid0", "self", "missing"]
EXPECT = {
    "root": dict(root=OK, same=OK, other=OK, setuid=OK, pid0=OK, self=EPERM, missing=ESRCH),
    "uid1000": dict(root=EPERM, same=OK, other=EPERM, setuid=EPERM, pid0=EPERM, self=EPERM,
                    missing=ESRCH),
    "setuid1000": dict(root=EPERM, same=OK, other=EPERM, setuid=EPERM, pid0=EPERM,
                       self=EPERM, missing=ESRCH),
}
# what pid 0 must refuse (anything that writes, resumes or kills)
PID0_REFUSED = [b"M80102000,1:41", b"X80102000,0:", b"G00", b"P2=00000000", b"c", b"s",
                b"vCont;c", b"Z0,80100028,4", b"Z2,80102000,4", b"vKill;0"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CC is None:
        pytest.skip("needs mipsel-linux-gnu-gcc")
    r = tmp_path_factory.mktemp("permroot")
    (r / "bin").mkdir()
    (r / "tmp").mkdir()
    shutil.copy2(SHIPPED / "bin" / "loop", r / "bin" / "loop")
    subprocess.run([CC, "-static", "-O2", "-I", str(REPO / "afgdb/machine/kernel/include"),
                    "-o", str(r / "bin" / "perm"), str(HERE / "perm_src" / "perm.c")],
                   check=True)
    return r


def test_af_gdb_permission_matrix(root: Path, figures: Any) -> None:
    out = BufferStream(1)
    k = Kernel(str(root), stdin=BufferStream(0), stdout=out, stderr=out)
    k.log = lambda msg: None
    socketfamily.install(k)
    targets = {
        "root": k.spawn("/bin/loop", ["loop"], [], uid=0),
        "same": k.spawn("/bin/loop", ["loop"], [], uid=1000, gid=1000),
        "other": k.spawn("/bin/loop", ["loop"], [], uid=1001, gid=1001),
        "setuid": k.spawn("/bin/perm", ["perm", "-u", "1000", "loop"], []),
    }
    k.run(2_000_000)
    assert targets["setuid"].setuid_changed and targets["setuid"].uid == 1000
    pids = {name: str(p.pid) for name, p in targets.items()}
    pids.update(pid0="0", self="self", missing="9999")
    got: dict[tuple[str, str], str] = {}
    order = [pids[t] for t in TARGETS]
    for caller, spawn in [("root", dict(uid=0)), ("uid1000", dict(uid=1000, gid=1000)),
                          ("setuid1000", dict(uid=0))]:
        argv = ["perm", "-u", "1000"] if caller == "setuid1000" else ["perm"]
        out.out.clear()
        p = k.spawn("/bin/perm", argv + ["probe", *order], [], **spawn)
        assert k.run_until_exit(p) == 0, out.out.decode()
        lines = dict(ln.split(" ", 1) for ln in out.out.decode().splitlines())
        for t in TARGETS:
            got[("guest " + caller, t)] = lines[pids[t]]
    for caller, uid in [("root", 0), ("uid1000", 1000)]:
        for t in TARGETS:
            if t == "self":
                continue  # a Python caller is no process of the machine
            try:
                socketfamily.socket(AF_GDB, SOCK_STREAM, int(pids[t]), machine=k,
                                    uid=uid).close()
                got[("python " + caller, t)] = OK
            except OSError as e:
                got[("python " + caller, t)] = f"E{e.errno}"
    want = {(c, t): EXPECT[c.split()[1]][t] for c, t in got}
    # One debugger per process: a second one, even root, gets EBUSY.
    with socketfamily.socket(AF_GDB, SOCK_STREAM, targets["same"].pid, machine=k, uid=1000):
        out.out.clear()
        p = k.spawn("/bin/perm", ["perm", "probe", pids["same"]], [])
        k.run_until_exit(p)
        got[("guest root", "busy")] = out.out.decode().split()[1]
        want[("guest root", "busy")] = f"E{errno.EBUSY}"
    # pid 0 reads, and refuses every change.
    with socketfamily.socket(AF_GDB, SOCK_STREAM, 0, machine=k) as s:
        assert s.request(b"m80102000,5") == b"afgdb".hex().encode()
        for pkt in PID0_REFUSED:
            reply = s.request(pkt)
            got[("pid0", pkt.decode())] = "refused" if reply.startswith(b"E") else repr(reply)
            want[("pid0", pkt.decode())] = "refused"
    bad = {cell: (got[cell], want[cell]) for cell in want if got[cell] != want[cell]}
    assert not bad, bad
    assert all(p.alive for p in targets.values())  # probing stopped and detached, no harm
    figures.record(
        area="permissions", what="AF_GDB opens (guest and Python callers: root, uid 1000, "
                                 "root turned 1000 by setresuid) x targets (root, same uid, "
                                 "other uid, setuid-changed, pid 0, itself, missing), one "
                                 "debugger per process, and what pid 0 refuses",
        size=f"{len(want)} cells", result=f"{len(want)} cells, all as specified",
        cells=len(want), as_specified=len(want) - len(bad),
        matrix={f"{c} -> {t}": v for (c, t), v in sorted(got.items())})


# ------------------------------------------------------------------ host side
def _serve(tmp: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "afgdb", "serve", *extra], cwd=str(REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _as_nobody(code: str, *args: str) -> str:
    r = subprocess.run(["/usr/bin/python3", "-c", code, *args], user=NOBODY, cwd="/",
                       capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    return r.stdout.decode().strip() + r.stderr.decode().strip()[-200:]


PROBE = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
         "try:\n s.connect(sys.argv[1]); s.settimeout(20); s.sendall(b'$?#3f')\n"
         " print('answer', repr(s.recv(100)))\nexcept OSError as e: print('refused', e)")


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
                    reason="needs root to run a client as another user")
def test_host_sockets_and_listeners(tmp_path: Path, figures: Any) -> None:
    cells: dict[str, tuple[str, str]] = {}  # name -> (got, wanted)
    os.chmod(tmp_path, 0o755)  # nobody may reach the sockets' directory; the mode decides
    ksock, usock = tmp_path / "kernel.sock", tmp_path / "gdb.sock"
    srv = _serve(tmp_path, "--unix", str(usock), "--kernel-socket", str(ksock))
    try:
        wait_for(lambda: ksock.exists() and usock.exists(), 60, "the server's sockets")
        time.sleep(0.2)
        for name, path in (("kernel socket mode", ksock), ("--unix socket mode", usock)):
            cells[name] = (oct(stat.S_IMODE(os.stat(path).st_mode)), "0o600")
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(ksock))
            s.sendall(b"$?#3f")
            s.settimeout(20)
            cells["pid 0 socket, root"] = ("served" if b"T05" in s.recv(100) else "no", "served")
        r = _as_nobody(PROBE, str(ksock))
        cells["pid 0 socket 0600, nobody"] = (r.split()[0], "refused")
        r = _as_nobody(PROBE, str(usock))
        cells["--unix socket 0600, nobody"] = (r.split()[0], "refused")
        os.chmod(ksock, 0o666)  # even if it could connect, SO_PEERCRED turns it away
        r = _as_nobody(PROBE, str(ksock))
        cells["pid 0 socket 0666, nobody"] = ("closed" if r in ("answer b''",) or
                                              r.startswith("refused") else r, "closed")
    finally:
        srv.terminate()
        srv.wait(10)
    cfg = write_config(tmp_path, f'[[rule]]\nsink = "file"\ndirectory = "{tmp_path}/c"\n')
    with running_cored(cfg):
        mode = oct(stat.S_IMODE(os.stat(tmp_path / "cored.sock").st_mode))
        cells["cored socket mode"] = (mode, "0o600")
    # TCP: loopback by default; other addresses only with --allow-remote.
    for listen in ("127.0.0.1:0", "localhost:0", "[::1]:0", ":0"):
        try:
            check_listen(listen, False)
            cells[f"--listen {listen}"] = ("bound", "bound")
        except ValueError:
            cells[f"--listen {listen}"] = ("refused", "bound")
    r = subprocess.run([sys.executable, "-m", "afgdb", "serve", "--listen", "0.0.0.0:0"],
                       cwd=str(REPO), capture_output=True, text=True, timeout=60)
    cells["--listen 0.0.0.0:0"] = (
        "refused" if r.returncode == 2 and "--allow-remote" in r.stderr and
        "no authentication" in r.stderr else r.stderr, "refused")
    try:
        check_listen("0.0.0.0:0", True)
        cells["--listen 0.0.0.0:0 --allow-remote"] = ("bound", "bound")
    except ValueError as e:
        cells["--listen 0.0.0.0:0 --allow-remote"] = (str(e), "bound")
    bad = {k: v for k, v in cells.items() if v[0] != v[1]}
    assert not bad, bad
    figures.record(
        area="permissions", what="host side: socket modes, pid 0 socket by SO_PEERCRED "
                                 "(root vs nobody), TCP loopback-only unless --allow-remote",
        size=f"{len(cells)} cells", result=f"{len(cells)} cells, all as specified",
        cells=len(cells), as_specified=len(cells) - len(bad),
        matrix={k: v[0] for k, v in cells.items()})
