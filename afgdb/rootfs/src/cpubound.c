/* cpubound: a CPU-bound benchmark with no system calls in its hot loops.
 * usage: cpubound [SCALE]   (default 18)
 * Each unit of SCALE runs a sieve of Eratosthenes up to 100000 and an
 * integer hashing loop (FNV-1a + xorshift + multiply), together about
 * 4.05 million MIPS instructions (measured with qemu-mipsel -singlestep
 * -d exec), so the default is some 73 million.
 * Prints a checksum that depends on every round. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIEVE_N 100000
#define HASH_ROUNDS 150000

static unsigned char composite[SIEVE_N + 1];

static uint32_t sieve(void)
{
    uint32_t count = 0, sum = 0;
    memset(composite, 0, sizeof composite);
    for (uint32_t i = 2; i <= SIEVE_N; i++) {
        if (composite[i])
            continue;
        count++;
        sum += i;
        for (uint32_t j = i * i; i <= 316 && j <= SIEVE_N; j += i)
            composite[j] = 1;
    }
    return count * 31u + sum;
}

static uint32_t hash_loop(uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed, x = seed | 1;
    for (uint32_t i = 0; i < HASH_ROUNDS; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        h = (h ^ (x & 0xff)) * 16777619u;
        h += (h >> 7) * 0x9e3779b1u + i;
    }
    return h;
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 18;
    uint32_t check = 0;
    for (unsigned round = 0; round < scale; round++) {
        check = check * 33u + sieve();
        check ^= hash_loop(check + round);
    }
    printf("cpubound scale=%u checksum=%08x\n", scale, (unsigned)check);
    return 0;
}
