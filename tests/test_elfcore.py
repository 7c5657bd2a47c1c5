"""ELF cores: the declared layouts, process cores of real guest programs read back by
pyelftools and gdb-multiarch, RLIMIT_CORE, live dumps to a pipe, and kernel dumps."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from core_util import GDB, gdb_core, make_root, quiet_kernel
from elftools.elf.elffile import ELFFile

from afgdb.machine import elfcore
from afgdb.machine.cpu.state import CPU
from afgdb.machine.kernel import kern_core
from afgdb.machine.kernel.kernel import Kernel
from afgdb.machine.kernel.proc import Proc

needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed")
REG_NAMES = ("zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4",
             "t5", "t6", "t7", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9",
             "k0", "k1", "gp", "sp", "s8", "ra")


# ------------------------------------------------------------------ layouts
def test_layouts_round_trip() -> None:
    regs = list(range(100, 100 + elfcore.NGREG))
    raw = elfcore.PRSTATUS.pack(si_signo=11, pr_cursig=11, pr_pid=65537, pr_reg=regs,
                                pr_fpvalid=1)
    assert len(raw) == 256
    back = elfcore.PRSTATUS.unpack(raw)
    assert back["pr_reg"] == tuple(regs) and back["pr_pid"] == 65537 and back["pr_cursig"] == 11
    # offsets the measurements found gdb reads (notes/kernel-dump-format.md)
    assert int.from_bytes(raw[24:28], "little") == 65537
    assert int.from_bytes(raw[72:76], "little") == 100
    assert int.from_bytes(raw[12:14], "little") == 11
    ps = elfcore.PRPSINFO.pack(pr_pid=42, pr_fname=b"crash", pr_psargs=b"/bin/crash x")
    assert len(ps) == 128 and ps[16] == 42 and ps[32:37] == b"crash"
    assert elfcore.PRPSINFO.unpack(ps)["pr_psargs"].rstrip(b"\0") == b"/bin/crash x"
    with pytest.raises(TypeError):
        elfcore.EHDR.pack(e_bogus=1)
    with pytest.raises(ValueError):
        elfcore.PRSTATUS.pack(pr_reg=[1, 2])


# ------------------------------------------------------------- guest runs
def crash_machine(tmp_path: Path, extra_threads: int = 0) -> tuple[Kernel, Proc, dict[str, Any]]:
    """Run /bin/crash to its SIGSEGV with extra sleeping threads; the core goes to core.<pid>."""
    root = make_root(tmp_path)
    k = quiet_kernel(root)
    logs: list[str] = k.extensions["test_logs"]
    dumper = kern_core.install(k, {"socket": None})
    seen: dict[str, Any] = {"logs": logs, "dumper": dumper}

    def snap(proc: Proc, sig: int, info: tuple[int, int, int]) -> bool:
        t = proc.lwps[0]
        seen["regs"] = list(t.cpu.r)
        seen["pc"] = t.cpu.pc
        seen["sp"] = t.cpu.r[29]
        brk0 = proc.aspace.brk_start
        seen["heap"] = (brk0, proc.aspace.read(brk0, 16, check=False))
        seen["stack"] = proc.aspace.read(t.cpu.r[29], 16, check=False)
        return dumper(proc, sig, info)

    k.extensions["coredump"] = snap
    p = k.spawn("/bin/crash", ["/bin/crash", "arg1"], ["HOME=/"])
    for i in range(extra_threads):
        cpu = p.lwps[0].cpu.copy()
        cpu.pc = 0x00400548 + 8 * i  # inside main
        cpu.r[29] = 0x7FFEF000 - 0x100 * i
        cpu.r[2] = 0x1000 + i
        t = k.new_lwp(p, cpu)
        k.sleep(t, ("test", t.lid), None)
    seen["status"] = k.run_until_exit(p)
    seen["root"] = root
    return k, p, seen


def test_crash_core_reads_back(tmp_path: Path) -> None:
    k, p, seen = crash_machine(tmp_path, extra_threads=2)
    assert seen["status"] == 0x8B  # SIGSEGV, core dumped
    core = seen["root"] / f"core.{p.pid}"
    assert core.exists(), seen["logs"]
    assert any(f"core dumped to /core.{p.pid}" in m for m in seen["logs"])
    with open(core, "rb") as f:
        elf = ELFFile(f)
        assert elf["e_type"] == "ET_CORE" and elf["e_machine"] == "EM_MIPS"
        segs = list(elf.iter_segments())
        assert segs[0]["p_type"] == "PT_NOTE"
        notes = [(n["n_name"], n["n_type"]) for n in segs[0].iter_notes()]
        loads = [s for s in segs if s["p_type"] == "PT_LOAD"]
        note_data = segs[0].data()
    assert notes[:6] == [("CORE", "NT_PRSTATUS"), ("CORE", "NT_PRPSINFO"),
                         ("CORE", "NT_SIGINFO"), ("CORE", "NT_AUXV"), ("CORE", "NT_FILE"),
                         ("CORE", "NT_FPREGSET")]
    assert notes[6:] == [("CORE", "NT_PRSTATUS"), ("CORE", "NT_FPREGSET")] * 2
    # Read the notes back through the same declarations that wrote them.
    parsed = elfcore.parse_notes(note_data)
    pr = [elfcore.PRSTATUS.unpack(d) for _, t, d in parsed if t == elfcore.NT_PRSTATUS]
    assert [x["pr_pid"] for x in pr] == [t.lid for t in p.lwps] and pr[0]["pr_pid"] == p.pid
    assert all(x["pr_cursig"] == 11 for x in pr)
    g = pr[0]["pr_reg"]
    assert list(g[6:38]) == seen["regs"][:32] and g[40] == seen["pc"]
    assert (g[38], g[39]) == (seen["regs"][32], seen["regs"][33])
    si = elfcore.SIGINFO.unpack(next(d for _, t, d in parsed if t == elfcore.NT_SIGINFO))
    assert si["si_signo"] == 11 and si["si_code"] == 1 and si["si_addr_or_pid"] == 0
    ps = elfcore.PRPSINFO.unpack(next(d for _, t, d in parsed if t == elfcore.NT_PRPSINFO))
    assert ps["pr_fname"].rstrip(b"\0") == b"crash"
    assert ps["pr_psargs"].rstrip(b"\0") == b"/bin/crash arg1"
    assert next(d for _, t, d in parsed if t == elfcore.NT_AUXV) == p.auxv or not p.auxv
    # Every region has a PT_LOAD; read-only text is elided past its ELF header page.
    assert len(loads) >= 4
    text = loads[0]
    assert text["p_vaddr"] == 0x400000 and text["p_filesz"] == 4096 < text["p_memsz"]
    assert all(s["p_filesz"] == s["p_memsz"] for s in loads[1:])


@needs_gdb
def test_gdb_opens_crash_core(tmp_path: Path) -> None:
    k, p, seen = crash_machine(tmp_path, extra_threads=2)
    root = seen["root"]
    heap_addr, heap = seen["heap"]
    out = gdb_core(root / "bin" / "crash", root / f"core.{p.pid}",
                   ["bt", "info threads", "info registers", "x/4wx $sp",
                    f"x/4wx {heap_addr:#x}", "p *n", "thread 3", "p/x $v0"],
                   sysroot=root)
    banner = out[""]
    assert "Program terminated with signal SIGSEGV, Segmentation fault." in banner
    assert "Core was generated by `/bin/crash arg1'." in banner
    # gdb's only tolerated warning compares file times, which a fresh checkout sets
    # in whatever order it writes the source and the prebuilt binary.
    warnings = [line for line in banner.lower().splitlines() if "warning" in line
                and "source file is more recent than executable" not in line]
    assert not warnings, banner
    assert re.search(r"#0 .* walk \(n=0x[0-9a-f]+ <first>\) at src/crash\.c:13", out["bt"])
    assert "#1" in out["bt"]
    threads = out["info threads"]
    lids = [t.lid for t in p.lwps]
    assert re.search(rf"\* 1 +LWP {lids[0]} .* walk ", threads), threads
    assert re.search(rf"\n +2 +LWP {lids[1]} ", threads)
    assert re.search(rf"\n +3 +LWP {lids[2]} ", threads)
    regs = _gdb_registers(out["info registers"])
    for i, name in enumerate(REG_NAMES):
        assert regs[name] == seen["regs"][i], name
    assert regs["lo"] == seen["regs"][32] and regs["hi"] == seen["regs"][33]
    assert regs["pc"] == seen["pc"]
    words = [int(w, 16) for w in out["x/4wx $sp"].split(":")[1].split()]
    assert words == [int.from_bytes(seen["stack"][i:i + 4], "little") for i in range(0, 16, 4)]
    words = [int(w, 16) for w in out[f"x/4wx {heap_addr:#x}"].split(":")[1].split()]
    assert words == [int.from_bytes(heap[i:i + 4], "little") for i in range(0, 16, 4)]
    assert "{value = 1, next = 0x0}" in out["p *n"]
    assert "$2 = 0x1001" in out["p/x $v0"] or "= 0x1001" in out["p/x $v0"]


def _gdb_registers(text: str) -> dict[str, int]:
    regs: dict[str, int] = {}
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for names, values in zip(lines[::2], lines[1::2]):
        vals = values.split()
        if re.match(r"^R\d+$", vals[0]):
            vals = vals[1:]
        for n, v in zip(names.split(), vals):
            if re.fullmatch(r"[0-9a-f]{8}", v):
                regs[n] = int(v, 16)
    regs["sr"] = regs.get("sr", 0)
    return regs


def test_rlimit_core(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    for cur, expect in ((0, None), (4096, 4096)):
        k = quiet_kernel(root)
        kern_core.install(k, {"socket": None})
        p = k.spawn("/bin/crash", ["/bin/crash"], [])
        p.rlimits[4] = (cur, 1 << 64 - 1)
        status = k.run_until_exit(p)
        core = root / f"core.{p.pid}"
        if expect is None:
            assert status == 11 and not core.exists()  # no core flag, no file
        else:
            assert status == 0x8B and core.stat().st_size == expect
            assert core.read_bytes()[:4] == b"\x7fELF"
            core.unlink()


def test_live_dump_to_pipe_leaves_process_running(tmp_path: Path) -> None:
    root = make_root(tmp_path, ["bin/hello"])
    k = quiet_kernel(root)
    p = k.spawn("/bin/hello", ["/bin/hello"], [])
    k.run(3000)
    assert p.alive
    before = {pn: bytes(fr.b) for pn, fr in p.aspace.frames.items()}
    rfd, wfd = os.pipe()
    got = bytearray()

    def reader() -> None:
        with os.fdopen(rfd, "rb") as r:
            while chunk := r.read(65536):
                got.extend(chunk)

    th = threading.Thread(target=reader)
    th.start()
    with os.fdopen(wfd, "wb", buffering=0) as w:
        res = kern_core.write_process_core(k, p, w)
    th.join()
    assert res.size == len(got) and not res.truncated
    assert {pn: bytes(fr.b) for pn, fr in p.aspace.frames.items()} == before
    elf = ELFFile(io.BytesIO(bytes(got)))
    note = next(elf.iter_segments())
    pr = elfcore.PRSTATUS.unpack(next(d for _, t, d in elfcore.parse_notes(note.data())
                                      if t == elfcore.NT_PRSTATUS))
    assert pr["pr_cursig"] == 0 and pr["pr_reg"][40] == p.lwps[0].cpu.pc
    assert k.run_until_exit(p) == 0


# ----------------------------------------------------------- kernel dumps
def _kthreads(n: int) -> list[elfcore.ThreadRegs]:
    out = []
    for i in range(n):
        cpu = CPU()
        cpu.r = [(j << 12) + i for j in range(34)]
        cpu.r[29] = 0x801FFF00 - 0x100 * i
        cpu.pc = 0x80010000 + 4 * i
        pid, lid = (0, i + 1) if i == 0 else (i, 1)
        out.append(elfcore.ThreadRegs(elfcore.kernel_tid(pid, lid),
                                      elfcore.gregs_of(cpu, 0x10000003, 0x24)))
    return out


@needs_gdb
def test_kernel_dump_threads_and_aliases(tmp_path: Path) -> None:
    page = b"\x2a\0\0\0afgdb\0" + bytes(4096 - 10)
    segs = [
        elfcore.Segment(0x80100000, 4096, page, paddr=0x00100000),
        elfcore.Segment(0xC0300000, 4096, page, paddr=0x00100000),  # KSEG2 alias: same bytes
        elfcore.Segment(0x80200000, 8192, lambda: (bytes([7]) * 4096 for _ in range(2)),
                        paddr=0x00200000),
    ]
    core = tmp_path / "kernel.core"
    with open(core, "wb") as f:
        res = elfcore.write_kernel_dump(f, _kthreads(3), segs, cursig=11, fname="kern.elf",
                                        panic="test panic", time_ns=123)
    assert res.size == core.stat().st_size == 4096 + 4096 + 8192  # the alias is stored once
    with open(core, "rb") as f:
        phdrs = [s.header for s in ELFFile(f).iter_segments()]
    assert phdrs[1]["p_offset"] == phdrs[2]["p_offset"] and phdrs[2]["p_paddr"] == 0x100000
    out = gdb_core(None, core, ["info threads", "x/4wx 0x80100000", "x/s 0xc0300004",
                                "thread 3", "p/x $pc", "x/2bx 0x80201ffe"])
    assert "Program terminated with signal SIGSEGV" in out[""]
    for tid in (1, 65537, 131073):
        assert f"LWP {tid} " in out["info threads"], out["info threads"]
    assert "0x0000002a\t0x64676661" in out["x/4wx 0x80100000"]
    assert '"afgdb"' in out["x/s 0xc0300004"]
    assert "0x80010008" in out["p/x $pc"]
    assert "0x07\t0x07" in out["x/2bx 0x80201ffe"]
    with pytest.raises(ValueError):
        elfcore.write_kernel_dump(io.BytesIO(), _kthreads(1) * 2, segs)


@needs_gdb
def test_kernel_dump_pn_xnum(tmp_path: Path) -> None:
    n = 70000
    segs = [elfcore.Segment(0x81000000 + k * 0x1000, 16, k.to_bytes(4, "little") * 4,
                            paddr=0x01000000 + k * 0x1000) for k in range(n)]
    core = tmp_path / "xnum.core"
    with open(core, "wb") as f:
        elfcore.write_kernel_dump(f, _kthreads(1), segs)
    raw = core.read_bytes()
    eh = elfcore.EHDR.unpack(raw)
    assert eh["e_phnum"] == elfcore.PN_XNUM and eh["e_shnum"] == 1
    assert elfcore.SHDR.unpack(raw, eh["e_shoff"])["sh_info"] == n + 1
    last = 0x81000000 + (n - 1) * 0x1000
    out = gdb_core(None, core, [f"x/wx {last:#x}"])
    assert f"{n - 1:#010x}" in out[f"x/wx {last:#x}"]


def test_segment_reader_short_or_long_keeps_offsets() -> None:
    buf = io.BytesIO()
    segs = [elfcore.Segment(0x1000, 8, lambda: [b"abc"]),  # short: zero-filled
            elfcore.Segment(0x2000, 4, lambda: [b"wxyz-extra"])]  # long: cut
    res = elfcore.write_core(buf, elfcore.note(b"CORE", 1, bytes(256)), segs)
    data = buf.getvalue()
    assert res.size == len(data) == 4096 + 12
    assert data[4096:] == b"abc\0\0\0\0\0wxyz"


@needs_gdb
def test_real_pthreads_core_lists_every_thread(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """/bin/threads (clone + futex) killed by SIGQUIT mid-run: every LWP is in the core."""
    from afgdb.machine.kernel import kernel, signals

    # Short quanta, so the four workers are all alive before the first one is done.
    monkeypatch.setattr(kernel, "SLICE", 2000)
    root = make_root(tmp_path, ["bin/threads"])
    k = quiet_kernel(root)
    kern_core.install(k, {"socket": None})
    p = k.spawn("/bin/threads", ["/bin/threads"], [])
    for _ in range(500):
        if len(p.live_lwps()) == 5:
            break
        k.run(2000)
    lids = sorted(t.lid for t in p.live_lwps())
    assert len(lids) == 5
    signals.post_proc(k, p, signals.SIGQUIT)
    assert k.run_until_exit(p) == 0x83
    out = gdb_core(root / "bin" / "threads", root / f"core.{p.pid}",
                   ["info threads", "thread apply all bt 2"], sysroot=root)
    assert "Program terminated with signal SIGQUIT" in out[""]
    assert sorted(int(x) for x in re.findall(r"LWP (\d+)", out["info threads"])) == lids
    assert "in worker (arg=" in out["thread apply all bt 2"]
    assert "src/threads.c:" in out["thread apply all bt 2"]
