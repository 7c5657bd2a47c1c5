/* gdbdemo: a program written for debugger tests.  Globals to print and
 * `set var`, a struct with a string and a double, functions taking int and
 * double arguments, one returning double, and a loop that calls a function
 * 120 times (for breakpoint hit counts, `ignore`, conditions).  What it
 * prints depends on the globals, so changing them in gdb changes output. */
#include <stdio.h>
#include <string.h>

struct config {
    char name[16];
    double scale;
    int iterations;
};

int counter;
int step = 1;
struct config config = { "demo", 1.5, 120 };
double history[4];

int __attribute__((noinline)) add_step(int value, int delta)
{
    counter += delta;
    return value + delta;
}

double __attribute__((noinline)) scaled(double x, int times)
{
    double r = x * config.scale;
    for (int i = 1; i < times; i++)
        r += x;
    return r;
}

void __attribute__((noinline)) rename_config(const char *name)
{
    strncpy(config.name, name, sizeof config.name - 1);
    config.name[sizeof config.name - 1] = '\0';
}

int main(void)
{
    int total = 0;
    for (int i = 0; i < config.iterations; i++)
        total = add_step(total, step);
    double s = scaled(2.0, 3);
    history[0] = s;
    history[1] = scaled(config.scale, counter % 7);
    rename_config(counter > 100 ? "big" : "small");
    printf("counter=%d total=%d step=%d\n", counter, total, step);
    printf("name=%s scale=%g s=%g h1=%g\n", config.name, config.scale, s, history[1]);
    return counter == 120 ? 0 : 1;
}
