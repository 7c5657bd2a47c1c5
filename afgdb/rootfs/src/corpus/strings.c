/* corpus: string.h: strlen strcpy strncpy strcat strcmp strncmp memcpy
 * memmove memset memcmp memchr strstr strtok strtok_r strchr strrchr strdup.
 * status: 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wstringop-truncation"

static int sign(int x) { return (x > 0) - (x < 0); }

int main(void)
{
    char buf[128], big[300];
    const char *s = "the quick brown fox jumps over the lazy dog";
    printf("strlen=%zu %zu %zu\n", strlen(s), strlen(""), strlen(s + 40));
    strcpy(buf, "hello");
    strcat(buf, ", ");
    strncat(buf, "world!!!", 5);
    printf("buf=[%s] len=%zu\n", buf, strlen(buf));
    strncpy(buf, "abc", 6);
    printf("strncpy pad: %d %d %d [%s]\n", buf[3], buf[4], buf[5], buf);
    const char *cmp[][2] = { { "abc", "abd" }, { "abc", "abc" }, { "b", "abc" },
                             { "", "a" }, { "\xff", "a" }, { "abc", "ab" } };
    for (unsigned i = 0; i < 6; i++)
        printf("cmp %u: %d %d %d\n", i, sign(strcmp(cmp[i][0], cmp[i][1])),
               sign(strncmp(cmp[i][0], cmp[i][1], 2)),
               sign(memcmp(cmp[i][0], cmp[i][1], 1)));
    for (int i = 0; i < 300; i++)
        big[i] = (char)('a' + i % 26);
    memmove(big + 3, big, 100);          /* overlapping, forward */
    memmove(big + 150, big + 160, 100);  /* overlapping, backward */
    big[299] = 0;
    unsigned sum = 0;
    for (int i = 0; i < 299; i++)
        sum = sum * 31 + (unsigned char)big[i];
    printf("memmove sum=%u head=%.20s\n", sum, big);
    for (int off = 0; off < 4; off++)
        for (int len = 0; len < 40; len += 13) {
            char src[64], dst[64];
            memset(dst, '.', sizeof dst);
            for (int i = 0; i < 64; i++)
                src[i] = (char)('A' + i % 26);
            memcpy(dst + off, src + (3 - off), (size_t)len);
            dst[63] = 0;
            printf("memcpy off=%d len=%2d %s\n", off, len, dst);
        }
    memset(buf, 'z', 10);
    buf[10] = 0;
    printf("memset=%s memchr=%td\n", buf, (char *)memchr(s, 'q', strlen(s)) - s);
    printf("strstr=%s|%s|%p\n", strstr(s, "fox"), strstr(s, ""), (void *)strstr(s, "cat"));
    printf("strchr=%s strrchr=%s nul=%d\n", strchr(s, 'o'), strrchr(s, 'o'),
           strchr(s, 0) == s + strlen(s));
    char text[] = "alpha, beta;gamma ,,delta;;epsilon";
    for (char *t = strtok(text, ",; "); t; t = strtok(NULL, ",; "))
        printf("tok=[%s]\n", t);
    char text2[] = "k1=v1&k2=v2&k3";
    char *save1, *save2;
    for (char *kv = strtok_r(text2, "&", &save1); kv; kv = strtok_r(NULL, "&", &save1)) {
        char *k = strtok_r(kv, "=", &save2), *v = strtok_r(NULL, "=", &save2);
        printf("key=%s val=%s\n", k, v ? v : "(none)");
    }
    char *d = strdup(s);
    d[3] = '_';
    printf("strdup=%s differs=%d\n", d, strcmp(d, s) != 0);
    free(d);
    printf("spn=%zu cspn=%zu pbrk=%s\n", strspn(s, "eht "), strcspn(s, "xyz"), strpbrk(s, "zq"));
    return 0;
}
