# Soft interrupts: the MI queue of handlers (kern_softint.c's role) and the
# MD trigger and processing loop (NetBSD sys/arch/mips/mips/mips_softint.c).
#
#   softint_schedule(sh)     queue handler sh (coalesced while pending) and
#                            mark its softint pending in ci_softints;
#                            variant B also sets Cause.IP0/IP1.
#   softint_process(mask)    at IPL_HIGH: run every pending softint in mask,
#                            highest first (variant B: then clear the Cause
#                            bits in a1, as mips_softint.c does).
#   softint_dispatch(si)     lower to the softint's IPL, run its queue, back
#                            to IPL_HIGH (NetBSD switches to the softint LWP
#                            here; both variants would pay that alike).

	.set	noreorder
	.text

	.globl	softint_schedule
	.type	softint_schedule, @function
softint_schedule:
	di	$t9			# the queue is shared with interrupt handlers
	ehb
	lw	$t0, SH_PENDING($a0)
	bnez	$t0, 1f			# already queued: coalesce
	lw	$t1, SH_SI($a0)
	li	$t0, 1
	sw	$t0, SH_PENDING($a0)
	sll	$t2, $t1, 2
	la	$t3, softint_queue
	addu	$t3, $t3, $t2
	lw	$t4, 0($t3)
	sw	$t4, SH_NEXT($a0)
	sw	$a0, 0($t3)
1:	lw	$a3, L_CPU($t8)
	li	$t2, 1
	sllv	$t2, $t2, $t1
	lw	$t3, CI_SOFTINTS($a3)
	or	$t3, $t3, $t2
	sw	$t3, CI_SOFTINTS($a3)
	.if	SPLX_CHECK
	mtc0	$t9, $12
	ehb
	srl	$t4, $t1, 1
	addiu	$t4, $t4, 1		# the softint's IPL
	lw	$t2, CI_CPL($a3)
	sltu	$t5, $t2, $t4
	bnez	$t5, 2f			# already below it: nobody else will look, run it now
	nop
	jr	$ra
	nop
2:	addiu	$sp, $sp, -24
	sw	$ra, 20($sp)
	jal	splhigh
	nop
	jal	splx			# splx does the running
	move	$a0, $v0
	lw	$ra, 20($sp)
	jr	$ra
	addiu	$sp, $sp, 24
	.else
	srl	$t4, $t1, 1		# softint_trigger: IP0 for clock/bio, IP1 for net/serial
	li	$t5, SOFT_INT_0
	sllv	$t5, $t5, $t4
	mfc0	$t6, $13
	or	$t6, $t6, $t5
	mtc0	$t6, $13
	ehb
	mtc0	$t9, $12			# interrupts back on: taken here if unmasked
	jr.hb	$ra
	nop
	.endif
	.size	softint_schedule, . - softint_schedule

	.globl	softint_process
	.type	softint_process, @function
softint_process:
	addiu	$sp, $sp, -32
	sw	$ra, 28($sp)
	sw	$s0, 24($sp)
	sw	$s1, 20($sp)
	sw	$s2, 16($sp)
	move	$s0, $a0
	move	$s2, $a1
	lw	$s1, L_CPU($t8)
1:	lw	$t0, CI_SOFTINTS($s1)
	and	$t1, $t0, $s0
	beqz	$t1, 9f
	clz	$t2, $t1
	li	$a0, 31
	subu	$a0, $a0, $t2		# highest pending softint first
	li	$t3, 1
	sllv	$t3, $t3, $a0
	xor	$t0, $t0, $t3
	jal	softint_dispatch
	sw	$t0, CI_SOFTINTS($s1)
	b	1b
	nop
9:
	.if	SPLX_CHECK == 0
	jal	clrsoftintr
	move	$a0, $s2
	.endif
	lw	$ra, 28($sp)
	lw	$s0, 24($sp)
	lw	$s1, 20($sp)
	lw	$s2, 16($sp)
	jr	$ra
	addiu	$sp, $sp, 32
	.size	softint_process, . - softint_process

	.globl	softint_dispatch
	.type	softint_dispatch, @function
softint_dispatch:
	addiu	$sp, $sp, -32
	sw	$ra, 28($sp)
	sw	$s0, 24($sp)
	sw	$s1, 20($sp)
	move	$s0, $a0
	srl	$a0, $a0, 1
	jal	_spllower
	addiu	$a0, $a0, 1		# the softint's IPL
	di	$t9			# take the whole queue
	ehb
	sll	$t0, $s0, 2
	la	$t1, softint_queue
	addu	$t1, $t1, $t0
	lw	$s1, 0($t1)
	sw	$zero, 0($t1)
	mtc0	$t9, $12
	ehb
1:	beqz	$s1, 8f
	nop
	lw	$t9, SH_FN($s1)
	lw	$a0, SH_ARG($s1)
	sw	$zero, SH_PENDING($s1)	# may be scheduled again while it runs
	jalr	$t9
	lw	$s1, SH_NEXT($s1)
	b	1b
	nop
8:	jal	splhigh
	nop
	lw	$ra, 28($sp)
	lw	$s0, 24($sp)
	lw	$s1, 20($sp)
	jr	$ra
	addiu	$sp, $sp, 32
	.size	softint_dispatch, . - softint_dispatch

# The handler every softint of the study runs: count one run.
	.globl	count_handler
	.type	count_handler, @function
count_handler:
	lw	$t0, 0($a0)
	addiu	$t0, $t0, 1
	jr	$ra
	sw	$t0, 0($a0)
	.size	count_handler, . - count_handler
