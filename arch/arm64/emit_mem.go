package arm64

import "jitsim/core"

// lsSizes maps BPF_SIZE to the A64 access size.
var lsSizes = [4]lsSize{
	core.W >> 3:  size32,
	core.H >> 3:  size16,
	core.B >> 3:  size8,
	core.DW >> 3: size64,
}

// lsiWord is is_lsi_offset, whether off fits LDR/STR (immediate, unsigned
// offset) for an access of 1<<size bytes (non-negative, aligned, at most
// 4095 units), and then that instruction, as A64_LDR*I/A64_STR*I encode
// it (opc 0 store, 1 load, 2 sign-extending load): the check and the
// encoder's own in one.
func lsiWord(opc uint32, size lsSize, rt, rn reg, off int) (uint32, bool) {
	// size is at most 3; masking it says so to Go, which then needs no
	// guard for larger shift counts.
	size &= 3
	if off < 0 || off&(1<<size-1) != 0 || off>>size > 0xfff {
		return 0, false
	}
	return uint32(size)<<30 | 0x39000000 | opc<<22 | uint32(off>>size)<<10 | rd5(rn)<<5 | rd5(rt), true
}

// frameBase picks the base register for the immediate form of an access
// through r. BPF addresses the stack below r10 with negative offsets,
// which LDR/STR (immediate) cannot encode, so accesses through r10 go
// relative to a lower register: SP with off + stack_size in the current
// JIT (x25 == sp + stack_size after the prologue), FP_BOTTOM (x27, r10 -
// fpb_offset) in the legacy one when find_fpb_offset found a bottom
// (init works out which, as r10Base and r10Adj). The register-offset
// fallback keeps the original base and offset.
func (ctx *jitCtx) frameBase(r reg, off int) (reg, int) {
	if r != bpf2a64[core.R10] {
		return r, off
	}
	return ctx.r10Base, off + ctx.r10Adj
}

// emitLoad is LDX MEM and MEMSX: LDR/LDRB/LDRH (zero-extending) or
// LDRSB/LDRSH/LDRSW, with the scaled immediate offset when it fits and
// otherwise the offset in tmp1 and the register-offset form.
func (ctx *jitCtx) emitLoad(i int, ins *core.Insn) error {
	sx := ins.Mode() == core.MEMSX
	if ins.Mode() != core.MEM && !sx || sx && ins.Size() == core.DW {
		return ctx.unsupported(i)
	}
	dst, src := bpf2a64[ins.Dst&15], bpf2a64[ins.Src&15]
	size := lsSizes[ins.Size()>>3]
	base, off := ctx.frameBase(src, int(ins.Off))
	opc := uint32(1) // LDR; LDRS (2) never gets a 64-bit size, rejected above
	if sx {
		opc = 2
	}
	if w, ok := lsiWord(opc, size, dst, base, off); ok {
		ctx.emit(w)
		return nil
	}
	ctx.emitA64MovI(true, tmp1, int32(ins.Off))
	if sx {
		ctx.emit(ldrsReg(size, dst, src, tmp1))
	} else {
		ctx.emit(ldrReg(size, dst, src, tmp1))
	}
	return nil
}

// bpfNoSpec is BPF_ST | BPF_NOSPEC, the speculation barrier the verifier
// inserts for unprivileged programs (mode 0xc0 in the ST class).
const bpfNoSpec = core.ST | 0xc0

// emitStore is ST MEM (the immediate goes to tmp1 first) and STX MEM.
// BPF_NOSPEC emits nothing: arm64 relies on the firmware's Speculative
// Store Bypass mitigation (the 2025 series that made NOSPEC a Spectre v1
// barrier too emits SB, or DSB NSH; ISB, there instead).
func (ctx *jitCtx) emitStore(i int, ins *core.Insn) error {
	if ins.Op == bpfNoSpec {
		return nil
	}
	if ins.Mode() != core.MEM {
		return ctx.unsupported(i)
	}
	dst := bpf2a64[ins.Dst&15]
	val, offReg := bpf2a64[ins.Src&15], tmp1
	if ins.Class() == core.ST {
		// Load imm to a register then store it.
		ctx.emitA64MovI(true, tmp1, ins.Imm)
		val, offReg = tmp1, tmp2
	}
	size := lsSizes[ins.Size()>>3]
	base, off := ctx.frameBase(dst, int(ins.Off))
	if w, ok := lsiWord(0, size, val, base, off); ok {
		ctx.emit(w)
		return nil
	}
	ctx.emitA64MovI(true, offReg, int32(ins.Off))
	ctx.emit(strReg(size, val, dst, offReg))
	return nil
}

// emitAtomic is STX ATOMIC: emit_lse_atomic when the CPU has the ARMv8.1
// LSE atomics (cpus_have_cap(ARM64_HAS_LSE_ATOMICS), jit.Options.LSE),
// emit_ll_sc_atomic otherwise.
func (ctx *jitCtx) emitAtomic(i int, ins *core.Insn) error {
	if ins.Class() != core.STX || ins.Size() != core.W && ins.Size() != core.DW {
		return ctx.unsupported(i)
	}
	switch ins.Imm {
	case core.AtomicAdd, core.AtomicAnd, core.AtomicOr, core.AtomicXor,
		core.AtomicAdd | core.Fetch, core.AtomicAnd | core.Fetch,
		core.AtomicOr | core.Fetch, core.AtomicXor | core.Fetch,
		core.AtomicXchg, core.AtomicCmpXchg:
	default:
		// Includes load-acquire/store-release (emit_atomic_ld_st, Linux
		// 6.15), which jitsim's engines reject alike.
		return ctx.unsupported(i)
	}
	if ctx.c.opts.LSE {
		ctx.emitLSEAtomic(ins)
	} else {
		ctx.emitLLSCAtomic(ins)
	}
	return nil
}

// atomicAddress puts dst + off in tmp1 unless off is 0: emit_a64_add_i in
// the current JIT, MOV of the offset and a register ADD in the legacy one.
func (ctx *jitCtx) atomicAddress(ins *core.Insn) reg {
	dst := bpf2a64[ins.Dst&15]
	if ins.Off == 0 {
		return dst
	}
	if ctx.c.legacy {
		ctx.emitA64MovI(true, tmp1, int32(ins.Off))
		ctx.emit(add(true, tmp1, tmp1, dst))
	} else {
		ctx.emitA64AddI(true, tmp1, dst, tmp1, int32(ins.Off))
	}
	return tmp1
}

// emitLSEAtomic is emit_lse_atomic. Plain ops use the ST<op> aliases
// (no ordering); fetch, xchg and cmpxchg the fully ordered "AL" forms.
// AND has no LSE instruction: LDCLR clears the bits set in its operand, so
// the operand is inverted into tmp2 first.
func (ctx *jitCtx) emitLSEAtomic(ins *core.Insn) {
	isdw := ins.Size() == core.DW
	src := bpf2a64[ins.Src&15]
	r := ctx.atomicAddress(ins)
	switch ins.Imm {
	case core.AtomicAdd:
		ctx.emit(stadd(isdw, r, src))
	case core.AtomicAnd:
		ctx.emit(mvn(isdw, tmp2, src))
		ctx.emit(stclr(isdw, r, tmp2))
	case core.AtomicOr:
		ctx.emit(stset(isdw, r, src))
	case core.AtomicXor:
		ctx.emit(steor(isdw, r, src))
	case core.AtomicAdd | core.Fetch:
		ctx.emit(ldaddal(isdw, src, r, src))
	case core.AtomicAnd | core.Fetch:
		ctx.emit(mvn(isdw, tmp2, src))
		ctx.emit(ldclral(isdw, src, r, tmp2))
	case core.AtomicOr | core.Fetch:
		ctx.emit(ldsetal(isdw, src, r, src))
	case core.AtomicXor | core.Fetch:
		ctx.emit(ldeoral(isdw, src, r, src))
	case core.AtomicXchg:
		ctx.emit(swpal(isdw, src, r, src))
	case core.AtomicCmpXchg:
		// r0 = atomic_cmpxchg(dst + off, r0, src): CASAL compares with and
		// returns into x7 (r0), stores src.
		ctx.emit(casal(isdw, src, r, bpf2a64[core.R0]))
	}
}

// emitLLSCAtomic is emit_ll_sc_atomic: LDXR/STXR loops retried while the
// exclusive monitor reports a lost reservation (status in w12). Operations
// that return a value store with release (STLXR) and end in DMB ISH, which
// together give the full ordering of the LSE "AL" forms.
func (ctx *jitCtx) emitLLSCAtomic(ins *core.Insn) {
	isdw := ins.Size() == core.DW
	src := bpf2a64[ins.Src&15]
	r := ctx.atomicAddress(ins)
	switch imm := ins.Imm; imm {
	case core.AtomicAdd, core.AtomicAnd, core.AtomicOr, core.AtomicXor:
		// lock *(u32/u64 *)(dst + off) <op>= src
		ctx.emit(ldxr(isdw, tmp2, r))
		ctx.emit(atomicALU(imm, isdw, tmp2, tmp2, src))
		ctx.emit(stxr(isdw, tmp2, r, tmp3))
		ctx.emit(cbnz(false, tmp3, -3))
	case core.AtomicAdd | core.Fetch, core.AtomicAnd | core.Fetch,
		core.AtomicOr | core.Fetch, core.AtomicXor | core.Fetch:
		// src = atomic_fetch_<op>(dst + off, src); the operand waits in AX
		// while src receives the old value.
		ctx.emit(mov(isdw, ax, src))
		ctx.emit(ldxr(isdw, src, r))
		ctx.emit(atomicALU(imm, isdw, tmp2, src, ax))
		ctx.emit(stlxr(isdw, tmp2, r, tmp3))
		ctx.emit(cbnz(false, tmp3, -3))
		ctx.emit(dmbISH)
	case core.AtomicXchg:
		ctx.emit(mov(isdw, tmp2, src))
		ctx.emit(ldxr(isdw, src, r))
		ctx.emit(stlxr(isdw, tmp2, r, tmp3))
		ctx.emit(cbnz(false, tmp3, -2))
		ctx.emit(dmbISH)
	case core.AtomicCmpXchg:
		// r0 = atomic_cmpxchg(dst + off, r0, src); a mismatch skips the
		// store and the barrier (cbnz +4 lands past dmb).
		r0 := bpf2a64[core.R0]
		ctx.emit(mov(isdw, tmp2, r0))
		ctx.emit(ldxr(isdw, r0, r))
		ctx.emit(eor(isdw, tmp3, r0, tmp2))
		ctx.emit(cbnz(isdw, tmp3, 4))
		ctx.emit(stlxr(isdw, src, r, tmp3))
		ctx.emit(cbnz(false, tmp3, -4))
		ctx.emit(dmbISH)
	}
}

// atomicALU is the register operation of an LL/SC loop.
func atomicALU(imm int32, is64 bool, rd, rn, rm reg) uint32 {
	switch imm &^ core.Fetch {
	case core.AtomicAnd:
		return and(is64, rd, rn, rm)
	case core.AtomicOr:
		return orr(is64, rd, rn, rm)
	case core.AtomicXor:
		return eor(is64, rd, rn, rm)
	}
	return add(is64, rd, rn, rm)
}

// emitLD is the LD class: only ld_imm64 reaches a JIT (the verifier
// rewrites LD_ABS/LD_IND). A constant goes through emit_a64_mov_i64; the
// address of a callback function (src BPF_PSEUDO_FUNC) through the
// fixed-length emit_addr_mov_i64, because it is only known in the extra
// pass.
func (ctx *jitCtx) emitLD(i int, ins *core.Insn) (bool, error) {
	if !ins.IsLdImm64() {
		return false, ctx.unsupported(i)
	}
	if i+1 >= len(ctx.insns) {
		return false, ctx.errorf(i, "%s: ld_imm64 without its second slot", ctx.what(i))
	}
	dst := bpf2a64[ins.Dst&15]
	if ins.Src == core.PseudoFunc {
		k, err := ctx.calleeOf(i, ins)
		if err != nil {
			return false, err
		}
		ctx.layoutDependent(i)
		// Before the extra pass jit_subprogs() leaves a placeholder
		// address in the instruction; the length is the same.
		addr, ok := ctx.c.funcAddr(k)
		if !ok || !ctx.extraPass && len(ctx.c.ctxs) > 1 {
			addr = ctx.c.base
		}
		ctx.emitAddrMovI64(dst, addr)
		return true, nil
	}
	ctx.emitA64MovI64(dst, core.Imm64(*ins, ctx.insns[i+1]))
	return true, nil
}
