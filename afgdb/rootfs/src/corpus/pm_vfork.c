/* corpus: process model: vfork + _exit and vfork + exec (the parent resumes
 * once the child has exec'd or exited), and posix_spawn + waitpid.
 * qemu-stdout: qemu-user cannot execve a MIPS program (no binfmt_misc); .expected is from qemu with an exec wrapper
 * status: 0
 */
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(void)
{
    for (int i = 0; i < 3; i++) {
        fflush(stdout);
        pid_t pid = vfork();
        if (pid == 0)
            _exit(10 + i);
        int st;
        waitpid(pid, &st, 0);
        printf("vfork _exit: status=%d\n", WEXITSTATUS(st));
    }
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        char *argv[] = { "pm_echo", "from", "vfork", NULL };
        execv("bin/corpus/pm_echo", argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("vfork exec: status=%d\n", WEXITSTATUS(st));
    fflush(stdout);
    char *argv[] = { "pm_echo", "spawned", NULL };
    int rc = posix_spawn(&pid, "bin/corpus/pm_echo", NULL, NULL, argv, environ);
    printf("posix_spawn rc=%d\n", rc);
    fflush(stdout);
    if (rc == 0) {
        waitpid(pid, &st, 0);
        printf("spawned: status=%d\n", WEXITSTATUS(st));
    }
    return 0;
}
