/* corpus: printf of integers: %d %i %u %x %X %o %c, length modifiers
 * hh h l ll j z t, widths, precision, flags - + space # 0.
 * status: 0
 */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

static const int ints[] = { 0, 1, -1, 7, -42, 255, 256, 65535, -65536, 123456789,
                            INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1 };
static const long long lls[] = { 0, -1, 1LL << 32, -(1LL << 40), 9876543210123LL,
                                 LLONG_MAX, LLONG_MIN, 0x0123456789abcdefLL };

int main(void)
{
    for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int v = ints[i];
        printf("%d|%i|%u|%x|%X|%o|%#x|%#o|%+d|% d|%08d|%-8d|%.5d|%8.3d|%hhd|%hd|%hhu|%hx\n",
               v, v, (unsigned)v, (unsigned)v, (unsigned)v, (unsigned)v, (unsigned)v,
               (unsigned)v, v, v, v, v, v, v, (signed char)v, (short)v,
               (unsigned char)v, (unsigned short)v);
    }
    for (unsigned i = 0; i < sizeof lls / sizeof lls[0]; i++) {
        long long v = lls[i];
        printf("%lld|%llu|%llx|%#llo|%+20lld|%-20lld|%020llX\n", v,
               (unsigned long long)v, (unsigned long long)v, (unsigned long long)v, v, v,
               (unsigned long long)v);
    }
    printf("%ld %lu %lx\n", LONG_MIN, ULONG_MAX, (unsigned long)LONG_MAX);
    printf("%jd %ju %zu %zd %td\n", INTMAX_MIN, UINTMAX_MAX, (size_t)SIZE_MAX,
           (ssize_t)-5, (ptrdiff_t)-1234);
    printf("%" PRId64 " %" PRIu64 " %" PRIx32 " %" PRIo16 "\n", INT64_MIN, UINT64_MAX,
           UINT32_MAX, (uint16_t)0xffff);
    printf("[%c][%5c][%-5c][%%][%*d][%-*d][%.*d]\n", 'A', 'b', 'c', 6, 42, 6, 42, 4, 7);
    printf("[%s][%10s][%-10s][%.3s][%*.*s]\n", "str", "right", "left", "truncate", 8, 2,
           "xyz");
    int n1 = 0, n2 = 0;
    printf("count%n this%n\n", &n1, &n2);
    printf("n1=%d n2=%d\n", n1, n2);
    int len = snprintf(NULL, 0, "%d-%d-%d", INT_MIN, INT_MAX, 0);
    char buf[8];
    int len2 = snprintf(buf, sizeof buf, "%lld", LLONG_MIN);
    printf("len=%d len2=%d buf=%s\n", len, len2, buf);
    return 0;
}
