/* FPU traps: an enabled IEEE exception (from an operation, or raised by ctc1
 * when a cause bit is already set) and a misaligned ldc1. argv[1] picks one. */
#define _GNU_SOURCE
#include <fenv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile double zero = 0.0, one = 1.0, third;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    char msg[64];
    int n = snprintf(msg, sizeof msg, "caught signal %d\n", sig);
    write(1, msg, n);
    (void)si;
    _exit(3);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "div";
    if (argc > 2) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = handler;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGFPE, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
    }
    printf("case %s\n", what);
    fflush(stdout);
    if (!strcmp(what, "div")) {
        feenableexcept(FE_DIVBYZERO);
        volatile double r = one / zero;
        printf("not trapped %a\n", r);
    } else if (!strcmp(what, "invalid")) {
        feenableexcept(FE_INVALID);
        volatile double r = zero / zero;
        printf("not trapped %a\n", r);
    } else if (!strcmp(what, "overflow")) {
        feenableexcept(FE_OVERFLOW);
        volatile double r = 1e300 * 1e300 * one;
        printf("not trapped %a\n", r);
    } else if (!strcmp(what, "ctc1")) {
        third = one / 3.0; /* leaves Inexact in FCSR.Cause */
        feenableexcept(FE_INEXACT); /* ctc1 with an enabled cause bit traps */
        printf("not trapped\n");
    } else if (!strcmp(what, "disabled")) {
        feenableexcept(FE_DIVBYZERO);
        fedisableexcept(FE_DIVBYZERO);
        volatile double r = one / zero;
        printf("not trapped %a %d\n", r, fegetexcept());
    } else if (!strcmp(what, "ldc1")) {
        static double buf[2];
        volatile double r;
        char *p = (char *)buf + 4;
        __asm__ volatile("ldc1 %0,0(%1)" : "=f"(r) : "r"(p));
        printf("not trapped %a\n", r);
    }
    return 0;
}
