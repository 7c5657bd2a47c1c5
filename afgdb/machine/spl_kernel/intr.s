# Exception vector, the kernel interrupt handler and the hardware
# interrupt dispatch.  Modelled on NetBSD's sys/arch/mips/mips/mipsX_subr.S
# (MIPSX(exception), MIPSX(kern_intr)) and evbmips cpu_intr().

	.set	noreorder

	.section .text.vectors, "ax"
	.globl	vectors
vectors:
	j	start			# 0x000: TLB refill (this machine has no TLB)
	nop
	.org	0x180
	.globl	vec_general
	.type	vec_general, @function
vec_general:				# EBase + 0x180: every exception and interrupt
	.set	noat
	mfc0	$k0, $12
	mfc0	$k1, $13
	andi	$k0, $k0, SR_KSU_USER
	sll	$k0, $k0, 3		# user mode: second half of the table
	andi	$k1, $k1, CR_EXC_CODE
	or	$k1, $k1, $k0
	la	$k0, excpt_sw
	addu	$k0, $k0, $k1
	lw	$k0, 0($k0)
	jr	$k0
	nop
	.set	at
	.size	vec_general, . - vec_general

	.text
# Interrupt from kernel mode: save a full trap frame, go to IPL_HIGH,
# clear EXL, dispatch the hardware interrupts, run the softints the
# interrupted context had unmasked, restore and eret.
	.globl	kern_intr
	.type	kern_intr, @function
kern_intr:
	.set	noat
	move	$k0, $sp
	addiu	$sp, $sp, -KF_SIZE
	sw	$1, TF_AT($sp)
	sw	$v0, TF_V0($sp)
	sw	$v1, TF_V1($sp)
	mflo	$v0
	mfhi	$v1
	sw	$a0, TF_A0($sp)
	sw	$a1, TF_A1($sp)
	sw	$a2, TF_A2($sp)
	sw	$a3, TF_A3($sp)
	sw	$t0, TF_T0($sp)
	sw	$t1, TF_T1($sp)
	sw	$t2, TF_T2($sp)
	sw	$t3, TF_T3($sp)
	sw	$t4, TF_T4($sp)
	sw	$t5, TF_T5($sp)
	sw	$t6, TF_T6($sp)
	sw	$t7, TF_T7($sp)
	sw	$s0, TF_S0($sp)
	sw	$s1, TF_S1($sp)
	sw	$s2, TF_S2($sp)
	sw	$s3, TF_S3($sp)
	sw	$s4, TF_S4($sp)
	sw	$s5, TF_S5($sp)
	sw	$s6, TF_S6($sp)
	sw	$s7, TF_S7($sp)
	sw	$t8, TF_T8($sp)
	sw	$t9, TF_T9($sp)
	sw	$gp, TF_GP($sp)
	sw	$k0, TF_SP($sp)
	sw	$s8, TF_S8($sp)
	sw	$ra, TF_RA($sp)
	sw	$v0, TF_LO($sp)
	sw	$v1, TF_HI($sp)
	mfc0	$s1, $12			# Status (EXL set)
	mfc0	$a1, $13
	mfc0	$t4, $14			# EPC
	mfc0	$a2, $8
	sw	$s1, TF_SR($sp)
	sw	$a1, TF_CAUSE($sp)
	sw	$t4, TF_EPC($sp)
	sw	$a2, TF_BADVADDR($sp)
	.set	at
	lw	$s2, L_CPU($t8)
	jal	splhigh			# mask everything before EXL goes
	nop
	sll	$s0, $v0, 8		# s0 = previous IPL << 8 | previous depth
	lw	$t1, CI_IDEPTH($s2)
	or	$s0, $s0, $t1
	addiu	$t1, $t1, 1
	sw	$t1, CI_IDEPTH($s2)
	mfc0	$v1, $12
	andi	$v0, $v1, SR_EXL
	xor	$v0, $v0, $v1
	mtc0	$v0, $12			# EXL off: nested interrupts possible again
	ehb
	move	$a1, $t4
	move	$a2, $s1
	jal	cpu_intr		# cpu_intr(ppl, pc, status)
	srl	$a0, $s0, 8
	andi	$t1, $s0, 0xff
	sw	$t1, CI_IDEPTH($s2)
	.if	SPLX_CHECK
	srl	$a0, $s0, 8		# softints the interrupted IPL allows
	sll	$a0, $a0, IPLT_SHIFT
	la	$t0, ipl_table
	addu	$t0, $t0, $a0
	lw	$t0, IPLT_SOFTMASK($t0)
	lw	$v0, CI_SOFTINTS($s2)
	and	$a0, $v0, $t0
	beqz	$a0, 4f
	nop
	jal	softint_process
	nop
	.else
	andi	$a0, $s1, SOFT_INT_MASK	# softints the interrupted Status allowed
	beqz	$a0, 4f
	nop
	mfc0	$v0, $13
	and	$a1, $a0, $v0		# ... and pending
	beqz	$a1, 4f
	andi	$t0, $a1, SOFT_INT_0
	beqz	$t0, 3f			# IP1 alone: net and serial
	li	$a0, SOFTINT_MASK_1
	li	$a0, SOFTINT_MASK_ALL	# IP0: all four, and IP1 is done too
	ori	$a1, $a1, SOFT_INT_1
3:	jal	softint_process
	nop
	.endif
	.globl	intr_softints_done
intr_softints_done:
4:	mfc0	$v0, $12			# EXL on, IE off: nothing may come in now
	ori	$v0, $v0, SR_EXL | SR_IE
	xori	$v0, $v0, SR_IE
	mtc0	$v0, $12
	ehb
	srl	$a0, $s0, 8
	sw	$a0, CI_CPL($s2)		# back to the interrupted IPL
	lw	$a0, TF_SR($sp)
	mtc0	$a0, $12
	ehb
	lw	$t0, TF_LO($sp)
	lw	$t1, TF_HI($sp)
	lw	$k1, TF_EPC($sp)
	mtlo	$t0
	mthi	$t1
	mtc0	$k1, $14
	ehb
	.set	noat
	lw	$1, TF_AT($sp)
	lw	$v0, TF_V0($sp)
	lw	$v1, TF_V1($sp)
	lw	$a0, TF_A0($sp)
	lw	$a1, TF_A1($sp)
	lw	$a2, TF_A2($sp)
	lw	$a3, TF_A3($sp)
	lw	$t0, TF_T0($sp)
	lw	$t1, TF_T1($sp)
	lw	$t2, TF_T2($sp)
	lw	$t3, TF_T3($sp)
	lw	$t4, TF_T4($sp)
	lw	$t5, TF_T5($sp)
	lw	$t6, TF_T6($sp)
	lw	$t7, TF_T7($sp)
	lw	$s0, TF_S0($sp)
	lw	$s1, TF_S1($sp)
	lw	$s2, TF_S2($sp)
	lw	$s3, TF_S3($sp)
	lw	$s4, TF_S4($sp)
	lw	$s5, TF_S5($sp)
	lw	$s6, TF_S6($sp)
	lw	$s7, TF_S7($sp)
	lw	$t8, TF_T8($sp)
	lw	$t9, TF_T9($sp)
	lw	$gp, TF_GP($sp)
	lw	$s8, TF_S8($sp)
	lw	$ra, TF_RA($sp)
	addiu	$sp, $sp, KF_SIZE
	.globl	kern_intr_eret
kern_intr_eret:
	eret
	.set	at
	.size	kern_intr, . - kern_intr

# Any other exception: record it and stop the machine.
	.globl	kern_gen_exception
	.type	kern_gen_exception, @function
kern_gen_exception:
	la	$t0, exc_info
	mfc0	$t1, $13
	sw	$t1, 0($t0)
	mfc0	$t1, $14
	sw	$t1, 4($t0)
	mfc0	$t1, $8
	sw	$t1, 8($t0)
	mfc0	$t1, $12
	sw	$t1, 12($t0)
	li	$t1, EXIT_EXCEPTION
	la	$t0, exit_code
	b	halt
	sw	$t1, 0($t0)
	.size	kern_gen_exception, . - kern_gen_exception

# void cpu_intr(int ppl, vaddr_t pc, uint32_t status): run the pending
# hardware interrupts above ppl at their own IPL (evbmips cpu_intr()).
	.globl	cpu_intr
	.type	cpu_intr, @function
cpu_intr:
	addiu	$sp, $sp, -40
	sw	$ra, 36($sp)
	sw	$s0, 32($sp)
	sw	$s1, 28($sp)
	move	$s0, $a0
1:	jal	splintr
	addiu	$a0, $sp, 16
	sltu	$t0, $s0, $v0		# while (ppl < (ipl = splintr(&pending)))
	beqz	$t0, 9f
	lw	$s1, 16($sp)
	jal	splx
	move	$a0, $v0
	andi	$t0, $s1, INT_TIMER
	beqz	$t0, 2f
	nop
	jal	clockintr
	nop
2:	jal	splhigh
	nop
	b	1b
	nop
9:	lw	$ra, 36($sp)
	lw	$s0, 32($sp)
	lw	$s1, 28($sp)
	jr	$ra
	addiu	$sp, $sp, 40
	.size	cpu_intr, . - cpu_intr

# Count/Compare tick: re-arm (which clears Cause.TI), count, and schedule the
# clock softint if the driver asked for it.
	.globl	clockintr
	.type	clockintr, @function
clockintr:
	mfc0	$t0, $11
	la	$t1, params
	lw	$t2, P_INTERVAL($t1)
	addu	$t0, $t0, $t2
	mtc0	$t0, $11
	ehb
	la	$t3, ticks
	lw	$t4, 0($t3)
	addiu	$t4, $t4, 1
	sw	$t4, 0($t3)
	lw	$t5, P_TICK_SOFTINT($t1)
	beqz	$t5, 1f
	nop
	la	$a0, sh_table + SOFTINT_CLOCK * SH_SIZE
	j	softint_schedule
	nop
1:	jr	$ra
	nop
	.size	clockintr, . - clockintr
