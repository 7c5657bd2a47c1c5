"""The system call table (NetBSD's syscalls.master): number, name, arguments, handler.

One declarative list. Dispatch, ``--trace-syscalls`` names and argument
formatting, gdb's syscall catching and the test that every row has a
handler all come from it. Numbers are Linux o32 (4000 + n); afgdb's own
calls live at AFGDB_BASE and are documented in ``include/afgdb.h``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from afgdb.machine.kernel import (
    futex,
    kern_exit,
    kern_fork,
    kern_nospawn,
    kern_prot,
    kern_resource,
    kern_sig,
    sys_exec,
    sys_file,
    sys_mem,
    sys_misc,
    sys_pipe,
    sys_proc,
    sys_socket,
)
from afgdb.machine.kernel.linux_abi import SYSCALL_BASE

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel
    from afgdb.machine.kernel.proc import LWP

AFGDB_BASE = 4900  # afgdb's private range, above every Linux o32 number

Handler = Callable[..., int]


@dataclass(frozen=True)
class Syscall:
    nr: int
    name: str
    args: tuple[tuple[str, str], ...]  # (type, name); types: int uint ptr str size fd flags
    fn: Handler
    nargs: int = field(init=False, repr=False, compare=False)  # len(args), read per call

    def __post_init__(self) -> None:
        object.__setattr__(self, "nargs", len(self.args))

    def format_args(self, k: Kernel, t: LWP, values: list[int]) -> str:
        out = []
        for (ty, _name), v in zip(self.args, values):
            if ty == "str":
                try:
                    s = t.proc.aspace.read_cstr(v, 256).decode("utf-8", "replace")
                    out.append(repr(s).replace("'", '"'))
                except Exception:
                    out.append(hex(v))
            elif ty in ("int", "fd"):
                out.append(str(v - (1 << 32) if v & 0x80000000 else v))
            elif ty in ("uint", "size"):
                out.append(str(v))
            else:
                out.append(hex(v))
        return ", ".join(out)


def _spec(text: str) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    parts = [p.strip().split() for p in text.split(",")]
    return tuple((p[0], p[1]) for p in parts)


# (offset from 4000 or absolute afgdb number, name, "type name, ...", handler)
_ROWS: list[tuple[int, str, str, Handler]] = [
    (1, "exit", "int status", sys_proc.sys_exit),
    (3, "read", "fd fd, ptr buf, size count", sys_file.sys_read),
    (4, "write", "fd fd, ptr buf, size count", sys_file.sys_write),
    (5, "open", "str path, flags flags, uint mode", sys_file.sys_open),
    (6, "close", "fd fd", sys_file.sys_close),
    (10, "unlink", "str path", sys_file.sys_unlink),
    (12, "chdir", "str path", sys_file.sys_chdir),
    (13, "time", "ptr tloc", sys_misc.sys_time),
    (19, "lseek", "fd fd, int offset, int whence", sys_file.sys_lseek),
    (20, "getpid", "", sys_proc.sys_getpid),
    (24, "getuid", "", sys_proc.sys_getuid),
    (33, "access", "str path, int mode", sys_file.sys_access),
    (39, "mkdir", "str path, uint mode", sys_file.sys_mkdir),
    (40, "rmdir", "str path", sys_file.sys_rmdir),
    (38, "rename", "str old, str new", sys_file.sys_rename),
    (45, "brk", "ptr addr", sys_mem.sys_brk),
    (47, "getgid", "", sys_proc.sys_getgid),
    (49, "geteuid", "", sys_proc.sys_geteuid),
    (50, "getegid", "", sys_proc.sys_getegid),
    (54, "ioctl", "fd fd, uint req, ptr arg", sys_file.sys_ioctl),
    (60, "umask", "uint mask", sys_proc.sys_umask),
    (64, "getppid", "", sys_proc.sys_getppid),
    (65, "getpgrp", "", sys_proc.sys_getpgrp),
    (75, "setrlimit", "int resource, ptr rlim", kern_resource.sys_setrlimit),
    (76, "getrlimit", "int resource, ptr rlim", kern_resource.sys_getrlimit),
    (77, "getrusage", "int who, ptr usage", sys_proc.sys_getrusage),
    (78, "gettimeofday", "ptr tv, ptr tz", sys_misc.sys_gettimeofday),
    (85, "readlink", "str path, ptr buf, size size", sys_file.sys_readlink),
    (90, "mmap", "ptr addr, size len, int prot, int flags, fd fd, uint off", sys_mem.sys_mmap),
    (91, "munmap", "ptr addr, size len", sys_mem.sys_munmap),
    (93, "ftruncate", "fd fd, size len", sys_file.sys_ftruncate),
    (122, "uname", "ptr buf", sys_misc.sys_uname),
    (125, "mprotect", "ptr addr, size len, int prot", sys_mem.sys_mprotect),
    (132, "getpgid", "int pid", sys_proc.sys_getpgid),
    (140, "_llseek", "fd fd, uint hi, uint lo, ptr result, int whence", sys_file.sys_llseek),
    (145, "readv", "fd fd, ptr iov, int iovcnt", sys_file.sys_readv),
    (146, "writev", "fd fd, ptr iov, int iovcnt", sys_file.sys_writev),
    (151, "getsid", "int pid", sys_proc.sys_getsid),
    (162, "sched_yield", "", sys_proc.sys_sched_yield),
    (166, "nanosleep", "ptr req, ptr rem", sys_misc.sys_nanosleep),
    (167, "mremap", "ptr old, size oldlen, size newlen, int flags, ptr new", sys_mem.sys_mremap),
    (186, "getresuid", "ptr ruid, ptr euid, ptr suid", sys_proc.sys_getresuid),
    (191, "getresgid", "ptr rgid, ptr egid, ptr sgid", sys_proc.sys_getresgid),
    (194, "rt_sigaction", "int sig, ptr act, ptr oact, size sigsetsize", sys_proc.sys_rt_sigaction),
    (195, "rt_sigprocmask", "int how, ptr set, ptr oset, size sigsetsize",
     sys_proc.sys_rt_sigprocmask),
    (200, "pread64", "fd fd, ptr buf, size count, uint pad, uint lo, uint hi", sys_file.sys_pread64),
    (201, "pwrite64", "fd fd, ptr buf, size count, uint pad, uint lo, uint hi",
     sys_file.sys_pwrite64),
    (203, "getcwd", "ptr buf, size size", sys_file.sys_getcwd),
    (210, "mmap2", "ptr addr, size len, int prot, int flags, fd fd, uint pgoff", sys_mem.sys_mmap2),
    (212, "ftruncate64", "fd fd, uint pad, uint lo, uint hi", sys_file.sys_ftruncate64),
    (213, "stat64", "str path, ptr buf", sys_file.sys_stat64),
    (214, "lstat64", "str path, ptr buf", sys_file.sys_lstat64),
    (215, "fstat64", "fd fd, ptr buf", sys_file.sys_fstat64),
    (218, "madvise", "ptr addr, size len, int advice", sys_mem.sys_madvise),
    (219, "getdents64", "fd fd, ptr dirp, size count", sys_file.sys_getdents64),
    (220, "fcntl64", "fd fd, int cmd, uint arg", sys_file.sys_fcntl),
    (55, "fcntl", "fd fd, int cmd, uint arg", sys_file.sys_fcntl),
    (222, "gettid", "", sys_proc.sys_gettid),
    (246, "exit_group", "int status", sys_proc.sys_exit_group),
    (252, "set_tid_address", "ptr tidptr", sys_proc.sys_set_tid_address),
    (263, "clock_gettime", "int clk, ptr tp", sys_misc.sys_clock_gettime),
    (264, "clock_getres", "int clk, ptr tp", sys_misc.sys_clock_getres),
    (265, "clock_nanosleep", "int clk, int flags, ptr req, ptr rem", sys_misc.sys_clock_nanosleep),
    (283, "set_thread_area", "ptr addr", sys_proc.sys_set_thread_area),
    (288, "openat", "fd dirfd, str path, flags flags, uint mode", sys_file.sys_openat),
    (289, "mkdirat", "fd dirfd, str path, uint mode", sys_file.sys_mkdirat),
    (293, "fstatat64", "fd dirfd, str path, ptr buf, flags flags", sys_file.sys_fstatat64),
    (294, "unlinkat", "fd dirfd, str path, flags flags", sys_file.sys_unlinkat),
    (298, "readlinkat", "fd dirfd, str path, ptr buf, size size", sys_file.sys_readlinkat),
    (300, "faccessat", "fd dirfd, str path, int mode", sys_file.sys_faccessat),
    (309, "set_robust_list", "ptr head, size len", sys_proc.sys_set_robust_list),
    (338, "prlimit64", "int pid, int resource, ptr new, ptr old", kern_resource.sys_prlimit64),
    (353, "getrandom", "ptr buf, size count, flags flags", sys_misc.sys_getrandom),
    (366, "statx", "fd dirfd, str path, flags flags, uint mask, ptr buf", sys_file.sys_statx),
    (367, "rseq", "ptr rseq, size len, flags flags, uint sig", sys_misc.sys_enosys),
    (403, "clock_gettime64", "int clk, ptr tp", sys_misc.sys_clock_gettime64),
    (406, "clock_getres_time64", "int clk, ptr tp", sys_misc.sys_clock_getres64),
    (407, "clock_nanosleep_time64", "int clk, int flags, ptr req, ptr rem",
     sys_misc.sys_clock_nanosleep64),
    (439, "faccessat2", "fd dirfd, str path, int mode, flags flags", sys_file.sys_faccessat2),
    # --- the process model: fork/exec/exit/wait, signals, futex, pipes, credentials
    (2, "fork", "", kern_fork.sys_fork),
    (7, "waitpid", "int pid, ptr status, flags options", kern_exit.sys_waitpid),
    (11, "execve", "str path, ptr argv, ptr envp", sys_exec.sys_execve),
    (23, "setuid", "uint uid", kern_prot.sys_setuid),
    (27, "alarm", "uint seconds", kern_sig.sys_alarm),
    (29, "pause", "", kern_sig.sys_pause),
    (37, "kill", "int pid, int sig", kern_sig.sys_kill),
    (41, "dup", "fd fd", sys_pipe.sys_dup),
    (42, "pipe", "", sys_pipe.sys_pipe),
    (46, "setgid", "uint gid", kern_prot.sys_setgid),
    (57, "setpgid", "int pid, int pgid", kern_prot.sys_setpgid),
    (63, "dup2", "fd old, fd new", sys_pipe.sys_dup2),
    (66, "setsid", "", kern_prot.sys_setsid),
    (70, "setreuid", "uint ruid, uint euid", kern_prot.sys_setreuid),
    (71, "setregid", "uint rgid, uint egid", kern_prot.sys_setregid),
    (80, "getgroups", "int size, ptr list", kern_prot.sys_getgroups),
    (81, "setgroups", "int size, ptr list", kern_prot.sys_setgroups),
    (102, "socketcall", "int call, ptr args", sys_socket.sys_socketcall),
    (104, "setitimer", "int which, ptr new, ptr old", kern_sig.sys_setitimer),
    (105, "getitimer", "int which, ptr value", kern_sig.sys_getitimer),
    (114, "wait4", "int pid, ptr status, flags options, ptr rusage", kern_exit.sys_wait4),
    (120, "clone", "flags flags, ptr newsp, ptr ptid, ptr tls, ptr ctid", kern_fork.sys_clone),
    (138, "setfsuid", "uint uid", kern_prot.sys_setfsuid),
    (139, "setfsgid", "uint gid", kern_prot.sys_setfsgid),
    (142, "_newselect", "int n, ptr inp, ptr outp, ptr exp, ptr tvp", sys_pipe.sys_newselect),
    (183, "socket", "int domain, int type, int protocol", sys_socket.sys_socket),
    (184, "socketpair", "int domain, int type, int protocol, ptr sv", sys_pipe.sys_socketpair),
    (185, "setresuid", "uint ruid, uint euid, uint suid", kern_prot.sys_setresuid),
    (188, "poll", "ptr fds, uint nfds, int timeout", sys_pipe.sys_poll),
    (190, "setresgid", "uint rgid, uint egid, uint sgid", kern_prot.sys_setresgid),
    (193, "rt_sigreturn", "", kern_sig.sys_rt_sigreturn),
    (196, "rt_sigpending", "ptr set, size sigsetsize", kern_sig.sys_rt_sigpending),
    (197, "rt_sigtimedwait", "ptr set, ptr info, ptr timeout, size sigsetsize",
     kern_sig.sys_rt_sigtimedwait),
    (198, "rt_sigqueueinfo", "int pid, int sig, ptr info", kern_sig.sys_rt_sigqueueinfo),
    (199, "rt_sigsuspend", "ptr mask, size sigsetsize", kern_sig.sys_rt_sigsuspend),
    (206, "sigaltstack", "ptr ss, ptr oss", kern_sig.sys_sigaltstack),
    (236, "tkill", "int tid, int sig", kern_sig.sys_tkill),
    (238, "futex", "ptr uaddr, int op, int val, ptr utime, ptr uaddr2, uint val3",
     futex.sys_futex),
    (239, "sched_setaffinity", "int pid, size len, ptr mask", kern_prot.sys_sched_setaffinity),
    (240, "sched_getaffinity", "int pid, size len, ptr mask", kern_prot.sys_sched_getaffinity),
    (266, "tgkill", "int tgid, int tid, int sig", kern_sig.sys_tgkill),
    (278, "waitid", "int idtype, int id, ptr info, flags options, ptr rusage",
     kern_exit.sys_waitid),
    (301, "pselect6", "int n, ptr inp, ptr outp, ptr exp, ptr tsp, ptr sig",
     sys_pipe.sys_pselect6),
    (302, "ppoll", "ptr fds, uint nfds, ptr tsp, ptr sigmask, size sigsetsize",
     sys_pipe.sys_ppoll),
    (312, "getcpu", "ptr cpu, ptr node, ptr cache", kern_prot.sys_getcpu),
    (327, "dup3", "fd old, fd new, flags flags", sys_pipe.sys_dup3),
    (328, "pipe2", "ptr fds, flags flags", sys_pipe.sys_pipe2),
    (332, "rt_tgsigqueueinfo", "int tgid, int tid, int sig, ptr info",
     kern_sig.sys_rt_tgsigqueueinfo),
    (356, "execveat", "fd dirfd, str path, ptr argv, ptr envp, flags flags",
     sys_exec.sys_execveat),
    (413, "pselect6_time64", "int n, ptr inp, ptr outp, ptr exp, ptr tsp, ptr sig",
     sys_pipe.sys_pselect6_64),
    (414, "ppoll_time64", "ptr fds, uint nfds, ptr tsp, ptr sigmask, size sigsetsize",
     sys_pipe.sys_ppoll64),
    (421, "rt_sigtimedwait_time64", "ptr set, ptr info, ptr timeout, size sigsetsize",
     kern_sig.sys_rt_sigtimedwait64),
    (422, "futex_time64", "ptr uaddr, int op, int val, ptr utime, ptr uaddr2, uint val3",
     futex.sys_futex_time64),
    # --- afgdb's private calls (AFGDB_BASE and up)
    (kern_nospawn.NR, "afgdb_nospawn", "flags flags, int when",  # include/afgdb.h
     kern_nospawn.sys_afgdb_nospawn),
]


def _build(rows: list[tuple[int, str, str, Handler]]) -> dict[int, Syscall]:
    table: dict[int, Syscall] = {}
    for off, name, spec, fn in rows:
        nr = off if off >= AFGDB_BASE else SYSCALL_BASE + off
        if nr in table:
            raise ValueError(f"system call {nr} listed twice")
        table[nr] = Syscall(nr, name, _spec(spec), fn)
    return table


TABLE: dict[int, Syscall] = _build(_ROWS)
EXTRA_ROWS: list[tuple[int, str, str, Handler]] = []


def register(rows: list[tuple[int, str, str, Handler]]) -> None:
    """Add rows from another subsystem module (process model, sockets, afgdb calls)."""
    for nr, sc in _build(rows).items():
        if nr in TABLE:
            raise ValueError(f"system call {nr} ({sc.name}) listed twice")
        TABLE[nr] = sc
    EXTRA_ROWS.extend(rows)


def by_name(name: str) -> Syscall | None:
    return next((s for s in TABLE.values() if s.name == name), None)
