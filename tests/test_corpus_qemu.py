"""The differential corpus against qemu-mipsel alone: every program is shipped
built, declares a sane header, and runs deterministically (two runs in two
fresh roots give the same stdout and status, and the declared status)."""

from __future__ import annotations

import pytest
from corpus_util import (
    CORPUS_SRC,
    ROOT,
    ROOTFS,
    Program,
    fresh_root,
    list_programs,
    parse_header,
    qemu_path,
    run_qemu,
)

PROGRAMS = list_programs()
needs_qemu = pytest.mark.skipif(qemu_path() is None, reason="qemu-mipsel is not installed")


def test_corpus_is_big_enough() -> None:
    assert len(PROGRAMS) >= 22


def test_header_parsing() -> None:
    text = "/* corpus: x\n * args: a \"b c\" ''\n * env: K=V E=\n * status: 3\n */\nint x;\n"
    assert parse_header(text) == {"args": "a \"b c\" ''", "env": "K=V E=", "status": "3"}
    assert parse_header("\n/* status: 9 */") == {"status": "9"}
    assert parse_header("int main(void) { /* status: 9 */ }") == {}
    assert parse_header("int x;\n") == {}


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_program_is_shipped_and_declared(program: Program) -> None:
    binary = program.host_binary(ROOT)
    assert binary.is_file(), f"{binary} missing: run make -C {ROOTFS}"
    assert binary.read_bytes()[:4] == b"\x7fELF"
    assert program.status is not None, f"{program.source} declares no status"


def test_every_binary_has_a_source() -> None:
    built = {p.name for p in (ROOT / "bin" / "corpus").iterdir()}
    assert built == {p.stem for p in CORPUS_SRC.glob("*.c")}


@needs_qemu
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_qemu_runs_are_deterministic(program: Program) -> None:
    with fresh_root() as root:
        first = run_qemu(program, root)
    with fresh_root() as root:
        second = run_qemu(program, root)
    assert first.stdout == second.stdout
    assert first.status == second.status
    assert first.status == program.expected_qemu_status, first.stderr.decode(errors="replace")
    assert first.stdout, "a corpus program must print something"
