/* args: prints argc, every argv[i] and a few environment variables
 * (HOME, PATH, USER, TERM, AFGDB_TEST), "(unset)" for missing ones. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    static const char *const vars[] = { "HOME", "PATH", "USER", "TERM", "AFGDB_TEST" };
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        printf("%s=%s\n", vars[i], v ? v : "(unset)");
    }
    return 0;
}
