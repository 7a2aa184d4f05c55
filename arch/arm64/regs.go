// Package arm64 is jitsim's arm64 backend: a Go rendering of the kernel's
// arm64 BPF JIT (arch/arm64/net/bpf_jit_comp.c and bpf_jit.h). It produces
// the instruction words the kernel would for the same xlated program, for
// both tail call count schemes: core.Fixed follows the current mainline JIT
// (tail_call_cnt_ptr in x26, callee-saved registers pushed as used), and
// core.Legacy the JIT as it was before commit 66ff4d61dc12 ("bpf, arm64:
// Fix tailcall hierarchy"; count by value in x26, every callee-saved
// register pushed, FP_BOTTOM in x27).
package arm64

import "jitsim/core"

// reg is an A64 general register number as it sits in an instruction field
// (the kernel's enum aarch64_insn_register). Number 31 is SP or XZR
// depending on the instruction, as AARCH64_INSN_REG_SP and
// AARCH64_INSN_REG_ZR share it.
type reg uint8

const (
	x0  reg = 0
	x1  reg = 1
	x2  reg = 2
	x3  reg = 3
	x4  reg = 4
	x7  reg = 7
	x9  reg = 9
	x10 reg = 10
	x11 reg = 11
	x12 reg = 12
	x19 reg = 19
	x20 reg = 20
	x21 reg = 21
	x22 reg = 22
	x25 reg = 25
	x26 reg = 26
	x27 reg = 27
	x28 reg = 28
	fp  reg = 29 // A64_FP, the AAPCS64 frame pointer
	lr  reg = 30 // A64_LR
	sp  reg = 31 // A64_SP (in address and add/sub immediate operands)
	zr  reg = 31 // A64_ZR (everywhere else)
)

// bpf2a64 follows bpf2a64[] in bpf_jit_comp.c: r0 lives in x7 so that x0
// can carry the first helper argument (r1) without a move; r6-r9 and the
// frame pointer r10 sit in AAPCS64 callee-saved registers so helper calls
// preserve them. It has 16 entries so that a lookup by a 4-bit register
// field (ins.Dst&15) needs no bounds check; init rejects r11..r15 before
// any emitter runs, so those entries are never used.
var bpf2a64 = [16]reg{
	core.R0: x7,
	core.R1: x0, core.R2: x1, core.R3: x2, core.R4: x3, core.R5: x4,
	core.R6: x19, core.R7: x20, core.R8: x21, core.R9: x22,
	core.R10: x25,
}

// The JIT's own registers, the kernel's TMP_REG_1..3, BPF_REG_AX,
// TCCNT_PTR (TCALL_CNT before the fix) and FP_BOTTOM.
const (
	tmp1 = x10 // TMP_REG_1: immediates, addresses, call targets
	tmp2 = x11 // TMP_REG_2: second scratch, the tail call's prog pointer
	tmp3 = x12 // TMP_REG_3: LL/SC status, the fixed scheme's count copy
	ax   = x9  // BPF_REG_AX: blinding and the verifier's div/mod guards
	// tcc holds the tail call count itself (legacy) or a pointer to it
	// (fixed). Callee-saved, so helper calls keep it.
	tcc = x26
	// fpBottom is FP_BOTTOM (legacy only): the lowest stack address the
	// program touches, so r10-relative accesses fit the unsigned scaled
	// offset of LDR/STR (immediate).
	fpBottom = x27
)
