/* corpus: printf of float/double with %f %e %g %a and friends, over
 * ordinary values, negative zero, infinities, NaNs, denormals, limits.
 * status: 0
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

int main(void)
{
    volatile double zero = 0.0;
    double vals[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 2.5, -3.75, 1.0 / 3.0, 100.0, 1e-5, 123456.789,
        1e15, 1e16, 1e22, 1e300, -1e-300, M_PI, M_E, 0.5, 0.125, 9.999999, 99.5,
        DBL_MAX, DBL_MIN, DBL_EPSILON, DBL_TRUE_MIN, DBL_MIN / 3.0,
        from_bits(0x000fffffffffffffULL), from_bits(0x8000000000000001ULL),
        1.0 / zero, -1.0 / zero, zero / zero, -(zero / zero), (double)FLT_MAX,
        (double)FLT_MIN, (double)FLT_TRUE_MIN, 0x1.fffffffffffffp-1, 4503599627370497.0,
    };
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        double v = vals[i];
        printf("%2u: %f|%.0f|%.10f|%e|%.3E|%g|%.17g|%G|%a|%.3a|%A|signbit=%d\n", i, v, v, v,
               v, v, v, v, v, v, v, v, signbit(v) != 0);
    }
    float fv[] = { 0.1f, -0.0f, 1e-40f, 3.4e38f, 16777217.0f, 0.33333334f };
    for (unsigned i = 0; i < sizeof fv / sizeof fv[0]; i++)
        printf("f%u: %f %g %a %.9g\n", i, fv[i], fv[i], fv[i], fv[i]);
    printf("[%10.3f][%-10.2e][%+g][% g][%#g][%#.0f][%010.4f][%#x]\n", 3.14159, 2718.28,
           1.5, 2.5, 1.0, 3.0, -2.5, 0);
    printf("[%*.*f][%5s][%-6f]\n", 12, 4, 1.0 / 7.0, "nan", 1.0 / zero);
    for (int e = -8; e <= 8; e += 2)
        printf("%g %g %g\n", pow(10.0, e), 1.5 * pow(10.0, e), -7.25 * pow(10.0, e));
    return 0;
}
