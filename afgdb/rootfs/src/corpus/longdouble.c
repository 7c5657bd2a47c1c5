/* corpus: long double, which on MIPS o32 is the same type as double:
 * sizeof, LDBL_* limits, arithmetic and %Lf/%Le/%La/%Lg printing, the
 * l-suffixed math functions, strtold.
 * status: 0
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("sizeof: float=%zu double=%zu long double=%zu\n", sizeof(float), sizeof(double),
           sizeof(long double));
    printf("LDBL_MANT_DIG=%d LDBL_DIG=%d LDBL_MAX_EXP=%d same=%d\n", LDBL_MANT_DIG, LDBL_DIG,
           LDBL_MAX_EXP, LDBL_MANT_DIG == DBL_MANT_DIG);
    printf("LDBL_MAX=%La LDBL_MIN=%Lg LDBL_EPSILON=%Le\n", LDBL_MAX, LDBL_MIN, LDBL_EPSILON);
    volatile long double a = 1.0L, b = 3.0L;
    long double q = a / b;
    printf("1/3: %.25Lf %Le %La %Lg\n", q, q, q, q);
    long double acc = 0;
    for (int i = 1; i <= 1000; i++)
        acc += 1.0L / ((long double)i * i);
    printf("basel=%.18Lf diff=%La\n", acc, acc - (long double)(M_PI * M_PI / 6));
    printf("sqrtl=%La expl=%La logl=%La powl=%La\n", sqrtl(2.0L), expl(1.0L), logl(10.0L),
           powl(2.0L, 0.5L));
    printf("sinl=%La fabsl=%La floorl=%La fmodl=%La\n", sinl(1.0L), fabsl(-2.5L),
           floorl(-2.5L), fmodl(10.0L, 3.0L));
    long double s = strtold("1.00000000000000000001", NULL);
    printf("strtold=%La cmp=%d\n", s, s == 1.0L);
    long long ll = (long long)(q * 1e18L);
    printf("cvt ll=%lld back=%La\n", ll, (long double)ll);
    return 0;
}
