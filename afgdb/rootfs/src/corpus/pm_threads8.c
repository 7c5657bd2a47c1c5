/* corpus: process model: 8 pthreads: create/join with results, a mutex
 * counter, a condition-variable ring where each thread waits for its turn,
 * and a final broadcast that releases everybody at once.
 * status: 0
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#define N 8

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static int counter, turn, go, arrived;
static char order[N * 4 + 1];
static int order_len;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&mu);
        counter += id + 1;
        pthread_mutex_unlock(&mu);
    }
    for (int round = 0; round < 4; round++) {
        pthread_mutex_lock(&mu);
        while (turn % N != id)
            pthread_cond_wait(&turn_cv, &mu);
        order[order_len++] = (char)('a' + id);
        turn++;
        pthread_cond_broadcast(&turn_cv);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_lock(&mu);
    arrived++;
    while (!go)
        pthread_cond_wait(&go_cv, &mu);
    pthread_mutex_unlock(&mu);
    return (void *)(intptr_t)(id * id);
}

int main(void)
{
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 1;
    for (;;) {
        pthread_mutex_lock(&mu);
        int all = arrived == N;
        if (all) {
            go = 1;
            pthread_cond_broadcast(&go_cv);
        }
        pthread_mutex_unlock(&mu);
        if (all)
            break;
        sched_yield();
    }
    long sum = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)(intptr_t)r;
    }
    order[order_len] = 0;
    printf("counter=%d sum=%ld order=%s\n", counter, sum, order);
    return 0;
}
