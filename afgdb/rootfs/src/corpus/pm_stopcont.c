/* corpus: process model: kill -STOP / -CONT of a child seen through
 * waitpid(WUNTRACED | WCONTINUED), then SIGTERM; also a child that stops
 * itself with raise(SIGSTOP), and SIGCHLD's si_code for each event.
 * status: 0
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int codes[8], ncodes;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (ncodes < 8)
        codes[ncodes++] = si->si_code;
}

static void show(const char *what, int st)
{
    printf("%-8s stopped=%d stopsig=%d continued=%d signaled=%d termsig=%d exited=%d\n", what,
           WIFSTOPPED(st), WIFSTOPPED(st) ? WSTOPSIG(st) : 0, WIFCONTINUED(st),
           WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0, WIFEXITED(st));
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    int p2c[2];
    pipe(p2c);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(p2c[1]);
        while (read(p2c[0], &c, 1) != 0)
            ;
        _exit(3);
    }
    close(p2c[0]);
    int st;
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    show("stop", st);
    kill(pid, SIGCONT);
    waitpid(pid, &st, WCONTINUED);
    show("cont", st);
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    show("term", st);

    int hold[2];
    pipe(hold);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char c;
        close(hold[1]);
        raise(SIGSTOP);
        read(hold[0], &c, 1); /* exit only after the parent saw the continue */
        _exit(4);
    }
    close(hold[0]);
    waitpid(pid, &st, WUNTRACED);
    show("self", st);
    kill(pid, SIGCONT);
    waitpid(pid, &st, WCONTINUED);
    show("cont", st);
    close(hold[1]);
    waitpid(pid, &st, 0);
    show("exit", st);
    /* Which SIGCHLDs merge is a race on Linux (CLD_CONTINUED is sent when the child
     * runs again), and the last CLD_EXITED may land after waitpid has returned, so
     * only what is certain is printed. */
    int seen[8] = { 0 };
    for (int i = 0; i < ncodes; i++)
        if (codes[i] > 0 && codes[i] < 8)
            seen[codes[i]] = 1;
    printf("SIGCHLD codes seen: stopped=%d killed=%d\n", seen[CLD_STOPPED],
           seen[CLD_KILLED]);
    return 0;
}
