/* corpus: malloc/calloc/realloc/free stress: thousands of small blocks
 * (malloc, realloc, free) in a deterministic pattern, big blocks (> 128 KiB,
 * served by mmap), realloc growth to 2 MiB and shrink.  Small blocks are
 * verified byte by byte, big ones at a stride of 97 bytes plus their last
 * byte, which keeps the run near 4 million MIPS instructions.
 * status: 0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 1000
#define STRIDE 97

static uint32_t state = 12345;
static uint32_t next(void)
{
    state = state * 1103515245u + 12345u;
    return state >> 8;
}

static void fill_step(unsigned char *p, size_t n, unsigned tag, size_t step)
{
    for (size_t i = 0; i < n; i += step)
        p[i] = (unsigned char)(tag + i * 7);
    if (n)
        p[n - 1] = (unsigned char)(tag + (n - 1) * 7);
}

static int check_step(const unsigned char *p, size_t n, unsigned tag, size_t step)
{
    for (size_t i = 0; i < n; i += step)
        if (p[i] != (unsigned char)(tag + i * 7))
            return 0;
    return n == 0 || p[n - 1] == (unsigned char)(tag + (n - 1) * 7);
}

#define fill(p, n, tag) fill_step(p, n, tag, 1)
#define check(p, n, tag) check_step(p, n, tag, 1)

int main(void)
{
    static unsigned char *slot[NSLOTS];
    static size_t size[NSLOTS];
    unsigned bad = 0, allocs = 0, frees = 0, reallocs = 0;
    for (int round = 0; round < 4000; round++) {
        unsigned i = next() % NSLOTS;
        if (slot[i]) {
            bad += !check(slot[i], size[i], i);
            if (next() % 3 == 0) {
                size_t n = next() % 200 + 1;
                unsigned char *q = realloc(slot[i], n);
                size_t keep = n < size[i] ? n : size[i];
                bad += !check(q, keep, i);
                slot[i] = q;
                size[i] = n;
                fill(q, n, i);
                reallocs++;
            } else {
                free(slot[i]);
                slot[i] = NULL;
                frees++;
            }
        } else {
            size[i] = next() % 100 + 1;
            slot[i] = malloc(size[i]);
            if (!slot[i])
                return 2;
            fill(slot[i], size[i], i);
            allocs++;
        }
    }
    for (unsigned i = 0; i < NSLOTS; i++) {
        if (slot[i])
            bad += !check(slot[i], size[i], i);
        free(slot[i]);
    }
    printf("small: allocs=%u frees=%u reallocs=%u bad=%u\n", allocs, frees, reallocs, bad);

    size_t bigsz[] = { 200000, 131072, 1 << 20, 3 << 20, 150001 };
    unsigned char *bigs[5];
    for (int i = 0; i < 5; i++) {
        bigs[i] = malloc(bigsz[i]);
        fill_step(bigs[i], bigsz[i], (unsigned)i * 11, STRIDE);
    }
    for (int i = 0; i < 5; i++) {
        printf("big %d: size=%zu ok=%d aligned8=%d\n", i, bigsz[i],
               check_step(bigs[i], bigsz[i], (unsigned)i * 11, STRIDE), ((uintptr_t)bigs[i] & 7) == 0);
        free(bigs[i]);
    }
    unsigned char *g = NULL;
    size_t gsz = 0;
    for (size_t n = 16; n <= (2u << 20); n *= 2) {
        g = realloc(g, n);
        for (size_t k = (gsz + STRIDE - 1) / STRIDE * STRIDE; k < n; k += STRIDE)
            g[k] = (unsigned char)(k * 7);
        gsz = n;
    }
    int ok = 1;
    for (size_t k = 0; k < gsz; k += STRIDE)
        ok &= g[k] == (unsigned char)(k * 7);
    printf("grow: size=%zu ok=%d\n", gsz, ok);
    g = realloc(g, 1000);
    for (size_t k = 0; k < 1000; k += STRIDE)
        ok &= g[k] == (unsigned char)(k * 7);
    printf("shrink: ok=%d\n", ok);
    free(g);
    unsigned *z = calloc(100000, sizeof *z);
    unsigned nz = 0;
    for (int i = 0; i < 100000; i += STRIDE)
        nz += z[i] != 0;
    printf("calloc nonzero=%u\n", nz);
    free(z);
    return bad ? 1 : 0;
}
