/* corpus: bit twiddling that makes gcc -O2 for MIPS32r2 emit clz, wsbh,
 * rotr/rotrv, ext, ins, seb, seh, movn/movz, madd/msub: leading/trailing
 * zeros, popcount, parity, byte swaps, rotations, bitfield extract/insert.
 * status: 0
 */
#include <stdint.h>
#include <stdio.h>

struct packed {
    unsigned lo : 5, mid : 11, hi : 16;
};

static volatile uint32_t vals[] = { 0x00000001, 0x80000000, 0xdeadbeef, 0x12345678,
                                    0x0000ffff, 0xffff0000, 0x7fffffff, 0xaaaaaaaa,
                                    0x00f000f0, 0xffffffff, 0x00000100 };

int main(void)
{
    int64_t acc64 = 0;
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint32_t x = vals[i];
        unsigned r = (unsigned)i * 3 + 1;
        printf("x=%08x clz=%2d ctz=%2d pop=%2d par=%d bswap=%08x bswap16=%04x\n", x,
               __builtin_clz(x), __builtin_ctz(x), __builtin_popcount(x),
               __builtin_parity(x), __builtin_bswap32(x), __builtin_bswap16((uint16_t)x));
        printf("  rotr%u=%08x rotl7=%08x ext=%03x ins=%08x seb=%d seh=%d clo=%d\n", r,
               (x >> r) | (x << (32 - r)), (x << 7) | (x >> 25), (x >> 9) & 0x1ff,
               (x & ~0x0003fc00u) | ((i & 0xff) << 10), (int8_t)x, (int16_t)x,
               __builtin_clz(~x | 1));
        struct packed p;
        p.lo = x;
        p.mid = x >> 5;
        p.hi = x >> 16;
        p.mid += 3;
        printf("  fields lo=%u mid=%u hi=%u sel=%u\n", p.lo, p.mid, p.hi,
               x & 1 ? x >> 3 : x ^ 0x55);
        acc64 += (int64_t)(int32_t)x * (int32_t)(x >> 3);
        acc64 -= (int64_t)(int32_t)r * 1000;
    }
    printf("madd/msub acc=%lld\n", (long long)acc64);
    uint64_t y = 0x0123456789abcdefULL;
    printf("clzll=%d ctzll=%d popll=%d bswap64=%016llx\n", __builtin_clzll(y),
           __builtin_ctzll(y), __builtin_popcountll(y),
           (unsigned long long)__builtin_bswap64(y));
    uint32_t rev = 0, v = 0x12345678;
    for (int i = 0; i < 32; i++)
        rev |= ((v >> i) & 1u) << (31 - i);
    printf("bitrev=%08x\n", rev);
    unsigned nsel = 0;
    for (unsigned i = 0; i < 100; i++)
        nsel += (i % 3 == 0) ? i : 0;
    printf("nsel=%u\n", nsel);
    return 0;
}
