/* pwned: the marker program the exploit demo's shellcode execs (standing in
 * for /bin/sh).  If this line appears, the attacker got a process of their own. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("PWNED: /bin/pwned is running as pid %d (uid %d), started by the exploit\n",
           (int)getpid(), (int)getuid());
    return 0;
}
