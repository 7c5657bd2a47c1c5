/* corpus: float <-> int conversions: truncation toward zero, negative
 * values, values near 2^31/2^32/2^63, int -> float rounding, unsigned
 * conversions (gcc emits compare-and-adjust sequences), float <-> double.
 * Out-of-range values are converted through the MIPS instructions'
 * defined result (trunc.w.d gives 0x7fffffff on invalid), reached with
 * inline asm so C undefined behaviour is not involved.
 * status: 0
 */
#include <stdint.h>
#include <stdio.h>

static int32_t trunc_w_d(double d)
{
    float f;
    int32_t r;
    __asm__("trunc.w.d %1, %2\n\tmfc1 %0, %1" : "=r"(r), "=f"(f) : "f"(d));
    return r;
}

static int32_t trunc_w_s(float x)
{
    float f;
    int32_t r;
    __asm__("trunc.w.s %1, %2\n\tmfc1 %0, %1" : "=r"(r), "=f"(f) : "f"(x));
    return r;
}

int main(void)
{
    volatile double d[] = { 0.0, -0.0, 0.4, 0.6, -0.4, -0.6, 1.5, -1.5, 2.5, 123456.999,
                            -123456.999, 2147483647.0, 2147483647.9, -2147483648.0,
                            -2147483648.9, 4294967295.0, 1e9, -1e9, 4294967296.5,
                            9.2233720368547e18, -9.2233720368547e18 };
    for (unsigned i = 0; i < sizeof d / sizeof d[0]; i++) {
        double x = d[i];
        int inrange = x > -2147483649.0 && x < 2147483648.0;
        int uin = x > -1.0 && x < 4294967296.0;
        int in64 = x > -9.3e18 && x < 9.3e18;
        printf("%-22.6f i32=%11d u32=%10u i64=%20lld f=%a tw=%d\n", x,
               inrange ? (int)x : 0, uin ? (unsigned)x : 0u, in64 ? (long long)x : 0LL,
               (float)x, trunc_w_d(x));
    }
    volatile double nan_ = __builtin_nan(""), inf = __builtin_inf();
    printf("tw(nan)=%d tw(inf)=%d tw(-inf)=%d tws(1e10f)=%d tws(-3.99f)=%d\n",
           trunc_w_d(nan_), trunc_w_d(inf), trunc_w_d(-inf), trunc_w_s(1e10f),
           trunc_w_s(-3.99f));
    volatile int32_t iv[] = { 0, 1, -1, 16777216, 16777217, 16777219, 2147483647,
                              (int32_t)0x80000000, 123456789 };
    for (unsigned i = 0; i < sizeof iv / sizeof iv[0]; i++)
        printf("i=%d f=%a d=%a uf=%a ud=%a\n", iv[i], (float)iv[i], (double)iv[i],
               (float)(uint32_t)iv[i], (double)(uint32_t)iv[i]);
    volatile int64_t lv[] = { 0, -1, (1LL << 53) + 1, (1LL << 62) + 12345, INT64_MIN,
                              INT64_MAX };
    for (unsigned i = 0; i < sizeof lv / sizeof lv[0]; i++)
        printf("l=%lld d=%a f=%a ud=%a\n", (long long)lv[i], (double)lv[i], (float)lv[i],
               (double)(uint64_t)lv[i]);
    volatile float fv[] = { 0.1f, -2.75f, 3e38f, 1e-45f, 16777216.0f };
    for (unsigned i = 0; i < sizeof fv / sizeof fv[0]; i++)
        printf("fl=%a d=%a i=%d\n", fv[i], (double)fv[i],
               fv[i] < 2e9f && fv[i] > -2e9f ? (int)fv[i] : -1);
    volatile double dd = 1.0000000596046448;   /* halfway between two floats */
    printf("narrow tie=%a above=%a\n", (float)dd, (float)(dd + 1e-16));
    return 0;
}
