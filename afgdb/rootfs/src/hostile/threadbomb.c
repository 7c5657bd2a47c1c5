/* threadbomb: creates threads (128 KiB stacks, MIPS's PTHREAD_STACK_MIN) that all wait on one
 * condition, until pthread_create fails; prints how many and the error,
 * releases and joins them, then shows that a new thread can be made. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;

static void *waiter(void *arg)
{
    pthread_mutex_lock(&mu);
    while (!go)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return arg;
}

int main(int argc, char **argv)
{
    int max = argc > 1 ? atoi(argv[1]) : 100000;
    pthread_t *ts = calloc((size_t)max, sizeof *ts);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (pthread_attr_setstacksize(&attr, 128 * 1024) != 0)
        return 2; /* else every thread would map 8 MiB and fill the address space first */
    int n = 0, err = 0;
    while (n < max) {
        err = pthread_create(&ts[n], &attr, waiter, NULL);
        if (err)
            break;
        n++;
    }
    printf("threads %d, then pthread_create: %s\n", n, err ? strerror(err) : "no failure");
    printf("error %d\n", err);
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++)
        pthread_join(ts[i], NULL);
    pthread_t t;
    err = pthread_create(&t, &attr, waiter, NULL);
    if (!err)
        pthread_join(t, NULL);
    printf("after the bomb: pthread_create %s\n", err ? strerror(err) : "ok");
    return err != 0;
}
