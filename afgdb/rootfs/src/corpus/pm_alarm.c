/* corpus: process model: alarm + pause, alarm's remaining time, an interval
 * ITIMER_REAL firing three times, and sleep() cut short by an alarm (its
 * return value is the time left).
 * status: 0
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile int alarms;

static void on_alarm(int sig) { (void)sig; alarms++; }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    int r = pause();
    printf("pause returned %d, alarms=%d\n", r, alarms);
    alarm(7);
    unsigned prev = alarm(0);
    printf("alarm(0) left 6..7=%d\n", prev == 6 || prev == 7);
    struct itimerval it = { { 0, 50000 }, { 0, 50000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    while (alarms < 4)
        pause();
    struct itimerval off = { { 0, 0 }, { 0, 0 } }, old;
    setitimer(ITIMER_REAL, &off, &old);
    printf("interval timer: alarms=%d interval=%ld.%06ld\n", alarms, (long)old.it_interval.tv_sec,
           (long)old.it_interval.tv_usec);
    alarm(1);
    unsigned left = sleep(10);
    printf("sleep interrupted, left 8..9=%d alarms=%d\n", left == 8 || left == 9, alarms);
    return 0;
}
