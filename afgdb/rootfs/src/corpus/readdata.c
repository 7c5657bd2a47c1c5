/* corpus: reads data/words.txt and data/numbers.txt: line, word and byte
 * counts, the most frequent words, and the sum of the numbers (strtod and
 * strtol with base 0), via stdio and via read(2) in small chunks.
 * status: 0
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct word { char text[32]; int count; };

static int by_count(const void *a, const void *b)
{
    const struct word *x = a, *y = b;
    return x->count != y->count ? y->count - x->count : strcmp(x->text, y->text);
}

int main(void)
{
    FILE *f = fopen("data/words.txt", "r");
    if (!f)
        return 1;
    static struct word words[256];
    int nwords = 0, total = 0, lines = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        lines++;
        for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n")) {
            total++;
            int i;
            for (i = 0; i < nwords && strcmp(words[i].text, t); i++)
                ;
            if (i == nwords && nwords < 256)
                snprintf(words[nwords++].text, sizeof words[0].text, "%s", t);
            if (i < nwords)
                words[i].count++;
        }
    }
    fclose(f);
    qsort(words, (size_t)nwords, sizeof words[0], by_count);
    printf("lines=%d words=%d distinct=%d\n", lines, total, nwords);
    for (int i = 0; i < 6 && i < nwords; i++)
        printf("%-10s %d\n", words[i].text, words[i].count);

    int fd = open("data/words.txt", O_RDONLY);
    char chunk[7];
    ssize_t n;
    long bytes = 0, reads = 0;
    unsigned sum = 0;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        reads++;
        for (ssize_t i = 0; i < n; i++)
            sum = sum * 131 + (unsigned char)chunk[i];
        bytes += n;
    }
    close(fd);
    printf("bytes=%ld reads=%ld hash=%08x\n", bytes, reads, sum);

    f = fopen("data/numbers.txt", "r");
    double dsum = 0;
    long isum = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *end;
        double d = strtod(line, &end);
        long l = strtol(line, NULL, 0);
        printf("num %.6g int %ld rest=%d\n", d, l, (int)strlen(end));
        dsum += d;
        isum += l;
    }
    fclose(f);
    printf("dsum=%.6f isum=%ld\n", dsum, isum);
    return 0;
}
