/* corpus: ctype.h classification and case mapping over 0..255 in the C
 * locale, and locale-free string helpers (strspn strcspn strpbrk
 * strcasecmp strncasecmp strnlen stpcpy memrchr strsep basename-style).
 * status: 0
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int main(void)
{
    const char *classes = "anAdxsplucgP";
    for (int c = 0; c < 256; c += 1) {
        char row[16];
        int k = 0;
        row[k++] = isalpha(c) ? 'a' : '.';
        row[k++] = isalnum(c) ? 'n' : '.';
        row[k++] = isupper(c) ? 'A' : '.';
        row[k++] = isdigit(c) ? 'd' : '.';
        row[k++] = isxdigit(c) ? 'x' : '.';
        row[k++] = isspace(c) ? 's' : '.';
        row[k++] = ispunct(c) ? 'p' : '.';
        row[k++] = islower(c) ? 'l' : '.';
        row[k++] = iscntrl(c) ? 'c' : '.';
        row[k++] = isgraph(c) ? 'g' : '.';
        row[k++] = isprint(c) ? 'P' : '.';
        row[k++] = isblank(c) ? 'b' : '.';
        row[k] = 0;
        if (c < 128 || c % 16 == 0)
            printf("%3d %s up=%3d lo=%3d\n", c, row, toupper(c), tolower(c));
    }
    printf("classes legend=%s\n", classes);
    char s[] = "Hello, World! 123 MiXeD case";
    for (char *p = s; *p; p++)
        *p = (char)(isupper((unsigned char)*p) ? tolower((unsigned char)*p) : toupper((unsigned char)*p));
    printf("swapped=%s\n", s);
    printf("casecmp=%d %d %d ncase=%d\n", strcasecmp("HeLLo", "hello") == 0,
           strcasecmp("abc", "ABD") < 0, strcasecmp("b", "A") > 0,
           strncasecmp("PREFIXrest", "prefixREST", 6) == 0);
    printf("strnlen=%zu %zu\n", strnlen("abcdef", 3), strnlen("ab", 10));
    char buf[64];
    char *e = stpcpy(buf, "first");
    e = stpcpy(e, "+second");
    printf("stpcpy=%s len=%td\n", buf, e - buf);
    const char *path = "/usr/local/lib/libfoo.so.1";
    const char *slash = memrchr(path, '/', strlen(path));
    printf("memrchr base=%s dirlen=%td\n", slash + 1, slash - path);
    char list[] = "a,b,,c,";
    char *cur = list, *tok;
    while ((tok = strsep(&cur, ",")) != NULL)
        printf("sep=[%s]\n", tok);
    printf("ffs=%d %d %d\n", ffs(0), ffs(8), ffs(0x80000000));
    return 0;
}
