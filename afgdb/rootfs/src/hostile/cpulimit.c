/* cpulimit: RLIMIT_CPU soft 1 s, hard 2 s; counts SIGXCPU while it spins.
 * Linux sends SIGXCPU at the soft limit (and each second after) and SIGKILL
 * at the hard one, so this never returns: the status is 128+9. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile int xcpu;

static void on_xcpu(int sig)
{
    (void)sig;
    xcpu++;
    write(1, "SIGXCPU\n", 8);
}

int main(void)
{
    struct rlimit rl = {1, 2};
    signal(SIGXCPU, on_xcpu);
    if (setrlimit(RLIMIT_CPU, &rl) < 0) {
        perror("setrlimit");
        return 1;
    }
    printf("spinning\n");
    fflush(stdout);
    for (volatile unsigned long i = 0;; i++)
        ;
}
