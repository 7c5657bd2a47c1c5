/* reserved: walks the MIPS32r2 opcode space and executes one encoding per
 * slot (every operand field zero) in a scratch RWX page, catching the signal
 * each one raises with siglongjmp.  Prints one line per opcode group, one
 * character per slot: '.' ran, I SIGILL, S SIGSEGV, B SIGBUS, T SIGTRAP,
 * F SIGFPE, s skipped (syscall: its number would be whatever v0 held), then
 * the SIGILL total.  With arguments, only the named groups run (qemu-user
 * aborts on a few encodings, so the test asks it one group at a time). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int got;
static uint32_t *page;
static int sigills;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    got = sig;
    siglongjmp(env, 1);
}

/* page: or $t8,$ra,$0 ; INSN ; nop ; nop ; jr $t8 ; nop.  A zero-offset branch
 * lands on the nop after it; jal/bal clobber ra, which t8 keeps. */
static char run(uint32_t insn)
{
    page[0] = 0x03e0c025;
    page[1] = insn;
    page[2] = 0;
    page[3] = 0;
    page[4] = 0x03000008;
    page[5] = 0;
    syscall(4147, page, 64, 3); /* cacheflush; afgdb and qemu see the store anyway */
    got = 0;
    if (sigsetjmp(env, 1) == 0)
        ((void (*)(void))page)();
    switch (got) {
    case 0: return '.';
    case SIGILL: sigills++; return 'I';
    case SIGSEGV: return 'S';
    case SIGBUS: return 'B';
    case SIGTRAP: return 'T';
    case SIGFPE: return 'F';
    default: return '?';
    }
}

static int nwanted;
static char **wanted;

static void group(const char *name, uint32_t base, int shift, int n, uint32_t skip)
{
    char line[80];
    int want = !nwanted;
    for (int i = 0; i < nwanted; i++)
        want |= !strcmp(wanted[i], name);
    if (!want)
        return;
    for (int i = 0; i < n; i++) {
        uint32_t insn = base | ((uint32_t)i << shift);
        line[i] = (skip && insn == skip) ? 's' : run(insn);
    }
    line[n] = 0;
    printf("%-8s %s\n", name, line);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    nwanted = argc - 1;
    wanted = argv + 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    int sigs[] = {SIGILL, SIGSEGV, SIGBUS, SIGTRAP, SIGFPE, SIGSYS};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    group("opcode", 0, 26, 64, 0);
    group("special", 0, 0, 64, 0x0000000c);      /* funct; 12 = syscall */
    group("regimm", 1u << 26, 16, 32, 0);         /* rt */
    group("special2", 28u << 26, 0, 64, 0);       /* funct */
    group("special3", 31u << 26, 0, 64, 0);       /* funct */
    group("bshfl", (31u << 26) | 32, 6, 32, 0);   /* sa of funct 32 */
    group("rdhwr", (31u << 26) | 59, 11, 32, 0);  /* rd of rdhwr $0 */
    group("cop0", 16u << 26, 21, 32, 0);          /* rs */
    group("cop0co", (16u << 26) | (16u << 21), 0, 64, 0);
    group("cop1", 17u << 26, 21, 32, 0);          /* rs (fmt) */
    group("cop1.s", (17u << 26) | (16u << 21), 0, 64, 0);
    group("cop1.d", (17u << 26) | (17u << 21), 0, 64, 0);
    group("cop1.w", (17u << 26) | (20u << 21), 0, 64, 0);
    group("cop1.l", (17u << 26) | (21u << 21), 0, 64, 0);
    group("cop1.ps", (17u << 26) | (22u << 21), 0, 64, 0);
    group("cop1x", 19u << 26, 0, 64, 0);          /* funct */
    group("cop2", 18u << 26, 21, 32, 0);          /* rs */
    printf("SIGILL total %d\n", sigills);
    return 0;
}
