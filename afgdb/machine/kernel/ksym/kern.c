/*
 * The kernel symbol file's only source: the globals of include/kern.h and
 * the functions system LWPs are switched out in.  Nothing here ever runs
 * on the simulated CPU; it exists so that gdb has types, symbols and code
 * at the addresses afgdb.machine.kernel.kmem fills in.
 */
#include "kern.h"

struct proclist allproc;
struct lwplist alllwp;
struct proc proc0;
struct lwp lwp0;
int32_t nprocs;
int32_t nlwps;
struct cpu_info cpu_info_store;
struct softint softints[NSOFTINT];
struct uvm_physmem physmem;
uint8_t vm_physmap[NPHYSPAGES];
pt_entry_t kseg2_ptes[NKSEG2PAGES] __attribute__((aligned(PAGE_SIZE)));
struct timespec64 boottime;
struct vclock vclock;
char hostname[MAXHOSTNAMELEN] = "afgdb";
const char version[] = "afgdb simulated kernel (NetBSD-style structures, Linux o32 system calls)";

/* The context switch: every switched-out kernel LWP's frame 0. */
__attribute__((noinline)) void
mi_switch(void)
{
	__asm__ volatile("" ::: "memory");
}

/* lwp0: the scheduler (afgdb's Kernel.run loop). */
void
sched_main(void)
{
	for (;;)
		mi_switch();
}

void
idle_loop(void)
{
	for (;;)
		mi_switch();
}

void
softint_thread(struct softint *si)
{
	for (;;) {
		si->si_pending = 0;
		mi_switch();
	}
}

/* Frees what exited LWPs and processes leave behind (pagedaemon-like). */
void
reaper_thread(void)
{
	for (;;)
		mi_switch();
}

/* Hands core dumps to cored over its unix socket (machine/handoff.py). */
void
cored_handoff_thread(void)
{
	for (;;)
		mi_switch();
}
