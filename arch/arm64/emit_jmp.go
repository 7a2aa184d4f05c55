package arm64

import "jitsim/core"

// jmpCond maps a BPF jump operation (op >> 4) to the A64 condition
// build_insn branches on after CMP (or TST for JSET).
var jmpCond = [16]cond{
	core.JEQ >> 4:  condEQ,
	core.JGT >> 4:  condHI,
	core.JGE >> 4:  condCS,
	core.JSET >> 4: condNE,
	core.JNE >> 4:  condNE,
	core.JSGT >> 4: condGT,
	core.JSGE >> 4: condGE,
	core.JLT >> 4:  condCC,
	core.JLE >> 4:  condLS,
	core.JSLT >> 4: condLT,
	core.JSLE >> 4: condLE,
}

// bpf2a64Offset is bpf2a64_offset: the distance in A64 instructions from
// the branch, the last instruction of slot i, to the first of slot t
// (within the function or its end). It reads offset[] as the current
// pass left it, so the sizing pass computes garbage the kernel never
// writes either (offset[i+1] is still 0 there).
func (ctx *jitCtx) bpf2a64Offset(i, t int) int {
	return int(ctx.offset[t]) - (int(ctx.offset[i+1]) - 1)
}

// jumpOutside is emitJump's error for a target outside the function,
// out of line so that the check costs the branch little.
func (ctx *jitCtx) jumpOutside(i, t int) error {
	return ctx.errorf(i, "%s: jump to slot %d is outside its function (slots %d..%d)",
		ctx.what(i), ctx.first+t, ctx.first, ctx.first+len(ctx.insns)-1)
}

// checkImm is check_imm(bits, imm): the kernel's range check before it
// encodes a branch. It tests the magnitude against bits, not bits-1, so
// offsets just past the signed field pass it and the encoder's
// AARCH64_BREAK_FAULT stops them in validate_code instead.
func (ctx *jitCtx) checkImm(i, bits, imm int) error {
	// imm > 0 && imm>>bits != 0 || imm < 0 && ^imm>>bits != 0, in one
	// comparison: the bits above the field must all equal the sign.
	if imm>>(uint(bits)&63) != imm>>63 {
		return ctx.immOutOfRange(i, bits, imm)
	}
	return nil
}

// immOutOfRange is checkImm's error, out of line so that the check
// inlines into the emitters.
func (ctx *jitCtx) immOutOfRange(i, bits, imm int) error {
	return ctx.errorf(i, "%s: branch offset imm=%d(%#x) out of range for imm%d", ctx.what(i), imm, uint32(imm), bits)
}

// emitJump is build_insn's JMP and JMP32 cases, switching on the
// operation first (a jump table) and decoding only what each case needs.
// Jumps end with the branch, the only word of them that depends on the
// layout: B to the target for JA (JMP|JA jumps by off, JMP32|JA, gotol,
// by imm), B to the epilogue for exit, B.cond after the compare
// (emit_cond_jmp). The sizing pass notes it for replayBody, which aims it
// again.
func (ctx *jitCtx) emitJump(i int, ins *core.Insn) error {
	op := ins.Op & 0xf0
	is64 := ins.Op&7 == core.JMP
	switch op {
	case core.JA:
	case core.Call:
		if !is64 {
			return ctx.unsupported(i)
		}
		return ctx.emitCallInsn(i, ins)
	case core.TailCall:
		if !is64 {
			return ctx.unsupported(i)
		}
		if ctx.c.legacy {
			return ctx.emitBpfTailCallLegacy(i)
		}
		ctx.emitBpfTailCall()
		return nil
	case core.Exit:
		if !is64 {
			return ctx.unsupported(i)
		}
		// The last instruction falls through into the epilogue.
		if i == len(ctx.insns)-1 {
			return nil
		}
	case 0xe0: // no such jump
		return ctx.unsupported(i)
	case core.JSET:
		dst := bpf2a64[ins.Dst&15]
		if ins.Op&core.X != 0 {
			ctx.emit(tst(is64, dst, bpf2a64[ins.Src&15]))
		} else if w := tstImm(is64, dst, ins.Imm); w != breakFault {
			ctx.emit(w)
		} else {
			ctx.emitWithTmp1(is64, ins.Imm, tst(is64, dst, tmp1))
		}
	default:
		dst := bpf2a64[ins.Dst&15]
		if ins.Op&core.X != 0 {
			ctx.emit(cmp(is64, dst, bpf2a64[ins.Src&15]))
			break
		}
		imm := uint32(ins.Imm)
		switch {
		case isAddSubImm(imm):
			ctx.emit(cmpImm(is64, dst, int(imm)))
		case isAddSubImm(-imm):
			ctx.emit(cmnImm(is64, dst, int(-imm)))
		default:
			ctx.emitWithTmp1(is64, ins.Imm, cmp(is64, dst, tmp1))
		}
	}

	// The branch.
	kind, t := patchBranch19, -1
	var jo int
	if op == core.Exit {
		kind = patchBranch26
		jo = ctx.epilogueOffset - ctx.idx
	} else {
		off := int(ins.Off)
		if op == core.JA {
			kind = patchBranch26
			if !is64 {
				off = int(ins.Imm)
			}
		}
		// offset[] has a slot more than the function: its end.
		t = i + 1 + off
		if uint(t) >= uint(len(ctx.offset)) {
			return ctx.jumpOutside(i, t)
		}
		jo = ctx.bpf2a64Offset(i, t)
	}
	c := jmpCond[op>>4]
	if ctx.image == nil {
		s := ctx.c.scratch
		s.patch = append(s.patch, patch{slot: int32(i), target: int32(t), kind: kind, cond: c})
		// The sizing pass's branch is aimed with offsets not yet known,
		// and replayBody aims it again over whatever is recorded here:
		// only check_imm's verdict and the length count now.
		if kind == patchBranch26 {
			if err := ctx.checkImm(i, 26, jo); err != nil {
				return err
			}
		} else if err := ctx.checkImm(i, 19, jo); err != nil {
			return err
		}
		ctx.idx++
		return nil
	}
	if kind == patchBranch26 {
		if err := ctx.checkImm(i, 26, jo); err != nil {
			return err
		}
		ctx.emit(b(jo))
		return nil
	}
	if err := ctx.checkImm(i, 19, jo); err != nil {
		return err
	}
	ctx.emit(bCond(c, jo))
	return nil
}
