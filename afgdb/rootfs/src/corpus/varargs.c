/* corpus: variadic functions: summing ints, mixing int/double/long long
 * (o32 aligns 64-bit varargs to 8 bytes), va_copy, forwarding a va_list to
 * vsnprintf/vprintf, and a tiny format interpreter.
 * status: 0
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int sum_ints(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    int s = 0;
    for (int i = 0; i < n; i++)
        s += va_arg(ap, int);
    va_end(ap);
    return s;
}

static void mixed(const char *fmt, ...)
{
    va_list ap, copy;
    va_start(ap, fmt);
    va_copy(copy, ap);
    char out[256];
    size_t k = 0;
    for (const char *p = fmt; *p; p++) {
        switch (*p) {
        case 'i': k += (size_t)snprintf(out + k, sizeof out - k, "i%d ", va_arg(ap, int)); break;
        case 'd': k += (size_t)snprintf(out + k, sizeof out - k, "d%g ", va_arg(ap, double)); break;
        case 'l': k += (size_t)snprintf(out + k, sizeof out - k, "l%lld ", va_arg(ap, long long)); break;
        case 's': k += (size_t)snprintf(out + k, sizeof out - k, "s%s ", va_arg(ap, char *)); break;
        case 'c': k += (size_t)snprintf(out + k, sizeof out - k, "c%c ", (char)va_arg(ap, int)); break;
        }
    }
    va_end(ap);
    int first = *fmt == 'i' ? va_arg(copy, int) : -1;
    va_end(copy);
    printf("%s(first=%d)\n", out, first);
}

static int __attribute__((format(printf, 2, 3))) logf_(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, 64, fmt, ap);
    va_end(ap);
    return n;
}

static void vp(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("[vp] ");
    vprintf(fmt, ap);
    va_end(ap);
}

int main(void)
{
    printf("sum0=%d sum3=%d sum10=%d\n", sum_ints(0), sum_ints(3, 1, 2, 3),
           sum_ints(10, 1, -2, 3, -4, 5, -6, 7, -8, 9, 1000));
    mixed("idlsc", 7, 2.5, 1LL << 40, "str", 'Z');
    mixed("ilidld", -1, -2LL, 3, 4.25, -5LL, -6.5);
    mixed("dddddddd", 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.5);
    mixed("icicicl", 1, 'a', 2, 'b', 3, 'c', 0x123456789LL);
    char buf[64];
    int n = logf_(buf, "%s=%d/%.2f/%llx", "key", 42, 3.14159, 0xabcdef012345ULL);
    printf("logf n=%d buf=%s\n", n, buf);
    n = logf_(buf, "%0100d", 5);
    printf("truncated n=%d len=%zu\n", n, strlen(buf));
    vp("%d %s %g %c\n", 9, "nine", 9.0, '9');
    return 0;
}
