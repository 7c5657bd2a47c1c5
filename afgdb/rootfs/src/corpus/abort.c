/* corpus: abort(): unflushed stdio output is lost (glibc abort does not
 * flush), the flushed line is kept, then SIGABRT kills the process.
 * status: 134
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("flushed before abort\n");
    fflush(stdout);
    printf("buffered, lost when abort kills us\n");
    abort();
}
