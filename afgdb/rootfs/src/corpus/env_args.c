/* corpus: argv and environment: argc, every argv string, getenv of set,
 * empty and unset variables, and the whole environ, sorted (qemu-user 7.2
 * hands the guest its environment in reverse order; Linux keeps the order).
 * args: one "two words" '' --flag=x ünïcödé
 * env: AFGDB_A=alpha AFGDB_EMPTY= PATH=/bin HOME=/home/user
 * status: 5
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

extern char **environ;

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s] len=%zu\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc]=%s\n", argv[argc] == NULL ? "NULL" : "non-null");
    const char *names[] = { "AFGDB_A", "AFGDB_EMPTY", "AFGDB_UNSET", "PATH", "HOME" };
    for (unsigned i = 0; i < 5; i++) {
        const char *v = getenv(names[i]);
        printf("%s=%s\n", names[i], v ? v : "(unset)");
    }
    char *sorted[64];
    int n = 0;
    for (char **e = environ; *e && n < 64; e++)
        sorted[n++] = *e;
    qsort(sorted, (size_t)n, sizeof sorted[0], by_str);
    for (int i = 0; i < n; i++)
        printf("env: %s\n", sorted[i]);
    setenv("AFGDB_NEW", "fresh", 1);
    unsetenv("AFGDB_A");
    printf("after: new=%s a=%s\n", getenv("AFGDB_NEW"),
           getenv("AFGDB_A") ? "set" : "(unset)");
    return 5;
}
