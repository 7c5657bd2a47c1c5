/* corpus: stdio buffering against raw write(2)/writev(2).  stdout is a
 * pipe (not a tty) in both runs, so it is fully buffered: text from printf
 * waits in the buffer until fflush or exit, while write/writev go out at
 * once.  stderr is unbuffered; fputs/puts/putchar/fwrite/setvbuf mix.
 * status: 0
 */
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void)
{
    printf("isatty(1)=%d\n", isatty(1));
    printf("A: printf, buffered\n");
    write(1, "B: write(2), immediate\n", 23);
    fflush(stdout);
    puts("C: puts");
    fputs("D: fputs\n", stdout);
    putchar('E');
    putchar('\n');
    fwrite("F: fwrite\n", 1, 10, stdout);
    struct iovec iov[3] = {
        { "G: writev ", 10 }, { "in three ", 9 }, { "pieces\n", 7 },
    };
    ssize_t n = writev(1, iov, 3);
    fflush(stdout);
    printf("writev returned %zd\n", n);
    fflush(stdout);
    static char linebuf[64];
    setvbuf(stdout, linebuf, _IOLBF, sizeof linebuf);
    printf("H: line buffered ");
    write(1, "I: write between\n", 17);
    printf("line done\n");
    write(1, "J: after newline\n", 17);
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("K: unbuffered\n");
    write(1, "L: write\n", 9);
    dprintf(1, "M: dprintf %d\n", 13);
    char big[2500];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\n';
    setvbuf(stdout, NULL, _IOFBF, 1024);
    fwrite(big, 1, sizeof big, stdout);
    printf("N: tail in buffer at exit\n");
    write(1, "O: before the buffered tail\n", 28);
    return 0;
}
