/* crash: prints a line, then writes through a NULL pointer (SIGSEGV). */
#include <stdio.h>

struct node {
    int value;
    struct node *next;
};

static struct node *volatile head;

static int __attribute__((noinline)) walk(struct node *n)
{
    n->next->value = 42;        /* n->next is NULL: faults here */
    return n->value;
}

int main(void)
{
    static struct node first = { 1, NULL };
    head = &first;
    printf("about to crash\n");
    fflush(stdout);
    return walk(head);
}
