"""`afgdb demo exploit`: the nospawn exploit demo (docs/nospawn.md), both cases, narrated.

1. ``/bin/vulnd`` reads ``afgdb/rootfs/exploit/vulnd-exploit.bin`` on stdin:
   its stack overflow runs the shellcode, which execs ``/bin/pwned`` and
   the PWNED marker appears.
2. ``/bin/nospawn /bin/vulnd`` with the same input: the shellcode's execve
   fails with ENOSYS, SIGSYS kills the daemon, its core is handed to a
   cored (started here, file sink) and no marker appears.

Owns nothing but the narration; each run is an ordinary machine with the
``coredump`` hook of `kern_core` pointing at the cored it starts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable

from afgdb.machine import elfcore
from afgdb.machine.kernel import kern_core, kern_nospawn
from afgdb.machine.kernel.files import BufferStream
from afgdb.machine.kernel.kernel import Kernel

HERE = os.path.dirname(os.path.abspath(__file__))
EXPLOIT = os.path.join(HERE, "rootfs", "exploit", "vulnd-exploit.bin")
ENV = ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"]  # what the exploit's addresses assume
MARKER = b"PWNED"


@dataclass
class Case:
    argv: list[str]
    status: int = 0
    output: bytes = b""
    log: list[str] = field(default_factory=list)

    @property
    def pwned(self) -> bool:
        return MARKER in self.output

    def how(self) -> str:
        st = self.status
        if st & 0x7F:
            core = " (core dumped)" if st & 0x80 else ""
            return f"killed by signal {st & 0x7F}{core}"
        return f"exited {(st >> 8) & 0xFF}"


def run_case(root: str, argv: list[str], data: bytes, cored_socket: str | None) -> Case:
    """Run argv on a fresh machine with data on stdin; cores go to cored_socket."""
    case = Case(argv)
    out = BufferStream(1)
    k = Kernel(root, stdin=BufferStream(0, data), stdout=out, stderr=out)
    k.log = case.log.append
    kern_core.install(k, {"socket": cored_socket, "timeout": 10, "fallback": False})
    p = k.spawn(argv[0], argv, ENV)
    case.status = k.run_until_exit(p, limit=200_000_000)
    case.output = bytes(out.out)
    return case


@contextlib.contextmanager
def running_cored(workdir: str, cores: str) -> Iterator[str]:
    """A cored on its own thread with a file sink into `cores`; yields its socket path."""
    import anyio.from_thread

    from afgdb.cored import Cored, load_config

    sock = os.path.join(workdir, "cored.sock")
    cfg = os.path.join(workdir, "cored.toml")
    with open(cfg, "w") as f:
        f.write(f'[cored]\nsocket = "{sock}"\nspool = "{workdir}/spool"\n'
                f"retry_initial = 0.05\nretry_max = 0.2\n\n"
                f'[[rule]]\nsink = "file"\ndirectory = "{cores}"\n'
                f'name = "{{program}}.{{pid}}.{{signame}}.core"\n')
    logs: list[str] = []
    cored = Cored(load_config(cfg), log=logs.append)
    with anyio.from_thread.start_blocking_portal() as portal:
        fut, _ = portal.start_task(cored.serve)
        try:
            yield sock
        finally:
            fut.cancel()
            with contextlib.suppress(BaseException):
                fut.result(timeout=5)


def core_siginfo(path: str) -> dict[str, int]:
    """The NT_SIGINFO of a process core, read through elfcore's declared layouts."""
    with open(path, "rb") as f:
        data = f.read()
    eh = elfcore.EHDR.unpack(data)
    for i in range(eh["e_phnum"]):
        ph = elfcore.PHDR.unpack(data, eh["e_phoff"] + i * eh["e_phentsize"])
        if ph["p_type"] != elfcore.PT_NOTE:
            continue
        notes = data[ph["p_offset"]:ph["p_offset"] + ph["p_filesz"]]
        for name, ntype, desc in elfcore.parse_notes(notes):
            if name == b"CORE" and ntype == elfcore.NT_SIGINFO:
                info = elfcore.SIGINFO_SYS.unpack(desc)
                return {k: v for k, v in info.items() if k}
    raise ValueError(f"{path}: no NT_SIGINFO note")


def wait_for_core(cores: str, timeout: float = 15.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = sorted(n for n in os.listdir(cores) if n.endswith(".core"))
        if names:
            return os.path.join(cores, names[0])
        time.sleep(0.05)
    return None


def exploit(root: str, cores: str | None = None,
            say: Callable[[str], None] = print) -> int:
    """Both cases; 0 when the exploit worked unprotected and was stopped by nospawn."""
    with open(EXPLOIT, "rb") as f:
        data = f.read()
    with tempfile.TemporaryDirectory(prefix="afgdb-demo-") as work:
        cores_dir = cores or os.path.join(work, "cores")
        os.makedirs(cores_dir, exist_ok=True)

        def show(case: Case) -> None:
            for line in case.output.decode(errors="replace").splitlines():
                say(f"   | {line}")
            for line in case.log:
                say(f"   kernel: {line}")

        rel = os.path.relpath(EXPLOIT)
        say(f"== 1. unprotected: /bin/vulnd < {rel}")
        say("   (two ordinary requests, then a 281-byte line: NOP sled, shellcode, return "
            "address)")
        a = run_case(root, ["/bin/vulnd"], data, None)
        show(a)
        say(f"   the daemon's process {a.how()}; " + (
            "the PWNED marker appeared: the shellcode's execve replaced vulnd with /bin/pwned"
            if a.pwned else "no marker (?)"))
        say("")
        say(f"== 2. protected: /bin/nospawn /bin/vulnd < {rel}")
        say("   (nospawn asks for fork,exec to be disabled at its next exec, then execs vulnd)")
        with running_cored(work, cores_dir) as sock:
            b = run_case(root, ["/bin/nospawn", "/bin/vulnd"], data, sock)
            show(b)
            say(f"   vulnd {b.how()}; " + ("no marker" if not b.pwned else "MARKER APPEARED"))
            core = wait_for_core(cores_dir) if b.status & 0x7F == 12 else None
        if core is not None:
            si = core_siginfo(core)
            sc = si["si_syscall"]
            name = {11 + 4000: "execve", 356 + 4000: "execveat"}.get(sc, "?")
            say(f"   cored stored the core: {core}")
            say(f"   its siginfo: si_signo {si['si_signo']} (SIGSYS), si_code {si['si_code']} "
                f"(SYS_NOSPAWN), si_syscall {sc} ({name}), si_call_addr "
                f"{si['si_call_addr']:#x} (on the stack: the shellcode)")
            if cores is None:
                say("   (a temporary directory: pass --cores DIR to keep it)")
        else:
            say("   no core arrived at cored")
        ok = (a.pwned and not b.pwned and b.status & 0x7F == 12 and core is not None
              and core_siginfo(core)["si_code"] == kern_nospawn.SYS_NOSPAWN)
        say("")
        say("result: " + ("nospawn stopped the exploit: the hijacked daemon could not spawn "
                          "a program and died with SIGSYS" if ok else "UNEXPECTED (see above)"))
        return 0 if ok else 1
