/* pathescape SECRET REL: tries to reach SECRET, a host file outside the guest
 * root (REL: its path relative to the root directory on the host), with
 * "..", absolute paths, symlinks the test planted in /tmp (up -> "/..",
 * up2 -> "../../../..", abs -> SECRET, rel -> REL, loop1 <-> loop2),
 * openat dirfd tricks and chdir("..") past the root.  Prints each attempt's
 * result and the first bytes of whatever opened; the test checks that the
 * secret never shows. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, int fd)
{
    if (fd < 0) {
        printf("%-34s %s\n", what, strerror(errno));
        return;
    }
    char buf[24] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] < ' ')
            buf[i] = '|';
    printf("%-34s opened: %s\n", what, n > 0 ? buf : "(empty or directory)");
    close(fd);
}

static void try_open(const char *path)
{
    char what[256];
    snprintf(what, sizeof what, "open %s", path);
    show(what, open(path, O_RDONLY));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pathescape SECRET REL\n");
        return 2;
    }
    const char *secret = argv[1], *rel = argv[2];
    char path[4096];

    chdir("/");
    try_open(secret);
    snprintf(path, sizeof path, "../../../../../../../../..%s", secret);
    try_open(path);
    snprintf(path, sizeof path, "../%s", rel);
    try_open(path);
    snprintf(path, sizeof path, "/../../%s", rel);
    try_open(path);
    snprintf(path, sizeof path, "/tmp/../../../%s", rel);
    try_open(path);
    try_open("../../../../../../etc/passwd");
    try_open("/tmp/up/etc/passwd");
    snprintf(path, sizeof path, "/tmp/up/%s", rel);
    try_open(path);
    snprintf(path, sizeof path, "/tmp/up2/%s", rel);
    try_open(path);
    snprintf(path, sizeof path, "/tmp/up2/..%s", secret);
    try_open(path);
    try_open("/tmp/abs");
    try_open("/tmp/rel");
    try_open("/tmp/loop1");
    try_open("/tmp/dirlink/../../secret");

    int root = open("/", O_RDONLY | O_DIRECTORY);
    int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof path, "../../../%s", rel);
    show("openat(/tmp, ../../../REL)", openat(tmp, path, O_RDONLY));
    show("openat(/, ..)", openat(root, "..", O_RDONLY | O_DIRECTORY));
    show("openat(/, SECRET)", openat(root, secret, O_RDONLY));
    show("openat(/tmp, up/REL)", openat(tmp, "up/../secret", O_RDONLY));
    snprintf(path, sizeof path, "../%s", rel);
    show("openat(AT_FDCWD, ../REL)", openat(AT_FDCWD, path, O_RDONLY));

    chdir("/tmp");
    for (int i = 0; i < 64; i++)
        chdir("..");
    char cwd[4096];
    printf("%-34s %s\n", "cwd after 64 x chdir(..)", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
    try_open(rel);
    try_open("bin/../../secret");
    chdir("/tmp/up2");
    printf("%-34s %s\n", "cwd after chdir(/tmp/up2)", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
    try_open(rel);

    DIR *d = opendir("/..");
    int has_bin = 0, has_secret = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        has_bin |= !strcmp(e->d_name, "bin");
        has_secret |= !strcmp(e->d_name, "secret");
    }
    printf("%-34s bin %d secret %d\n", "listing /..", has_bin, has_secret);
    struct stat st;
    printf("%-34s %s\n", "stat SECRET", stat(secret, &st) < 0 ? strerror(errno) : "exists");
    snprintf(path, sizeof path, "/tmp/up/%s", rel);
    printf("%-34s %s\n", "stat /tmp/up/REL", stat(path, &st) < 0 ? strerror(errno) : "exists");
    char link[256];
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("%-34s %s\n", "readlink /proc/self/exe", link);
    printf("%-34s %s\n", "symlink /.. -> /tmp/mine",
           symlink("/..", "/tmp/mine") < 0 ? strerror(errno) : "made");
    show("open /tmp/mine/secret", open("/tmp/mine/secret", O_RDONLY));
    printf("%-34s %s\n", "mkdir ../escape", mkdir("/../escape", 0755) < 0 ? strerror(errno) : "made");
    printf("%-34s %s\n", "rename /tmp -> ../tmp2",
           rename("/tmp/up", "/../up") < 0 ? strerror(errno) : "renamed");
    printf("%-34s %s\n", "unlink ../secret",
           unlink("/../secret") < 0 ? strerror(errno) : "removed");
    return 0;
}
