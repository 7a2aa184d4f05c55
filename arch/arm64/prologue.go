package arm64

import "jitsim/core"

// buildPrologue is build_prologue for the scheme in use.
func (ctx *jitCtx) buildPrologue() error {
	if ctx.c.legacy {
		return ctx.buildPrologueLegacy()
	}
	return ctx.buildPrologueFixed()
}

// buildPrologueFixed is build_prologue of the current JIT (tail_call_cnt_ptr,
// callee-saved registers pushed only when used). Frame of a main program,
// high to low:
//
//	x29, x30              <- x29
//	0, caller's x26       tail_call_cnt; x26 = &tail_call_cnt
//	                      (a subprogram pushes x26, x26 and keeps x26)
//	                      <- PROLOGUE_OFFSET: tail calls enter here
//	used x19..x22, x25    in pairs, an odd one with xzr
//	                      <- x25 (r10), set only when r10 is used
//	BPF stack             stack_size = round_up(stack_depth, 16)
//	                      <- sp
//
// A tail call pops its own callee-saved registers and enters the target
// after its frame record and count slot, so the target pushes its own set
// and every program of the chain shares the entry program's count.
func (ctx *jitCtx) buildPrologueFixed() error {
	c := ctx.c
	idx0 := ctx.idx
	// A function may be entered by BL/BR (freplace) or BLR (emit_call):
	// BTI JC admits both.
	if c.opts.BTI {
		ctx.emit(btiJC)
	}
	// The fentry trampoline's patch site: x9 keeps the return address,
	// the NOP at POKE_OFFSET becomes "bl <trampoline>".
	ctx.emit(mov(true, x9, lr))
	ctx.emit(nop)
	if c.opts.PAC {
		ctx.emit(paciasp)
	}
	ctx.emit(push(fp, lr))
	ctx.emit(mov(true, fp, sp))
	ctx.prepareBpfTailCallCnt()
	if ctx.fn == 0 {
		if cur := ctx.idx - idx0; cur != c.prologueOffset {
			return ctx.errorf(-1, "PROLOGUE_OFFSET = %d, expected %d!", cur, c.prologueOffset)
		}
		// BTI landing pad for the tail call, done with a BR.
		if c.opts.BTI {
			ctx.emit(btiJ)
		}
	}
	ctx.pushCalleeRegs()
	if ctx.fpUsed {
		ctx.emit(mov(true, bpf2a64[core.R10], sp))
	}
	if ctx.stackSize != 0 {
		ctx.emit(subImm(true, sp, sp, ctx.stackSize))
	}
	return nil
}

// entryFrameSize is how far below the entry sp the prologue puts x25 (r10):
// 16 bytes per pair pushed before "mov x25, sp".
func (ctx *jitCtx) entryFrameSize() int {
	if ctx.c.legacy {
		return 5 * 16 // fp/lr, x19/x20, x21/x22, x25/x26, x27/x28
	}
	// fp/lr, the count slot, then the used callee-saved registers in pairs.
	return 2*16 + (ctx.nrUsedCalleeReg+1)/2*16
}

// prepareBpfTailCallCnt is prepare_bpf_tail_call_cnt: the main program
// stores a zero count on its stack and points x26 at it (saving the
// caller's x26 beside it); a subprogram pushes x26 twice, keeping the
// frame shape and the pointer it inherited.
func (ctx *jitCtx) prepareBpfTailCallCnt() {
	if ctx.fn == 0 {
		ctx.emit(push(zr, tcc))
		ctx.emit(mov(true, tcc, sp))
		return
	}
	ctx.emit(push(tcc, tcc))
}

// findUsedCalleeRegs is find_used_callee_regs: any mention of r6..r9 or r10
// as dst or src, in the order x19, x20, x21, x22, x25. The same walk finds
// register numbers past r10, which the emitters could not map: it returns
// the first such slot, or -1 (an ld_imm64's second slot is data). For the
// legacy JIT the walk also does find_fpb_offset.
func (ctx *jitCtx) findUsedCalleeRegs() (bad int) {
	var used uint32
	if ctx.c.legacy {
		used, ctx.fpbOffset = regsAndFpbOffset(ctx.insns)
	} else {
		used = regsUsed(ctx.insns)
	}
	bad = -1
	if used&regBad != 0 {
		bad = firstBadReg(ctx.insns)
	}
	ctx.fpUsed = used&(1<<core.R10) != 0
	ctx.nrUsedCalleeReg = 0
	for _, r := range [...]core.Reg{core.R6, core.R7, core.R8, core.R9, core.R10} {
		if used&(1<<r) != 0 {
			ctx.usedCalleeReg[ctx.nrUsedCalleeReg] = bpf2a64[r]
			ctx.nrUsedCalleeReg++
		}
	}
	return bad
}

// regsUsed is the set of register numbers insns name, as bits, with
// regBad for a number past r10: two table lookups per slot, no branch,
// four slots a turn.
func regsUsed(insns []core.Insn) (used uint32) {
	t := &regBit
	for len(insns) >= 4 {
		a, b, c, d := &insns[0], &insns[1], &insns[2], &insns[3]
		used |= t[a.Dst] | t[a.Src] | t[b.Dst] | t[b.Src] | t[c.Dst] | t[c.Src] | t[d.Dst] | t[d.Src]
		insns = insns[4:]
	}
	for i := range insns {
		used |= t[insns[i].Dst] | t[insns[i].Src]
	}
	return used
}

// regsAndFpbOffset is regsUsed and, in the same walk, findFpbOffset,
// which needs only the slots that name r10.
func regsAndFpbOffset(insns []core.Insn) (used uint32, fpbOffset int) {
	fpb, offset := true, 0
	t := &regBit
	for len(insns) >= 4 {
		a, b, c, d := &insns[0], &insns[1], &insns[2], &insns[3]
		ma, mb, mc, md := t[a.Dst]|t[a.Src], t[b.Dst]|t[b.Src], t[c.Dst]|t[c.Src], t[d.Dst]|t[d.Src]
		used |= ma | mb | mc | md
		if fpb && (ma|mb|mc|md)&(1<<core.R10) != 0 {
			var stop, ok bool
			if ma&(1<<core.R10) != 0 {
				if offset, ok = fpbStep(a, offset); !ok {
					offset, stop = fpbSlot(a, offset)
				}
			}
			if !stop && mb&(1<<core.R10) != 0 {
				if offset, ok = fpbStep(b, offset); !ok {
					offset, stop = fpbSlot(b, offset)
				}
			}
			if !stop && mc&(1<<core.R10) != 0 {
				if offset, ok = fpbStep(c, offset); !ok {
					offset, stop = fpbSlot(c, offset)
				}
			}
			if !stop && md&(1<<core.R10) != 0 {
				if offset, ok = fpbStep(d, offset); !ok {
					offset, stop = fpbSlot(d, offset)
				}
			}
			fpb = !stop
		}
		insns = insns[4:]
	}
	for i := range insns {
		ins := &insns[i]
		used |= t[ins.Dst] | t[ins.Src]
		if fpb {
			var stop bool
			offset, stop = fpbSlot(ins, offset)
			fpb = !stop
		}
	}
	return used, -offset &^ 7
}

// regBad marks a register number past r10 in regBit.
const regBad = 1 << 16

// regBit maps a register field to its bit in findUsedCalleeRegs's set:
// 1 << (r & 15), as the emitters index bpf2a64 by r & 15, and regBad for
// numbers past r10.
var regBit = func() (t [256]uint32) {
	for r := range t {
		t[r] = 1 << (r & 15)
		if r >= core.NumRegs {
			t[r] |= regBad
		}
	}
	return t
}()

// firstBadReg is the first slot naming a register past r10, or -1; the
// second slot of an ld_imm64 is data and does not count.
func firstBadReg(insns []core.Insn) int {
	for i := range insns {
		ins := &insns[i]
		if ins.Dst >= core.NumRegs || ins.Src >= core.NumRegs {
			if i == 0 || !insns[i-1].IsLdImm64() {
				return i
			}
		}
	}
	return -1
}

// pushCalleeRegs is push_callee_regs: pairs, the odd one out with xzr to
// keep sp 16-byte aligned.
func (ctx *jitCtx) pushCalleeRegs() {
	n, regs := ctx.nrUsedCalleeReg, ctx.usedCalleeReg
	i := 0
	for ; i+1 < n; i += 2 {
		ctx.emit(push(regs[i], regs[i+1]))
	}
	if i < n {
		ctx.emit(push(regs[i], zr))
	}
}

// popCalleeRegs is pop_callee_regs: pushCalleeRegs undone.
func (ctx *jitCtx) popCalleeRegs() {
	n, regs := ctx.nrUsedCalleeReg, ctx.usedCalleeReg
	i := n - 1
	if n%2 != 0 {
		ctx.emit(pop(regs[i], zr))
		i--
	}
	for ; i > 0; i -= 2 {
		ctx.emit(pop(regs[i-1], regs[i]))
	}
}

// buildPrologueLegacy is build_prologue as it was before the tailcall
// hierarchy fix (Linux 6.11 and earlier): every callee-saved register the
// JIT may use is pushed, the count itself lives in x26, and r10 accesses
// go through FP_BOTTOM. Frame, high to low:
//
//	x29, x30      <- x29
//	x19, x20
//	x21, x22
//	x25, x26      the caller's r10 and count
//	x27, x28      <- x25 (r10)
//	              main: x26 = 0, then PROLOGUE_OFFSET: tail calls enter
//	              here, keeping the caller's pushes and its count in x26
//	BPF stack     <- x27 = x25 - fpb_offset
//	              <- sp
//
// A subprogram saves x26 with the rest and restores it on return, so tail
// calls made inside it count on a copy the caller never sees: the bug
// 66ff4d61dc12 fixed.
func (ctx *jitCtx) buildPrologueLegacy() error {
	c := ctx.c
	idx0 := ctx.idx
	if c.opts.BTI {
		ctx.emit(btiJC)
	}
	ctx.emit(mov(true, x9, lr))
	ctx.emit(nop)
	if c.opts.PAC {
		ctx.emit(paciasp)
	}
	ctx.emit(push(fp, lr))
	ctx.emit(mov(true, fp, sp))
	ctx.emit(push(x19, x20))
	ctx.emit(push(x21, x22))
	ctx.emit(push(x25, tcc))
	ctx.emit(push(fpBottom, x28))
	ctx.emit(mov(true, bpf2a64[core.R10], sp))
	if ctx.fn == 0 {
		// Initialize tail_call_cnt.
		ctx.emit(movz(true, tcc, 0, 0))
		if cur := ctx.idx - idx0; cur != c.prologueOffset {
			return ctx.errorf(-1, "PROLOGUE_OFFSET = %d, expected %d!", cur, c.prologueOffset)
		}
		if c.opts.BTI {
			ctx.emit(btiJ)
		}
	}
	ctx.emit(subImm(true, fpBottom, bpf2a64[core.R10], ctx.fpbOffset))
	ctx.emit(subImm(true, sp, sp, ctx.stackSize))
	return nil
}

// findFpbOffset is the legacy JIT's find_fpb_offset: 0 when r10 may change
// (it is the destination of a load, an ALU operation or a fetching atomic),
// else the most negative offset used through r10 in ST/STX/LDX MEM,
// negated and rounded down to 8.
func findFpbOffset(insns []core.Insn) int {
	offset := 0
	for i := range insns {
		var stop bool
		if offset, stop = fpbSlot(&insns[i], offset); stop {
			return 0
		}
	}
	return -offset &^ 7
}

// fpbStep is fpbSlot for its commonest cases, a store through r10 and a
// load from it into another register, small enough to inline: ok is
// false for any other slot, which fpbSlot must see.
func fpbStep(ins *core.Insn, offset int) (_ int, ok bool) {
	if ins.Op&0xe6 == core.ST|core.MEM && ins.Dst == core.R10 || // ST or STX MEM
		ins.Op&0xe7 == core.LDX|core.MEM && ins.Src == core.R10 && ins.Dst != core.R10 {
		return min(offset, int(ins.Off)), true
	}
	return offset, false
}

// fpbSlot is find_fpb_offset's loop body for one slot, given offset, the
// most negative offset through r10 before it: the new one, or stop when
// r10 may change.
func fpbSlot(ins *core.Insn, offset int) (_ int, stop bool) {
	// Every case below needs r10 as dst or src.
	if ins.Dst != core.R10 && ins.Src != core.R10 {
		return offset, false
	}
	switch ins.Class() {
	case core.ST, core.STX:
		if ins.Class() == core.STX && ins.Mode() == core.ATOMIC && ins.Src == core.R10 {
			switch ins.Imm {
			case core.AtomicXchg, core.AtomicAdd | core.Fetch, core.AtomicAnd | core.Fetch,
				core.AtomicXor | core.Fetch, core.AtomicOr | core.Fetch:
				return 0, true
			}
		}
		if ins.Mode() == core.MEM && ins.Dst == core.R10 && int(ins.Off) < offset {
			offset = int(ins.Off)
		}
	case core.JMP, core.JMP32:
	case core.LDX, core.LD:
		if ins.Dst == core.R10 {
			return 0, true
		}
		if ins.Class() == core.LDX && ins.Mode() == core.MEM && ins.Src == core.R10 && int(ins.Off) < offset {
			offset = int(ins.Off)
		}
	default:
		if ins.Dst == core.R10 {
			return 0, true
		}
	}
	return offset, false
}

// buildEpilogue is build_epilogue for the scheme in use.
func (ctx *jitCtx) buildEpilogue() {
	r0 := bpf2a64[core.R0]
	if ctx.c.legacy {
		ctx.emit(addImm(true, sp, sp, ctx.stackSize))
		ctx.emit(pop(fpBottom, x28))
		ctx.emit(pop(x25, tcc))
		ctx.emit(pop(x21, x22))
		ctx.emit(pop(x19, x20))
	} else {
		if ctx.stackSize != 0 {
			ctx.emit(addImm(true, sp, sp, ctx.stackSize))
		}
		ctx.popCalleeRegs()
		// Drop the count (or the copy of tcc_ptr) and restore the caller's
		// x26.
		ctx.emit(pop(zr, tcc))
	}
	ctx.emit(pop(fp, lr))
	// Move the return value from r0 (x7) to x0.
	ctx.emit(mov(true, x0, r0))
	if ctx.c.opts.PAC {
		ctx.emit(autiasp)
	}
	ctx.emit(ret(lr))
}

// buildPLT is build_plt: the long-jump slot an fentry trampoline out of
// BL range is reached through, "ldr x10, target; br x10", its 8-byte
// target aligned after it. The kernel points the target at dummy_tramp;
// jitsim attaches no trampolines and leaves it 0.
func (ctx *jitCtx) buildPLT() {
	// PLT_TARGET_OFFSET / AARCH64_INSN_SIZE is 2.
	if (ctx.idx+2)%2 != 0 {
		ctx.emit(nop)
	}
	ctx.emit(ldrLit64(tmp1, 8))
	ctx.emit(br(tmp1))
	if ctx.write {
		ctx.put(ctx.idx, 0)
		ctx.put(ctx.idx+1, 0)
	}
}
