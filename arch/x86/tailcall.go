package x86

import (
	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/kabi"
)

// tccPtrOff is BPF_TAIL_CALL_CNT_PTR_STACK_OFF(): tcc_ptr's slot below the
// BPF stack (fixed scheme).
func tccPtrOff(depth int32) int32 { return -16 - depth }

// tccOff is the legacy scheme's "tcc_off": the dword the count is kept in,
// the upper half of the qword that the prologue's "push rax" stored at
// rbp-rsd-8. The count only ever travels as that whole qword (pop rax /
// push rax, mov rax, [rbp-rsd-8]), so it stays in the upper half
// everywhere; a reader of the stack must look at rbp-rsd-4.
func tccOff(depth int32) int32 { return -4 - depth }

// emitTailCall is BPF_JMP | BPF_TAIL_CALL: Imm 0 is an indirect tail call,
// Imm k names the verifier's poke descriptor k-1 (a constant map and key).
// r1 (rdi) is the context, r2 (rsi) the prog array, r3 (rdx) the index.
func (c *compiler) emitTailCall(i int, ins *core.Insn) error {
	if kabi.ArrayMaxEntriesOff > 127 || kabi.ProgBpfFuncOff > 127 {
		// The kernel writes these offsets as disp8 bytes.
		return c.errorf(c.slot(i), "tail call: bpf_array/bpf_prog offsets do not fit a disp8")
	}
	if ins.Imm == 0 {
		if c.legacy {
			c.emitTailCallIndirectLegacy()
		} else {
			c.emitTailCallIndirect()
		}
		return nil
	}
	k := int(ins.Imm) - 1
	if k < 0 || k >= len(c.p.TailCallPokes) {
		return c.errorf(c.slot(i), "direct tail call through poke descriptor %d, program has %d", ins.Imm, len(c.p.TailCallPokes))
	}
	c.emitTailCallDirect(i, c.p.TailCallPokes[k])
	return nil
}

// tailCallOut is the short jump to "out:" every check of the tail call
// sequence takes. The label comes from the previous pass (jit_context
// tail_call_*_label, measured from the sequence's start): the sequence
// has the same length in every pass, so the second pass has it right.
func (c *compiler) tailCallOut(cc byte, label int) {
	c.a.jccRel8(cc, int8(label-(c.a.len()+2)))
}

// emitTailCallIndirect is emit_bpf_tail_call_indirect() (6.11+):
//
//	if (index >= array->map.max_entries) goto out;
//	if (*tcc_ptr >= MAX_TAIL_CALL_CNT) goto out;
//	prog = array->ptrs[index]; if (!prog) goto out;
//	(*tcc_ptr)++;      only once the slot is known to hold a program
//	unwind this frame to the landing point, goto *(prog->bpf_func + X86_TAIL_CALL_OFFSET)
//	out:
func (c *compiler) emitTailCallIndirect() {
	fs, a := c.fs, &c.a
	a.movRegReg32(rdx, rdx) // mov edx, edx: the index is a u32
	a.cmpMem32RegDisp8(rsi, rdx, kabi.ArrayMaxEntriesOff)
	c.tailCallOut(jbe, fs.tcIndirectLabel)
	a.movLoad64Disp32(rax, rbp, tccPtrOff(fs.depth))
	a.cmpMem64Imm8(rax, maxTailCalls)
	c.tailCallOut(jae, fs.tcIndirectLabel)
	a.movLoad64Index8(rcx, rsi, rdx, kabi.ArrayPtrsOff)
	a.testRegReg(true, rcx, rcx)
	c.tailCallOut(je, fs.tcIndirectLabel)
	a.addMem64Imm8(rax, 1)
	c.popCalleeRegs()
	a.pop(rax) // tcc_ptr
	a.pop(rax) // tail_call_cnt (main) or tcc_ptr (subprog): what the target's prologue expects
	c.unwindStack()
	a.movLoad64(rcx, rcx, kabi.ProgBpfFuncOff)
	a.aluImm8(true, opAdd, rcx, int8(c.tailCallOffset))
	c.emitIndirectJump(rcx)
	fs.tcIndirectLabel = a.len()
}

// emitTailCallIndirectLegacy is emit_bpf_tail_call_indirect() before 6.11:
// the count is this frame's own dword, checked and incremented before the
// slot is looked at (an empty slot still costs one).
func (c *compiler) emitTailCallIndirectLegacy() {
	fs, a := c.fs, &c.a
	a.movRegReg32(rdx, rdx)
	a.cmpMem32RegDisp8(rsi, rdx, kabi.ArrayMaxEntriesOff)
	c.tailCallOut(jbe, fs.tcIndirectLabel)
	c.emitLegacyCount(fs.tcIndirectLabel)
	a.movLoad64Index8(rcx, rsi, rdx, kabi.ArrayPtrsOff)
	a.testRegReg(true, rcx, rcx)
	c.tailCallOut(je, fs.tcIndirectLabel)
	c.popCalleeRegs()
	a.pop(rax) // the count, carried into the target's "push rax"
	c.unwindStack()
	a.movLoad64(rcx, rcx, kabi.ProgBpfFuncOff)
	a.aluImm8(true, opAdd, rcx, int8(c.tailCallOffset))
	c.emitIndirectJump(rcx)
	fs.tcIndirectLabel = a.len()
}

// emitLegacyCount is the legacy "if (tail_call_cnt++ >= MAX_TAIL_CALL_CNT)
// goto out" on the frame's dword.
func (c *compiler) emitLegacyCount(label int) {
	a, off := &c.a, tccOff(c.fs.depth)
	a.movLoad32Disp32(rax, rbp, off)
	a.cmpImm8(false, rax, maxTailCalls)
	c.tailCallOut(jae, label)
	a.aluImm8(false, opAdd, rax, 1)
	a.movStore32Disp32(rbp, rax, off)
}

// unwindStack drops the BPF stack: rsp is back at rbp, which the target's
// prologue, entered past "push rbp; mov rbp, rsp", keeps as its own.
func (c *compiler) unwindStack() {
	if c.fs.depth != 0 {
		c.a.aluImm32(true, opAdd, rsp, c.fs.depth)
	}
}

// emitIndirectJump is emit_indirect_jump() on a CPU without retpolines:
// "jmp *reg", and in the fixed scheme the int3 that mainline adds after it
// under CONFIG_MITIGATION_RETPOLINE (Kconfig default y) to stop straight
// line speculation. The legacy kernels (Source A) had no int3 there.
func (c *compiler) emitIndirectJump(r reg) {
	c.a.jmpReg(r)
	if !c.legacy {
		c.a.int3()
	}
}

// emitTailCallDirect is emit_bpf_tail_call_direct(): the target is patched
// in when the slot changes, so the code only checks the count:
//
//	mov rax, [rbp-rsd-16]; cmp qword [rax], 33; jae out
//	jmp out             tailcall_bypass: nop5 once the slot is filled
//	add qword [rax], 1
//	pop callee-saved; pop rax; pop rax; add rsp, rsd
//	nop5                tailcall_target: "jmp target+X86_TAIL_CALL_OFFSET"
//	out:
//
// Legacy keeps the count in the frame: the check-and-increment comes
// before the bypass, one pop rax.
func (c *compiler) emitTailCallDirect(i int, poke core.TailCallPoke) {
	fs, a := c.fs, &c.a
	label := fs.tcDirectLabel
	if c.legacy {
		c.emitLegacyCount(label)
	} else {
		a.movLoad64Disp32(rax, rbp, tccPtrOff(fs.depth))
		a.cmpMem64Imm8(rax, maxTailCalls)
		c.tailCallOut(jae, label)
	}
	bypass := a.len()
	// poke->tailcall_target = ip + label - X86_PATCH_SIZE; the bypass jumps
	// to tailcall_target + X86_PATCH_SIZE, i.e. out.
	a.jmpRel32(int32(label - (bypass + patchSize)))
	if !c.legacy {
		a.addMem64Imm8(rax, 1)
	}
	c.popCalleeRegs()
	a.pop(rax)
	if !c.legacy {
		a.pop(rax)
	}
	c.unwindStack()
	a.nops(patchSize)
	fs.tcDirectLabel = a.len()
	if c.final {
		start := fs.image + c.proglen
		c.pokes = append(c.pokes, jit.Poke{
			Insn:         c.slot(i),
			Map:          poke.Map,
			Key:          poke.Key,
			TailCallSite: start + label - patchSize,
			BypassSite:   start + bypass,
			BypassTarget: start + label,
		})
	}
}
