"""cored end to end: guest crashes handed over a unix socket to file, `gzip | ssh` (a real
sshd) and HTTP PUT (a real nginx) sinks; a sink that is down, a daemon restart, a full
disk, limits, and config errors that say where they are."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import anyio.from_thread
import pytest
from core_util import GDB, gdb_core, make_root, quiet_kernel

from afgdb.cored import ConfigError, Cored, cored_main, load_config
from afgdb.machine import handoff
from afgdb.machine.kernel import kern_core

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SSHD = "/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx not installed")
needs_sshd = pytest.mark.skipif(SSHD is None or not shutil.which("ssh"),
                                reason="openssh-server/client not installed")


# ---------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        time.sleep(0.02)


def write_config(tmp: Path, rules: str, top: str = "") -> Path:
    cfg = tmp / "cored.toml"
    cfg.write_text(f'[cored]\nsocket = "{tmp}/cored.sock"\nspool = "{tmp}/spool"\n'
                   f"retry_initial = 0.05\nretry_max = 0.2\n{top}\n{rules}")
    return cfg


@contextlib.contextmanager
def running_cored(cfg_path: Path) -> Iterator[Cored]:
    """cored on its own event loop thread, as the real daemon would run beside the machine."""
    logs: list[str] = []
    cored = Cored(load_config(str(cfg_path)), log=logs.append)
    with anyio.from_thread.start_blocking_portal() as portal:
        fut, _ = portal.start_task(cored.serve)
        try:
            yield cored
        finally:
            fut.cancel()
            with contextlib.suppress(BaseException):
                fut.result(timeout=5)


def guest_crash(tmp: Path, socket_path: Path | None) -> tuple[Path, int, list[str]]:
    """Run /bin/crash on a machine whose core hook hands cores to cored."""
    root = tmp / "root"
    if not root.exists():
        make_root(tmp)
    k = quiet_kernel(root)
    kern_core.install(k, {"socket": str(socket_path) if socket_path else None, "timeout": 10})
    p = k.spawn("/bin/crash", ["/bin/crash"], [])
    assert k.run_until_exit(p) == 0x8B
    return root, p.pid, k.extensions["test_logs"]


def send_core(sock: Path, data: bytes, pid: int = 7, program: str = "synth",
              signal: int = 11) -> str:
    """Hand over a core like the machine does; returns cored's reply line."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock))
        out = s.makefile("wb")
        out.write(handoff.encode_header("process", pid, 0, program, signal, time.time()))
        w = handoff.ChunkWriter(out)
        for i in range(0, len(data), 50000):
            w.write(data[i:i + 50000])
        w.close_stream()
        out.close()
        return s.makefile("rb").readline().decode().strip()


def assert_gdb_bt(core: Path, root: Path) -> None:
    out = gdb_core(root / "bin" / "crash", core, ["bt"], sysroot=root)
    assert "Program terminated with signal SIGSEGV" in out[""], out
    assert "walk (" in out["bt"] and "src/crash.c:13" in out["bt"], out["bt"]


class Nginx:
    """A throwaway nginx with a WebDAV PUT location on a loopback port."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "nginx"
        self.www = self.dir / "www"
        (self.www / "cores").mkdir(parents=True)
        self.port = free_port()
        self.conf = self.dir / "nginx.conf"
        d = self.dir
        self.conf.write_text(f"""
daemon off; user root; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{self.port};
    root {self.www};
    client_max_body_size 0;
    location /cores/ {{ dav_methods PUT; create_full_put_path on; }}
  }}
}}
""")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert NGINX is not None
        self.proc = subprocess.Popen([NGINX, "-c", str(self.conf), "-p", str(self.dir)],
                                     stderr=subprocess.DEVNULL)
        wait_for(self._up, 10, "nginx to listen")

    def _up(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def puts(self) -> int:
        log = self.dir / "access.log"
        return log.read_text().count('"PUT ') if log.exists() else 0


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    n = Nginx(tmp_path)
    yield n
    n.stop()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, Any]]:
    assert SSHD is not None
    d = tmp_path / "ssh"
    d.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True)
    shutil.copy(d / "client.pub", d / "authorized_keys")
    port = free_port()
    (d / "sshd_config").write_text(
        f"HostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n"
        "ListenAddress 127.0.0.1\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n")
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config"), "-p", str(port)],
                            stderr=open(d / "sshd.log", "wb"))  # noqa: SIM115
    try:
        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_for(up, 10, "sshd to listen")
        ssh = (f"ssh -i {d}/client -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
               f"-o BatchMode=yes -o LogLevel=ERROR -p {port} root@127.0.0.1")
        yield {"ssh": ssh, "dir": d}
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("body, where, words", [
    ('[[rule]]\nsink = "file"\ndirectory = "/x"\nkepe = 3\n', 10, ["rule[0].kepe",
                                                                   "unknown key"]),
    ('[[rule]]\nsink = "file"\ndirectory = "/x"\n[[rule]]\nsink = "ftp"\n', 11,
     ["rule[1].sink", "unknown sink 'ftp'"]),
    ('[[rule]]\nsink = "http"\nurl = "ftp://x"\n', 9, ["rule[0].url", "http://"]),
    ('[[rule]]\nsink = "file"\ndirectory = "/x"\nmax_size = "12 parsecs"\n', 10,
     ["rule[0].max_size", "not a size"]),
    ('[[rule]]\nsink = "file"\ndirectory = "/x"\nname = "{prog}.core"\n', 10,
     ["rule[0].name", "unknown field {prog}"]),
    ('[[rule]]\nsink = "pipeline"\n', 8, ["rule[0].sink", "needs `command`"]),
    ('[[rule]]\nsink = "file"\ndirectory = "/x"\nsignal = ["SIGWOMBAT"]\n', 10,
     ["rule[0].signal", "SIGWOMBAT"]),
    ('[[rule]]\nsink = "file"\ndirectory = "/x"\nkeep = "3"\n', 10,
     ["rule[0].keep", "must be an integer, not '3'"]),
    ('[[rule]]\nsink = = "file"\n', 8, ["(syntax)"]),
])
def test_bad_config_names_key_and_line(tmp_path: Path, body: str, where: int,
                                       words: list[str]) -> None:
    cfg = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as ei:
        load_config(str(cfg))
    msg = str(ei.value)
    assert msg.startswith(f"{cfg}:{where}: "), msg
    for w in words:
        assert w in msg, msg


def test_cli_refuses_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, '[[rule]]\nsink = "file"\n')
    assert cored_main(["--config", str(cfg), "check"]) == 2
    err = capsys.readouterr().err
    assert f"bad config: {cfg}:" in err and "needs `directory`" in err


# ----------------------------------------------------------- guest -> sinks
@needs_gdb
def test_file_sink_receives_guest_core(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f'[[rule]]\nprogram = "crash"\nsignal = "SIGSEGV"\n'
                                 f'sink = "file"\ndirectory = "{tmp_path}/crash"\n'
                                 'name = "{program}.{pid}.core"\nkeep = 2\n')
    with running_cored(cfg) as cored:
        root, pid, logs = guest_crash(tmp_path, tmp_path / "cored.sock")
        assert any("core handed to cored" in m for m in logs), logs
        wait_for(lambda: cored.stats.delivered == 1, what="delivery")
        core = tmp_path / "crash" / f"crash.{pid}.core"
        assert_gdb_bt(core, root)
        assert not (root / f"core.{pid}").exists()  # no fallback copy
        for i in range(3):  # keep = 2 rotates the oldest away
            assert send_core(tmp_path / "cored.sock", b"x" * 100, pid=1000 + i,
                             program="crash").startswith("OK ")
            time.sleep(0.01)  # distinct mtimes for the rotation order
        wait_for(lambda: cored.stats.delivered == 4, what="4 deliveries")
    left = sorted(p.name for p in (tmp_path / "crash").iterdir())
    assert left == ["crash.1001.core", "crash.1002.core"]
    out = io.StringIO()
    from afgdb.cored.main import _list
    assert _list(str(tmp_path / "spool"), None, out) == 0
    assert out.getvalue().count("delivered") == 4 and "SIGSEGV" in out.getvalue()


@needs_gdb
@needs_nginx
def test_http_put_to_nginx(tmp_path: Path, nginx: Nginx) -> None:
    nginx.start()
    cfg = write_config(tmp_path, f'[[rule]]\nsink = "http"\n'
                       f'url = "http://127.0.0.1:{nginx.port}/cores/{{program}}.{{pid}}.core"\n')
    with running_cored(cfg) as cored:
        root, pid, _ = guest_crash(tmp_path, tmp_path / "cored.sock")
        wait_for(lambda: cored.stats.delivered == 1, what="delivery")
    assert_gdb_bt(nginx.www / "cores" / f"crash.{pid}.core", root)


@needs_gdb
@needs_sshd
def test_pipeline_gzip_ssh(tmp_path: Path, sshd: dict[str, Any]) -> None:
    dest = tmp_path / "remote"
    dest.mkdir()
    cmd = f"gzip -c | {sshd['ssh']} 'cat > {dest}/{{program}}.{{pid}}.core.gz'"
    cfg = write_config(tmp_path, f'[[rule]]\nsink = "pipeline"\ncommand = "{cmd}"\n')
    with running_cored(cfg) as cored:
        root, pid, _ = guest_crash(tmp_path, tmp_path / "cored.sock")
        wait_for(lambda: cored.stats.delivered == 1 or cored.stats.failures > 0, 30)
        assert cored.stats.delivered == 1, cored.stats.errors
    core = tmp_path / "crash.core"
    core.write_bytes(gzip.decompress((dest / f"crash.{pid}.core.gz").read_bytes()))
    assert_gdb_bt(core, root)


def test_pipeline_failure_is_retried_with_its_reason(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    out = tmp_path / "out.core"
    cfg = write_config(tmp_path, '[[rule]]\nsink = "pipeline"\n'
                       f'command = "test -e {flag} || {{{{ echo sink is down >&2; exit 3; }}}}; '
                       f'cat > {out}"\n')
    with running_cored(cfg) as cored:
        assert send_core(tmp_path / "cored.sock", b"core-bytes").startswith("OK ")
        wait_for(lambda: cored.stats.failures >= 2, what="two failed attempts")
        assert "exited with status 3: sink is down" in cored.stats.errors[0]
        flag.touch()
        wait_for(lambda: cored.stats.delivered == 1, what="delivery after recovery")
    assert out.read_bytes() == b"core-bytes"


# ---------------------------------------------------------------- failures
@needs_nginx
def test_sink_down_100_cores_spooled_survive_restart_delivered_once(
        tmp_path: Path, nginx: Nginx) -> None:
    cfg = write_config(tmp_path, '[[rule]]\nsink = "http"\n'
                       f'url = "http://127.0.0.1:{nginx.port}/cores/{{pid}}.core"\n')
    cores = {pid: hashlib.sha256(str(pid).encode()).digest() * (100 + pid)
             for pid in range(100, 200)}
    with running_cored(cfg) as cored:
        for pid, data in cores.items():
            assert send_core(tmp_path / "cored.sock", data, pid=pid).startswith("OK ")
        wait_for(lambda: cored.stats.failures >= 2, what="failed deliveries")
        assert "cannot connect" in cored.stats.errors[0]
        assert cored.waiting == 100 and cored.stats.delivered == 0
    assert len(list((tmp_path / "spool").glob("*.core"))) == 100  # daemon gone, cores kept
    nginx.start()
    with running_cored(cfg) as cored:  # a new daemon finds the spool and delivers it
        wait_for(lambda: cored.stats.delivered == 100, 30, "100 deliveries")
    for pid, data in cores.items():
        assert (nginx.www / "cores" / f"{pid}.core").read_bytes() == data
    assert nginx.puts() == 100  # none twice
    assert not list((tmp_path / "spool").glob("*.core"))


def test_full_disk_keeps_core_spooled_until_space(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        cfg = write_config(tmp_path, f'[[rule]]\nsink = "file"\ndirectory = "{disk}"\n'
                           'name = "{pid}.core"\n')
        data = os.urandom(200_000)
        with running_cored(cfg) as cored:
            assert send_core(tmp_path / "cored.sock", data, pid=5).startswith("OK ")
            wait_for(lambda: cored.stats.failures >= 1, what="ENOSPC")
            assert "No space left on device" in cored.stats.errors[0]
            assert os.listdir(disk) == []  # no half-written core left behind
            subprocess.run(["mount", "-o", "remount,size=1m", str(disk)], check=True)
            wait_for(lambda: cored.stats.delivered == 1, what="delivery after remount")
        assert (disk / "5.core").read_bytes() == data
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_cored_unreachable_falls_back_to_core_file(tmp_path: Path) -> None:
    root, pid, logs = guest_crash(tmp_path, tmp_path / "nobody-listens.sock")
    core = root / f"core.{pid}"
    assert core.read_bytes()[:4] == b"\x7fELF"
    assert any(f"core dumped to /core.{pid}" in m and "unreachable" in m for m in logs), logs


def test_limits_size_and_rate(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f'[[rule]]\nsink = "file"\ndirectory = "{tmp_path}/out"\n'
                       'name = "{pid}.core"\nrate = "2/60"\n', top='max_core_size = "8K"')
    sock = tmp_path / "cored.sock"
    with running_cored(cfg) as cored:
        assert send_core(sock, b"a" * 20000, pid=1).startswith("OK ")
        assert send_core(sock, b"b" * 100, pid=2).startswith("OK ")
        assert send_core(sock, b"c" * 100, pid=3).startswith("OK drop rate limit")
        wait_for(lambda: cored.stats.delivered == 2, what="deliveries")
    assert (tmp_path / "out" / "1.core").read_bytes() == b"a" * 8192
    assert "of 20000" in (tmp_path / "out" / "1.core.truncated").read_text()
    assert (tmp_path / "out" / "2.core").read_bytes() == b"b" * 100
    assert not (tmp_path / "out" / "3.core").exists()


def test_damaged_stream_is_refused_and_not_spooled(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f'[[rule]]\nsink = "file"\ndirectory = "{tmp_path}/out"\n')
    with running_cored(cfg) as cored, socket.socket(socket.AF_UNIX) as s:
        s.connect(str(tmp_path / "cored.sock"))
        bad = handoff.encode_header("process", 1, 0, "x", 11, 0.0)
        bad += (4).to_bytes(4, "little") + b"abcd" + bytes(4) + bytes(40)  # wrong trailer
        s.sendall(bad)
        assert s.makefile("rb").readline().startswith(b"ERR stream damaged")
        assert cored.stats.refused == 1
    assert not list((tmp_path / "spool").glob("*.core"))


def test_daemon_cli_and_core_pattern_handoff(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`afgdb cored --config F` as its own process; a host core arrives via cored-handoff."""
    import sys

    from afgdb.cored import handoff_main

    cfg = write_config(tmp_path, f'[[rule]]\nsink = "file"\ndirectory = "{tmp_path}/out"\n'
                       'name = "{program}.{pid}.{signame}.core"\n')
    daemon = subprocess.Popen([sys.executable, "-m", "afgdb.cored", "--config", str(cfg)],
                              cwd=str(Path(__file__).resolve().parent.parent),
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (tmp_path / "cored.sock").exists(), 20, "the daemon's socket")
        core = os.urandom(70_000)
        (tmp_path / "host.core").write_bytes(core)
        stdin = open(tmp_path / "host.core")  # noqa: SIM115 - closed below
        monkeypatch.setattr(sys, "stdin", stdin)
        assert handoff_main(["--socket", str(tmp_path / "cored.sock"), "4242", "0", "6",
                             "hostprog"]) == 0
        dest = tmp_path / "out" / "hostprog.4242.SIGABRT.core"
        wait_for(dest.exists, what="the delivered core")
        assert dest.read_bytes() == core
        stdin.close()
        listing = subprocess.run([sys.executable, "-m", "afgdb.cored", "--config", str(cfg),
                                  "list"], capture_output=True, text=True, check=True,
                                 cwd=str(Path(__file__).resolve().parent.parent)).stdout
        assert "hostprog" in listing and "SIGABRT" in listing and "delivered" in listing
    finally:
        daemon.terminate()
        daemon.wait(10)
