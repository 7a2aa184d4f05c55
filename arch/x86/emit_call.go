package x86

import (
	"math/bits"
	"sort"

	"jitsim/core"
)

// emitCall is BPF_JMP | BPF_CALL: helper calls (src 0), bpf-to-bpf calls
// (src 1) and the conformance suite's callx (BPF_X). Helpers and callees
// take r1-r5 in rdi, rsi, rdx, rcx, r8 and return in rax, which is why
// reg2hex[] maps the BPF registers onto the SysV argument registers.
func (c *compiler) emitCall(i int, ins *core.Insn) error {
	if ins.Off != 0 {
		return c.errorf(c.slot(i), "call: reserved offset %d", ins.Off)
	}
	if ins.Source() == core.X {
		return c.emitCallX(i, ins)
	}
	var target uint64
	switch ins.Src {
	case core.CallHelper:
		// The kernel rejects imm 0 here because by now its imm is the
		// helper's distance from __bpf_call_base; jitsim keeps the id, and
		// id 0 is a real helper in the conformance set.
		if c.opts.HelperAddr == nil {
			return c.errorf(c.slot(i), "call helper %d: no helper addresses (jit.Options.HelperAddr)", ins.Imm)
		}
		if c.final {
			target = c.opts.HelperAddr(ins.Imm)
		}
	case core.PseudoCall:
		callee, err := c.callee(i, ins)
		if err != nil {
			return err
		}
		if c.final {
			target = c.opts.Base + uint64(c.funcs[callee].image)
		}
	default:
		// kfuncs (src 2) call kernel functions jitsim does not have.
		return c.errorf(c.slot(i), "call with src %d: %w", ins.Src, core.ErrUnsupported)
	}
	c.emitLoadTCC(ins.Src == core.PseudoCall)
	return c.emitCallRel32(i, target)
}

// emitLoadTCC puts the tail call count where a callee's prologue expects
// it. Fixed (6.11+): rax = tcc_ptr before bpf-to-bpf calls only
// (LOAD_TAIL_CALL_CNT_PTR; since 6.13 helpers no longer get it). Legacy:
// rax = the frame's count slot before every call, helpers included
// (RESTORE_TAIL_CALL_CNT), so a subprogram starts from a copy.
func (c *compiler) emitLoadTCC(pseudo bool) {
	fs := c.fs
	if !fs.tcReachable {
		return
	}
	if c.legacy {
		c.a.movLoad64Disp32(rax, rbp, -fs.depth-8)
	} else if pseudo {
		c.a.movLoad64Disp32(rax, rbp, tccPtrOff(fs.depth))
	}
}

// emitCallRel32 is emit_call(): CALL rel32 from the current position. In
// sizing passes the target is not known yet and only the size matters.
func (c *compiler) emitCallRel32(i int, target uint64) error {
	if !c.final {
		c.a.callRel32(0)
		return nil
	}
	ip := c.opts.Base + uint64(c.fs.image+c.pos())
	off := int64(target - (ip + patchSize))
	if !isSimm32(off) {
		return c.errorf(c.slot(i), "call target %#x is out of rel32 range of %#x", target, ip)
	}
	c.a.callRel32(int32(off))
	return nil
}

// callee finds the function a pseudo call enters.
func (c *compiler) callee(i int, ins *core.Insn) (int, error) {
	t := ins.CallTarget(c.slot(i))
	fn := c.p.Funcs
	k := sort.Search(len(fn), func(k int) bool { return fn[k].Start >= t })
	if k == len(fn) || fn[k].Start != t {
		return 0, c.errorf(c.slot(i), "call to slot %d, which starts no function", t)
	}
	return k, nil
}

// emitCallX is callx, "call the helper whose id is in dst" (the
// conformance suite's callx.data; the kernel has no equivalent). It
// assumes what sim provides: helper trap stubs at a constant stride, so
// that jit.Options.HelperAddr(id) = HelperAddr(0) + id*stride, checked here
// on a few ids:
//
//	[legacy: mov rax, [rbp-rsd-8]]
//	mov r11, dst
//	shl r11, log2(stride)   (imul r11, r11, stride if not a power of two)
//	mov r10, HelperAddr(0)  (emit_mov_imm64)
//	add r11, r10
//	call *r11
func (c *compiler) emitCallX(i int, ins *core.Insn) error {
	if ins.Src != 0 || ins.Imm != 0 {
		return c.errorf(c.slot(i), "callx: reserved fields set")
	}
	if err := c.helperStride(i); err != nil {
		return err
	}
	c.emitLoadTCC(false)
	a := &c.a
	a.movRegReg(auxReg, bpf2x86[ins.Dst])
	if c.stride&(c.stride-1) == 0 {
		a.shiftImm8(true, opShl, auxReg, uint8(bits.TrailingZeros64(c.stride)))
	} else {
		a.imulImm32(true, auxReg, int32(c.stride))
	}
	c.emitMovImm64(axReg, c.helperBase)
	a.aluRegReg(true, opAdd, auxReg, axReg)
	a.callReg(auxReg)
	return nil
}

// helperStride derives the trap stub layout callx relies on.
func (c *compiler) helperStride(i int) error {
	if c.stride != 0 {
		return nil
	}
	h := c.opts.HelperAddr
	if h == nil {
		return c.errorf(c.slot(i), "callx: no helper addresses (jit.Options.HelperAddr)")
	}
	base := h(0)
	stride := h(1) - base
	if int64(stride) <= 0 || !isSimm32(int64(stride)) {
		return c.errorf(c.slot(i), "callx: helper stubs are not at a constant small stride (%#x, %#x)", base, h(1))
	}
	for _, id := range []int32{2, 3, 5, 12} {
		if h(id) != base+uint64(id)*stride {
			return c.errorf(c.slot(i), "callx: helper %d is at %#x, not at %#x + %d*%#x", id, h(id), base, id, stride)
		}
	}
	c.helperBase, c.stride = base, stride
	return nil
}
