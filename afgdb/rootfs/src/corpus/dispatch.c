/* corpus: a dense switch (jump table), a sparse switch, an array of
 * function pointers, and a tiny stack-machine interpreter using both.
 * status: 0
 */
#include <stdio.h>

enum op { PUSH, ADD, SUB, MUL, DUP, SWAP, JNZ, DEC, PRINT, HALT };

static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int (*const binops[])(int, int) = { add, sub, mul };

static const char *__attribute__((noinline)) dense(int x)
{
    switch (x) {
    case 0: return "zero";
    case 1: return "one";
    case 2: return "two";
    case 3: return "three";
    case 4: return "four";
    case 5: return "five";
    case 6: return "six";
    case 7: return "seven";
    default: return "many";
    }
}

static int __attribute__((noinline)) sparse(int x)
{
    switch (x) {
    case -1000: return 1;
    case 7: return 2;
    case 100: return 3;
    case 4096: return 4;
    case 65537: return 5;
    default: return 0;
    }
}

static void run(const int *code)
{
    int stack[32], sp = 0, pc = 0;
    for (;;) {
        int op = code[pc++];
        switch (op) {
        case PUSH: stack[sp++] = code[pc++]; break;
        case ADD: case SUB: case MUL:
            sp--;
            stack[sp - 1] = binops[op - ADD](stack[sp - 1], stack[sp]);
            break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case SWAP: { int t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
        case JNZ: { int target = code[pc++]; if (stack[--sp]) pc = target; break; }
        case DEC: stack[sp - 1]--; break;
        case PRINT: printf("vm: %d\n", stack[--sp]); break;
        case HALT: return;
        }
    }
}

int main(void)
{
    for (int i = -1; i < 10; i++)
        printf("%d:%s ", i, dense(i));
    printf("\n");
    const int probes[] = { -1000, 7, 8, 100, 4096, 65537, 0 };
    for (unsigned i = 0; i < 7; i++)
        printf("sparse(%d)=%d\n", probes[i], sparse(probes[i]));
    /* sum += 3 five times, printing the counter each round: stack is [sum counter] */
    const int loop[] = { PUSH, 0, PUSH, 5,           /* sum counter */
                         /* 4: */ DUP, PRINT, SWAP, PUSH, 3, ADD, SWAP, DEC, DUP, JNZ, 4,
                         SWAP, PRINT, HALT };
    run(loop);
    int acc = 1;
    for (int i = 1; i <= 10; i++)
        acc = binops[i % 3](acc, i);
    printf("fold=%d\n", acc);
    return 0;
}
