/* corpus: uname(2) (only the host-independent fields), plus the
 * process identity calls whose answers are fixed for a fresh process:
 * getppid != 0, getuid == geteuid, getpid == gettid for a single thread.
 * status: 0
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return 1;
    printf("sysname=%s\n", u.sysname);
    printf("machine=%s\n", u.machine);
    printf("release-nonempty=%d\n", u.release[0] != 0);
    printf("pid==tid=%d uid==euid=%d gid==egid=%d ppid>0=%d\n", getpid() == gettid(),
           getuid() == geteuid(), getgid() == getegid(), getppid() > 0);
    long ps = sysconf(_SC_PAGESIZE);
    printf("pagesize=%ld\n", ps);
    return 0;
}
