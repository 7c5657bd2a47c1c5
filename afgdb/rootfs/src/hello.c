/* hello: the smallest useful guest program.  Prints one line, exits 0. */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    return 0;
}
