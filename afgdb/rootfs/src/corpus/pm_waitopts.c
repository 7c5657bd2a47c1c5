/* corpus: process model: wait options: WNOHANG on a running child, waitid
 * with WNOWAIT then a real reap, waiting for a chosen child out of order,
 * process groups (waitpid(-pgid)), wait4 with rusage, and ECHILD.
 * status: 0
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int gate[2];
    pipe(gate);
    fflush(stdout);
    pid_t a = fork();
    if (a == 0) {
        char c;
        close(gate[1]);
        read(gate[0], &c, 1);
        _exit(5);
    }
    close(gate[0]);
    int st = 0;
    printf("WNOHANG while running: %d\n", waitpid(a, &st, WNOHANG));
    close(gate[1]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, (id_t)a, &si, WEXITED | WNOWAIT);
    printf("waitid WNOWAIT: r=%d signo=%d code=%d status=%d pid-ok=%d\n", r, si.si_signo,
           si.si_code, si.si_status, si.si_pid == a);
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED);
    printf("waitid again: r=%d code=%d status=%d pid-ok=%d\n", r, si.si_code, si.si_status,
           si.si_pid == a);
    printf("then ECHILD: %d %s\n", waitpid(a, &st, 0), errno == ECHILD ? "ECHILD" : "?");

    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        fflush(stdout);
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(30 + i);
    }
    for (int i = 2; i >= 0; i--) {
        struct rusage ru;
        pid_t w = wait4(kids[i], &st, 0, &ru);
        printf("wait4 kid %d: same=%d status=%d utime-sane=%d\n", i, w == kids[i],
               WEXITSTATUS(st), ru.ru_utime.tv_sec < 10);
    }
    fflush(stdout);
    pid_t leader = fork();
    if (leader == 0) {
        setpgid(0, 0);
        pid_t g = fork();
        if (g == 0)
            _exit(7);
        int s2;
        waitpid(-getpgid(0), &s2, 0);
        _exit(WEXITSTATUS(s2) + 1);
    }
    waitpid(leader, &st, 0);
    printf("process group wait: %d\n", WEXITSTATUS(st));
    si.si_pid = 123;
    r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
    printf("waitid no children: r=%d errno=%s\n", r, errno == ECHILD ? "ECHILD" : "?");
    printf("wait: %d %s\n", wait(&st), errno == ECHILD ? "ECHILD" : "?");
    return 0;
}
