/* fdlimit: RLIMIT_NOFILE = 32, then open, dup, pipe, socketpair and
 * F_DUPFD until the table is full (EMFILE), dup2/dup3 past the limit (EBADF),
 * F_DUPFD past it (EINVAL); raising the hard limit as non-root (EPERM). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

int main(void)
{
    struct rlimit rl = {32, 32};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        perror("setrlimit");
        return 1;
    }
    int fd, last = -1;
    while ((fd = open("/etc/passwd", O_RDONLY)) >= 0)
        last = fd;
    printf("open until full: %s, highest fd %s\n", strerror(errno), last == 31 ? "31" : "other");
    int p[2];
    printf("pipe: %s\n", err(pipe(p)));
    printf("dup: %s\n", err(dup(0)));
    printf("fcntl F_DUPFD 0: %s\n", err(fcntl(0, F_DUPFD, 0)));
    int sv[2];
    printf("socketpair: %s\n", err(socketpair(AF_UNIX, SOCK_STREAM, 0, sv)));
    close(last);
    printf("after close, open: %s\n", err(open("/etc/passwd", O_RDONLY)));
    printf("dup2 to 32: %s\n", err(dup2(0, 32)));
    printf("dup3 to 1000: %s\n", err(dup3(0, 1000, 0)));
    printf("fcntl F_DUPFD 32: %s\n", err(fcntl(0, F_DUPFD, 32)));
    printf("dup2 to 31: %s\n", err(dup2(0, 31)));
    rl.rlim_cur = 16;
    printf("lower soft to 16: %s\n", err(setrlimit(RLIMIT_NOFILE, &rl)));
    close(20);
    printf("open with fds above soft: %s\n", err(open("/etc/passwd", O_RDONLY)));
    if (setuid(1000) == 0) {
        rl.rlim_cur = rl.rlim_max = 4096;
        printf("non-root raises hard: %s\n", err(setrlimit(RLIMIT_NOFILE, &rl)));
    }
    return 0;
}
