/* sysfuzz [SEED [SETS [FIRST LAST]]]: calls every system call number
 * FIRST..LAST (default 4000..4400) with SETS sets of garbage arguments from a
 * seeded PRNG.  Arguments mix edge values (0, -1, 1, 0x7fffffff, 0x80000000,
 * small numbers), random words and pointers to a scratch page of random
 * bytes (a NUL-terminated random "path" in it), so handlers get past their
 * argument copies.  Each number runs in its own child process, in /tmp, with
 * fds 0-2 closed: whatever a call does to its caller (unmaps its code, masks
 * every signal, exits) ends only that child.  A parent alarm (virtual time)
 * kills a child that blocks.
 *
 * The child drops to uid 1000 first: an unprivileged attacker, who may not
 * signal, re-limit or re-group the root fuzzer above it.
 *
 * Not called, because they end the child or replace it before its sets run,
 * or wait for a signal that never comes (these numbers are o32's):
 *   exit 4001, exit_group 4246           end the child at once
 *   fork 4002, clone 4120                garbage children that fuzz on their own
 *   execve 4011, execveat 4356           could replace the child with another program
 *   pause 4029, sigsuspend 4072, rt_sigsuspend 4199   only a signal ends them
 * Prints per-number outcomes in a summary: calls made, calls that returned
 * an error, children killed by a signal, children that timed out. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t rng;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static const int skipped[] = {4001, 4246, 4002, 4120, 4011, 4356, 4029, 4072, 4199};

static int is_skipped(int nr)
{
    for (unsigned i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (skipped[i] == nr)
            return 1;
    return 0;
}

static uint32_t garbage(char *scratch)
{
    static const uint32_t edge[] = {0, 1, 2, 3, 0xffffffff, 0x7fffffff, 0x80000000,
                                    0xfffff000, 4096, 0x10000, 0x7ffff000, 0xc0000000};
    switch (next() % 6) {
    case 0: return edge[next() % (sizeof edge / sizeof edge[0])];
    case 1: return next();
    case 2: return next() % 64;
    case 3: return (uint32_t)(uintptr_t)(scratch + (next() % 4096));
    case 4: return (uint32_t)(uintptr_t)scratch; /* the random "path" */
    default: return (uint32_t)(uintptr_t)(scratch + 4096 - (next() % 16));
    }
}

static volatile int alarmed;
static void on_alarm(int sig) { (void)sig; alarmed = 1; }

static void child(int nr, int sets, char *scratch)
{
    for (int i = 0; i < 3; i++)
        close(i);
    chdir("/tmp");
    if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)
        _exit(99);
    for (int s = 0; s < sets; s++) {
        for (int i = 0; i < 4096; i++)
            scratch[i] = (char)next();
        scratch[next() % 48 + 1] = 0; /* a short random name at scratch */
        uint32_t a[7];
        for (int i = 0; i < 7; i++)
            a[i] = garbage(scratch);
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1;
    int sets = argc > 2 ? atoi(argv[2]) : 50;
    int first = argc > 4 ? atoi(argv[3]) : 4000, last = argc > 4 ? atoi(argv[4]) : 4400;
    char *scratch = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    int numbers = 0, calls = 0, killed = 0, timeouts = 0;
    for (int nr = first; nr <= last; nr++) {
        if (is_skipped(nr))
            continue;
        numbers++;
        rng = seed * 2654435761u ^ (uint32_t)nr;
        if (!rng)
            rng = 1;
        fflush(stdout);
        pid_t c = fork();
        if (c < 0) {
            printf("fork failed at %d: %s\n", nr, strerror(errno));
            return 1;
        }
        if (c == 0)
            child(nr, sets, scratch);
        alarmed = 0;
        alarm(2);
        int st = 0;
        while (waitpid(c, &st, 0) < 0) {
            if (errno == EINTR && alarmed) {
                timeouts++;
                printf("nr %d: blocked, killed after 2 s\n", nr);
                kill(c, SIGKILL);
                alarmed = 0;
            } else if (errno != EINTR) {
                break;
            }
        }
        alarm(0);
        calls += sets;
        if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL) {
            killed++;
            printf("nr %d: child killed by signal %d\n", nr, WTERMSIG(st));
        } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            printf("nr %d: child exited %d\n", nr, WEXITSTATUS(st));
        }
    }
    printf("seed %u: %d numbers x %d sets = %d calls, %d children killed by a signal, "
           "%d timed out\n", seed, numbers, sets, calls, killed, timeouts);
    printf("survived\n");
    return 0;
}
