/* badjump: control transfers and data accesses to addresses a user program
 * may not use.  For each, the signal, si_code and whether si_addr is the bad
 * address: jumps to unmapped, kernel-segment, unaligned, PROT_NONE and
 * non-executable addresses; loads and stores to unmapped, kernel, read-only
 * and unaligned addresses. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf env;
static volatile int got, code;
static volatile uintptr_t addr;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got = sig;
    code = si->si_code;
    addr = (uintptr_t)si->si_addr;
    siglongjmp(env, 1);
}

static int target(void) { return 42; }

static void report(const char *what, uintptr_t bad)
{
    if (!got)
        printf("%-22s no signal\n", what);
    else
        printf("%-22s sig %d code %d si_addr %s\n", what, got, code,
               addr == bad ? "= target" : "differs");
}

static void jump(const char *what, uintptr_t to)
{
    got = 0;
    if (sigsetjmp(env, 1) == 0)
        ((void (*)(void))to)();
    report(what, to);
}

static void load(const char *what, uintptr_t at)
{
    got = 0;
    if (sigsetjmp(env, 1) == 0)
        (void)*(volatile uint32_t *)at;
    report(what, at);
}

static void store(const char *what, uintptr_t at)
{
    got = 0;
    if (sigsetjmp(env, 1) == 0)
        *(volatile uint32_t *)at = 0x12345678;
    report(what, at);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);

    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    static const uint32_t rodata[4] = {1, 2, 3, 4};
    uint32_t buf[4] = {0};

    jump("jump null", 0);
    jump("jump unmapped", (uintptr_t)gone);
    jump("jump prot_none", (uintptr_t)none);
    jump("jump kseg0", 0x80000000u);
    jump("jump kseg2", 0xc0000000u);
    jump("jump top", 0xfffffffcu);
    jump("jump unaligned+2", (uintptr_t)target + 2);
    jump("jump unaligned+1", (uintptr_t)target + 1);
    load("load null", 0);
    load("load unmapped", (uintptr_t)gone);
    load("load prot_none", (uintptr_t)none);
    load("load kseg0", 0x80000000u);
    load("load kseg2", 0xc0000000u);
    store("store unmapped", (uintptr_t)gone);
    store("store kseg0", 0x80000000u);
    store("store rodata", (uintptr_t)rodata);
    store("store text", (uintptr_t)target);
    store("store prot_none", (uintptr_t)none);
    printf("target() = %d\n", target());
    (void)buf;
    return 0;
}
