/* corpus: process model: an orphan is reparented when its parent exits (its
 * getppid() changes) and the exited parent's status still reaches the
 * grandparent; the orphan reports through a pipe.
 * status: 0
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int p[2], gate[2];
    pipe(p);
    pipe(gate);
    fflush(stdout);
    pid_t mid = fork();
    if (mid == 0) {
        pid_t me = getpid();
        pid_t g = fork();
        if (g == 0) {
            char c;
            close(gate[1]);
            read(gate[0], &c, 1); /* until the middle process has exited */
            char msg[64];
            int n = snprintf(msg, sizeof msg, "orphan: parent was mid=%d now-other=%d\n",
                             getppid() == me, getppid() != me);
            write(p[1], msg, (size_t)n);
            _exit(0);
        }
        _exit(9);
    }
    close(p[1]);
    close(gate[0]);
    int st;
    waitpid(mid, &st, 0);
    printf("middle exited with %d\n", WEXITSTATUS(st));
    close(gate[1]);
    char buf[128];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("%s", buf);
    return 0;
}
