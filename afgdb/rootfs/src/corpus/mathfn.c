/* corpus: math.h in double and float: sin cos tan atan2 exp log log10
 * pow sqrt cbrt fmod remainder floor ceil round trunc fabs hypot frexp
 * ldexp modf, with special values.  Printed with %a (exact bits).
 * status: 0
 */
#include <math.h>
#include <stdio.h>

int main(void)
{
    volatile double in[] = { 0.0, -0.0, 0.5, -0.5, 1.0, 2.5, -2.5, 3.5, 10.0, -7.3,
                             1e-10, 123.456, 1e6, 0.1 };
    for (unsigned i = 0; i < sizeof in / sizeof in[0]; i++) {
        double x = in[i];
        printf("x=%a sin=%a cos=%a tan=%a exp=%a\n", x, sin(x), cos(x), tan(x), exp(x));
        printf("  log=%a log10=%a sqrt=%a cbrt=%a atan=%a\n", log(fabs(x)), log10(fabs(x)),
               sqrt(fabs(x)), cbrt(x), atan(x));
        printf("  floor=%a ceil=%a round=%a trunc=%a fmod=%a rem=%a\n", floor(x), ceil(x),
               round(x), trunc(x), fmod(x, 0.75), remainder(x, 0.75));
        printf("  pow2=%a pow13=%a atan2=%a hypot=%a\n", pow(x, 2.0), pow(fabs(x), 1.3),
               atan2(x, -1.0), hypot(x, 3.0));
        int e;
        double ip, fr = frexp(x, &e), mf = modf(x, &ip);
        printf("  frexp=%a,%d ldexp=%a modf=%a,%a\n", fr, e, ldexp(x, -3), mf, ip);
    }
    volatile float fin[] = { 0.0f, -1.5f, 0.25f, 3.14159f, 100.0f, -0.1f, 1e-3f };
    for (unsigned i = 0; i < sizeof fin / sizeof fin[0]; i++) {
        float x = fin[i];
        printf("f=%a sinf=%a cosf=%a expf=%a logf=%a sqrtf=%a\n", x, sinf(x), cosf(x),
               expf(x), logf(fabsf(x)), sqrtf(fabsf(x)));
        printf("  powf=%a fmodf=%a floorf=%a ceilf=%a roundf=%a fabsf=%a\n",
               powf(fabsf(x), 0.5f), fmodf(x, 0.3f), floorf(x), ceilf(x), roundf(x),
               fabsf(x));
    }
    volatile double zero = 0.0, inf = INFINITY, nan_ = NAN;
    printf("special: log0=%g sqrt-1 nan=%d pow00=%g expinf=%g exp-inf=%g infinf=%d\n",
           log(zero), isnan(sqrt(-1.0 + zero)), pow(zero, zero), exp(inf), exp(-inf),
           isnan(inf - inf));
    printf("nan compares: %d %d %d isinf=%d fpclass=%d %d %d %d\n", nan_ == nan_,
           nan_ < 1.0, nan_ != nan_, isinf(-inf), fpclassify(zero), fpclassify(1e-310),
           fpclassify(1.0), fpclassify(inf));
    printf("sum: %.17g\n", sin(1.0) * sin(1.0) + cos(1.0) * cos(1.0));
    return 0;
}
