/* corpus: POSIX threads: create/join with return values, a mutex-protected
 * counter, a condition-variable handoff in strict turn order, thread-local
 * storage, pthread_once, and a barrier.  All output is ordered by the
 * program's own synchronisation, never by the scheduler.
 * status: 0
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define N 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_barrier_t barrier;
static int turn, counter, once_runs;
static __thread int tls_value;
static char log_buf[256];
static int log_len;

static void init_once(void) { once_runs++; }

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_once(&once, init_once);
    tls_value = id * 100;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    pthread_barrier_wait(&barrier);
    for (int round = 0; round < 3; round++) {
        pthread_mutex_lock(&mu);
        while (turn % N != id)
            pthread_cond_wait(&cv, &mu);
        log_buf[log_len++] = (char)('A' + id);
        turn++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return (void *)(intptr_t)(tls_value + id);
}

int main(void)
{
    pthread_t t[N];
    pthread_barrier_init(&barrier, NULL, N);
    tls_value = -1;
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < N; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        printf("thread %d returned %d\n", i, (int)(intptr_t)ret);
    }
    log_buf[log_len] = 0;
    printf("counter=%d once=%d order=%s main-tls=%d\n", counter, once_runs, log_buf, tls_value);
    pthread_barrier_destroy(&barrier);
    return 0;
}
