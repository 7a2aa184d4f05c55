package x86

import "jitsim/core"

// nospec is BPF_NOSPEC, the ST-class speculation barrier the verifier
// inserts (opcode 0xc2); it shares its mode bits with BPF_ATOMIC.
const nospec = core.ST | 0xc0

// emitLoad is the LDX MEM and MEMSX cases (emit_ldx, emit_ldsx). A load
// needs no extable entry here: jitsim's programs are never PROBE_MEM.
func (c *compiler) emitLoad(i int, ins *core.Insn) error {
	dst, src := bpf2x86[ins.Dst], bpf2x86[ins.Src]
	off := int32(ins.Off)
	switch ins.Mode() {
	case core.MEM:
		switch ins.Size() {
		case core.B:
			c.a.movzxLoad8(dst, src, off)
		case core.H:
			c.a.movzxLoad16(dst, src, off)
		case core.W:
			c.a.movLoad32(dst, src, off)
		case core.DW:
			c.a.movLoad64(dst, src, off)
		}
	case core.MEMSX:
		switch ins.Size() {
		case core.B:
			c.a.movsxLoad8(dst, src, off)
		case core.H:
			c.a.movsxLoad16(dst, src, off)
		case core.W:
			c.a.movsxdLoad32(dst, src, off)
		default:
			return c.unknown(i, ins)
		}
	default:
		return c.unknown(i, ins)
	}
	return nil
}

// emitStore is the ST (immediate), STX (register) and STX ATOMIC cases,
// and the ST-class BPF_NOSPEC.
func (c *compiler) emitStore(i int, ins *core.Insn) error {
	dst := bpf2x86[ins.Dst]
	off := int32(ins.Off)
	if ins.Op == nospec {
		c.a.lfence()
		return nil
	}
	switch {
	case ins.Class() == core.ST && ins.Mode() == core.MEM:
		switch ins.Size() {
		case core.B:
			c.a.movStoreImm8(dst, off, ins.Imm)
		case core.H:
			c.a.movStoreImm16(dst, off, ins.Imm)
		case core.W:
			c.a.movStoreImm32(dst, off, ins.Imm)
		case core.DW:
			c.a.movStoreImm64(dst, off, ins.Imm)
		}
	case ins.Class() == core.STX && ins.Mode() == core.MEM:
		src := bpf2x86[ins.Src]
		switch ins.Size() {
		case core.B:
			c.a.movStore8(dst, src, off)
		case core.H:
			c.a.movStore16(dst, src, off)
		case core.W:
			c.a.movStore32(dst, src, off)
		case core.DW:
			c.a.movStore64(dst, src, off)
		}
	case ins.IsAtomic() && (ins.Size() == core.W || ins.Size() == core.DW):
		return c.emitAtomic(i, ins)
	default:
		return c.unknown(i, ins)
	}
	return nil
}

// emitAtomic is the STX ATOMIC W/DW case: one locked instruction (emit_atomic)
// where x86 has one, else the kernel's cmpxchg loop for the fetching
// and/or/xor.
func (c *compiler) emitAtomic(i int, ins *core.Insn) error {
	w := ins.Size() == core.DW
	dst, src := bpf2x86[ins.Dst], bpf2x86[ins.Src]
	off := int32(ins.Off)
	a := &c.a
	switch ins.Imm {
	case core.AtomicAdd:
		a.lockAlu(w, opAdd, dst, src, off)
	case core.AtomicAnd:
		a.lockAlu(w, opAnd, dst, src, off)
	case core.AtomicOr:
		a.lockAlu(w, opOr, dst, src, off)
	case core.AtomicXor:
		a.lockAlu(w, opXor, dst, src, off)
	case core.AtomicAdd | core.Fetch:
		a.lockXadd(w, dst, src, off)
	case core.AtomicXchg:
		a.lockXchg(w, dst, src, off)
	case core.AtomicCmpXchg:
		a.lockCmpxchg(w, dst, src, off)
		if !w {
			// A 32-bit cmpxchg that succeeds leaves rax's upper half alone,
			// yet BPF's r0 is always zero-extended: the verifier follows
			// every 32-bit cmpxchg with "w0 = w0" (BPF_ZEXT_REG in
			// opt_subreg_zext_lo32_rnd_hi32) even where the JIT needs no
			// zext. It does so only when r0's upper half is read later;
			// without that liveness, always.
			a.movRegReg32(rax, rax)
		}
	case core.AtomicAnd | core.Fetch, core.AtomicOr | core.Fetch, core.AtomicXor | core.Fetch:
		c.emitAtomicFetchLoop(ins, w, dst, src, off)
	default:
		return c.errorf(c.slot(i), "op %#02x: atomic operation %#x: %w", ins.Op, ins.Imm, core.ErrUnsupported)
	}
	return nil
}

// emitAtomicFetchLoop is do_jit's CMPXCHG loop for fetching and/or/xor,
// which x86 cannot do in one instruction:
//
//	mov r10, rax            ; cmpxchg needs rax: save r0
//	loop: mov rax, [dst+off]
//	mov r11, rax; op r11, src
//	lock cmpxchg [dst+off], r11
//	jne loop                ; lost the race
//	mov src, rax            ; the old value
//	mov rax, r10
func (c *compiler) emitAtomicFetchLoop(ins *core.Insn, w bool, dst, src reg, off int32) {
	a := &c.a
	realSrc, realDst := src, dst
	c.emitMovReg(true, axReg, rax)
	if src == rax {
		realSrc = axReg
	}
	if dst == rax {
		realDst = axReg
	}
	loop := a.len()
	if w {
		a.movLoad64(rax, realDst, off)
	} else {
		a.movLoad32(rax, realDst, off)
	}
	c.emitMovReg(w, auxReg, rax)
	a.aluRegReg(w, bpfAluOps[(ins.Imm&^core.Fetch)>>4], auxReg, realSrc)
	a.lockCmpxchg(w, realDst, auxReg, off)
	a.jccRel8(jne, int8(loop-(a.len()+2)))
	c.emitMovReg(w, realSrc, rax)
	c.emitMovReg(true, rax, axReg)
}
