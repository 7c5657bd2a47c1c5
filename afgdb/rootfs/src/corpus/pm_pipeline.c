/* corpus: process model: a pipeline parent -> child -> grandchild: 300 KB go
 * through two pipes (blocking reads and writes beyond the pipe capacity), the
 * child upper-cases, the grandchild counts and checksums and answers the
 * parent through a third pipe.
 * status: 0
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (300 * 1024)

static void xwrite(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k <= 0)
            exit(90);
        p += k;
        n -= (size_t)k;
    }
}

int main(void)
{
    int a[2], b[2], back[2];
    if (pipe(a) || pipe(b) || pipe(back))
        return 1;
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        close(a[1]);
        close(back[0]);
        pid_t grand = fork();
        if (grand == 0) {
            close(a[0]);
            close(b[1]);
            char buf[5000];
            unsigned long sum = 0, n = 0, upper = 0;
            ssize_t k;
            while ((k = read(b[0], buf, sizeof buf)) > 0) {
                for (ssize_t i = 0; i < k; i++) {
                    sum = sum * 31 + (unsigned char)buf[i];
                    upper += isupper((unsigned char)buf[i]) != 0;
                }
                n += (unsigned long)k;
            }
            char msg[128];
            int len = snprintf(msg, sizeof msg, "grandchild: %lu bytes, %lu upper, sum %08lx\n",
                               n, upper, sum & 0xffffffffUL);
            xwrite(back[1], msg, (size_t)len);
            _exit(0);
        }
        close(b[0]);
        close(back[1]);
        char buf[3000];
        ssize_t k;
        while ((k = read(a[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < k; i++)
                buf[i] = (char)toupper((unsigned char)buf[i]);
            xwrite(b[1], buf, (size_t)k);
        }
        close(b[1]);
        int st;
        waitpid(grand, &st, 0);
        _exit(WIFEXITED(st) ? 20 + WEXITSTATUS(st) : 1);
    }
    close(a[0]);
    close(b[0]);
    close(b[1]);
    close(back[1]);
    static char data[TOTAL];
    for (int i = 0; i < TOTAL; i++)
        data[i] = "abcdefghij klmnopqrstuvwxyz\n"[(i * 7 + i / 13) % 28];
    xwrite(a[1], data, sizeof data);
    close(a[1]);
    char reply[256] = { 0 };
    ssize_t got = 0, k;
    while ((k = read(back[0], reply + got, sizeof reply - 1 - (size_t)got)) > 0)
        got += k;
    int st;
    waitpid(child, &st, 0);
    printf("%schild status %d\n", reply, WEXITSTATUS(st));
    return 0;
}
