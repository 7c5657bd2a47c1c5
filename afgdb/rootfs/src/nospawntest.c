/* nospawntest: exercises afgdb's nospawn flags (tests/test_nospawn.py).
 *
 *   nospawntest HOW CALL
 *
 * The parent forks a child (the parent itself stays unrestricted); the
 * child sets its flags HOW, then does CALL; the parent waits and prints how
 * the child ended ("killed by signal 12 (core dumped)" or "exited N").
 *   HOW:  now     afgdb_nospawn(NOSPAWN_FORK|NOSPAWN_EXEC, NOSPAWN_NOW)
 *         sysctl  write "fork,exec" to /proc/self/nospawn (proc.curproc.nospawn)
 *         exec    exec only (afgdb_nospawn(NOSPAWN_EXEC, NOSPAWN_NOW))
 *         off     nothing
 *   CALL: fork (glibc fork: clone) | sysfork (the fork system call) | vfork |
 *         clone (clone(SIGCHLD), no CLONE_VM|CLONE_THREAD) | execve | execveat |
 *         threads (two pthreads run and are joined: must work) |
 *         thread-exec (a second thread calls execve) |
 *         clear (every way to clear the flags fails, then execve) |
 *         inherit (fork a grandchild, which tries execve) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../machine/kernel/include/afgdb.h"

static char *const hello_argv[] = {"/bin/hello", NULL};
static char *const no_env[] = {NULL};

static void report(const char *who, int status)
{
    if (WIFSIGNALED(status))
        printf("%s: killed by signal %d%s\n", who, WTERMSIG(status),
               WCOREDUMP(status) ? " (core dumped)" : "");
    else
        printf("%s: exited %d\n", who, WEXITSTATUS(status));
    fflush(stdout);
}

static void returned(const char *call, long r)
{
    printf("child: %s returned %ld (%s)\n", call, r, r < 0 ? strerror(errno) : "ok");
    fflush(stdout);
}

static int write_sysctl(const char *words)
{
    int fd = open(AFGDB_NOSPAWN_FILE, O_WRONLY);
    if (fd < 0)
        return -errno;
    int r = write(fd, words, strlen(words)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static void show_sysctl(void)
{
    char buf[64] = "";
    int fd = open(AFGDB_NOSPAWN_FILE, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (n > 0)
        buf[n] = '\0';
    printf("child: %s reads: %s", AFGDB_NOSPAWN_FILE, n > 0 ? buf : "?\n");
    if (fd >= 0)
        close(fd);
}

static volatile long sums[2];

static void *worker(void *arg)
{
    long id = (long)arg, s = 0;
    for (long i = 0; i < 1000; i++)
        s += i * (id + 1);
    sums[id] = s;
    return NULL;
}

static void *exec_worker(void *arg)
{
    (void)arg;
    execve("/bin/hello", hello_argv, no_env);
    returned("execve in a thread", -1);
    return NULL;
}

static int child(const char *how, const char *call)
{
    long r = 0;
    if (strcmp(how, "now") == 0)
        r = afgdb_nospawn(NOSPAWN_FORK | NOSPAWN_EXEC, NOSPAWN_NOW);
    else if (strcmp(how, "exec") == 0)
        r = afgdb_nospawn(NOSPAWN_EXEC, NOSPAWN_NOW);
    else if (strcmp(how, "sysctl") == 0)
        r = write_sysctl("fork,exec\n");
    else if (strcmp(how, "off") != 0)
        return 2;
    if (r < 0) {
        printf("child: setting the flags failed: %ld %s\n", r, strerror(errno));
        return 3;
    }
    printf("child: flags set (%s), afgdb_nospawn(0, NOSPAWN_GET) = %ld\n", how,
           afgdb_nospawn(0, NOSPAWN_GET));
    fflush(stdout);

    if (strcmp(call, "fork") == 0) {
        r = fork();
        if (r == 0)
            _exit(0);
    } else if (strcmp(call, "sysfork") == 0) {
        r = syscall(SYS_fork);
        if (r == 0)
            _exit(0);
    } else if (strcmp(call, "vfork") == 0) {
        r = vfork();
        if (r == 0)
            _exit(0);
    } else if (strcmp(call, "clone") == 0) {
        r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
            _exit(0);
    } else if (strcmp(call, "execve") == 0) {
        r = execve("/bin/hello", hello_argv, no_env);
    } else if (strcmp(call, "execveat") == 0) {
        r = syscall(SYS_execveat, AT_FDCWD, "/bin/hello", hello_argv, no_env, 0);
    } else if (strcmp(call, "threads") == 0) {
        pthread_t t[2];
        for (long i = 0; i < 2; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
                return 4;
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        printf("child: 2 threads ran: %ld %ld\n", sums[0], sums[1]);
        return 0;
    } else if (strcmp(call, "thread-exec") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exec_worker, NULL);
        pthread_join(t, NULL);
        return 0;
    } else if (strcmp(call, "clear") == 0) {
        printf("child: write \"none\": %s\n", strerror(-write_sysctl("none")));
        printf("child: write \"-exec\": %s\n", strerror(-write_sysctl("-exec")));
        printf("child: afgdb_nospawn(0, NOSPAWN_NOW) = %ld\n", afgdb_nospawn(0, NOSPAWN_NOW));
        r = afgdb_nospawn(0x4, NOSPAWN_NOW);
        printf("child: afgdb_nospawn(0x4, NOSPAWN_NOW) = %ld (%s)\n", r, strerror(errno));
        r = afgdb_nospawn(0, 7);
        printf("child: afgdb_nospawn(0, 7) = %ld (%s)\n", r, strerror(errno));
        show_sysctl();
        fflush(stdout);
        r = execve("/bin/hello", hello_argv, no_env);
        call = "execve";
    } else if (strcmp(call, "inherit") == 0) {
        int st;
        pid_t g = fork();
        if (g == 0) {
            printf("grandchild: flags %ld\n", afgdb_nospawn(0, NOSPAWN_GET));
            fflush(stdout);
            execve("/bin/hello", hello_argv, no_env);
            _exit(1);
        }
        if (g < 0)
            return 5;
        waitpid(g, &st, 0);
        report("child: grandchild", st);
        return 0;
    } else {
        return 2;
    }
    returned(call, r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: nospawntest now|sysctl|exec|off CALL\n");
        return 2;
    }
    printf("parent: nospawn=%ld\n", afgdb_nospawn(0, NOSPAWN_GET));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = child(argv[1], argv[2]);
        fflush(stdout);
        _exit(rc);
    }
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    report("parent: child", status);
    return 0;
}
