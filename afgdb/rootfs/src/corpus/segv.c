/* corpus: a store through a NULL pointer: SIGSEGV kills the process.
 * The line printed before is flushed first.
 * status: 139
 */
#include <stdio.h>

int *volatile target;

int main(void)
{
    printf("writing to NULL\n");
    fflush(stdout);
    *target = 1;
    printf("not reached\n");
    return 0;
}
