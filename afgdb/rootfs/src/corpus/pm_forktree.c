/* corpus: process model: a binary fork tree of depth 4; every node waits its
 * children one at a time, adds their exit codes and reports upward.
 * status: 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int node(int id, int depth)
{
    int sum = id;
    if (depth > 0) {
        for (int c = 0; c < 2; c++) {
            int kid = id * 2 + c;
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                exit(99);
            }
            if (pid == 0)
                _exit(node(kid, depth - 1) & 0xff);
            int st;
            if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
                exit(98);
            sum += WEXITSTATUS(st);
        }
    }
    printf("node %2d depth %d sum %3d\n", id, depth, sum);
    fflush(stdout);
    return sum;
}

int main(void)
{
    int total = node(1, 4);
    printf("total %d (mod 256 %d)\n", total, total & 0xff);
    return 0;
}
