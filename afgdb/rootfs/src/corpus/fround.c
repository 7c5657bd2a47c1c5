/* corpus: FPU rounding modes and exception flags.  For each of
 * FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO: arithmetic whose
 * result is inexact, sqrt, int conversions (rint nearbyint lrint llrint)
 * and float narrowing, all printed with %a.  Then fetestexcept after
 * operations that raise inexact/overflow/underflow/divbyzero/invalid.
 * status: 0
 */
#include <fenv.h>
#include <math.h>
#include <stdio.h>

/* gcc ignores #pragma STDC FENV_ACCESS; volatile operands keep every
 * operation at run time, after the fesetround call. */

static const struct { int mode; const char *name; } modes[] = {
    { FE_TONEAREST, "nearest" }, { FE_UPWARD, "upward" },
    { FE_DOWNWARD, "downward" }, { FE_TOWARDZERO, "towardzero" },
};

static void flags(const char *what)
{
    printf("%-10s inexact=%d overflow=%d underflow=%d divbyzero=%d invalid=%d\n", what,
           !!fetestexcept(FE_INEXACT), !!fetestexcept(FE_OVERFLOW),
           !!fetestexcept(FE_UNDERFLOW), !!fetestexcept(FE_DIVBYZERO),
           !!fetestexcept(FE_INVALID));
}

int main(void)
{
    volatile double one = 1.0, three = 3.0, big = 1e308, tiny = 1e-308, zero = 0.0;
    volatile double halves[] = { 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, -3.7, 1e10 + 0.5 };
    for (unsigned m = 0; m < 4; m++) {
        if (fesetround(modes[m].mode) != 0)
            printf("fesetround failed\n");
        printf("mode %s get=%d\n", modes[m].name, fegetround() == modes[m].mode);
        printf("  1/3=%a -1/3=%a 2/3f=%a sqrt2=%a sum=%a\n", one / three, -one / three,
               (float)(2.0f / (float)three), sqrt(2.0 * one), 0.1 * one + 0.2);
        printf("  narrow=%a %a mul=%a\n", (float)(one / three), (float)(-one / three),
               1.0000001 * three * 1.0000001);
        for (unsigned i = 0; i < sizeof halves / sizeof halves[0]; i++) {
            double h = halves[i];
            printf("  %g: rint=%g nearbyint=%g lrint=%ld llrint=%lld rintf=%g\n", h, rint(h),
                   nearbyint(h), lrint(h), llrint(h), (double)rintf((float)h));
        }
    }
    fesetround(FE_TONEAREST);
    feclearexcept(FE_ALL_EXCEPT);
    flags("clear");
    volatile double r = one / three;
    flags("1/3");
    feclearexcept(FE_ALL_EXCEPT);
    r = big * 10.0;
    flags("overflow");
    feclearexcept(FE_ALL_EXCEPT);
    r = tiny / 1e10;
    flags("underflow");
    feclearexcept(FE_ALL_EXCEPT);
    r = one / zero;
    flags("div0");
    feclearexcept(FE_ALL_EXCEPT);
    r = zero / zero;
    flags("invalid");
    feclearexcept(FE_ALL_EXCEPT);
    feraiseexcept(FE_OVERFLOW | FE_INEXACT);
    flags("raised");
    fexcept_t saved;
    fegetexceptflag(&saved, FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    fesetexceptflag(&saved, FE_OVERFLOW);
    flags("restored");
    (void)r;
    return 0;
}
