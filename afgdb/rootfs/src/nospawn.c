/* nospawn: run a program that will never fork or exec (afgdb's nospawn flags).
 *
 *   nospawn [-f | -e] PROGRAM [ARGS...]
 *
 * Asks the kernel for the flags at its next exec (a one-shot request,
 * afgdb_nospawn(flags, NOSPAWN_AT_EXEC)) and then execs PROGRAM (searched
 * in PATH when it has no '/'), so the launcher itself may still exec once
 * and an unmodified daemon starts already unable to spawn anything: every
 * later fork/vfork/clone (not threads) or execve fails with ENOSYS and a
 * SIGSYS that kills it with a core.  -f: forbid fork only; -e: exec only;
 * default: both.  Exits 127 if PROGRAM cannot be run, 2 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../machine/kernel/include/afgdb.h"

static int usage(void)
{
    fprintf(stderr, "usage: nospawn [-f | -e] PROGRAM [ARGS...]\n"
                    "  run PROGRAM unable to fork (-f), exec (-e) or either (default)\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned int flags = NOSPAWN_FORK | NOSPAWN_EXEC;
    int i = 1;
    if (i < argc && (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "-e") == 0)) {
        flags = argv[i][1] == 'f' ? NOSPAWN_FORK : NOSPAWN_EXEC;
        i++;
    }
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (i >= argc || argv[i][0] == '-')
        return usage();
    if (afgdb_nospawn(flags, NOSPAWN_AT_EXEC) < 0) {
        fprintf(stderr, "nospawn: afgdb_nospawn: %s (not running under afgdb?)\n",
                strerror(errno));
        return 127;
    }
    execvp(argv[i], &argv[i]);
    fprintf(stderr, "nospawn: %s: %s\n", argv[i], strerror(errno));
    return 127;
}
