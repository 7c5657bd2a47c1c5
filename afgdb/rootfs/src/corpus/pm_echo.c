/* corpus: process model: exec target; prints its arguments (not argv[0]), which
 * descriptors 3..9 are open (close-on-exec checks) and exits with argc - 1.
 * "-q" as first argument prints nothing.
 * args: one "two words"
 * status: 2
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-q") == 0)
        return 0;
    printf("pm_echo: argc=%d", argc);
    for (int i = 1; i < argc; i++)
        printf(" [%s]", argv[i]);
    printf(" open:");
    for (int fd = 3; fd < 10; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            printf(" %d", fd);
    printf("\n");
    return argc - 1;
}
