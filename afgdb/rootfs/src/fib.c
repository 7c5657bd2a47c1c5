/* fib: naive recursive Fibonacci, a call-heavy benchmark.
 * usage: fib [N]   (default 24) -- prints fib(N) and the number of calls. */
#include <stdio.h>
#include <stdlib.h>

static unsigned long calls;

static unsigned __attribute__((noinline)) fib(unsigned n)
{
    calls++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 24;
    unsigned r = fib(n);
    printf("fib(%u)=%u calls=%lu\n", n, r, calls);
    return 0;
}
