/* corpus: process model: fork + exec + wait in a loop (the benchmark's
 * workload; bench/bench_fork.py passes a larger count). "-q" execs nothing
 * but fork + _exit.
 * args: 20
 * qemu-stdout: qemu-user cannot execve a MIPS program (no binfmt_misc); .expected is from qemu with an exec wrapper
 * status: 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    int exec_it = !(argc > 2 && strcmp(argv[2], "-q") == 0);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (exec_it) {
                char *a[] = { "pm_echo", "-q", NULL };
                execv("bin/corpus/pm_echo", a);
            }
            _exit(exec_it ? 127 : 0);
        }
        int st;
        if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
    }
    printf("%d of %d cycles ok\n", ok, n);
    return 0;
}
