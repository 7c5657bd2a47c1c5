/* corpus: self-modifying code. Writes a tiny MIPS function into an RWX
 * mapping, calls it, patches its immediate in place, flushes the caches
 * and calls it again: a machine that keeps stale translations of the old
 * code prints the old value twice.
 * status: 0
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef int (*fn_t)(int);

static void emit(uint32_t *code, int16_t k)
{
    code[0] = 0x24820000u | (uint16_t)k; /* addiu v0, a0, k */
    code[1] = 0x03e00008u;               /* jr ra */
    code[2] = 0x00000000u;               /* nop (delay slot) */
    __builtin___clear_cache((char *)code, (char *)(code + 3));
}

int main(void)
{
    uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    fn_t f = (fn_t)(uintptr_t)code;
    int total = 0;
    for (int k = 1; k <= 5; k++) {
        emit(code, (int16_t)(k * 100));
        for (int i = 0; i < 1000; i++) /* hot enough to be translated */
            total += f(i) - i;
        printf("k=%d f(7)=%d total=%d\n", k, f(7), total);
    }
    /* Patch one word of a function that is already translated. */
    code[0] = 0x2482ffffu; /* addiu v0, a0, -1 */
    __builtin___clear_cache((char *)code, (char *)(code + 1));
    printf("patched f(7)=%d\n", f(7));
    return 0;
}
