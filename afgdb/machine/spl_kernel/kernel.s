# The spl study kernel: boot, the three workloads the driver chooses from
# (params.mode), and the kernel's data.  Assembled twice, once per splx
# variant (see spl.s and the Makefile).
#
#   MODE_SWEEP   rounds x { N x { s = splvm(); [first: softint_schedule(net)]; splx(s) } }
#   MODE_SCRIPT  interpret script_area: raise/splx/schedule ops (randomised tests)
#   MODE_TIMER   spin with every interrupt enabled until `ticks` clock
#                interrupts have been taken
#
# The machine stops at `halt` (a break the driver recognises) with
# exit_code set.

	.set	noreorder
	.include "defs.inc"
	.include "intr.s"
	.include "spl.s"
	.include "softint.s"

	.text
	.globl	start
	.type	start, @function
start:
	la	$sp, stack_top
	la	$t8, lwp0		# curlwp, for the life of the kernel
	li	$t0, INT_MASK | SR_IE	# IPL_NONE, kernel mode, BEV/ERL off
	mtc0	$t0, $12
	ehb
	mtc0	$zero, $13
	ehb
	la	$s7, params
	lw	$t1, P_MODE($s7)
	li	$t2, MODE_SWEEP
	beq	$t1, $t2, 1f
	li	$t2, MODE_SCRIPT
	beq	$t1, $t2, 2f
	li	$t2, MODE_TIMER
	beq	$t1, $t2, 3f
	li	$t1, EXIT_BADMODE
	b	4f
	nop
1:	lw	$a0, P_N($s7)
	jal	workload_sweep
	lw	$a1, P_ROUNDS($s7)
	b	4f
	li	$t1, EXIT_OK
2:	jal	workload_script
	nop
	b	4f
	li	$t1, EXIT_OK
3:	jal	workload_timer
	lw	$a0, P_TICKS($s7)
	li	$t1, EXIT_OK
4:	la	$t0, exit_code
	sw	$t1, 0($t0)
	.globl	halt
halt:
	break
	b	halt
	nop
	.size	start, . - start

# void workload_sweep(int n, int rounds)
	.globl	workload_sweep
	.type	workload_sweep, @function
workload_sweep:
	addiu	$sp, $sp, -40
	sw	$ra, 36($sp)
	sw	$s0, 32($sp)
	sw	$s1, 28($sp)
	sw	$s2, 24($sp)
	sw	$s3, 20($sp)
	sw	$s4, 16($sp)
	sw	$s5, 12($sp)
	move	$s4, $a0
	move	$s1, $a1
	lw	$t0, P_SOFTINT($s7)
	sll	$t1, $t0, 4		# * SH_SIZE (20)
	sll	$t0, $t0, 2
	addu	$t0, $t0, $t1
	la	$s5, sh_table
	addu	$s5, $s5, $t0		# the handler each round schedules
	.globl	sweep_round
sweep_round:
	move	$s0, $s4
	li	$s3, 1
sweep_iter:
	jal	splraise
	li	$a0, IPL_VM
	beqz	$s3, 1f
	move	$s2, $v0
	jal	softint_schedule	# first iteration of the round: schedule
	move	$a0, $s5
	.globl	sweep_after_sched
sweep_after_sched:
	li	$s3, 0
1:	jal	splx
	move	$a0, $s2
	.globl	sweep_after_splx
sweep_after_splx:
	addiu	$s0, $s0, -1
	bnez	$s0, sweep_iter
	nop
	addiu	$s1, $s1, -1
	bnez	$s1, sweep_round
	nop
	.globl	sweep_end
sweep_end:
	lw	$ra, 36($sp)
	lw	$s0, 32($sp)
	lw	$s1, 28($sp)
	lw	$s2, 24($sp)
	lw	$s3, 20($sp)
	lw	$s4, 16($sp)
	lw	$s5, 12($sp)
	jr	$ra
	addiu	$sp, $sp, 40
	.size	workload_sweep, . - workload_sweep

# void workload_script(void): ops are words op << 8 | arg; raise pushes the
# old IPL on ipl_stack, splx pops it.
	.globl	workload_script
	.type	workload_script, @function
workload_script:
	addiu	$sp, $sp, -32
	sw	$ra, 28($sp)
	sw	$s0, 24($sp)
	sw	$s1, 20($sp)
	la	$s0, script_area
	la	$s1, ipl_stack
1:	lw	$t0, 0($s0)
	addiu	$s0, $s0, 4
	srl	$t1, $t0, 8
	andi	$a0, $t0, 0xff
	beqz	$t1, 9f
	li	$t2, OP_RAISE
	beq	$t1, $t2, 2f
	li	$t2, OP_SPLX
	beq	$t1, $t2, 3f
	li	$t2, OP_SCHED
	beq	$t1, $t2, 4f
	nop
	b	9f
	nop
2:	jal	splraise
	nop
	sw	$v0, 0($s1)
	b	1b
	addiu	$s1, $s1, 4
3:	addiu	$s1, $s1, -4
	jal	splx
	lw	$a0, 0($s1)
	b	1b
	nop
4:	sll	$t3, $a0, 4		# * SH_SIZE (20)
	sll	$a0, $a0, 2
	addu	$a0, $a0, $t3
	la	$t4, sh_table
	jal	softint_schedule
	addu	$a0, $a0, $t4
	b	1b
	nop
9:	lw	$ra, 28($sp)
	lw	$s0, 24($sp)
	lw	$s1, 20($sp)
	jr	$ra
	addiu	$sp, $sp, 32
	.size	workload_script, . - workload_script

# void workload_timer(int ticks): arm Compare and spin until enough ticks.
	.globl	workload_timer
	.type	workload_timer, @function
workload_timer:
	lw	$t1, P_INTERVAL($s7)
	mfc0	$t2, $9
	addu	$t2, $t2, $t1
	mtc0	$t2, $11
	ehb
	la	$t3, ticks
	move	$v1, $zero
	.globl	timer_spin
timer_spin:
	lw	$t4, 0($t3)
	sltu	$t5, $t4, $a0
	bnez	$t5, timer_spin
	addiu	$v1, $v1, 1
	.globl	timer_spin_end
timer_spin_end:
	di	$zero			# no more interrupts: stop deterministically
	ehb
	jr	$ra
	nop
	.size	workload_timer, . - workload_timer

	.data
	.balign	64
	.globl	ipl_table
ipl_table:				# {Status IM bits masked, softints runnable above}
	.word	0,		SOFTINT_MASK_ALL	# IPL_NONE
	.word	SOFT_INT_0,	SOFTINT_MASK_1		# IPL_SOFTCLOCK, IPL_SOFTBIO
	.word	SOFT_INT_MASK,	0			# IPL_SOFTNET, IPL_SOFTSERIAL
	.word	0x7f00,		0			# IPL_VM: all but the timer
	.word	INT_MASK,	0			# IPL_SCHED
	.word	INT_MASK,	0			# IPL_HIGH

	.globl	excpt_sw
excpt_sw:				# by Cause.ExcCode; kernel, then user
	.word	kern_intr
	.rept	31
	.word	kern_gen_exception
	.endr
	.rept	32
	.word	kern_gen_exception
	.endr

	.globl	lwp0
lwp0:	.word	cpu_info0
	.globl	cpu_info0
cpu_info0:
	.word	IPL_NONE		# ci_cpl
	.word	0			# ci_softints
	.word	0			# ci_idepth

	.globl	sh_table
sh_table:				# one handle per softint: next, fn, arg, pending, si
	.word	0, count_handler, counters + 0, 0, SOFTINT_CLOCK
	.word	0, count_handler, counters + 4, 0, SOFTINT_BIO
	.word	0, count_handler, counters + 8, 0, SOFTINT_NET
	.word	0, count_handler, counters + 12, 0, SOFTINT_SERIAL

	.globl	softint_queue
softint_queue:
	.word	0, 0, 0, 0
	.globl	counters
counters:
	.word	0, 0, 0, 0
	.globl	ticks
ticks:	.word	0
	.globl	exit_code
exit_code:
	.word	0
	.globl	exc_info
exc_info:				# cause, epc, badvaddr, status of a fatal exception
	.word	0, 0, 0, 0
	.globl	params
params:
	.word	0, 0, 0, 0, 0, 0, 0, 0

	.bss
	.balign	16
	.globl	ipl_stack
ipl_stack:
	.space	4096
	.globl	script_area
script_area:
	.space	262144
	.balign	16
stack:	.space	16384
	.globl	stack_top
stack_top:
