/* forkbomb [NPROC]: every process forks until fork fails; each success and
 * the first failure's errno are reported over a pipe.  With NPROC the bomb
 * first sets RLIMIT_NPROC and drops to uid 1000 (root is exempt, as on
 * Linux).  The bomb is then killed as a process group, and one more fork
 * must work: the machine is still usable.  Never run this on a real host. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int p[2];
    if (pipe(p) < 0)
        return 1;
    pid_t leader = fork();
    if (leader == 0) {
        setpgid(0, 0);
        if (argc > 1) {
            struct rlimit rl = {atoi(argv[1]), atoi(argv[1])};
            if (setrlimit(RLIMIT_NPROC, &rl) < 0 || setuid(1000) < 0)
                _exit(2);
        }
        close(p[0]);
        for (;;) {
            pid_t c = fork();
            if (c == 0) {
                write(p[1], "+", 1);
                continue; /* the child bombs too */
            }
            if (c < 0) {
                char e = (char)errno;
                write(p[1], &e, 1);
                for (;;)
                    pause();
            }
        }
    }
    close(p[1]);
    int forks = 0, fails = 0, first_errno = 0;
    char ch;
    /* Read until a few failures have come in: the bomb is at its cap. */
    while (fails < 3 && read(p[0], &ch, 1) == 1) {
        if (ch == '+')
            forks++;
        else if (!fails++)
            first_errno = ch;
    }
    kill(-leader, SIGKILL);
    waitpid(leader, NULL, 0);
    printf("forks %d, then fork failed: %s\n", forks, strerror(first_errno));
    printf("first errno %d\n", first_errno);
    /* Orphans die on their own; wait until one more fork succeeds. */
    for (int tries = 0; tries < 1000; tries++) {
        pid_t c = fork();
        if (c == 0)
            _exit(7);
        if (c > 0) {
            int st;
            waitpid(c, &st, 0);
            printf("after the bomb: fork ok, child status %d\n", WEXITSTATUS(st));
            return 0;
        }
        usleep(1000);
    }
    printf("after the bomb: fork still fails\n");
    return 1;
}
