/* corpus: integer division by zero.  gcc for MIPS checks the divisor
 * (-mcheck-zero-division, the default) and executes `teq $divisor,$zero,7`;
 * Linux turns trap code 7 (BRK_DIVZERO) into SIGFPE, which kills us.
 * status: 136
 * qemu-status: 133
 * (qemu-user 7.2 raises SIGTRAP with si_code SI_KERNEL here instead)
 */
#include <stdio.h>

static volatile int divisor = 0;

int main(void)
{
    int n = 100;
    printf("dividing %d by %d\n", n, divisor);
    fflush(stdout);
    n = n / divisor;
    printf("not reached: %d\n", n);
    return 0;
}
