/* corpus: time-free pseudo-random generators: srand(seed)/rand(),
 * random_r-style state via srandom/random, an LCG, xorshift32 and
 * splitmix64; a histogram and a Fisher-Yates shuffle on top.
 * status: 0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t xs = 2463534242u;
static uint32_t xorshift32(void)
{
    xs ^= xs << 13;
    xs ^= xs >> 17;
    xs ^= xs << 5;
    return xs;
}

static uint64_t sm = 0x9e3779b97f4a7c15ULL;
static uint64_t splitmix64(void)
{
    uint64_t z = (sm += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int main(void)
{
    srand(42);
    printf("rand:");
    for (int i = 0; i < 8; i++)
        printf(" %d", rand());
    printf("\nRAND_MAX=%d\n", RAND_MAX);
    srandom(7);
    printf("random:");
    for (int i = 0; i < 6; i++)
        printf(" %ld", random());
    printf("\n");
    unsigned lcg = 1;
    unsigned hist[10] = { 0 };
    for (int i = 0; i < 100000; i++) {
        lcg = lcg * 1103515245u + 12345u;
        hist[(lcg >> 16) % 10]++;
    }
    printf("lcg hist:");
    for (int i = 0; i < 10; i++)
        printf(" %u", hist[i]);
    printf(" last=%u\n", lcg);
    for (int i = 0; i < 5; i++)
        printf("xorshift32=%08x splitmix64=%016llx\n", xorshift32(),
               (unsigned long long)splitmix64());
    int deck[20];
    for (int i = 0; i < 20; i++)
        deck[i] = i;
    srand(2024);
    for (int i = 19; i > 0; i--) {
        int j = rand() % (i + 1);
        int t = deck[i]; deck[i] = deck[j]; deck[j] = t;
    }
    printf("shuffle:");
    for (int i = 0; i < 20; i++)
        printf(" %d", deck[i]);
    printf("\n");
    double mc = 0;
    for (int i = 0; i < 20000; i++) {
        double x = (xorshift32() >> 8) / 16777216.0, y = (xorshift32() >> 8) / 16777216.0;
        mc += x * x + y * y <= 1.0;
    }
    printf("pi~%.4f\n", 4 * mc / 20000);
    return 0;
}
