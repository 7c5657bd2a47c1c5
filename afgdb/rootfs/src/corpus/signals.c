/* corpus: signal handling: sigaction handlers for raise()d signals, a
 * blocked signal left pending and delivered on unblock, SA_SIGINFO fields,
 * SIG_IGN, kill(getpid()), and recovering from SIGSEGV with siglongjmp.
 * status: 0
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t hits[65];
static sigjmp_buf recover;
static volatile int info_code, info_signo;
static void *volatile fault_addr;

static void handler(int sig) { hits[sig]++; }

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    info_signo = si->si_signo;
    info_code = si->si_code;
    hits[sig]++;
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    fault_addr = si->si_addr;
    siglongjmp(recover, 1);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR1);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR2);
    printf("usr1=%d usr2=%d\n", hits[SIGUSR1], hits[SIGUSR2]);

    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR2);
    raise(SIGUSR2);
    sigpending(&pending);
    printf("blocked: usr2 pending=%d hits=%d\n", sigismember(&pending, SIGUSR2), hits[SIGUSR2]);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("unblocked: hits=%d (standard signals do not queue)\n", hits[SIGUSR2]);

    sa.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &sa, NULL);
    raise(SIGTERM);
    printf("SIGTERM ignored\n");

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);
    union sigval v = { .sival_int = 5 };
    sigqueue(getpid(), SIGRTMIN, v);
    printf("rt: hits=%d signo-ok=%d code-queue=%d\n", hits[SIGRTMIN], info_signo == SIGRTMIN,
           info_code == SI_QUEUE);

    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(recover, 1) == 0) {
            *(volatile int *)(uintptr_t)(0x10 * (i + 1)) = i;
            printf("not reached\n");
        } else {
            printf("recovered from SIGSEGV %d at %#lx\n", i, (unsigned long)fault_addr);
        }
    }
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    printf("query: handler-is-ours=%d\n", old.sa_handler == handler);
    return 0;
}
