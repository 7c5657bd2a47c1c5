/* corpus: process model: fork + execve + waitpid: arguments and environment
 * reach the new image, its exit status comes back, execve errors (ENOENT,
 * EACCES, ENOTDIR) are reported in the child.
 * qemu-stdout: qemu-user cannot execve a MIPS program (no binfmt_misc); .expected is from qemu with an exec wrapper
 * status: 0
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void run(const char *path, char *const argv[])
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *envp[] = { "PM=1", NULL };
        execve(path, argv, envp);
        printf("exec %s failed: %s\n", path, strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("%s: exited=%d status=%d\n", path, WIFEXITED(st), WEXITSTATUS(st));
}

int main(void)
{
    char *a1[] = { "pm_echo", "alpha", "beta gamma", "", NULL };
    run("bin/corpus/pm_echo", a1);
    char *a2[] = { "pm_echo", NULL };
    run("bin/corpus/pm_echo", a2);
    run("bin/corpus/no_such_program", a2);
    run("data/words.txt", a2);
    run("data/words.txt/x", a2);
    for (int i = 0; i < 3; i++) {
        char n[16];
        snprintf(n, sizeof n, "%d", i);
        char *a3[] = { "pm_echo", n, n, NULL };
        run("bin/corpus/pm_echo", a3);
    }
    return 0;
}
