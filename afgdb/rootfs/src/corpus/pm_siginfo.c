/* corpus: process model: SA_SIGINFO from another process (si_pid, si_code,
 * si_uid), sigqueue values, SA_RESETHAND, SA_NODEFER recursion, and the
 * handler's ucontext (uc_sigmask holds the interrupted mask).
 * status: 0
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile int got_pid, got_code, got_uid, got_sig, got_value, nodefer_depth, max_depth;
static volatile int mask_had_usr2;

static void info_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    got_sig = sig;
    got_pid = si->si_pid;
    got_code = si->si_code;
    got_uid = si->si_uid == getuid();
    got_value = si->si_value.sival_int;
    mask_had_usr2 = sigismember(&uc->uc_sigmask, SIGUSR2);
}

static void nodefer_handler(int sig)
{
    nodefer_depth++;
    if (nodefer_depth > max_depth)
        max_depth = nodefer_depth;
    if (nodefer_depth < 3)
        raise(sig);
    nodefer_depth--;
}

static volatile int reset_hits;
static void reset_handler(int sig) { (void)sig; reset_hits++; }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);
    fflush(stdout);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        kill(parent, SIGUSR1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    sigset_t only1 = old;
    sigaddset(&only1, SIGUSR2);
    sigprocmask(SIG_SETMASK, &only1, NULL);  /* delivers SIGUSR1 now, SIGUSR2 blocked */
    printf("from child: sig=%d pid-ok=%d code=%d (SI_USER=%d) uid-ok=%d usr2-in-uc-mask=%d\n",
           got_sig, got_pid == pid, got_code, SI_USER, got_uid, mask_had_usr2);
    sigprocmask(SIG_SETMASK, &old, NULL);

    union sigval v;
    v.sival_int = 4242;
    sigqueue(getpid(), SIGUSR1, v);
    printf("sigqueue: code-is-queue=%d value=%d pid-ok=%d\n", got_code == SI_QUEUE, got_value,
           got_pid == getpid());

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nodefer_handler;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    printf("SA_NODEFER: max depth %d\n", max_depth);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reset_handler;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGHUP, &sa, NULL);
    raise(SIGHUP);
    struct sigaction now;
    sigaction(SIGHUP, NULL, &now);
    printf("SA_RESETHAND: hits=%d now-default=%d\n", reset_hits, now.sa_handler == SIG_DFL);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        sigaction(SIGHUP, &sa, NULL);
        raise(SIGHUP);
        raise(SIGHUP);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    printf("second SIGHUP: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
    return 0;
}
