/*
 * afgdb.h -- what a guest program needs to use afgdb's own kernel interfaces.
 *
 * afgdb's kernel speaks the Linux o32 system call ABI (4000 + n); its own
 * additions are an address family and a private range of system call
 * numbers, both documented here.  Guest programs include this header:
 *
 *	#include "afgdb.h"	(cc -I afgdb/machine/kernel/include ...)
 *
 * AF_GDB -- the GDB remote protocol instead of ptrace
 * ---------------------------------------------------
 *	int fd = socket(AF_GDB, SOCK_STREAM, pid);
 *
 * connects to process `pid` and stops it (all its threads; the first
 * `?` is answered with a SIGSTOP stop, as after a gdb attach).  The
 * descriptor speaks the GDB remote serial protocol (RSP) to that process's
 * stub with read(2), write(2), poll(2) and close(2): qSupported (offer
 * exec-events+, fork-events+, vfork-events+), vCont, QCatchSyscalls,
 * memory and registers, breakpoints, D to detach.  close() detaches: the
 * process runs on.  The third argument (the protocol) carries the pid, as
 * in the seed of this project.  glibc's socket(3) passes it through
 * unchanged (o32 `socket` is system call 4183; `socketcall` 4102 with
 * SYS_SOCKET works too).
 *
 * Errors:
 *	EPERM		the caller could not send the process a signal (only the
 *			same uid, or root), the process changed its credentials
 *			(setuid: only root may debug it), pid is the caller itself,
 *			or pid is 0 (the kernel is served to host debuggers only)
 *	EBUSY		another debugger holds the process (one at a time; the
 *			kernel log names the holder)
 *	ESRCH		no such process
 *	EPROTOTYPE	type is not SOCK_STREAM
 *	EAFNOSUPPORT	the machine runs without AF_GDB (no stub installed)
 *
 * afgdb's private system call numbers start at AFGDB_SYSCALL_BASE, above
 * every Linux o32 number (the call numbers themselves are added below by
 * the subsystems that own them).
 */
#ifndef _AFGDB_AFGDB_H_
#define _AFGDB_AFGDB_H_

#define AF_GDB			46	/* the first family number Linux does not use */
#define PF_GDB			AF_GDB

#define AFGDB_SYSCALL_BASE	4900	/* afgdb's own system calls: 4900 and up */

/* ================================================================== *
 * nospawn -- a process switches off its own fork and/or exec
 * (afgdb/machine/kernel/kern_nospawn.py; docs/nospawn.md)
 * ================================================================== *
 *
 *	long afgdb_nospawn(unsigned int flags, int when);
 *
 * flags: NOSPAWN_FORK (fork, vfork, clone without CLONE_THREAD) and/or
 * NOSPAWN_EXEC (execve, execveat).  when:
 *	NOSPAWN_NOW	in force at once; returns the flags now in force
 *	NOSPAWN_AT_EXEC	a one-shot request: the next *successful* exec puts
 *			them in force (what the `nospawn PROGRAM ARGS` launcher
 *			uses); returns the flags requested so far
 *	NOSPAWN_GET	flags must be 0; returns in-force | requested << 8
 * Flags are only ever added: no call, value or sysctl word clears them.
 * They belong to the process (every thread), are inherited by fork and
 * clone children, and are kept across exec, like Linux's NO_NEW_PRIVS.
 * Errors: EINVAL (unknown flag bits or `when`).
 *
 * The same as a sysctl: proc.curproc.nospawn, which on this Linux-ABI
 * machine is the file /proc/self/nospawn.  Write "fork", "exec" or
 * "fork,exec", optionally after "at-exec " (EPERM for "none", "-exec", ...;
 * EACCES to write another process's); read back e.g. "exec at-exec=fork\n".
 *
 * After it, a forbidden call fails with ENOSYS and the calling thread gets
 * SIGSYS, which it cannot catch, block or ignore: the process dies and
 * dumps core.  The core's (and a debugger's) siginfo is Linux's _sigsys:
 * si_code SYS_NOSPAWN, si_call_addr (the address after the syscall
 * instruction, as Linux reports it), si_syscall (e.g. 4011 for execve),
 * si_arch AUDIT_ARCH_MIPSEL.
 */
#define AFGDB_SYS_nospawn	(AFGDB_SYSCALL_BASE + 10)	/* 4910 */

#define NOSPAWN_FORK		0x1
#define NOSPAWN_EXEC		0x2
#define NOSPAWN_NOW		0
#define NOSPAWN_AT_EXEC		1
#define NOSPAWN_GET		2
#define SYS_NOSPAWN		3	/* SIGSYS si_code (Linux: SYS_SECCOMP 1) */
#define AFGDB_NOSPAWN_SYSCTL	"proc.curproc.nospawn"
#define AFGDB_NOSPAWN_FILE	"/proc/self/nospawn"

#ifndef __ASSEMBLER__
#include <unistd.h>		/* syscall(2) */

static inline long afgdb_nospawn(unsigned int flags, int when)
{
	return syscall(AFGDB_SYS_nospawn, flags, when);
}
#endif

#endif /* _AFGDB_AFGDB_H_ */
