/* rr: reads stdin as it comes, then forks; parent and child each hash the input in
 * several threads.  Its output and every LWP's instruction count depend on the
 * bytes read, on how the reads were cut, and on the scheduling of the machine. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char buf[1 << 16];
static size_t len;

struct job {
    int id;
    unsigned long sum;
};

static void *work(void *arg)
{
    struct job *j = arg;
    unsigned long h = 2166136261u + (unsigned long)j->id;
    for (int r = 0; r <= j->id; r++)
        for (size_t i = 0; i < len; i++) {
            h = (h ^ buf[i]) * 16777619u;
            if (buf[i] == '\n')
                h += (unsigned long)r;
        }
    j->sum = h;
    return NULL;
}

static void threads(const char *who, int n)
{
    pthread_t t[4];
    struct job j[4];
    for (int i = 0; i < n; i++) {
        j[i].id = i;
        pthread_create(&t[i], NULL, work, &j[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        printf("%s thread %d: %08lx\n", who, i, j[i].sum);
    }
    fflush(stdout);
}

int main(void)
{
    int chunks = 0;
    ssize_t k;
    while (len < sizeof buf && (k = read(0, buf + len, sizeof buf - len)) > 0) {
        len += (size_t)k;
        chunks++;
    }
    printf("read %zu bytes in %d chunks\n", len, chunks);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        threads("child", 3);
        _exit(0);
    }
    threads("parent", 2);
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    return 0;
}
