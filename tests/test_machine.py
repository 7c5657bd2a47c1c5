"""The machine core as a user meets it: `afgdb run`, bad programs, the root jail, determinism."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from afgdb.cli import default_root
from afgdb.machine.kernel import Kernel
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.kern_exec import ExecFormatError, parse
from afgdb.machine.kernel.vfs import Vfs

REPO = Path(__file__).resolve().parent.parent
ROOT = Path(default_root())
HELLO = (ROOT / "bin" / "hello").read_bytes()


def afgdb(*args: str, root: Path = ROOT, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "afgdb", "run", "--root", str(root), *args],
                          input=stdin, capture_output=True, env=env, timeout=300, check=False)


def test_hello_and_exit_status() -> None:
    p = afgdb("/bin/hello")
    assert p.stdout == b"hello, world\n" and p.returncode == 0


def test_crash_exits_with_128_plus_signal() -> None:
    p = afgdb("/bin/crash")
    assert p.returncode == 128 + 11


def test_trace_syscalls_and_stats() -> None:
    p = afgdb("--trace-syscalls", "--stats", "/bin/hello")
    err = p.stderr.decode()
    assert 'readlink("/proc/self/exe"' in err
    assert "write(1, " in err and "exit_group(0)" in err
    assert "instructions in" in err and "MIPS" in err


def test_missing_program_is_a_clear_error() -> None:
    p = afgdb("/bin/nope")
    assert p.returncode == 127 and b"ENOENT" in p.stderr


@pytest.mark.parametrize("mutate,why", [
    (lambda b: b[:40], "not an ELF file"),
    (lambda b: b[:4] + b"\x02" + b[5:], "not a 32-bit ELF file"),
    (lambda b: b[:5] + b"\x02" + b[6:], "not little-endian"),
    (lambda b: b[:18] + struct.pack("<H", 62) + b[20:], "not MIPS"),
    (lambda b: b[:2000], "truncated"),
    (lambda b: b"#!/bin/sh\necho hi\n", "not an ELF file"),
])
def test_bad_elf_files_are_refused_with_a_reason(mutate, why) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExecFormatError) as e:
        parse(mutate(HELLO))
    assert why in e.value.why


def test_overlapping_segments_are_refused() -> None:
    data = bytearray(HELLO)
    phoff = struct.unpack_from("<I", data, 28)[0]
    phnum = struct.unpack_from("<H", data, 44)[0]
    loads = [i for i in range(phnum) if struct.unpack_from("<I", data, phoff + 32 * i)[0] == 1]
    assert len(loads) >= 2
    first_vaddr = struct.unpack_from("<I", data, phoff + 32 * loads[0] + 8)[0]
    struct.pack_into("<I", data, phoff + 32 * loads[1] + 8, first_vaddr)
    with pytest.raises(ExecFormatError) as e:
        parse(bytes(data))
    assert "overlapping" in e.value.why


def test_bad_program_through_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "x86").write_bytes(HELLO[:18] + struct.pack("<H", 62) + HELLO[20:])
    (root / "bin" / "x86").chmod(0o755)
    p = afgdb("/bin/x86", root=root)
    assert p.returncode == 127 and b"not MIPS" in p.stderr


def test_the_guest_cannot_leave_its_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (tmp_path / "secret").write_text("host file")
    (root / "abs").symlink_to("/")
    (root / "rel").symlink_to("../../..")
    (root / "etc" / "loop").symlink_to("loop")
    v = Vfs(str(root))
    assert v.resolve("/../../secret") == "/secret"
    assert v.resolve("/abs/secret") == "/secret"  # absolute links resolve inside the root
    assert v.resolve("/rel/secret") == "/secret"
    assert not os.path.exists(v.host_path("/abs/secret"))
    with pytest.raises(SyscallError):
        v.resolve("/etc/loop/x")


def test_same_program_same_instruction_count() -> None:
    counts = []
    for _ in range(2):
        k = Kernel(str(ROOT), stdout=_Sink(), stderr=_Sink())
        p = k.spawn("/bin/corpus/prng", ["/bin/corpus/prng"])
        k.run_until_exit(p)
        counts.append((p.icount(), k.clock_ns))
    assert counts[0] == counts[1] and counts[0][0] > 10_000


class _Sink:
    """A stdout that keeps what the guest wrote."""

    def __new__(cls):  # type: ignore[no-untyped-def]
        from afgdb.machine.kernel.files import BufferStream

        return BufferStream(1)


def test_shipped_rootfs_has_sources_and_a_makefile() -> None:
    rootfs = ROOT.parent
    assert (rootfs / "Makefile").is_file()
    for prog in (ROOT / "bin").iterdir():
        if prog.is_file():
            assert (rootfs / "src" / f"{prog.name}.c").is_file(), prog.name


@pytest.mark.skipif(shutil.which("mipsel-linux-gnu-gcc") is None, reason="no cross compiler")
def test_makefile_rebuilds_identical_binaries(tmp_path: Path) -> None:
    src = ROOT.parent
    copy = tmp_path / "rootfs"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("root"))
    (copy / "root").mkdir()
    subprocess.run(["make", "-s", "-C", str(copy), "root/bin/hello"], check=True,
                   capture_output=True)
    assert (copy / "root" / "bin" / "hello").read_bytes() == HELLO


def test_cores_flag_writes_a_core_gdb_opens(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(ROOT, root, symlinks=True)
    p = afgdb("--cores", "/bin/crash", root=root)
    assert p.returncode == 128 + 11
    cores = list(root.glob("core.*"))
    assert len(cores) == 1 and cores[0].read_bytes()[:4] == b"\x7fELF"
    gdb = shutil.which("gdb-multiarch")
    if gdb:
        out = subprocess.run([gdb, "-nx", "-batch", "-ex", f"set sysroot {root}",
                              "-ex", f"file {root}/bin/crash", "-ex", f"core-file {cores[0]}",
                              "-ex", "bt"], capture_output=True, text=True, timeout=120).stdout
        assert "Program terminated with signal SIGSEGV" in out and "walk" in out


def test_no_core_files_unless_asked(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(ROOT, root, symlinks=True)
    assert afgdb("/bin/crash", root=root).returncode == 128 + 11
    assert not list(root.glob("core.*"))
