/* C-level FPU differential test: what glibc and gcc -O2 make of floating
 * point in each rounding mode, with the exception flags fetestexcept sees. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile double vd[] = {0.1, -0.7, 1.0 / 3.0, 2.5, -2.5, 0.5, 1.5, 1e308, 4.9e-324,
                               2.2250738585072014e-308, 2147483648.0, -2147483649.0,
                               2147483647.5, -2147483648.5, 9.3e18, 1e-310, 123456.789};
static volatile float vf[] = {0.1f, -0.7f, 1.0f / 3.0f, 2.5f, -3.5f, 16777217.0f, 3.4e38f,
                              1.4e-45f, 1.17549435e-38f, 2147483648.0f, 8388608.5f};
#define NVD (sizeof vd / sizeof vd[0])
#define NVF (sizeof vf / sizeof vf[0])

static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD};
static const char *mnames[] = {"nearest", "zero", "up", "down"};

static void flags(const char *what)
{
    int e = fetestexcept(FE_ALL_EXCEPT);
    printf("  %s:%s%s%s%s%s\n", what, e & FE_INEXACT ? " inexact" : "",
           e & FE_UNDERFLOW ? " underflow" : "", e & FE_OVERFLOW ? " overflow" : "",
           e & FE_DIVBYZERO ? " divbyzero" : "", e & FE_INVALID ? " invalid" : "");
    feclearexcept(FE_ALL_EXCEPT);
}

static void arith(void)
{
    for (unsigned i = 0; i + 1 < NVD; i++) {
        double a = vd[i], b = vd[i + 1];
        printf(" %a %a: + %a - %a * %a / %a sqrt %a\n", a, b, a + b, a - b, a * b, a / b,
               sqrt(fabs(a)));
        flags("d");
        printf("   fma %a rint %a nearbyint %a round %a floor %a ceil %a trunc %a\n",
               fma(a, b, 1.0), rint(a), nearbyint(a), round(a), floor(a), ceil(a), trunc(a));
        flags("r");
        printf("   (int)%d (unsigned)%u (ll)%lld (ull)%llu lrint %ld llrint %lld (float)%a\n",
               (int)a, (unsigned)a, (long long)a, (unsigned long long)a, lrint(a), llrint(a),
               (double)(float)a);
        flags("c");
    }
    for (unsigned i = 0; i + 1 < NVF; i++) {
        float a = vf[i], b = vf[i + 1];
        printf(" %a %a: + %a - %a * %a / %a sqrtf %a fmaf %a\n", a, b, (double)(a + b),
               (double)(a - b), (double)(a * b), (double)(a / b), (double)sqrtf(fabsf(a)),
               (double)fmaf(a, b, 1.0f));
        flags("f");
        printf("   (int)%d lrintf %ld rintf %a (double)%a\n", (int)a, lrintf(a),
               (double)rintf(a), (double)a);
        flags("fc");
    }
}

static void library(void)
{
    double x = vd[2];
    printf(" exp %a log %a sin %a cos %a tan %a atan2 %a pow %a cbrt %a hypot %a\n", exp(x),
           log(x), sin(x), cos(x), tan(x), atan2(x, vd[1]), pow(x, 0.7), cbrt(x), hypot(x, 3.0));
    flags("lib");
    printf(" expf %a logf %a sinf %a powf %a\n", (double)expf((float)x), (double)logf((float)x),
           (double)sinf((float)x), (double)powf((float)x, 0.7f));
    flags("libf");
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", x);
    printf(" print %s %.3f %e %g strtod %a strtof %a\n", buf, x, x, x, strtod(buf, NULL),
           (double)strtof(buf, NULL));
    flags("str");
}

static void specials(void)
{
    volatile double z = 0.0, one = 1.0, inf = INFINITY, big = DBL_MAX, tiny = DBL_MIN;
    volatile double n = NAN;
    volatile double r;
    r = one / z; flags("1/0");
    r = z / z; flags("0/0");
    r = inf - inf; flags("inf-inf");
    r = big * 2.0; flags("max*2");
    r = tiny / 3.0; flags("min/3");
    r = sqrt(-one); flags("sqrt(-1)");
    r = n + one; flags("nan+1");
    printf(" nan<1 %d nan==nan %d nan!=nan %d isless %d isunordered %d\n", n < one, n == n,
           n != n, isless(n, one), isunordered(n, one));
    flags("cmp");
    volatile int i = (int)n; flags("(int)nan");
    volatile unsigned u = (unsigned)big; flags("(unsigned)max");
    printf(" r=%a i=%d u=%u\n", r, i, u);
    uint64_t bits; double nn = NAN; memcpy(&bits, &nn, 8);
    printf(" NAN bits %016llx\n", (unsigned long long)bits);
}

int main(void)
{
    for (int m = 0; m < 4; m++) {
        fesetround(modes[m]);
        feclearexcept(FE_ALL_EXCEPT);
        printf("mode %s get=%d\n", mnames[m], fegetround() == modes[m]);
        arith();
        library();
        specials();
    }
    fesetround(FE_TONEAREST);
    fenv_t env;
    feholdexcept(&env);
    volatile double z = 0.0;
    volatile double r = 1.0 / z;
    printf("held %d %a\n", fetestexcept(FE_DIVBYZERO) != 0, r);
    feupdateenv(&env);
    printf("updated %d\n", fetestexcept(FE_DIVBYZERO) != 0);
    return 0;
}
