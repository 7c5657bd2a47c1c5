/* corpus: setjmp/longjmp (nested, through several frames, with values
 * 0 -> 1), sigsetjmp/siglongjmp with a blocked-signal mask restored.
 * status: 0
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

static jmp_buf outer, inner;
static int depth_reached;

static void __attribute__((noinline)) dive(int depth, int target)
{
    volatile char pad[64];
    pad[depth % 64] = (char)depth;
    depth_reached = depth + pad[depth % 64] - depth;
    if (depth > 1000)
        return;
    if (depth == target)
        longjmp(inner, depth * 10);
    dive(depth + 1, target);
}

static void __attribute__((noinline)) thrower(int v)
{
    longjmp(outer, v);
}

int main(void)
{
    for (int target = 0; target < 5; target++) {
        int r = setjmp(inner);
        if (r == 0)
            dive(0, target * 3);
        else
            printf("target=%d returned=%d depth=%d\n", target, r, depth_reached);
    }
    volatile int count = 0;
    int r = setjmp(outer);
    printf("setjmp returned %d (count=%d)\n", r, count);
    if (count < 3) {
        count++;
        thrower(count == 2 ? 0 : count * 100);
    }

    sigjmp_buf sj;
    sigset_t set, old;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
    if (sigsetjmp(sj, 1) == 0) {
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        sigprocmask(SIG_BLOCK, NULL, &old);
        printf("before: usr1 blocked=%d\n", sigismember(&old, SIGUSR1));
        siglongjmp(sj, 7);
    }
    sigprocmask(SIG_BLOCK, NULL, &old);
    printf("after siglongjmp: usr1 blocked=%d\n", sigismember(&old, SIGUSR1));
    return 0;
}
