/* corpus: process model: sigwait/sigtimedwait for blocked signals sent by a
 * thread (tgkill) and by kill, sigpending, and a sigtimedwait timeout.
 * status: 0
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_t main_thread;

static void *sender(void *arg)
{
    (void)arg;
    pthread_kill(main_thread, SIGUSR1);
    kill(getpid(), SIGUSR2);
    return NULL;
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
    pthread_join(t, NULL);
    sigset_t pend;
    sigpending(&pend);
    printf("pending: usr1=%d usr2=%d\n", sigismember(&pend, SIGUSR1), sigismember(&pend, SIGUSR2));
    int sig;
    sigwait(&set, &sig);
    printf("sigwait: %d\n", sig);
    siginfo_t si;
    struct timespec ts = { 1, 0 };
    sig = sigtimedwait(&set, &si, &ts);
    printf("sigtimedwait: %d code-user=%d\n", sig, si.si_code == SI_USER);
    ts.tv_sec = 0;
    ts.tv_nsec = 30000000;
    sig = sigtimedwait(&set, &si, &ts);
    printf("timeout: %d %s\n", sig, errno == EAGAIN ? "EAGAIN" : "?");
    return 0;
}
