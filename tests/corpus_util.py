"""The differential corpus: guest programs in ``afgdb/rootfs/src/corpus`` and
how to run them.

A corpus program is ``src/corpus/NAME.c``, built into the shipped root as
``root/bin/corpus/NAME`` (guest path ``/bin/corpus/NAME``).  Its opening
comment may declare how it is run and how it ends, one key per line::

    /* corpus: what it covers
     * args: one "two words" ''      (shlex syntax; default: no arguments)
     * env: K=V OTHER=               (shlex syntax; default: empty environment)
     * status: 3                     (exit status on Linux; 128+N for signal N)
     * qemu-status: 133              (only where qemu-user is known to differ)
     */

Every run gets exactly that: argv[0] is the guest path, then the args; the
environment holds only the declared variables, in the declared order; stdin
is empty (/dev/null); the working directory is the root of a fresh copy of
``afgdb/rootfs/root`` (programs open relative paths such as
``data/words.txt`` and ``tmp/x.txt``).  A run's outcome is a `Result`: the
bytes written to stdout and a shell-style status (``128 + signo`` when a
signal killed the program).

This module owns discovery and the qemu-mipsel runner.  An afgdb runner is
one more function on top of `run_command`, `fresh_root` and the `Program`
fields (`guest_path`, `args`, `env`): only the command line differs.
"""

from __future__ import annotations

import re
import resource
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOTFS = Path(__file__).resolve().parent.parent / "afgdb" / "rootfs"
ROOT = ROOTFS / "root"
CORPUS_SRC = ROOTFS / "src" / "corpus"
GUEST_CORPUS_DIR = "/bin/corpus"
QEMU = "qemu-mipsel"
DEFAULT_TIMEOUT = 120.0

_HEADER_KEYS = ("args", "env", "status", "qemu-status", "qemu-stdout")
# A declaration line inside the opening comment: "[/*|*] key: value [*/]".
_DECL = re.compile(r"^\s*(?:/\*+|\*)?\s*([a-z-]+):\s*(.*?)\s*(?:\*/)?\s*$")
_HEADER_LINES = 40


class CorpusError(Exception):
    """A corpus source declares something malformed (the corpus's fault)."""


@dataclass(frozen=True)
class Program:
    """One corpus program and how it must be run."""

    name: str
    source: Path
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    status: int | None = None
    """The exit status Linux gives (128+signo for a fatal signal), if declared."""
    qemu_status: int | None = None
    """What qemu-mipsel gives instead, where it is known to differ from Linux."""
    qemu_stdout_wrong: str | None = None
    """Why qemu's stdout is wrong; then NAME.expected beside the source is Linux's."""

    @property
    def expected_stdout(self) -> bytes | None:
        """Linux's stdout, for programs where qemu's is known to be wrong."""
        if self.qemu_stdout_wrong is None:
            return None
        return self.source.with_suffix(".expected").read_bytes()

    @property
    def guest_path(self) -> str:
        return f"{GUEST_CORPUS_DIR}/{self.name}"

    @property
    def argv(self) -> tuple[str, ...]:
        """The guest's argv: the guest path, then the declared arguments."""
        return (self.guest_path, *self.args)

    def env_dict(self) -> dict[str, str]:
        """The guest environment, in declaration order."""
        return dict(self.env)

    def host_binary(self, root: Path = ROOT) -> Path:
        """Where the binary lives on the host under `root`."""
        return root / self.guest_path.lstrip("/")

    @property
    def expected_qemu_status(self) -> int | None:
        return self.qemu_status if self.qemu_status is not None else self.status


@dataclass(frozen=True)
class Result:
    """How a run ended: stdout bytes and a shell-style status."""

    stdout: bytes
    status: int
    stderr: bytes = b""


def parse_header(text: str) -> dict[str, str]:
    """The ``key: value`` declarations of a source's opening comment."""
    decls: dict[str, str] = {}
    text = text.lstrip()
    end = text.find("*/")
    head = text[: end + 2] if text.startswith("/*") and end >= 0 else ""
    for line in head.splitlines()[:_HEADER_LINES]:
        m = _DECL.match(line)
        if m and m.group(1) in _HEADER_KEYS:
            if m.group(1) in decls:
                raise CorpusError(f"duplicate declaration {m.group(1)!r}")
            decls[m.group(1)] = m.group(2)
    return decls


def _parse_env(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for word in shlex.split(value):
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise CorpusError(f"env entry {word!r} is not KEY=VALUE")
        pairs.append((key, val))
    return tuple(pairs)


def _parse_status(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        status = int(value.split()[0])
    except (ValueError, IndexError):
        raise CorpusError(f"bad status {value!r}") from None
    if not 0 <= status <= 255:
        raise CorpusError(f"status {status} out of range")
    return status


def load_program(source: Path) -> Program:
    """Read one corpus source's declarations."""
    try:
        decls = parse_header(source.read_text(encoding="utf-8"))
        return Program(
            name=source.stem,
            source=source,
            args=tuple(shlex.split(decls.get("args", ""))),
            env=_parse_env(decls.get("env", "")),
            status=_parse_status(decls.get("status")),
            qemu_status=_parse_status(decls.get("qemu-status")),
            qemu_stdout_wrong=decls.get("qemu-stdout"),
        )
    except (CorpusError, ValueError) as e:
        raise CorpusError(f"{source}: {e}") from e


def list_programs(src_dir: Path = CORPUS_SRC) -> list[Program]:
    """Every corpus program, sorted by name."""
    return [load_program(p) for p in sorted(src_dir.glob("*.c"))]


@contextmanager
def fresh_root(template: Path = ROOT) -> Iterator[Path]:
    """A throw-away copy of the shipped root; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="afgdb-root-") as tmp:
        root = Path(tmp) / "root"
        shutil.copytree(template, root, symlinks=True)
        yield root


def status_from_returncode(returncode: int) -> int:
    """subprocess's returncode as a shell reports it: 128+N for signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _no_core_dumps() -> None:
    # qemu-user writes qemu_*.core files into the cwd unless RLIMIT_CORE is 0.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = DEFAULT_TIMEOUT,
) -> Result:
    """Run a host command exactly like the corpus runs programs: the given
    environment and nothing else, empty stdin, no core files."""
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        preexec_fn=_no_core_dumps,
        check=False,
    )
    return Result(proc.stdout, status_from_returncode(proc.returncode), proc.stderr)


def qemu_path() -> str | None:
    """The qemu-mipsel executable, or None when it is not installed."""
    return shutil.which(QEMU)


def run_qemu(program: Program, root: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """Run `program` under qemu-mipsel with cwd = `root` (a fresh copy).

    ``-0`` gives the guest the same argv[0] (its guest path) that afgdb gives;
    the host environment is replaced by the program's declared one.
    """
    qemu = qemu_path()
    if qemu is None:
        raise FileNotFoundError(QEMU)
    argv = [qemu, "-0", program.guest_path, str(program.host_binary(root)), *program.args]
    return run_command(argv, cwd=root, env=program.env_dict(), timeout=timeout)
