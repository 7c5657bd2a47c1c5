/* corpus: process model: SIGPIPE kills a writer without readers, EPIPE when
 * it is ignored, EOF after the last writer closes, poll/select on pipes
 * (POLLIN, POLLHUP, timeouts), and PIPE_BUF-sized writes from two
 * processes that never interleave.
 * status: 0
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int p[2];
    pipe(p);
    close(p[0]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        write(p[1], "x", 1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("writer: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
    signal(SIGPIPE, SIG_IGN);
    printf("ignored: write=%zd errno=%s\n", write(p[1], "x", 1), errno == EPIPE ? "EPIPE" : "?");
    close(p[1]);
    signal(SIGPIPE, SIG_DFL);

    pipe(p);
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    printf("poll empty: %d\n", poll(&pf, 1, 100));
    write(p[1], "abc", 3);
    printf("poll data: %d revents=%#x\n", poll(&pf, 1, -1), pf.revents);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = { 0, 0 };
    printf("select data: %d isset=%d\n", select(p[0] + 1, &rs, NULL, NULL, &tv),
           FD_ISSET(p[0], &rs));
    char buf[8];
    read(p[0], buf, 3);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_usec = 20000;
    printf("select empty: %d\n", select(p[0] + 1, &rs, NULL, NULL, &tv));
    close(p[1]);
    printf("poll hup: %d revents=%#x read=%zd\n", poll(&pf, 1, -1), pf.revents,
           read(p[0], buf, 1));
    close(p[0]);

    pipe(p);
    for (int w = 0; w < 2; w++) {
        fflush(stdout);
        if (fork() == 0) {
            close(p[0]);
            static char block[4096];
            for (int i = 0; i < 20; i++) {
                memset(block, 'A' + w * 2 + (i & 1), sizeof block);
                write(p[1], block, sizeof block);
            }
            _exit(0);
        }
    }
    close(p[1]);
    static char all[2 * 20 * 4096];
    size_t got = 0;
    ssize_t k;
    while ((k = read(p[0], all + got, sizeof all - got)) > 0)
        got += (size_t)k;
    int intact = 1;
    for (size_t b = 0; b < got; b += 4096)
        for (size_t i = 1; i < 4096; i++)
            if (all[b + i] != all[b])
                intact = 0;
    while (wait(&st) > 0)
        ;
    printf("atomic writes: %zu bytes, blocks intact=%d\n", got, intact);
    return 0;
}
