/* forkexec: fork (or vfork, with -v), the child calls child_work() and then
 * execs /bin/hello; the parent waits for it and prints its exit status.
 * For gdb's follow-fork-mode, detach-on-fork, catch fork/vfork/exec tests.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) int child_work(int x)
{
    volatile int y = x * 3;
    return y + 1;
}

int main(int argc, char **argv)
{
    int use_vfork = argc > 1 && strcmp(argv[1], "-v") == 0;
    printf("forkexec: parent\n");
    fflush(stdout);
    pid_t pid = use_vfork ? vfork() : fork();
    if (pid == 0) {
        if (!use_vfork) {
            printf("forkexec: child_work=%d\n", child_work(13));
            fflush(stdout);
        }
        execl("/bin/hello", "hello", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("forkexec: child exited with %d\n", WEXITSTATUS(st));
    return 0;
}
