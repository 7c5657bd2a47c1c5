/* corpus: deep and branchy recursion: Ackermann (small arguments),
 * Towers of Hanoi move count, mutual recursion, a recursive permutation
 * generator, and a deep recursion using ~1 MB of stack.
 * status: 0
 */
#include <stdio.h>
#include <string.h>

static unsigned long calls;

static unsigned ack(unsigned m, unsigned n)
{
    calls++;
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

static unsigned long hanoi(int n, int from, int to, int via, unsigned *sig)
{
    if (n == 0)
        return 0;
    unsigned long moves = hanoi(n - 1, from, via, to, sig);
    *sig = *sig * 7 + (unsigned)(from * 3 + to);
    return moves + 1 + hanoi(n - 1, via, to, from, sig);
}

static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

static int nperms;
static void permute(char *s, int k, int n)
{
    if (k == n) {
        if (nperms++ % 5 == 0)
            printf("perm %s\n", s);
        return;
    }
    for (int i = k; i < n; i++) {
        char t = s[k]; s[k] = s[i]; s[i] = t;
        permute(s, k + 1, n);
        t = s[k]; s[k] = s[i]; s[i] = t;
    }
}

static unsigned __attribute__((noinline)) deep(unsigned n)
{
    volatile char frame[200];
    frame[n % 200] = (char)n;
    if (n == 0)
        return 0;
    return deep(n - 1) + (unsigned char)frame[n % 200];
}

int main(void)
{
    for (unsigned m = 0; m <= 2; m++)
        for (unsigned n = 0; n <= 3; n++) {
            calls = 0;
            printf("ack(%u,%u)=%u calls=%lu\n", m, n, ack(m, n), calls);
        }
    calls = 0;
    printf("ack(3,3)=%u calls=%lu\n", ack(3, 3), calls);
    unsigned sig = 0;
    printf("hanoi(12)=%lu sig=%u\n", hanoi(12, 1, 3, 2, &sig), sig);
    printf("even(1001)=%d odd(777)=%d\n", is_even(1001), is_odd(777));
    char s[] = "abcde";
    permute(s, 0, (int)strlen(s));
    printf("perms=%d\n", nperms);
    printf("deep=%u\n", deep(5000));
    return 0;
}
