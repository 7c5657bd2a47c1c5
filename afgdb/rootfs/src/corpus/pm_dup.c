/* corpus: process model: dup/dup2/dup3/F_DUPFD_CLOEXEC share one open file,
 * FD_CLOEXEC flags, O_NONBLOCK pipes (EAGAIN, a full pipe takes 65536
 * bytes), and close-on-exec across execve (pm_echo lists what it inherited).
 * qemu-stdout: qemu-user cannot execve a MIPS program (no binfmt_misc); .expected is from qemu with an exec wrapper
 * status: 0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int p[2];
    pipe(p);
    int d = dup(p[1]);
    int d2 = dup2(p[1], 7);
    int d3 = dup3(p[1], 8, O_CLOEXEC);
    int d4 = fcntl(p[1], F_DUPFD_CLOEXEC, 5);
    printf("dup=%d dup2=%d dup3=%d dupfd=%d\n", d, d2, d3, d4);
    printf("cloexec: %d %d %d %d\n", fcntl(d, F_GETFD), fcntl(d2, F_GETFD), fcntl(d3, F_GETFD),
           fcntl(d4, F_GETFD));
    write(d2, "xy", 2);
    write(d3, "z", 1);
    char buf[8] = { 0 };
    printf("read %zd [%s]\n", read(p[0], buf, sizeof buf), buf);
    printf("dup2 same fd: %d, dup3 same fd: %d errno=%s\n", dup2(7, 7), dup3(7, 7, 0),
           errno == EINVAL ? "EINVAL" : "?");
    printf("dup2 bad: %d errno=%s\n", dup2(99, 3), errno == EBADF ? "EBADF" : "?");
    close(d);
    close(d4);

    int nb[2];
    pipe2(nb, O_NONBLOCK | O_CLOEXEC);
    printf("nonblock empty read: %zd %s\n", read(nb[0], buf, 1), errno == EAGAIN ? "EAGAIN" : "?");
    static char big[100000];
    ssize_t w = write(nb[1], big, sizeof big);
    printf("nonblock write: %zd then %zd %s\n", w, write(nb[1], big, 1),
           errno == EAGAIN ? "EAGAIN" : "?");
    printf("flags: nonblock=%d\n", (fcntl(nb[0], F_GETFL) & O_NONBLOCK) != 0);
    fcntl(nb[0], F_SETFL, 0);
    printf("flags after F_SETFL 0: nonblock=%d\n", (fcntl(nb[0], F_GETFL) & O_NONBLOCK) != 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = { "pm_echo", "inherited", NULL };
        execv("bin/corpus/pm_echo", argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("exec status %d\n", WEXITSTATUS(st));
    return 0;
}
