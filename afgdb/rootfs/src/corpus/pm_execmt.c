/* corpus: process model: execve from a process with running threads: the
 * other threads vanish and only the new image's output follows.
 * qemu-stdout: qemu-user cannot execve a MIPS program (no binfmt_misc); .expected is from qemu with an exec wrapper
 * status: 1
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *spin(void *arg)
{
    (void)arg;
    for (;;)
        sleep(1);
    return NULL;
}

int main(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    printf("3 threads running, exec now\n");
    fflush(stdout);
    char *argv[] = { "pm_echo", "after-exec", NULL };
    execv("bin/corpus/pm_echo", argv);
    perror("execv");
    return 1;
}
