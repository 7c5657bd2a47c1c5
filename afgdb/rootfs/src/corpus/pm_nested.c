/* corpus: process model: nested signal handlers: SIGUSR1's handler raises
 * SIGUSR2 (runs nested) and SIGINT (held by sa_mask until it returns), on an
 * alternate signal stack; the log shows the order of entries and exits.
 * status: 0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_buf[128];
static int log_len;
static char *alt;
static volatile int on_alt;

static void note(const char *s)
{
    while (*s)
        log_buf[log_len++] = *s++;
    log_buf[log_len++] = ' ';
}

static void h_usr2(int sig) { (void)sig; note("<usr2>"); }
static void h_int(int sig) { (void)sig; note("<int>"); }

static void h_usr1(int sig)
{
    (void)sig;
    char here;
    on_alt = &here >= alt && &here < alt + SIGSTKSZ * 4;
    note("usr1{");
    raise(SIGINT);
    note("after-int");
    raise(SIGUSR2);
    note("}usr1");
}

int main(void)
{
    alt = malloc(SIGSTKSZ * 4);
    stack_t ss = { .ss_sp = alt, .ss_size = SIGSTKSZ * 4, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(SIGUSR1, &sa, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = h_int;
    sigaction(SIGINT, &sa, NULL);
    raise(SIGUSR1);
    log_buf[log_len] = 0;
    printf("%s\n", log_buf);
    stack_t cur;
    sigaltstack(NULL, &cur);
    printf("handler on altstack=%d, altstack flags now=%d\n", on_alt, cur.ss_flags);
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    printf("mask restored: int=%d usr1=%d usr2=%d\n", sigismember(&m, SIGINT),
           sigismember(&m, SIGUSR1), sigismember(&m, SIGUSR2));
    return 0;
}
