/* loop: spins forever incrementing a global counter, for interrupt
 * (Ctrl-C / \x03) tests.  `print counter` in gdb shows progress.
 * With an argument N it stops after N iterations and prints the count. */
#include <stdio.h>
#include <stdlib.h>

volatile unsigned long counter;

static void tick(void)
{
    counter++;
}

int main(int argc, char **argv)
{
    unsigned long limit = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
    for (;;) {
        tick();
        if (limit && counter >= limit)
            break;
    }
    printf("counter=%lu\n", counter);
    return 0;
}
