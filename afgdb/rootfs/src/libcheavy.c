/* libcheavy: a benchmark that spends its time in libc, not in its own code.
 * usage: libcheavy [SCALE]   (default 4)
 * Each unit of SCALE mallocs 2000 small blocks of varying size, fills them
 * from a linear congruential generator, qsorts an array of their keys with
 * a comparison callback, snprintfs every key (decimal and hex) into one
 * buffer, parses them back with strtol/strtoul, and frees the blocks in a
 * scattered order: malloc/free, qsort, printf's formatting, strtol, memcpy
 * and strlen dominate. Prints a checksum that depends on every round. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBLOCKS 2000

static uint32_t lcg_state = 12345;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 1;
}

struct item {
    int32_t key;
    unsigned char *data;
    size_t len;
};

static int cmp_item(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->len < y->len ? -1 : x->len > y->len;
}

static uint32_t round_once(unsigned round)
{
    static struct item items[NBLOCKS];
    static char text[NBLOCKS * 24];
    uint32_t check = round;

    for (int i = 0; i < NBLOCKS; i++) {
        size_t len = 8 + lcg() % 120;
        unsigned char *p = malloc(len);
        for (size_t j = 0; j < len; j++)
            p[j] = (unsigned char)lcg();
        items[i].key = (int32_t)(lcg() % 2000001) - 1000000;
        items[i].data = p;
        items[i].len = len;
    }
    qsort(items, NBLOCKS, sizeof items[0], cmp_item);

    size_t pos = 0;
    for (int i = 0; i < NBLOCKS; i++)
        pos += (size_t)snprintf(text + pos, sizeof text - pos, "%d %x,",
                                (int)items[i].key, items[i].data[0]);

    char *s = text;
    while (*s) {
        char *end;
        long key = strtol(s, &end, 10);
        unsigned long byte = strtoul(end + 1, &end, 16);
        check = check * 31u + (uint32_t)key + (uint32_t)byte;
        s = end + 1;
    }
    check ^= (uint32_t)strlen(text);

    for (int i = 0; i < NBLOCKS; i++) {
        int k = (i * 7919) % NBLOCKS;  /* 7919 is prime: a permutation */
        struct item *it = &items[k];
        unsigned char copy[128];
        memcpy(copy, it->data, it->len);
        check += copy[it->len - 1];
        free(it->data);
    }
    return check;
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 4;
    uint32_t check = 0;
    for (unsigned round = 0; round < scale; round++)
        check = check * 33u + round_once(round);
    printf("libcheavy scale=%u checksum=%08x\n", scale, (unsigned)check);
    return 0;
}
