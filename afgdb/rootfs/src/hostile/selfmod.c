/* selfmod: writes to its own code.  A store into .text faults (SIGSEGV,
 * SEGV_ACCERR); after mprotect(RWX) the same store patches a function whose
 * next call returns the new value; code built in an RWX page runs, is
 * rewritten and runs again; a block that patches its own next instruction
 * runs without taking the host down. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int got, code;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got = sig;
    code = si->si_code;
    siglongjmp(env, 1);
}

__attribute__((noinline, aligned(16))) static int patched(void)
{
    int v;
    __asm__ volatile(".set push\n.set noreorder\n"
                     "addiu %0, $0, 1\n"
                     ".set pop\n" : "=r"(v));
    return v;
}

static void flush(void *p, size_t n) { syscall(4147, p, n, 3); }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);

    /* find "addiu vN, $0, 1" in patched() */
    uint32_t *f = (uint32_t *)(uintptr_t)patched, *at = NULL;
    for (int i = 0; i < 16; i++)
        if ((f[i] & 0xffe0ffff) == 0x24000001) {
            at = &f[i];
            break;
        }
    if (!at) {
        printf("addiu not found\n");
        return 1;
    }
    printf("before: %d\n", patched());
    got = 0;
    if (sigsetjmp(env, 1) == 0)
        *(volatile uint32_t *)at = (*at & ~0xffffu) | 2;
    printf("store to text: sig %d code %d\n", got, code);

    uintptr_t pg = (uintptr_t)at & ~4095u;
    if (mprotect((void *)pg, 8192, PROT_READ | PROT_WRITE | PROT_EXEC) < 0)
        perror("mprotect");
    *(volatile uint32_t *)at = (*at & ~0xffffu) | 2;
    flush(at, 4);
    printf("after patch: %d\n", patched());
    *(volatile uint32_t *)at = (*at & ~0xffffu) | 3;
    flush(at, 4);
    printf("after second patch: %d\n", patched());

    uint32_t *code_pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int round = 1; round <= 3; round++) {
        code_pg[0] = 0x03e00008;           /* jr ra */
        code_pg[1] = 0x24020000 | round * 10; /* addiu v0, $0, N (delay slot) */
        flush(code_pg, 8);
        printf("generated round %d: %d\n", round, ((int (*)(void))code_pg)());
    }
    /* sw t0,12(t9) puts "addiu v0,$0,77" over the instruction after it, in the
     * block that is running; real hardware may run the stale word without a
     * cache flush, so only survival is printed. */
    code_pg[0] = 0xaf28000c;   /* sw t0, 12(t9) */
    code_pg[1] = 0x24020005;   /* addiu v0, $0, 5 */
    code_pg[2] = 0x00000000;
    code_pg[3] = 0x24020006;   /* addiu v0, $0, 6  (overwritten) */
    code_pg[4] = 0x03e00008;   /* jr ra */
    code_pg[5] = 0x00000000;
    flush(code_pg, 24);
    int r;
    __asm__ volatile("move $t9, %1\n\tli $t0, 0x2402004d\n\tjalr $t9\n\tnop\n\tmove %0, $v0"
                     : "=r"(r) : "r"(code_pg) : "t0", "t9", "v0", "v1", "ra", "memory");
    printf("patch-own-block: survived (%s)\n", r == 77 || r == 6 ? "77 or 6" : "other");

    /* Write-protect the generated page and write again: SIGSEGV, code intact. */
    code_pg[0] = 0x03e00008;
    code_pg[1] = 0x2402001e;   /* addiu v0, $0, 30 */
    flush(code_pg, 8);
    mprotect(code_pg, 4096, PROT_READ | PROT_EXEC);
    got = 0;
    if (sigsetjmp(env, 1) == 0)
        code_pg[1] = 0;
    printf("store to r-x page: sig %d code %d, still runs: %d\n", got, code,
           ((int (*)(void))code_pg)() == 30 ? 1 : 0);
    return 0;
}
