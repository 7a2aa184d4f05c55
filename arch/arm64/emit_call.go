package arm64

import "jitsim/core"

// emitCallInsn is build_insn's BPF_CALL: helpers and bpf-to-bpf calls
// alike go through emit_call, then the return value moves from x0 to r0's
// x7. Nothing happens to x26 around a call: it is callee-saved, so a
// subprogram inherits the caller's count (legacy) or tcc_ptr (fixed) in
// it, and its prologue/epilogue save and restore it.
//
// The kernel inlines bpf_get_smp_processor_id and bpf_get_current_task as
// reads of sp_el0's thread_info; jitsim has no thread_info, so those stay
// helper calls.
func (ctx *jitCtx) emitCallInsn(i int, ins *core.Insn) error {
	if ins.Source() == core.X {
		return ctx.emitCallX(i, ins)
	}
	// The target as bpf_jit_get_func_addr gives it: a helper's address,
	// or the callee's once known (NULL before the extra pass, which forces
	// the indirect form).
	callee, target := -1, uint64(0)
	switch ins.Src {
	case core.CallHelper:
		h := ctx.c.opts.HelperAddr
		if h == nil {
			return ctx.noHelpers(i)
		}
		target = h(ins.Imm)
	case core.PseudoCall:
		k, err := ctx.calleeOf(i, ins)
		if err != nil {
			return err
		}
		callee = k
		if ctx.extraPass {
			target, _ = ctx.c.funcAddr(k)
		}
	default:
		return ctx.unsupported(i)
	}
	if ctx.image == nil {
		// The sizing pass: every call indirect; remember where the calls
		// are, and where they go, for the passes that fix their form.
		s := ctx.c.scratch
		s.calls = append(s.calls, callSite{slot: int32(i), callee: int32(callee), target: target})
		s.patch = append(s.patch, patch{slot: int32(i), kind: patchCall})
	}
	if err := ctx.emitCall(i, target); err != nil {
		return err
	}
	ctx.emit(mov(true, bpf2a64[core.R0], x0))
	return nil
}

// noHelpers is the error for a helper call without jit.Options.HelperAddr.
//
//go:noinline
func (ctx *jitCtx) noHelpers(i int) error {
	return ctx.errorf(i, "%s: no helper addresses (jit.Options.HelperAddr)", ctx.what(i))
}

// callSite is a call as the passes after the first see it: its slot, its
// form in the current layout, whether the write pass must emit it again
// (see relayout), how far relayout moved what follows it, and its
// target: a helper's address (HelperAddr is asked once), or the called
// function.
type callSite struct {
	slot    int32
	direct  bool
	rewrite bool
	shift   int32
	callee  int32 // function index; -1 for a helper
	target  uint64
}

// siteTarget is bpf_jit_get_func_addr for a call site: before the extra
// pass a callee's address is NULL.
func (ctx *jitCtx) siteTarget(site *callSite) uint64 {
	if site.callee < 0 {
		return site.target
	}
	if !ctx.extraPass {
		return 0
	}
	addr, _ := ctx.c.funcAddr(int(site.callee))
	return addr
}

// calleeOf finds the function a pseudo call (or a PSEUDO_FUNC ld_imm64)
// at slot i of this function enters.
func (ctx *jitCtx) calleeOf(i int, ins *core.Insn) (int, error) {
	t := ctx.first + i + 1 + int(ins.Imm)
	funcs := ctx.c.prog.Funcs
	// sort.Search by hand: the first function starting at or after t,
	// without a closure call per probe.
	k, hi := 0, len(funcs)
	for k < hi {
		m := int(uint(k+hi) >> 1)
		if funcs[m].Start < t {
			k = m + 1
		} else {
			hi = m
		}
	}
	if k == len(funcs) || funcs[k].Start != t {
		return 0, ctx.errorf(i, "%s: target slot %d starts no function", ctx.what(i), t)
	}
	return k, nil
}

// emitCall is emit_call: BL when the target is within BL's ±128 MiB of this
// instruction and both addresses are known (should_emit_indirect_call),
// else the fixed-length address load into x10 and BLR. The legacy JIT
// predates the direct form and always calls indirectly.
func (ctx *jitCtx) emitCall(i int, target uint64) error {
	if target != 0 && target>>48 != 0xffff {
		// emit_addr_mov_i64 builds the top 16 bits with MOVN, so only
		// kernel addresses survive it.
		return ctx.targetError(i, target)
	}
	if ctx.shouldEmitIndirectCall(target) {
		ctx.emitAddrMovI64(tmp1, target)
		ctx.emit(blr(tmp1))
		return nil
	}
	// emit_direct_call: aarch64_insn_gen_branch_imm(pc, target, LINK).
	off := int64(target - ctx.pc())
	w := breakFault
	if off&3 == 0 {
		w = bl(int(off >> 2))
	}
	ctx.emit(w)
	return nil
}

// targetError is emitCall's error, out of line so that emitCall keeps
// nothing across a call on its way.
//
//go:noinline
func (ctx *jitCtx) targetError(i int, target uint64) error {
	return ctx.errorf(i, "%s: call target %#x is not a kernel address (top 16 bits must be ones)", ctx.what(i), target)
}

// shouldEmitIndirectCall is should_emit_indirect_call.
func (ctx *jitCtx) shouldEmitIndirectCall(target uint64) bool {
	if ctx.c.legacy || ctx.image == nil || target == 0 {
		return true
	}
	off := int64(target - ctx.pc())
	return off < -128<<20 || off >= 128<<20
}

// emitCallX is callx (BPF_JMP|BPF_CALL|BPF_X, "call the helper whose id is
// in dst"), which the conformance suite's callx.data uses and the kernel
// does not have. Like the x86 backend it relies on the helper stubs sim
// provides sitting at a constant stride, HelperAddr(id) = HelperAddr(0) +
// id*stride (checked on a few ids), and computes the address with the
// kernel JIT's own building blocks:
//
//	movn/movk/movk x10, HelperAddr(0)   emit_addr_mov_i64
//	mov x11, #stride                    emit_a64_mov_i64
//	madd x10, dst, x11, x10             A64_MADD
//	blr x10
//	mov x7, x0
func (ctx *jitCtx) emitCallX(i int, ins *core.Insn) error {
	if ins.Src != 0 || ins.Imm != 0 || ins.Off != 0 {
		return ctx.errorf(i, "%s: callx with reserved fields set", ctx.what(i))
	}
	if err := ctx.helperStride(i); err != nil {
		return err
	}
	c := ctx.c
	if c.helperBase>>48 != 0xffff {
		return ctx.errorf(i, "%s: helper base %#x is not a kernel address", ctx.what(i), c.helperBase)
	}
	ctx.emitAddrMovI64(tmp1, c.helperBase)
	ctx.emitA64MovI64(tmp2, c.stride)
	ctx.emit(madd(true, tmp1, tmp1, bpf2a64[ins.Dst], tmp2))
	ctx.emit(blr(tmp1))
	ctx.emit(mov(true, bpf2a64[core.R0], x0))
	return nil
}

// helperStride derives the helper stub layout callx relies on.
func (ctx *jitCtx) helperStride(i int) error {
	c := ctx.c
	if c.stride != 0 {
		return nil
	}
	h := c.opts.HelperAddr
	if h == nil {
		return ctx.noHelpers(i)
	}
	base := h(0)
	stride := h(1) - base
	if int64(stride) <= 0 || stride > 1<<20 {
		return ctx.errorf(i, "%s: helper stubs are not at a constant small stride (%#x, %#x)", ctx.what(i), base, h(1))
	}
	for _, id := range []int32{2, 3, 5, 12} {
		if h(id) != base+uint64(id)*stride {
			return ctx.errorf(i, "%s: helper %d is at %#x, not at %#x + %d*%#x", ctx.what(i), id, h(id), base, id, stride)
		}
	}
	c.helperBase, c.stride = base, stride
	return nil
}
