/* corpus: sprintf/snprintf, sscanf with many conversions, strtod (decimal,
 * hex floats, inf/nan, overflow -> ERANGE), strtol/strtoul/strtoll with
 * bases and end pointers, atoi/atof.
 * status: 0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

int main(void)
{
    int a, b, n;
    unsigned u;
    long long ll;
    double d;
    float f;
    char word[16], rest[32];
    int got = sscanf("  42 -17 0x1F 123456789012 2.5e3 -0.125 token remainder", "%d %i %x %lld %lf %f %15s %31[^\n]%n",
                     &a, &b, &u, &ll, &d, &f, word, rest, &n);
    printf("got=%d a=%d b=%d u=%u ll=%lld d=%g f=%g word=%s rest=%s n=%d\n", got, a, b, u,
           ll, d, f, word, rest, n);
    got = sscanf("12:34:56", "%d:%d:%d", &a, &b, &n);
    printf("time got=%d %d %d %d\n", got, a, b, n);
    got = sscanf("abc", "%d", &a);
    printf("mismatch got=%d\n", got);
    got = sscanf("", "%d", &a);
    printf("empty got=%d\n", got);
    char c1, c2;
    got = sscanf("x,y", "%c,%c", &c1, &c2);
    printf("chars got=%d %c %c\n", got, c1, c2);
    got = sscanf("0777 0b 077", "%o %*s %i", &u, &a);
    printf("octal got=%d u=%u a=%d\n", got, u, a);

    const char *dstr[] = { "3.14159", "-0", "1e-320", "0x1.8p3", "inf", "-Infinity", "nan",
                           "1e400", "-1e-400", "  +12.5xyz", ".5", "5.", "abc", "0x",
                           "123456789012345678901234567890", "2.2250738585072011e-308" };
    for (unsigned i = 0; i < sizeof dstr / sizeof dstr[0]; i++) {
        char *end;
        errno = 0;
        double v = strtod(dstr[i], &end);
        printf("strtod(%s)=%a %.17g consumed=%td erange=%d\n", dstr[i], v, v, end - dstr[i],
               errno == ERANGE);
    }
    const char *lstr[] = { "123", "-123", "0x7fffffff", "0x80000000", "-2147483649",
                           "0777", "z", "  +9z", "4294967295", "99999999999999999999" };
    for (unsigned i = 0; i < sizeof lstr / sizeof lstr[0]; i++) {
        char *end;
        errno = 0;
        long l = strtol(lstr[i], &end, 0);
        int e1 = errno == ERANGE;
        errno = 0;
        unsigned long ul = strtoul(lstr[i], NULL, 10);
        int e2 = errno == ERANGE;
        errno = 0;
        long long q = strtoll(lstr[i], NULL, 36);
        printf("%-22s strtol=%ld(%td,%d) strtoul=%lu(%d) base36=%lld(%d)\n", lstr[i], l,
               end - lstr[i], e1, ul, e2, q, errno == ERANGE);
    }
    printf("atoi=%d atol=%ld atof=%g\n", atoi("  -77abc"), atol("123456"), atof("6.02e23"));
    char buf[64];
    int len = sprintf(buf, "%s|%5.2f|%-4d|%c", "mix", 2.345, 7, 'Q');
    printf("sprintf len=%d buf=%s\n", len, buf);
    len = snprintf(buf, 10, "%s", "0123456789abcdef");
    printf("snprintf len=%d buf=%s\n", len, buf);
    return 0;
}
