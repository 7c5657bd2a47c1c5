"""The `afgdb` command: run, serve, connect, dump."""

from __future__ import annotations

import argparse
import ipaddress
import os
import platform
import select
import socket
import sys
import time
from collections.abc import Sequence

from afgdb import hostpy
from afgdb.machine.kernel.errors import SyscallError
from afgdb.machine.kernel.files import File
from afgdb.machine.kernel.kernel import Kernel
from afgdb.runstats import RateWindows


def default_root() -> str:
    """The rootfs shipped inside the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "rootfs", "root")


def _status_to_exit(status: int) -> int:
    if status & 0x7F:
        return 128 + (status & 0x7F)
    return (status >> 8) & 0xFF


def _install_cores(k: Kernel, ns: argparse.Namespace) -> None:
    """Core dumps, when asked for: to cored (--cored-socket or $AFGDB_CORED_SOCKET), else
    with --cores to core.<pid> in the process's directory (like ulimit -c unlimited)."""
    from afgdb.machine.kernel import kern_core

    sock = getattr(ns, "cored_socket", None) or os.environ.get(kern_core.ENV_SOCKET)
    if sock or getattr(ns, "cores", False):
        kern_core.install(k, {"socket": sock, "fallback": bool(getattr(ns, "cores", False))})


def cmd_cored(ns: argparse.Namespace) -> int:
    from afgdb.cored import cored_main

    return cored_main(ns.rest)


def cmd_run(ns: argparse.Namespace) -> int:
    from afgdb.machine.kernel import replay
    from afgdb.machine.kernel.files import HostStream

    trace = sys.stderr if ns.trace_syscalls else None
    stdio: tuple[File, File, File] = (HostStream(0, 0), HostStream(1, 1), HostStream(2, 1))
    try:
        if ns.record:
            stdio = replay.record(stdio, open(ns.record, "w"))  # noqa: SIM115 - lives as k
        elif ns.replay:
            with open(ns.replay) as log:
                stdio = replay.replay(log, stdio)
        k = Kernel(ns.root, trace=trace, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2])
    except (OSError, ValueError, replay.ReplayError) as e:
        print(f"afgdb: {e}", file=sys.stderr)
        return 2
    from afgdb import socketfamily

    socketfamily.install(k)  # guest programs may debug each other over AF_GDB
    _install_cores(k, ns)
    if ns.engine == "interp":
        from afgdb.machine.cpu import interp

        k.cpu_run = interp.run
    env = ([] if ns.ignore_environment else ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"])
    env += ns.env or []
    t0 = time.perf_counter()
    try:
        p = k.spawn(ns.program, [ns.program] + list(ns.args), env)
    except SyscallError as e:
        print(f"afgdb: cannot run {ns.program}: {e}", file=sys.stderr)
        return 127
    rates = RateWindows()
    try:
        status = k.run_until_exit(p, progress=rates.add if ns.stats else None)
    except replay.ReplayError as e:
        print(f"afgdb: {e}", file=sys.stderr)
        return 125
    dt = time.perf_counter() - t0
    if not replay.is_done(stdio[0]):
        print(f"afgdb: replay: the run ended before its log {ns.replay} did: it diverged",
              file=sys.stderr)
        return 125
    if ns.stats:
        n = p.icount()
        impl = f"{platform.python_implementation()} {platform.python_version()}"
        if hostpy.jit_set:
            impl += f" (JIT {hostpy.jit_set})"
        print(f"afgdb: {n} instructions in {dt:.3f} s = {n / dt / 1e6:.2f} MIPS "
              f"(virtual time {k.clock_ns / 1e9:.6f} s; {impl}, {ns.engine} engine)",
              file=sys.stderr)
        steady = rates.steady()
        if steady is not None:
            print(f"afgdb: steady rate {steady:.2f} MIPS (CPU time, median of the later "
                  f"{rates.window // 1_000_000}M-instruction windows; first window "
                  f"{rates.rates[0]:.2f})", file=sys.stderr)
    return _status_to_exit(status)


def check_listen(listen: str, allow_remote: bool) -> None:
    """Refuse a TCP address other hosts could reach unless allow_remote: the remote
    protocol has no authentication, and whoever connects may read and write the
    memory of, and run code in, every process of the machine."""
    host = listen.rpartition(":")[0].strip("[]") or "127.0.0.1"  # as the server reads it
    if allow_remote:
        return
    try:
        addrs = {str(ai[4][0]) for ai in socket.getaddrinfo(host, 0, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as e:
        raise ValueError(f"--listen {listen}: {e.strerror}") from None
    wide = sorted(a for a in addrs if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    if wide:
        raise ValueError(
            f"--listen {listen} would accept connections from other hosts "
            f"({', '.join(wide)}); the remote protocol has no "
            "authentication and a client may read, write and run any guest process. "
            "Use a loopback address, --unix PATH, or say --allow-remote.")


def cmd_serve(ns: argparse.Namespace) -> int:
    import anyio

    from afgdb.server import ServeOptions, serve
    from afgdb.targets.caps import TargetError

    if ns.verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="afgdb: %(name)s: %(message)s")
    if not ns.stdio and not ns.unix:
        try:
            check_listen(ns.listen, ns.allow_remote)
        except ValueError as e:
            print(f"afgdb: {e}", file=sys.stderr)
            return 2
    opts = ServeOptions(root=ns.root, program=[ns.program] + list(ns.args) if ns.program else [],
                        listen=ns.listen, unix=ns.unix, stdio=ns.stdio, env=ns.env,
                        kernel_socket=ns.kernel_socket)
    try:
        anyio.run(serve, opts)
    except KeyboardInterrupt:
        return 130
    except TargetError as e:
        print(f"afgdb: {e.msg}", file=sys.stderr)
        return 127
    except (OSError, ValueError) as e:
        print(f"afgdb: {e}", file=sys.stderr)
        return 2
    return 0


def _bridge(sock: socket.socket) -> int:
    """Pass bytes stdin -> sock and sock -> stdout until the server closes its side."""
    fds = {0: sock.fileno(), sock.fileno(): 1}
    while True:
        ready, _, _ = select.select(list(fds), [], [])
        for fd in ready:
            data = os.read(fd, 0x10000)
            if not data:
                if fd == sock.fileno():
                    return 0
                sock.shutdown(socket.SHUT_WR)  # gdb is done sending
                del fds[0]
                continue
            view = memoryview(data)
            while view:
                view = view[os.write(fds[fd], view):]


def cmd_connect(ns: argparse.Namespace) -> int:
    """Bridge stdin/stdout to pid 0 of a running server (`target remote | afgdb connect 0`)."""
    from afgdb.targets.kernel_pid0 import default_kernel_socket

    if ns.pid != 0:
        return connect_process(ns.pid, ns.server or "127.0.0.1:2345")
    path = ns.server or default_kernel_socket()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        why = ("only the server's owner (or root) may open pid 0"
               if isinstance(e, PermissionError) else
               "is `afgdb serve --kernel` running?")
        print(f"afgdb: cannot reach pid 0 at {path}: {e.strerror}; {why}", file=sys.stderr)
        return 1
    with sock:
        return _bridge(sock)


def connect_process(pid: int, server: str) -> int:
    """`afgdb connect PID`: stdin/stdout to the stub of process PID in a running server.

    The AF_GDB socket of PID, reached through the server's listener (HOST:PORT, or
    a unix socket path): the bridge attaches to PID (vAttach; the server's
    permission rules and one-debugger rule apply) and then passes bytes both ways,
    so gdb's `target remote | afgdb connect PID` finds the process stopped. When gdb
    goes away the process is detached and runs on.
    """
    from afgdb import rsp

    try:
        if "/" in server:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(server)
        else:
            host, _, port = server.rpartition(":")
            sock = socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)))
    except (OSError, ValueError) as e:
        print(f"afgdb: cannot reach the server at {server}: {e}; is `afgdb serve` running?",
              file=sys.stderr)
        return 1
    conn = rsp.Connection(rsp.CLIENT)

    def request(payload: bytes) -> bytes | None:
        sock.sendall(conn.send_packet(payload))
        while True:
            data = sock.recv(0x10000)
            if not data:
                return None
            conn.feed(data)
            while (ev := conn.next_event()) is not rsp.NEED_DATA:
                if isinstance(ev, rsp.Packet):
                    sock.sendall(conn.data_to_send())
                    return ev.data

    with sock:
        # error-message+ so that a refusal comes with its reason (gdb asks again later).
        reply = request(b"qSupported:error-message+") and request(b"vAttach;%x" % pid)
        if reply is None:
            print("afgdb: the server closed the connection", file=sys.stderr)
            return 1
        if not reply.startswith(b"T"):
            why = reply[2:].decode(errors="replace") if reply.startswith(b"E.") else reply.decode()
            print(f"afgdb: cannot debug process {pid}: {why}", file=sys.stderr)
            return 1
        return _bridge(sock)


def cmd_spl_study(ns: argparse.Namespace) -> int:
    from afgdb.machine import spl

    return spl.main([] if ns.ns is None else ["--ns", ns.ns])


def cmd_gdbinit(ns: argparse.Namespace) -> int:
    from afgdb.gdbinit import render

    sys.stdout.write(render(ns.rootfs))
    return 0


def cmd_demo(ns: argparse.Namespace) -> int:
    from afgdb import demo

    return demo.exploit(ns.root, ns.cores)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="afgdb", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a guest program to completion")
    run.add_argument("--root", default=default_root(), help="guest root directory")
    run.add_argument("--trace-syscalls", action="store_true",
                     help="print each system call like strace, on stderr")
    run.add_argument("--stats", action="store_true",
                     help="print instructions executed and instructions per second")
    run.add_argument("--cored-socket", metavar="PATH",
                     help="hand core dumps to `afgdb cored` listening at PATH")
    run.add_argument("--cores", action="store_true",
                     help="write core.PID in the process's directory when cored is not used")
    run.add_argument("--engine", choices=("block", "interp"), default="block",
                     help="block: translated basic blocks (fast); interp: the reference "
                          "interpreter, one instruction at a time")
    run.add_argument("--env", action="append", metavar="NAME=VALUE",
                     help="add to the guest environment (repeatable)")
    run.add_argument("-i", "--ignore-environment", action="store_true",
                     help="start the guest with an empty environment (default: PATH, HOME, TERM)")
    rr = run.add_mutually_exclusive_group()
    rr.add_argument("--record", metavar="LOG", help="log what the run takes from the host "
                                                    "(stdin bytes and chunks, isatty, fstat)")
    rr.add_argument("--replay", metavar="LOG", help="take those from a --record LOG instead: "
                                                    "the same instruction counts and output")
    run.add_argument("program", help="guest path of the program, e.g. /bin/hello")
    run.add_argument("args", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_run)
    cored = sub.add_parser("cored", help="the crash daemon (see `afgdb cored -h`)",
                           add_help=False)
    cored.add_argument("rest", nargs=argparse.REMAINDER)
    cored.set_defaults(func=cmd_cored)
    study = sub.add_parser("spl-study", help="measure splx vs. interrupt softint cost")
    study.add_argument("--ns", default=None, help="comma-separated splx-per-softint values")
    study.set_defaults(func=cmd_spl_study)

    serve = sub.add_parser(
        "serve", help="serve the machine to gdb (remote protocol)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the simulated machine to gdb over the remote protocol.",
        epilog="examples:\n"
               "  afgdb serve /bin/gdbdemo      then: gdb-multiarch -ex "
               "'target extended-remote 127.0.0.1:2345'\n"
               "  afgdb serve                   extended-remote: `run /bin/hello` or `attach PID`\n"
               "  gdb-multiarch -ex 'target remote | afgdb serve --stdio /bin/hello'\n\n"
               "With a PROGRAM it is created stopped at its entry point, as gdbserver does.\n"
               "A process started for a connection is killed when the connection ends;\n"
               "an attached process is detached and runs on.")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--listen", default="127.0.0.1:2345", metavar="HOST:PORT",
                       help="TCP address (default 127.0.0.1:2345; port 0 picks a free one)")
    where.add_argument("--unix", metavar="PATH", help="listen on a unix socket (mode 0600)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="let --listen bind an address other hosts can reach (unsafe: "
                            "no authentication; anyone who connects controls the machine)")
    where.add_argument("--stdio", action="store_true",
                       help="speak the protocol on stdin/stdout (guest output goes to stderr)")
    serve.add_argument("--root", default=default_root(), help="guest root directory")
    serve.add_argument("--env", action="append", metavar="NAME=VALUE",
                       help="guest environment (repeatable; default PATH, HOME, TERM)")
    kernel = serve.add_mutually_exclusive_group()
    kernel.add_argument("--kernel", dest="kernel_socket", action="store_const", const="",
                        help="also serve pid 0 (the kernel, read-only) on a unix socket "
                             "(mode 0600) where `afgdb connect 0` finds it")
    kernel.add_argument("--kernel-socket", metavar="PATH",
                        help="the same on the unix socket PATH (`afgdb connect 0 --server PATH`)")
    serve.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    serve.add_argument("program", nargs="?", help="guest path of a program to start stopped")
    serve.add_argument("args", nargs=argparse.REMAINDER)
    serve.set_defaults(func=cmd_serve)

    connect = sub.add_parser(
        "connect", help="bridge stdin/stdout to pid 0 (the kernel) of a running server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Speak the remote protocol on stdin/stdout to pid 0 of an `afgdb serve "
                    "--kernel` server: the simulated kernel, read-only (memory, "
                    "threads, registers; no writes, breakpoints or resumption).",
        epilog="examples:\n"
               "  afgdb serve --kernel &\n"
               "  gdb-multiarch -ex 'target remote | afgdb connect 0'\n"
               "  (gdb) p *allproc.lh_first\n"
               "  (gdb) info threads")
    connect.add_argument("pid", type=int, help="0 (the kernel), or a process id: its AF_GDB "
                                               "socket (the process stops; detached on exit)")
    connect.add_argument("--server", metavar="ADDR",
                         help="pid 0: the server's kernel socket (default: the one of `afgdb "
                              "serve --kernel`); other pids: the server's HOST:PORT or unix "
                              "socket path (default 127.0.0.1:2345)")
    connect.set_defaults(func=cmd_connect)

    gdbinit = sub.add_parser(
        "gdbinit", help="print a gdb-multiarch set-up script for afgdb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print gdb commands that set gdb-multiarch up for afgdb (MIPS32r2 "
                    "little-endian GNU/Linux, sysroot target:, the sources of the shipped "
                    "programs) and define afgdb-connect, afgdb-ps and afgdb-kernel.",
        epilog="examples:\n"
               "  gdb-multiarch -x <(afgdb gdbinit)\n"
               "  afgdb gdbinit >> ~/.gdbinit")
    gdbinit.add_argument("--rootfs", default=None, metavar="DIR",
                         help="what /afgdb/rootfs in debug information stands for "
                              "(default: the installed package's rootfs)")
    gdbinit.set_defaults(func=cmd_gdbinit)

    demo = sub.add_parser(
        "demo", help="run a demonstration: `afgdb demo exploit` (nospawn vs. an exploit)",
        description="exploit: a daemon with a stack overflow is exploited to exec a marker "
                    "program, then run again under `nospawn`, where the same exploit dies "
                    "with SIGSYS and its core goes to cored (docs/nospawn.md).")
    demo.add_argument("name", choices=("exploit",), help="which demo")
    demo.add_argument("--root", default=default_root(), help="guest root directory")
    demo.add_argument("--cores", metavar="DIR", help="where cored stores the core "
                                                     "(default: a temporary directory)")
    demo.set_defaults(func=cmd_demo)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the afgdb command itself (not a caller in this process)
        hostpy.ensure_nursery(["-m", "afgdb", *sys.argv[1:]])
        hostpy.tune_jit()
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["cored"]:  # the daemon parses its own options (argparse REMAINDER won't)
        from afgdb.cored import cored_main

        return cored_main(args[1:])
    ns = build_parser().parse_args(args)
    rc: int = ns.func(ns)
    return rc


if __name__ == "__main__":
    sys.exit(main())
