# spl(9) for the study kernel: IPLs are Status.IM masks (ipl_table), the
# current IPL lives in cpu_info (ci_cpl), and every change is made with
# interrupts off so the two never disagree.  Modelled on NetBSD's
# sys/arch/mips/mips/spl.S (_splraise, _splsw_splx, _splsw_splhigh).
#
# SPLX_CHECK selects the variant (set by the Makefile with --defsym):
#   1  (A) splx looks at ci_softints and runs the softints that its new
#          level unmasks itself, before lowering;
#   0  (B) splx only rewrites Status; a pending softint is a Cause.IP0/IP1
#          bit that the CPU takes as an interrupt once it is unmasked.
#
# Conventions (o32, as in NetBSD): a0 argument, v0 result, may clobber
# a0-a3, v0-v1, t0; t8 holds curlwp for the whole life of the kernel.

	.set	noreorder
	.text

# int splraise(int ipl): raise to ipl (never lowers); returns the old IPL.
	.globl	splraise
	.type	splraise, @function
splraise:
	lw	$a3, L_CPU($t8)
	lw	$v0, CI_CPL($a3)
	sltu	$v1, $a0, $v0		# new < current: nothing to do
	bnez	$v1, 1f
	sll	$a2, $a0, IPLT_SHIFT
	la	$a1, ipl_table
	addu	$a1, $a1, $a2
	lw	$a1, IPLT_SRBITS($a1)	# IM bits this IPL masks
	mfc0	$v1, $12
	ori	$v1, $v1, INT_MASK
	xor	$v1, $v1, $a1		# IM = everything but those
	mtc0	$zero, $12		# interrupts off while cpl and Status differ
	ehb
	sw	$a0, CI_CPL($a3)
	mtc0	$v1, $12
	ehb
1:	jr	$ra
	nop
	.size	splraise, . - splraise

# int splhigh(void): to IPL_HIGH keeping Status.EXL/IE as they are (the
# interrupt handler calls it with EXL still set).
	.globl	splhigh
	.type	splhigh, @function
splhigh:
	lw	$a3, L_CPU($t8)
	lw	$v0, CI_CPL($a3)
	li	$a1, IPL_HIGH
	beq	$v0, $a1, 1f
	nop
	mfc0	$v1, $12
	ori	$a0, $v1, INT_MASK
	xori	$a0, $a0, INT_MASK	# mask every interrupt line
	mtc0	$a0, $12
	ehb
	sw	$a1, CI_CPL($a3)
1:	jr	$ra
	nop
	.size	splhigh, . - splhigh

# Lower to a0 (callers only ever lower).  With check=1 this is variant A's
# splx: before Status is rewritten, with interrupts off, it looks for
# softints that the new level unmasks and runs them (splx_dosoft).
	.macro	SPLLOWER check, unmasked
	lw	$a3, L_CPU($t8)
	lw	$a2, CI_CPL($a3)
	beq	$a0, $a2, 2f		# same level: nothing to do
	sll	$a2, $a0, IPLT_SHIFT
	la	$v1, ipl_table
	addu	$v1, $v1, $a2
	lw	$a1, IPLT_SRBITS($v1)
	.if	\check
	lw	$t0, IPLT_SOFTMASK($v1)	# softints runnable at the new level
	.endif
	mfc0	$v1, $12
	xori	$a1, $a1, INT_MASK
	or	$v1, $v1, $a1		# unmask what the new level allows
	mtc0	$zero, $12		# interrupts off while cpl and Status differ
	ehb
	.if	\check
	lw	$v0, CI_SOFTINTS($a3)
	and	$v0, $v0, $t0
	bnez	$v0, splx_dosoft		# something to run before lowering
	.endif
	sw	$a0, CI_CPL($a3)		# (variant A: in the branch delay slot)
	mtc0	$v1, $12
	.globl	\unmasked
\unmasked:				# first instruction after the new Status
	ehb
2:	jr	$ra
	nop
	.endm

	.if	SPLX_CHECK
# void splx(int ipl), variant A.
	.globl	splx
	.type	splx, @function
splx:
	SPLLOWER 1, splx_unmasked
	.size	splx, . - splx

# Variant A, slow path: entered from splx with interrupts off, a0 = the new
# IPL, v0 = the runnable pending softints.  Run them at IPL_HIGH (as
# NetBSD's softint_process expects), then start splx again from IPL_HIGH:
# it lowers for real and notices anything the handlers scheduled.
	.type	splx_dosoft, @function
splx_dosoft:
	addiu	$sp, $sp, -32
	sw	$ra, 28($sp)
	sw	$a0, 24($sp)
	li	$t1, IPL_HIGH
	sw	$t1, CI_CPL($a3)
	ori	$t2, $v1, INT_MASK
	xori	$t2, $t2, INT_MASK	# Status at IPL_HIGH: IE on, every line masked
	mtc0	$t2, $12
	ehb
	jal	softint_process
	move	$a0, $v0
	.globl	splx_dosoft_ret
splx_dosoft_ret:
	lw	$a0, 24($sp)
	lw	$ra, 28($sp)
	b	splx
	addiu	$sp, $sp, 32
	.size	splx_dosoft, . - splx_dosoft

# Lowering without the softint check, for softint_dispatch (which is
# itself running softints).
	.globl	_spllower
	.type	_spllower, @function
_spllower:
	SPLLOWER 0, spllower_unmasked
	.size	_spllower, . - _spllower

	.else
# void splx(int ipl), variant B: only Status changes.  If a softint is
# pending in Cause.IP0/IP1 and the new level unmasks it, the CPU takes the
# interrupt right after the mtc0.
	.globl	splx
	.globl	_spllower
	.type	splx, @function
splx:
_spllower:
	SPLLOWER 0, splx_unmasked
	.size	splx, . - splx

# _clrsoftintr(bits): clear Cause soft interrupt bits (spl.S _splsw_clrsoftintr).
	.globl	clrsoftintr
	.type	clrsoftintr, @function
clrsoftintr:
	mfc0	$v1, $12
	mtc0	$zero, $12
	ehb
	mfc0	$v0, $13
	nor	$a0, $zero, $a0
	and	$v0, $v0, $a0
	mtc0	$v0, $13
	ehb
	mtc0	$v1, $12
	jr.hb	$ra
	nop
	.size	clrsoftintr, . - clrsoftintr
	.endif

# int splintr(uint32_t *pending): the IPL at which the pending hardware
# interrupts run (IPL_NONE if none), and which ones they are.
	.globl	splintr
	.type	splintr, @function
splintr:
	mfc0	$t1, $13
	andi	$v1, $t1, HARD_INT_MASK
	beqz	$v1, 2f
	li	$v0, IPL_NONE
	andi	$t2, $v1, INT_TIMER
	beqz	$t2, 2f
	li	$v0, IPL_VM
	li	$v0, IPL_SCHED
2:	jr	$ra
	sw	$v1, 0($a0)
	.size	splintr, . - splintr
