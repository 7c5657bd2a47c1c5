/* corpus: process model: children killed by signals (NULL store -> SIGSEGV,
 * abort -> SIGABRT, SIGKILL, an unhandled SIGUSR1), the parent reading
 * WIFSIGNALED and WTERMSIG; then the program itself dies of SIGSEGV.
 * status: 139
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void crash(int how)
{
    switch (how) {
    case 0:
        *(volatile int *)0 = 1;
        break;
    case 1:
        abort();
    case 2:
        kill(getpid(), SIGKILL);
        break;
    case 3:
        raise(SIGUSR1);
        break;
    }
    _exit(0);
}

int main(void)
{
    for (int how = 0; how < 4; how++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            crash(how);
        int st;
        waitpid(pid, &st, 0);
        printf("child %d: signaled=%d termsig=%d exited=%d\n", how, WIFSIGNALED(st),
               WIFSIGNALED(st) ? WTERMSIG(st) : 0, WIFEXITED(st));
    }
    fflush(stdout);
    crash(0);
    return 0;
}
