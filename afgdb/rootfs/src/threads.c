/* threads: four pthreads each sum a different range with a private
 * accumulator and add into a shared total under a mutex; the main thread
 * joins them in order and prints every result, so output is deterministic. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define NTHREADS 4
#define CHUNK 25000

struct work {
    int id;
    uint64_t sum;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t total;
static int finished;

static void *worker(void *arg)
{
    struct work *w = arg;
    uint64_t s = 0;
    for (uint64_t i = (uint64_t)w->id * CHUNK; i < (uint64_t)(w->id + 1) * CHUNK; i++)
        s += i * i % 1000003;
    w->sum = s;
    pthread_mutex_lock(&lock);
    total += s;
    finished++;
    pthread_mutex_unlock(&lock);
    return w;
}

int main(void)
{
    pthread_t tid[NTHREADS];
    struct work work[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        work[i].id = i;
        if (pthread_create(&tid[i], NULL, worker, &work[i]) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        pthread_join(tid[i], &ret);
        printf("thread %d: sum=%llu same=%d\n", i, (unsigned long long)work[i].sum,
               ret == &work[i]);
    }
    printf("finished=%d total=%llu\n", finished, (unsigned long long)total);
    return 0;
}
