/* corpus: 32-bit integer edge cases with defined behaviour: unsigned
 * wrap-around, signed division and remainder of negatives (truncation),
 * shifts of unsigned values by 0..31, arithmetic right shift of negatives
 * (implementation-defined: gcc shifts arithmetically), narrowing casts,
 * multiply high parts (mult/multu), saturating helpers, abs/div/ldiv.
 * status: 0
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int vals[] = { 0, 1, -1, 2, -2, 3, -7, 7, 100, -100, 12345, -98765,
                               INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1, 65536, -65537 };
#define NV (sizeof vals / sizeof vals[0])

int main(void)
{
    for (unsigned i = 0; i < NV; i++) {
        int a = vals[i];
        unsigned ua = (unsigned)a;
        printf("a=%d neg=%u inv=%d sra3=%d srl3=%u sll5=%u sc=%d uc=%u ss=%d us=%u\n", a,
               0u - ua, ~a, a >> 3, ua >> 3, ua << 5, (signed char)a, (unsigned char)a,
               (short)a, (unsigned short)a);
        for (unsigned j = 0; j < NV; j++) {
            int b = vals[j];
            if (b == 0 || (a == INT_MIN && b == -1))
                continue;
            if ((i * 7 + j) % 5)
                continue;   /* a sample keeps the output short */
            unsigned ub = (unsigned)b;
            int64_t p = (int64_t)a * b;
            uint64_t up = (uint64_t)ua * ub;
            printf("  %d,%d: q=%d r=%d uq=%u ur=%u mul=%d hi=%d uhi=%u add=%u sub=%u lt=%d ult=%d\n",
                   a, b, a / b, a % b, ua / ub, ua % ub, (int)(ua * ub), (int)(p >> 32),
                   (unsigned)(up >> 32), ua + ub, ua - ub, a < b, ua < ub);
        }
    }
    unsigned x = 0x80000001u;
    for (int s = 0; s < 32; s += 3)
        printf("s=%2d shl=%08x shr=%08x sar=%08x\n", s, x << s, x >> s,
               (unsigned)((int)x >> s));
    div_t d = div(-17, 5);
    ldiv_t ld = ldiv(LONG_MIN + 1, 1000);
    printf("div=%d,%d ldiv=%ld,%ld abs=%d labs=%ld llabs=%lld\n", d.quot, d.rem, ld.quot,
           ld.rem, abs(-5), labs(-6L), llabs(LLONG_MIN + 1));
    int ovf;
    int r;
    ovf = __builtin_add_overflow(INT_MAX, vals[1], &r);
    printf("add_overflow=%d r=%d\n", ovf, r);
    ovf = __builtin_mul_overflow(vals[12], vals[3], &r);
    printf("mul_overflow=%d r=%d\n", ovf, r);
    ovf = __builtin_sub_overflow(INT_MIN, vals[1], &r);
    printf("sub_overflow=%d r=%d\n", ovf, r);
    return 0;
}
