/* Instruction-level FPU differential test: every FPU operation on a grid of
 * edge-case operands in all four rounding modes; prints the raw result bits
 * and FCSR (cause, flags, condition codes) after each one. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char obuf[1 << 16];
static int opos;

static void flush(void) { if (opos) { write(1, obuf, opos); opos = 0; } }
static void ch(char c) { if (opos == sizeof obuf) flush(); obuf[opos++] = c; }
static void str(const char *s) { while (*s) ch(*s++); }
static void hx(uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        ch("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static double d_of(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t b_of_d(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
static float f_of(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static uint32_t b_of_f(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

static const uint64_t D[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
    0x3fd5555555555555ull, 0x0000000000000001ull, 0x0010000000000000ull, 0x000fffffffffffffull,
    0x7fefffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7ff7ffffffffffffull,
    0x7ff8000000000000ull, 0x3ff0000000000001ull, 0x4340000000000001ull, 0x41e0000000000000ull,
    0xc1e0000000200000ull, 0x3fe0000000000000ull, 0x4004000000000000ull, 0xc00c000000000000ull,
    0x3fefffffffffffffull, 0x0010000000000001ull, 0x41dfffffffffffffull, 0x43e0000000000000ull,
};
static const uint32_t S[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3eaaaaab, 0x00000001, 0x00800000,
    0x007fffff, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fbfffff, 0x7fc00000, 0x3f800001,
    0x4b800001, 0x4f000000, 0xcf000001, 0x3f000000, 0x40200000, 0xc0600000, 0x3f7fffff,
    0x00800001, 0x5f000000, 0x4effffff,
};
#define ND (sizeof D / sizeof D[0])
#define NS (sizeof S / sizeof S[0])

static uint32_t mode;

#define OP2(insn, T, a, b, out, fc)                                                   \
    __asm__ volatile("ctc1 %4,$31\n\t" insn " %0,%2,%3\n\tcfc1 %1,$31"               \
                     : "=&f"(out), "=&r"(fc) : "f"(a), "f"(b), "r"(mode))
#define OP1(insn, a, out, fc)                                                         \
    __asm__ volatile("ctc1 %3,$31\n\t" insn " %0,%2\n\tcfc1 %1,$31"                   \
                     : "=&f"(out), "=&r"(fc) : "f"(a), "r"(mode))
#define OP3(insn, z, a, b, out, fc)                                                   \
    __asm__ volatile("ctc1 %5,$31\n\t" insn " %0,%2,%3,%4\n\tcfc1 %1,$31"             \
                     : "=&f"(out), "=&r"(fc) : "f"(z), "f"(a), "f"(b), "r"(mode))

static void line_d(const char *op, int i, int j, uint64_t r, uint32_t fc)
{
    str(op); ch(' '); hx(i, 2); ch(' '); hx(j, 2); ch(' '); hx(r, 16); ch(' '); hx(fc, 8); ch('\n');
}

static void line_s(const char *op, int i, int j, uint32_t r, uint32_t fc)
{
    str(op); ch(' '); hx(i, 2); ch(' '); hx(j, 2); ch(' '); hx(r, 8); ch(' '); hx(fc, 8); ch('\n');
}

static void binary(void)
{
    for (unsigned i = 0; i < ND; i++)
        for (unsigned j = 0; j < ND; j++) {
            double a = d_of(D[i]), b = d_of(D[j]), r;
            uint32_t fc;
            OP2("add.d", double, a, b, r, fc); line_d("add.d", i, j, b_of_d(r), fc);
            OP2("sub.d", double, a, b, r, fc); line_d("sub.d", i, j, b_of_d(r), fc);
            OP2("mul.d", double, a, b, r, fc); line_d("mul.d", i, j, b_of_d(r), fc);
            OP2("div.d", double, a, b, r, fc); line_d("div.d", i, j, b_of_d(r), fc);
        }
    for (unsigned i = 0; i < NS; i++)
        for (unsigned j = 0; j < NS; j++) {
            float a = f_of(S[i]), b = f_of(S[j]), r;
            uint32_t fc;
            OP2("add.s", float, a, b, r, fc); line_s("add.s", i, j, b_of_f(r), fc);
            OP2("sub.s", float, a, b, r, fc); line_s("sub.s", i, j, b_of_f(r), fc);
            OP2("mul.s", float, a, b, r, fc); line_s("mul.s", i, j, b_of_f(r), fc);
            OP2("div.s", float, a, b, r, fc); line_s("div.s", i, j, b_of_f(r), fc);
        }
}

static void unary(void)
{
    for (unsigned i = 0; i < ND; i++) {
        double a = d_of(D[i]), r;
        float s;
        uint32_t fc, w;
        OP1("sqrt.d", a, r, fc); line_d("sqrt.d", i, 0, b_of_d(r), fc);
        OP1("recip.d", a, r, fc); line_d("recip.d", i, 0, b_of_d(r), fc);
        OP1("rsqrt.d", a, r, fc); line_d("rsqrt.d", i, 0, b_of_d(r), fc);
        OP1("abs.d", a, r, fc); line_d("abs.d", i, 0, b_of_d(r), fc);
        OP1("neg.d", a, r, fc); line_d("neg.d", i, 0, b_of_d(r), fc);
        OP1("mov.d", a, r, fc); line_d("mov.d", i, 0, b_of_d(r), fc);
        OP1("cvt.s.d", a, s, fc); line_s("cvt.s.d", i, 0, b_of_f(s), fc);
#define TOW(insn)                                                                    \
        __asm__ volatile("ctc1 %3,$31\n\t" insn " $f8,%2\n\tmfc1 %0,$f8\n\tcfc1 %1,$31" \
                         : "=&r"(w), "=&r"(fc) : "f"(a), "r"(mode) : "$f8");         \
        line_s(insn, i, 0, w, fc);
        TOW("cvt.w.d") TOW("round.w.d") TOW("trunc.w.d") TOW("ceil.w.d") TOW("floor.w.d")
#define TOL(insn)                                                                    \
        { uint32_t lo, hi;                                                           \
        __asm__ volatile(".set push\n\t.set fp=64\n\tctc1 %4,$31\n\t" insn " $f8,%3\n\t" \
                         "mfc1 %0,$f8\n\tmfhc1 %1,$f8\n\tcfc1 %2,$31\n\t.set pop"    \
                         : "=&r"(lo), "=&r"(hi), "=&r"(fc) : "f"(a), "r"(mode) : "$f8"); \
        line_d(insn, i, 0, (uint64_t)hi << 32 | lo, fc); }
        TOL("cvt.l.d") TOL("round.l.d") TOL("trunc.l.d") TOL("ceil.l.d") TOL("floor.l.d")
    }
    for (unsigned i = 0; i < NS; i++) {
        float a = f_of(S[i]), r;
        double d;
        uint32_t fc, w;
        OP1("sqrt.s", a, r, fc); line_s("sqrt.s", i, 0, b_of_f(r), fc);
        OP1("recip.s", a, r, fc); line_s("recip.s", i, 0, b_of_f(r), fc);
        OP1("rsqrt.s", a, r, fc); line_s("rsqrt.s", i, 0, b_of_f(r), fc);
        OP1("abs.s", a, r, fc); line_s("abs.s", i, 0, b_of_f(r), fc);
        OP1("neg.s", a, r, fc); line_s("neg.s", i, 0, b_of_f(r), fc);
        OP1("cvt.d.s", a, d, fc); line_d("cvt.d.s", i, 0, b_of_d(d), fc);
        TOW("cvt.w.s") TOW("round.w.s") TOW("trunc.w.s") TOW("ceil.w.s") TOW("floor.w.s")
        TOL("cvt.l.s") TOL("round.l.s") TOL("trunc.l.s") TOL("ceil.l.s") TOL("floor.l.s")
    }
}

static const int32_t W[] = {0, 1, -1, 0x7fffffff, (int32_t)0x80000000, 16777217, -16777219,
                            123456789, 0x40000001};
static const int64_t L[] = {0, 1, -1, 0x7fffffffffffffffll, (int64_t)0x8000000000000000ull,
                            9007199254740993ll, -9007199254740995ll, 16777217, 0x4000000000000401ll};

static void from_int(void)
{
    for (unsigned i = 0; i < sizeof W / sizeof W[0]; i++) {
        uint32_t fc, s;
        uint64_t d;
        uint32_t lo, hi;
        __asm__ volatile("ctc1 %3,$31\n\tmtc1 %2,$f8\n\tcvt.s.w $f10,$f8\n\tmfc1 %0,$f10\n\t"
                         "cfc1 %1,$31" : "=&r"(s), "=&r"(fc) : "r"(W[i]), "r"(mode) : "$f8", "$f10");
        line_s("cvt.s.w", i, 0, s, fc);
        __asm__ volatile("ctc1 %4,$31\n\tmtc1 %3,$f8\n\tcvt.d.w $f10,$f8\n\tmfc1 %0,$f10\n\t"
                         "mfhc1 %1,$f10\n\tcfc1 %2,$31"
                         : "=&r"(lo), "=&r"(hi), "=&r"(fc) : "r"(W[i]), "r"(mode) : "$f8", "$f10");
        d = (uint64_t)hi << 32 | lo;
        line_d("cvt.d.w", i, 0, d, fc);
    }
    for (unsigned i = 0; i < sizeof L / sizeof L[0]; i++) {
        uint32_t fc, s, lo, hi;
        uint32_t ilo = (uint32_t)L[i], ihi = (uint32_t)((uint64_t)L[i] >> 32);
        __asm__ volatile(".set push\n\t.set fp=64\n\tctc1 %4,$31\n\tmtc1 %2,$f8\n\tmthc1 %3,$f8\n\t"
                         "cvt.s.l $f10,$f8\n\tmfc1 %0,$f10\n\tcfc1 %1,$31\n\t.set pop"
                         : "=&r"(s), "=&r"(fc) : "r"(ilo), "r"(ihi), "r"(mode) : "$f8", "$f10");
        line_s("cvt.s.l", i, 0, s, fc);
        __asm__ volatile(".set push\n\t.set fp=64\n\tctc1 %5,$31\n\tmtc1 %3,$f8\n\tmthc1 %4,$f8\n\t"
                         "cvt.d.l $f10,$f8\n\tmfc1 %0,$f10\n\tmfhc1 %1,$f10\n\tcfc1 %2,$31\n\t.set pop"
                         : "=&r"(lo), "=&r"(hi), "=&r"(fc) : "r"(ilo), "r"(ihi), "r"(mode)
                         : "$f8", "$f10");
        line_d("cvt.d.l", i, 0, (uint64_t)hi << 32 | lo, fc);
    }
}

#define CMP(fmt, cond, a, b, fc)                                                       \
    __asm__ volatile("ctc1 %3,$31\n\tc." cond "." fmt " $fcc3,%1,%2\n\tcfc1 %0,$31"   \
                     : "=&r"(fc) : "f"(a), "f"(b), "r"(mode | 0x02800000))

static void compares(void)
{
    static const char *names[] = {"f", "un", "eq", "ueq", "olt", "ult", "ole", "ule",
                                  "sf", "ngle", "seq", "ngl", "lt", "nge", "le", "ngt"};
    static const unsigned pick[] = {0, 1, 2, 3, 5, 9, 10, 11, 12};
    for (unsigned x = 0; x < sizeof pick / sizeof pick[0]; x++)
        for (unsigned y = 0; y < sizeof pick / sizeof pick[0]; y++) {
            unsigned i = pick[x], j = pick[y];
            double a = d_of(D[i]), b = d_of(D[j]);
            float fa = f_of(S[i]), fb = f_of(S[j]);
            uint32_t fc[32];
#define C2(k, n) CMP("d", n, a, b, fc[k]); CMP("s", n, fa, fb, fc[16 + k]);
            C2(0, "f") C2(1, "un") C2(2, "eq") C2(3, "ueq") C2(4, "olt") C2(5, "ult")
            C2(6, "ole") C2(7, "ule") C2(8, "sf") C2(9, "ngle") C2(10, "seq") C2(11, "ngl")
            C2(12, "lt") C2(13, "nge") C2(14, "le") C2(15, "ngt")
            for (int k = 0; k < 32; k++) {
                str("c."); str(names[k & 15]); str(k < 16 ? ".d" : ".s");
                line_s("", i, j, 0, fc[k]);
            }
        }
}

static void fused(void)
{
    static const unsigned pick[] = {0, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 17, 20};
    const unsigned n = sizeof pick / sizeof pick[0];
    for (unsigned x = 0; x < n; x++)
        for (unsigned y = 0; y < n; y++)
            for (unsigned z = 0; z < n; z += 3) {
                unsigned i = pick[x], j = pick[y], k = pick[z];
                double a = d_of(D[i]), b = d_of(D[j]), c = d_of(D[k]), r;
                float fa = f_of(S[i]), fb = f_of(S[j]), fcz = f_of(S[k]), fr;
                uint32_t fc;
                OP3("madd.d", c, a, b, r, fc); line_d("madd.d", i * 32 + j, k, b_of_d(r), fc);
                OP3("msub.d", c, a, b, r, fc); line_d("msub.d", i * 32 + j, k, b_of_d(r), fc);
                OP3("nmadd.d", c, a, b, r, fc); line_d("nmadd.d", i * 32 + j, k, b_of_d(r), fc);
                OP3("nmsub.d", c, a, b, r, fc); line_d("nmsub.d", i * 32 + j, k, b_of_d(r), fc);
                OP3("madd.s", fcz, fa, fb, fr, fc); line_s("madd.s", i * 32 + j, k, b_of_f(fr), fc);
                OP3("msub.s", fcz, fa, fb, fr, fc); line_s("msub.s", i * 32 + j, k, b_of_f(fr), fc);
                OP3("nmadd.s", fcz, fa, fb, fr, fc); line_s("nmadd.s", i * 32 + j, k, b_of_f(fr), fc);
                OP3("nmsub.s", fcz, fa, fb, fr, fc); line_s("nmsub.s", i * 32 + j, k, b_of_f(fr), fc);
            }
}

int main(void)
{
    for (mode = 0; mode < 4; mode++) {
        str("mode "); hx(mode, 1); ch('\n');
        binary();
        unary();
        from_int();
        compares();
        fused();
    }
    flush();
    return 0;
}
