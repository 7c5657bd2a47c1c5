/* corpus: process model: a SIGCHLD handler reaps children with
 * waitpid(-1, WNOHANG) while the parent waits in sigsuspend; SIGCHLD
 * set to SIG_IGN makes children vanish without zombies (wait gives ECHILD).
 * status: 0
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIDS 6

static volatile int reaped, code_sum, handler_calls;

static void on_chld(int sig)
{
    (void)sig;
    handler_calls++;
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        reaped++;
        code_sum += WEXITSTATUS(st);
    }
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < KIDS; i++) {
        fflush(stdout);
        if (fork() == 0)
            _exit(i * 3);
    }
    while (reaped < KIDS)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("reaped=%d code_sum=%d handler-ran=%d\n", reaped, code_sum, handler_calls > 0);

    signal(SIGCHLD, SIG_IGN);
    for (int i = 0; i < 3; i++) {
        fflush(stdout);
        if (fork() == 0)
            _exit(1);
    }
    int st;
    pid_t r = wait(&st);
    printf("SIG_IGN: wait=%d errno=%s\n", r, r < 0 && errno == ECHILD ? "ECHILD" : "?");
    return 0;
}
