/*
 * kern.h -- afgdb's kernel data structures, as they lie in simulated memory.
 *
 * The simulated kernel (afgdb/machine/kernel, Python) keeps a copy of its
 * bookkeeping in the machine's physical memory, KSEG0-mapped at 0x80000000
 * (kernel stacks are mapped in KSEG2 at 0xc0000000), laid out exactly as
 * declared here.  ksym/kern.c includes this header and is compiled once
 * with `mipsel-linux-gnu-gcc -g` into ksym/netbsd.sym; afgdb.machine.kernel.kmem
 * reads every offset and every symbol address from that file's DWARF, so
 * this header, the symbol file gdb loads and the bytes in memory cannot
 * disagree.  Connect to pid 0 (`target remote | afgdb connect 0`) and:
 *
 *	(gdb) p *allproc.lh_first
 *	(gdb) p allproc.lh_first->p_list.le_next->p_comm
 *	(gdb) p *lwp0.l_list.le_next
 *	(gdb) x/s hostname
 *	(gdb) p cpu_info_store.ci_schedstate
 *
 * Loosely after NetBSD's sys/proc.h, sys/lwp.h, sys/queue.h, sys/cpu_data.h
 * and uvm_physseg.  Only what the simulated kernel really has is here; a
 * field is written whenever the kernel changes it (process created or
 * exited, LWP state change, exec, scheduler switch), never computed on read.
 */
#ifndef _AFGDB_KERN_H_
#define _AFGDB_KERN_H_

#include <stdint.h>

typedef uint32_t vaddr_t;
typedef uint32_t paddr_t;
typedef int32_t pid_t;
typedef int32_t lwpid_t;
typedef uint32_t uid_t;
typedef uint32_t gid_t;

#define MAXCOMLEN	16	/* p_comm, l_name: 15 characters and a NUL */
#define MAXHOSTNAMELEN	64
#define WMESGLEN	16
#define NSOFTINT	4	/* softclk, softbio, softnet, softser (see machine/spl.py) */
#define PAGE_SIZE	4096
#define NPHYSPAGES	8192	/* 32 MiB of physical memory */
#define NKSEG2PAGES	1536	/* KSEG2 page table: 512 LWPs' stacks and guards */

/* Kernel stack size in pages, per LWP, mapped in KSEG2 after one unmapped
   guard page (an enum so that the symbol file carries it). */
enum kstack_pages { KSTACK_PAGES = 2 };

/* sys/queue.h, the two shapes used here. */
#define LIST_HEAD(name, type)	struct name { struct type *lh_first; }
#define LIST_ENTRY(type)	struct { struct type *le_next; struct type **le_prev; }
#define TAILQ_HEAD(name, type)	struct name { struct type *tqh_first; struct type **tqh_last; }
#define TAILQ_ENTRY(type)	struct { struct type *tqe_next; struct type **tqe_prev; }

/* LWP states (l_stat), NetBSD's numbers. */
enum lwp_stat {
	LSIDL = 1,	/* being created */
	LSRUN = 2,	/* on the run queue */
	LSSLEEP = 3,	/* sleeping on a wait channel */
	LSSTOP = 4,	/* stopped (signal or debugger) */
	LSZOMB = 5,	/* exited */
	LSONPROC = 7	/* running on the CPU (system LWPs that never switch) */
};

/* Process states (p_stat). */
enum proc_stat {
	SIDL = 1, SACTIVE = 2, SDYING = 3, SSTOP = 4, SZOMB = 5, SDEAD = 6
};

/* l_flag bits. */
enum lwp_flag {
	LW_SYSTEM = 0x0200,	/* a kernel LWP (of proc0): no user registers */
	LW_IDLE = 0x0400,	/* the CPU's idle LWP */
	LW_SINTR = 0x0080	/* sleeping interruptibly (always, here) */
};

/* Register numbers in a trapframe: NetBSD/mips struct reg order, which is
   also gdb's raw MIPS register order 0..37. */
enum trapframe_reg {
	_R_ZERO, _R_AST, _R_V0, _R_V1, _R_A0, _R_A1, _R_A2, _R_A3,
	_R_T0, _R_T1, _R_T2, _R_T3, _R_T4, _R_T5, _R_T6, _R_T7,
	_R_S0, _R_S1, _R_S2, _R_S3, _R_S4, _R_S5, _R_S6, _R_S7,
	_R_T8, _R_T9, _R_K0, _R_K1, _R_GP, _R_SP, _R_S8, _R_RA,
	_R_SR, _R_MULLO, _R_MULHI, _R_BADVADDR, _R_CAUSE, _R_PC,
	TF_NREGS
};

/* A user LWP's registers, saved at the top of its kernel stack whenever it
   leaves the CPU (the end of every scheduling slice). */
struct trapframe {
	uint32_t tf_regs[TF_NREGS];
	uint32_t tf_fregs[32];	/* f0..f31 (FR=0: doubles in even/odd pairs) */
	uint32_t tf_fsr;
	uint32_t tf_fir;
};

/* Callee-saved context of an LWP switched out inside the kernel (cpu_switchto). */
struct switchframe {
	uint32_t sf_s0, sf_s1, sf_s2, sf_s3, sf_s4, sf_s5, sf_s6, sf_s7;
	uint32_t sf_s8;
	uint32_t sf_sp;
	uint32_t sf_ra;		/* return address of its mi_switch() call */
	uint32_t sf_sr;
};

/* At the bottom of every kernel stack. */
struct pcb {
	struct switchframe pcb_context;
	uint32_t pcb_onfault;
};

struct mdlwp {
	struct trapframe *md_utf;	/* user registers (NULL for system LWPs) */
};

struct proc;

struct lwp {
	LIST_ENTRY(lwp) l_list;		/* alllwp */
	LIST_ENTRY(lwp) l_sibling;	/* its proc's p_lwps */
	TAILQ_ENTRY(lwp) l_runq;	/* cpu_info_store.ci_schedstate.spc_runq */
	struct proc *l_proc;
	lwpid_t l_lid;			/* Linux-style thread id (user), 1.. (proc0) */
	enum lwp_stat l_stat;
	uint32_t l_flag;		/* enum lwp_flag */
	uint32_t l_tid;			/* its thread id on pid 0: (pid << 16) | lid */
	vaddr_t l_wchan;		/* what it sleeps on: a struct proc/lwp, or 0 */
	char l_wmesg[WMESGLEN];		/* why it sleeps: "wait", "pipe", "futex", ... */
	uint64_t l_wakeup;		/* virtual-clock deadline of a timed sleep (ns), 0: none */
	int32_t l_syscall;		/* system call in progress, -1: none */
	uint32_t l_sigmask[4];		/* 128 Linux signals */
	uint32_t l_sigpend[4];
	uint64_t l_icount;		/* instructions run, as of its last switch */
	vaddr_t l_kstack;		/* lowest address of its kernel stack (KSEG2) */
	struct pcb *l_addr;		/* = l_kstack: the pcb at the stack's bottom */
	struct mdlwp l_md;
	char l_name[MAXCOMLEN];
};

/* An address space, summarised. */
struct vmspace {
	uint32_t vm_refcnt;
	uint32_t vm_rssize;		/* resident pages, as of the last switch */
	uint32_t vm_nregions;
	vaddr_t vm_brk_start;
	vaddr_t vm_brk;
	vaddr_t vm_mmap_base;
};

struct proc {
	LIST_ENTRY(proc) p_list;	/* allproc */
	LIST_HEAD(, lwp) p_lwps;
	struct proc *p_pptr;		/* parent (NULL: none) */
	pid_t p_pid;
	pid_t p_ppid;
	pid_t p_pgid;
	pid_t p_sid;
	enum proc_stat p_stat;
	uid_t p_uid, p_euid;
	gid_t p_gid, p_egid;
	int32_t p_nlwps;		/* live LWPs */
	int32_t p_xstat;		/* wait status once stopped or exited */
	uint32_t p_nospawn;		/* afgdb: bit 0 no fork, bit 1 no exec */
	struct vmspace *p_vmspace;
	uint64_t p_start;		/* virtual-clock ns of its creation */
	char p_comm[MAXCOMLEN];
};

LIST_HEAD(proclist, proc);
LIST_HEAD(lwplist, lwp);
TAILQ_HEAD(lwpqueue, lwp);

struct schedstate_percpu {
	struct lwpqueue spc_runq;	/* runnable LWPs, next to run first */
	int32_t spc_count;
	uint64_t spc_nswitch;		/* slices run */
	struct lwp *spc_lastlwp;	/* the LWP that ran the last slice */
};

struct cpu_info {
	struct lwp *ci_curlwp;		/* lwp0: pid 0 is read between slices, in the scheduler */
	struct lwp *ci_idlelwp;
	struct schedstate_percpu ci_schedstate;
	uint32_t ci_softints;		/* pending softint bits (1 << SOFTINT_*) */
	uint32_t ci_cpuid;
};

/* The softint queues of machine/spl.py, one LWP each. */
enum softint_id { SOFTINT_CLOCK, SOFTINT_BIO, SOFTINT_NET, SOFTINT_SERIAL };

struct softint {
	char si_name[12];
	int32_t si_ipl;			/* 1: IPL_SOFTCLOCK/BIO, 2: IPL_SOFTNET/SERIAL */
	uint32_t si_pending;
	uint64_t si_count;		/* handler runs */
	struct lwp *si_lwp;
};

/* What each physical page holds (vm_physmap[pfn]). */
enum page_use {
	PG_FREE = 0,
	PG_RESERVED = 1,	/* exception vectors and firmware, below the image */
	PG_KIMAGE = 2,		/* kernel text, data and bss (this file's sections) */
	PG_POOL = 3,		/* struct proc / lwp / vmspace pools */
	PG_KSTACK = 4		/* kernel stacks (mapped in KSEG2) */
};

/* The physical page allocator.  User pages are not in this memory: the
   simulator keeps them per address space (see vm_rssize). */
struct uvm_physmem {
	paddr_t pm_start;		/* first page it manages */
	paddr_t pm_end;
	uint32_t pm_npages;		/* all of physical memory */
	uint32_t pm_free;
	uint32_t pm_pool;
	uint32_t pm_kstack;
	uint8_t *pm_map;		/* = vm_physmap: enum page_use per page */
};

struct timespec64 {
	int64_t tv_sec;
	int64_t tv_nsec;
};

/* The virtual clock: 100 MHz, 10 ns per instruction; it jumps over idle time. */
struct vclock {
	uint64_t vc_ns;			/* since boot, as of the last switch */
	uint64_t vc_insns;
	uint64_t vc_idle_ns;
	uint32_t vc_hz;
};

/* KSEG2 page table: entry i maps 0xc0000000 + i * PAGE_SIZE. */
#define PTE_V	1
typedef uint32_t pt_entry_t;	/* physical address | PTE_V, 0: unmapped */

extern struct proclist allproc;
extern struct lwplist alllwp;
extern struct proc proc0;
extern struct lwp lwp0;
extern int32_t nprocs;
extern int32_t nlwps;
extern struct cpu_info cpu_info_store;
extern struct softint softints[NSOFTINT];
extern struct uvm_physmem physmem;
extern uint8_t vm_physmap[NPHYSPAGES];
extern pt_entry_t kseg2_ptes[NKSEG2PAGES];
extern struct timespec64 boottime;
extern struct vclock vclock;
extern char hostname[MAXHOSTNAMELEN];
extern const char version[];

/* What system LWPs are switched out in (their saved pc lies in these). */
void mi_switch(void);
void sched_main(void);
void idle_loop(void);
void softint_thread(struct softint *);
void reaper_thread(void);
void cored_handoff_thread(void);

#endif /* _AFGDB_KERN_H_ */
