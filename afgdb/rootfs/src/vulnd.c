/* vulnd: a small network-less daemon with a stack buffer overflow (the
 * exploit demo: afgdb/rootfs/exploit/, `afgdb demo exploit`).
 *
 * It reads requests, one per line, from stdin (or a pipe from a client):
 *   PING            -> PONG
 *   ECHO text       -> text
 *   SUM a b ...     -> the sum of the integers
 *   QUIT            -> bye (exits 0)
 * and prints "vulnd: ready" first.  The bug: read_request() copies a line
 * into a fixed 256-byte stack buffer without checking its length, so a long
 * line overwrites handle()'s saved return address.  The shipped programs
 * have an executable stack (their PT_GNU_STACK is RWE, the MIPS default),
 * so code in the request itself runs when handle() returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ_SIZE 256

/* BUG: no bound on n. */
static __attribute__((noinline)) int read_request(char *buf)
{
    int c, n = 0;
    while ((c = getchar()) != EOF && c != '\n')
        buf[n++] = (char)c;
    buf[n] = '\0';
    return c == EOF && n == 0 ? -1 : n;
}

/* One request; 0 when the daemon should stop. */
static __attribute__((noinline)) int handle(void)
{
    char req[REQ_SIZE];
    if (read_request(req) < 0)
        return 0;
    if (strcmp(req, "PING") == 0) {
        puts("PONG");
    } else if (strncmp(req, "ECHO ", 5) == 0) {
        puts(req + 5);
    } else if (strncmp(req, "SUM", 3) == 0) {
        long sum = 0;
        char *p = req + 3, *end;
        for (;;) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            sum += v;
            p = end;
        }
        printf("%ld\n", sum);
    } else if (strcmp(req, "QUIT") == 0) {
        puts("bye");
        return 0;
    } else {
        printf("unknown request (%zu bytes)\n", strlen(req));
    }
    fflush(stdout);
    return 1;
}

int main(void)
{
    puts("vulnd: ready");
    fflush(stdout);
    while (handle())
        ;
    fflush(stdout);
    return 0;
}
