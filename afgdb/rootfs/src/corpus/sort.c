/* corpus: qsort and bsearch on ints, strings and structs (stable tie
 * breaking by index so the result is fully determined).
 * status: 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {
    int key;
    int idx;
    char name[8];
};

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;   /* descending key */
    return x->idx - y->idx;
}

int main(void)
{
    enum { N = 5000 };
    static int v[N];
    unsigned s = 1;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (int)(s >> 4) - (1 << 27);
    }
    qsort(v, N, sizeof v[0], cmp_int);
    int sorted = 1;
    long long sum = 0;
    for (int i = 1; i < N; i++)
        sorted &= v[i - 1] <= v[i];
    for (int i = 0; i < N; i++)
        sum += v[i] ^ i;
    printf("ints sorted=%d min=%d max=%d median=%d mix=%lld\n", sorted, v[0], v[N - 1],
           v[N / 2], sum);
    int found = 0;
    for (int i = 0; i < N; i += 7) {
        int *p = bsearch(&v[i], v, N, sizeof v[0], cmp_int);
        found += p && *p == v[i];
    }
    int missing = 12345;
    printf("bsearch found=%d missing=%s\n", found,
           bsearch(&missing, v, N, sizeof v[0], cmp_int) ? "yes" : "no");

    const char *words[] = { "pear", "apple", "fig", "banana", "cherry", "date", "apple",
                            "elderberry", "grape", "Apple", "kiwi", "" };
    size_t nw = sizeof words / sizeof words[0];
    qsort(words, nw, sizeof words[0], cmp_str);
    for (size_t i = 0; i < nw; i++)
        printf("%s%s", i ? "," : "", words[i]);
    printf("\n");
    const char *key = "date";
    const char **hit = bsearch(&key, words, nw, sizeof words[0], cmp_str);
    printf("date at %td\n", hit ? hit - words : -1);

    struct rec r[40];
    for (int i = 0; i < 40; i++) {
        r[i].key = (i * 17) % 9;
        r[i].idx = i;
        snprintf(r[i].name, sizeof r[i].name, "r%02d", i);
    }
    qsort(r, 40, sizeof r[0], cmp_rec);
    for (int i = 0; i < 40; i++)
        printf("%s:%d%c", r[i].name, r[i].key, i % 10 == 9 ? '\n' : ' ');
    return 0;
}
