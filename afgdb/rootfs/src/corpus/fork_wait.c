/* corpus: fork/waitpid/pipe: children exit with chosen statuses or die
 * by signals; the parent reads a message through a pipe and reports each
 * child's wait status in fork order.  Output only comes from the parent
 * (after the child has finished) so interleaving is fixed.
 * status: 0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const char msg[] = "hello from the child";
        write(fds[1], msg, sizeof msg);
        _exit(7);
    }
    close(fds[1]);
    char buf[64] = { 0 };
    ssize_t n = read(fds[0], buf, sizeof buf);
    int st;
    pid_t w = waitpid(pid, &st, 0);
    printf("read %zd [%s] same=%d exited=%d status=%d\n", n, buf, w == pid, WIFEXITED(st),
           WEXITSTATUS(st));
    printf("eof read=%zd\n", read(fds[0], buf, sizeof buf));
    close(fds[0]);

    static const int sigs[] = { 0, SIGKILL, SIGTERM, SIGSEGV };
    for (int i = 0; i < 4; i++) {
        fflush(stdout);   /* or the child's exit() would flush our buffer too */
        pid = fork();
        if (pid == 0) {
            if (sigs[i] == SIGSEGV)
                *(volatile int *)0 = 1;
            if (sigs[i])
                raise(sigs[i]);
            exit(40 + i);
        }
        waitpid(pid, &st, 0);
        printf("child %d: exited=%d code=%d signaled=%d sig=%d\n", i, WIFEXITED(st),
               WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st),
               WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
    int shared = 5;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        shared = 99;   /* copy-on-write: the parent keeps 5 */
        _exit(shared);
    }
    waitpid(pid, &st, 0);
    printf("cow parent=%d child=%d\n", shared, WEXITSTATUS(st));
    printf("no children: %d\n", wait(&st));
    return 0;
}
