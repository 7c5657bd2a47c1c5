/* corpus: process model: copy-on-write: a process touches 64 MiB (one store
 * per page), forks, the child writes N pages (argv[1], default 100) and
 * sleeps briefly (the pytest test measures its private pages then); the
 * parent checks its memory is unchanged.
 * status: 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64u << 20)
#define PAGE 4096u

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
    unsigned char *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 1;
    for (unsigned off = 0; off < SIZE; off += PAGE)
        m[off] = (unsigned char)(off >> 12);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (unsigned i = 0; i < n; i++)
            m[i * PAGE + 1] = 0xAA;
        struct timespec ts = { 0, 50000000 };
        nanosleep(&ts, NULL);
        unsigned sum = 0;
        for (unsigned i = 0; i < n; i++)
            sum += m[i * PAGE + 1];
        _exit(sum == 0xAA * n ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    unsigned bad = 0;
    for (unsigned off = 0; off < SIZE; off += PAGE)
        bad += m[off] != (unsigned char)(off >> 12) || m[off + 1] != 0;
    printf("child status %d, parent pages changed %u\n", WEXITSTATUS(st), bad);
    return 0;
}
