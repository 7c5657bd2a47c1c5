/* corpus: 64-bit integer arithmetic on int64_t/uint64_t: mul, div, mod
 * (libgcc __divdi3/__udivdi3/__moddi3/__umoddi3), shifts by every count
 * (gcc inlines them with sll/srl/sra/movn), comparisons, conversions.
 * status: 0
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

static volatile int64_t vals[] = { 0, 1, -1, 3, -3, 1000000007, -123456789012LL,
                                   INT64_MAX, INT64_MIN, 0x00000000ffffffffLL,
                                   0x0000000100000000LL, 0x7fffffff80000000LL,
                                   -4294967296LL, 0x1234567890abcdefLL };
#define NV (sizeof vals / sizeof vals[0])

int main(void)
{
    for (unsigned i = 0; i < NV; i++) {
        int64_t a = vals[i];
        uint64_t ua = (uint64_t)a;
        for (unsigned j = 0; j < NV; j++) {
            int64_t b = vals[j];
            uint64_t ub = (uint64_t)b;
            printf("%u,%u: mul=%016" PRIx64 " add=%016" PRIx64 " sub=%016" PRIx64
                   " lt=%d ult=%d", i, j, ua * ub, ua + ub, ua - ub, a < b, ua < ub);
            if (b != 0)
                printf(" udiv=%" PRIu64 " umod=%" PRIu64, ua / ub, ua % ub);
            if (b != 0 && !(a == INT64_MIN && b == -1))
                printf(" div=%" PRId64 " mod=%" PRId64, a / b, a % b);
            printf("\n");
        }
    }
    volatile uint64_t x = 0x8000000180000001ULL;
    for (volatile int s = 0; s < 64; s += 5)
        printf("s=%2d shl=%016" PRIx64 " shr=%016" PRIx64 " sar=%016" PRIx64 "\n", s,
               x << s, x >> s, (uint64_t)((int64_t)x >> s));
    volatile int32_t n32 = -5;
    volatile uint32_t u32 = 0xfffffffbu;
    int64_t s_ext = n32;
    uint64_t z_ext = u32;
    printf("sext=%" PRId64 " zext=%" PRIu64 " trunc=%d\n", s_ext, z_ext,
           (int32_t)(uint32_t)vals[13]);
    uint64_t acc = 1;
    for (int i = 1; i <= 25; i++)
        acc = acc * (uint64_t)i + (acc >> 7);
    printf("acc=%" PRIu64 "\n", acc);
    return 0;
}
