/* corpus: exit status and exit-time behaviour: atexit handlers run in
 * reverse order, buffered stdio output is flushed by exit, the status
 * comes from the argument (exit(3)); the status is chosen by argv[1].
 * args: 3
 * status: 3
 */
#include <stdio.h>
#include <stdlib.h>

static void first(void) { printf("atexit: first registered, runs last\n"); }
static void second(void) { printf("atexit: second registered, runs first\n"); }

int main(int argc, char **argv)
{
    atexit(first);
    atexit(second);
    int status = argc > 1 ? atoi(argv[1]) : 0;
    printf("exiting with %d (buffered)\n", status);
    if (status == 255)
        _Exit(status);    /* no flush, no handlers */
    exit(status);
}
