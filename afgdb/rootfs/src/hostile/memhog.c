/* memhog MODE: allocation until the limit.
 *   as MIB   RLIMIT_AS = MIB: malloc+touch 1 MiB blocks until NULL, sbrk until
 *            it fails, one mmap larger than the limit; each must say ENOMEM.
 *   oom      a child mallocs and touches 1 MiB blocks with no rlimit; the
 *            machine's page budget must stop it (SIGKILL), then the parent
 *            still allocates and forks. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch(volatile char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
}

static char *volatile keep; /* malloc'ed blocks must escape, or gcc drops them */

static int hog(void)
{
    int mib = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        keep = p;
        if (!p)
            break;
        touch(p, 1 << 20);
        mib++;
    }
    return mib;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "as")) {
        long mib = atol(argv[2]);
        struct rlimit rl = {(rlim_t)mib << 20, (rlim_t)mib << 20};
        if (setrlimit(RLIMIT_AS, &rl) < 0) {
            perror("setrlimit");
            return 1;
        }
        errno = 0;
        int got = hog();
        int e = errno;
        printf("malloc: %d MiB, then %s\n", got, strerror(e));
        errno = 0;
        long pages = 0;
        while (sbrk(4096) != (void *)-1)
            pages++;
        printf("sbrk: failed with %s\n", strerror(errno));
        void *big = mmap(NULL, (size_t)(mib + 1) << 20, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        printf("mmap %ld MiB: %s\n", mib + 1, big == MAP_FAILED ? strerror(errno) : "mapped");
        printf("under limit: %s\n", got > 0 && got < mib ? "yes" : "no");
        (void)pages;
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "oom")) {
        pid_t c = fork();
        if (c == 0) {
            int got = hog();
            printf("child: malloc gave up after %d MiB\n", got);
            _exit(0);
        }
        int st;
        waitpid(c, &st, 0);
        if (WIFSIGNALED(st))
            printf("hog killed by signal %d\n", WTERMSIG(st));
        else
            printf("hog exited %d\n", WEXITSTATUS(st));
        char *p = malloc(4 << 20);
        if (p)
            touch(p, 4 << 20);
        printf("after: malloc 4 MiB %s\n", p ? "ok" : "failed");
        c = fork();
        if (c == 0)
            _exit(3);
        waitpid(c, &st, 0);
        printf("after: fork %s\n", c > 0 && WEXITSTATUS(st) == 3 ? "ok" : "failed");
        return 0;
    }
    fprintf(stderr, "usage: memhog as MIB | oom\n");
    return 2;
}
