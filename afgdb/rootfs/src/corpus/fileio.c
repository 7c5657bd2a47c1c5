/* corpus: file I/O relative to the root (cwd is the guest root): write
 * tmp/x.txt with write(2) and stdio, read it back, fstat, lseek (SET, CUR,
 * END, past the end to make a hole), pread/pwrite, ftruncate, rename,
 * mkdir/rmdir, unlink, errno on missing files, opendir/readdir of data/
 * sorted by name, chdir into data/.
 * status: 0
 * qemu-stdout: qemu-user 7.2 lists no entries: glibc's 32-bit readdir gets the host's
 *   64-bit d_off values and fails with EOVERFLOW; fileio.expected is Linux's output
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    umask(022);
    int fd = open("tmp/x.txt", O_CREAT | O_TRUNC | O_RDWR, 0666);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    const char msg[] = "line one\nline two\n";
    printf("write=%zd\n", write(fd, msg, sizeof msg - 1));
    struct stat st;
    fstat(fd, &st);
    printf("size=%lld mode=%o reg=%d\n", (long long)st.st_size, st.st_mode & 07777,
           S_ISREG(st.st_mode));
    printf("lseek cur=%lld set=%lld end=%lld\n", (long long)lseek(fd, 0, SEEK_CUR),
           (long long)lseek(fd, 5, SEEK_SET), (long long)lseek(fd, -4, SEEK_END));
    char buf[64] = { 0 };
    printf("read=%zd [%s]\n", read(fd, buf, sizeof buf - 1), buf);
    lseek(fd, 100, SEEK_SET);
    write(fd, "END", 3);
    fstat(fd, &st);
    memset(buf, 'x', sizeof buf);
    ssize_t n = pread(fd, buf, 8, 95);
    printf("hole size=%lld pread=%zd bytes=%d,%d,%d,%c\n", (long long)st.st_size, n, buf[0],
           buf[3], buf[4], buf[5]);
    pwrite(fd, "LINE", 4, 0);
    ftruncate(fd, 14);
    close(fd);

    FILE *f = fopen("tmp/x.txt", "a+");
    fprintf(f, "+appended %d\n", 42);
    rewind(f);
    char line[64];
    while (fgets(line, sizeof line, f))
        printf("got: %s", line);
    printf("ftell=%ld\n", ftell(f));
    fclose(f);

    printf("mkdir=%d rename=%d\n", mkdir("tmp/sub", 0755), rename("tmp/x.txt", "tmp/sub/y.txt"));
    printf("stat old=%d errno=%s\n", stat("tmp/x.txt", &st), strerror(errno));
    printf("stat new=%d size=%lld dir=%d\n", stat("tmp/sub/y.txt", &st),
           (long long)st.st_size, stat("tmp/sub", &st) == 0 && S_ISDIR(st.st_mode));
    printf("rmdir nonempty=%d errno=%s\n", rmdir("tmp/sub"), strerror(errno));
    printf("unlink=%d rmdir=%d\n", unlink("tmp/sub/y.txt"), rmdir("tmp/sub"));
    printf("open missing=%d errno=%s\n", open("data/none", O_RDONLY), strerror(errno));
    printf("access=%d %d\n", access("data/words.txt", R_OK), access("data/nope", F_OK));

    DIR *dir = opendir("data");
    char *names[64];
    int count = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && count < 64) {
        names[count++] = strdup(de->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], by_name);
    for (int i = 0; i < count; i++) {
        printf("data/%s\n", names[i]);
        free(names[i]);
    }
    printf("chdir=%d\n", chdir("data"));
    f = fopen("words.txt", "r");
    printf("relative open after chdir=%s\n", f ? "ok" : "fail");
    if (f)
        fclose(f);
    return 0;
}
