/* perm: a guest process for the AF_GDB permission matrix.
 *
 *   perm [-u UID] loop          (become UID with setresuid, then spin)
 *   perm [-u UID] probe PID...  (become UID, then for each PID ("self" for its own)
 *                               open socket(AF_GDB, SOCK_STREAM, PID), print
 *                               "PID ok" or "PID E<errno>", close it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "afgdb.h"

int main(int argc, char **argv)
{
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "-u") == 0) {
        uid_t u = (uid_t)atoi(argv[2]);
        if (setresuid(u, u, u) != 0) {
            perror("perm: setresuid");
            return 2;
        }
        i = 3;
    }
    if (i < argc && strcmp(argv[i], "loop") == 0) {
        volatile unsigned n = 0;
        for (;;)
            n++;
    }
    for (i++; i < argc; i++) {
        int pid = strcmp(argv[i], "self") == 0 ? getpid() : atoi(argv[i]);
        int fd = socket(AF_GDB, SOCK_STREAM, pid);
        if (fd < 0) {
            printf("%s E%d\n", argv[i], errno);
        } else {
            printf("%s ok\n", argv[i]);
            close(fd);
        }
        fflush(stdout);
    }
    return 0;
}
