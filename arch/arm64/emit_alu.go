package arm64

import (
	"math/bits"

	"jitsim/core"
)

// emitA64MovI is emit_a64_mov_i: a 32-bit immediate in one or two
// instructions. A negative high half starts from MOVN, so small negative
// values take one instruction; in a 64-bit register the result is the
// sign-extended immediate, in a 32-bit one its zero extension.
func (ctx *jitCtx) emitA64MovI(is64 bool, r reg, val int32) {
	hi := uint32(val) >> 16
	lo := uint32(val) & 0xffff
	if hi&0x8000 != 0 {
		if hi == 0xffff {
			ctx.emit(movn(is64, r, ^lo&0xffff, 0))
		} else {
			ctx.emit(movn(is64, r, ^hi&0xffff, 16))
			if lo != 0xffff {
				ctx.emit(movk(is64, r, lo, 0))
			}
		}
		return
	}
	ctx.emit(movz(is64, r, lo, 0))
	if hi != 0 {
		ctx.emit(movk(is64, r, hi, 16))
	}
}

// i64i16Blocks is i64_i16_blocks: how many 16-bit chunks of val differ
// from 0 (or from 0xffff when inverse).
func i64i16Blocks(val uint64, inverse bool) int {
	if inverse {
		val = ^val
	}
	// Without a branch per chunk: bit 15 of a chunk of t is set when the
	// chunk's low 15 bits carry into it or it was set already.
	const low = 0x7fff_7fff_7fff_7fff
	t := (val&low + low | val) &^ low
	return bits.OnesCount64(t)
}

// emitA64MovI64 is emit_a64_mov_i64: values that fit in 32 bits go through
// the 32-bit form; others start with MOVZ or MOVN (whichever leaves fewer
// chunks to fill) at the highest significant chunk and MOVK the rest,
// highest first.
func (ctx *jitCtx) emitA64MovI64(r reg, val uint64) {
	if val>>32 == 0 {
		ctx.emitA64MovI(false, r, int32(uint32(val)))
		return
	}
	inverse := i64i16Blocks(val, true) < i64i16Blocks(val, false)
	top, skip := val, uint64(0)
	if inverse {
		top, skip = ^val, 0xffff
	}
	// max(round_down(fls64(x) - 1, 16), 0); round_down of -1 is -16. The
	// shifts are masked to 63, which they never exceed, so that Go needs
	// no guard for larger ones.
	shift := max((bits.Len64(top)-1)&^15, 0)
	if inverse {
		ctx.emit(movn(true, r, uint32(top>>(shift&63))&0xffff, shift))
	} else {
		ctx.emit(movz(true, r, uint32(top>>(shift&63))&0xffff, shift))
	}
	for shift -= 16; shift >= 0; shift -= 16 {
		if chunk := val >> (shift & 63) & 0xffff; chunk != skip {
			ctx.emit(movk(true, r, uint32(chunk), shift))
		}
	}
}

// emitAddrMovI64 is emit_addr_mov_i64: a kernel address (top 16 bits all
// ones) in a fixed three instructions, MOVN for the low chunk and MOVK for
// the next two, so call sequences have the same length in every pass
// whatever the address.
func (ctx *jitCtx) emitAddrMovI64(r reg, val uint64) {
	ctx.emit(movn(true, r, uint32(^val&0xffff), 0))
	// The kernel's loop over shift 16 and 32, unrolled so that the
	// encoders' range checks on the constant shifts fold away.
	ctx.emit(movk(true, r, uint32(val>>16&0xffff), 16))
	ctx.emit(movk(true, r, uint32(val>>32&0xffff), 32))
}

// isAddSubImm is is_addsub_imm: a 12-bit immediate or one shifted by 12.
func isAddSubImm(imm uint32) bool { return imm&^0xfff == 0 || imm&^0xfff000 == 0 }

// emitA64AddI is emit_a64_add_i: ADD #imm, SUB #-imm, or the immediate in
// tmp and a register ADD.
func (ctx *jitCtx) emitA64AddI(is64 bool, dst, src, tmp reg, imm int32) {
	switch {
	case isAddSubImm(uint32(imm)):
		ctx.emit(addImm(is64, dst, src, int(imm)))
	case isAddSubImm(-uint32(imm)):
		ctx.emit(subImm(is64, dst, src, int(-uint32(imm))))
	default:
		ctx.emitA64MovI(is64, tmp, imm)
		ctx.emit(add(is64, dst, src, tmp))
	}
}

// emitLogicImm is the AND/ORR/EOR immediate cases of build_insn: the
// logical immediate when A64_*_I can encode it, else the value in tmp.
// The operation comes as the two encodings' opcode bits (andImmOp and
// andOp, ...), not as encoder funcs, so that no indirect call sits in the
// JIT's inner loop.
func (ctx *jitCtx) emitLogicImm(is64 bool, dst reg, imm int32, immOp, regOp uint32) {
	if w := logicImm(immOp, is64, dst, dst, imm); w != breakFault {
		ctx.emit(w)
		return
	}
	ctx.emitA64MovI(is64, tmp1, imm)
	ctx.emit(shiftedReg(regOp, is64, dst, dst, tmp1))
}

// aluRegOp maps the opcode of each ALU and ALU64 register operation whose
// code is one instruction, dst = dst op src (ADD, SUB, AND, ORR, EOR,
// MUL, LSLV, LSRV, ASRV, the width in sf), to that instruction with all
// three registers 0. buildBody ORs the registers in (Rm = src, Rn = Rd =
// dst) instead of calling emitALU; the word is what the builders make,
// which emitALU uses for the same cases. The register move (A64_MOV, an
// ADD of 0: Rn = src, Rd = dst) is there too, marked regOpMov, for when
// off and imm are 0 (else it is movsx or unsupported).
var aluRegOp = func() (t [256]uint32) {
	for _, c := range []uint8{core.ALU, core.ALU64} {
		is64 := c == core.ALU64
		t[c|core.Add|core.X] = add(is64, 0, 0, 0)
		t[c|core.Sub|core.X] = sub(is64, 0, 0, 0)
		t[c|core.And|core.X] = and(is64, 0, 0, 0)
		t[c|core.Or|core.X] = orr(is64, 0, 0, 0)
		t[c|core.Xor|core.X] = eor(is64, 0, 0, 0)
		t[c|core.Mul|core.X] = mul(is64, 0, 0, 0)
		t[c|core.Lsh|core.X] = lslv(is64, 0, 0, 0)
		t[c|core.Rsh|core.X] = lsrv(is64, 0, 0, 0)
		t[c|core.Arsh|core.X] = asrv(is64, 0, 0, 0)
		t[c|core.Mov|core.X] = mov(is64, 0, 0) | regOpMov
	}
	return t
}()

// regOpMov marks the move in aluRegOp: a bit of the Rm field, which an
// ADD (immediate) does not have (it is part of its imm12, 0 for a move).
const regOpMov = 1 << 16

// emitWithTmp1 is emit_a64_mov_i(is64, tmp1, imm) and then w, which uses
// tmp1. With w worked out by the caller, nothing of the caller's is
// needed after the call, so Go spills nothing around it.
func (ctx *jitCtx) emitWithTmp1(is64 bool, imm int32, w uint32) {
	ctx.emitA64MovI(is64, tmp1, imm)
	ctx.emit(w)
}

// emitALU is build_insn's ALU and ALU64 cases. 32-bit operations use the W
// forms, which zero the upper half as BPF requires, so no explicit
// zero-extension follows them.
func (ctx *jitCtx) emitALU(i int, ins *core.Insn) error {
	op := ins.Op
	is64 := op&7 == core.ALU64
	dst, src := bpf2a64[ins.Dst&15], bpf2a64[ins.Src&15]
	imm := ins.Imm
	// Switching on op>>3 (operation and source, 32 values) lets the
	// compiler use a jump table.
	switch op >> 3 {
	case (core.Mov | core.X) >> 3:
		// addr_space_cast and mov_percpu_addr (imm != 0) need arenas and
		// per-CPU data jitsim does not model.
		if ins.Imm != 0 {
			return ctx.unsupported(i)
		}
		switch ins.Off {
		case 0:
			ctx.emit(mov(is64, dst, src))
		case 8:
			ctx.emit(sxtb(is64, dst, src))
		case 16:
			ctx.emit(sxth(is64, dst, src))
		case 32:
			ctx.emit(sxtw(is64, dst, src))
		default:
			return ctx.fieldError(i, "movsx offset %d is not 8, 16 or 32", int(ins.Off))
		}
	case (core.Add | core.X) >> 3:
		ctx.emit(add(is64, dst, dst, src))
	case (core.Sub | core.X) >> 3:
		ctx.emit(sub(is64, dst, dst, src))
	case (core.And | core.X) >> 3:
		ctx.emit(and(is64, dst, dst, src))
	case (core.Or | core.X) >> 3:
		ctx.emit(orr(is64, dst, dst, src))
	case (core.Xor | core.X) >> 3:
		ctx.emit(eor(is64, dst, dst, src))
	case (core.Mul | core.X) >> 3:
		ctx.emit(mul(is64, dst, dst, src))
	case (core.Div | core.X) >> 3, (core.Mod | core.X) >> 3:
		if ins.Off != 0 && ins.Off != 1 {
			return ctx.fieldError(i, "div/mod offset %d is not 0 or 1", int(ins.Off))
		}
		ctx.emitDivModX(is64, ins.OpCode() == core.Div, ins.Off == 1, dst, src)
	case (core.Lsh | core.X) >> 3:
		ctx.emit(lslv(is64, dst, dst, src))
	case (core.Rsh | core.X) >> 3:
		ctx.emit(lsrv(is64, dst, dst, src))
	case (core.Arsh | core.X) >> 3:
		ctx.emit(asrv(is64, dst, dst, src))
	case (core.Neg | core.K) >> 3:
		ctx.emit(neg(is64, dst, dst))
	case (core.End | core.ToLE) >> 3, (core.End | core.ToBE) >> 3:
		return ctx.emitEnd(i, ins, dst)
	case (core.Mov | core.K) >> 3:
		ctx.emitA64MovI(is64, dst, imm)
	case (core.Add | core.K) >> 3:
		ctx.emitA64AddI(is64, dst, dst, tmp1, imm)
	case (core.Sub | core.K) >> 3:
		switch {
		case isAddSubImm(uint32(imm)):
			ctx.emit(subImm(is64, dst, dst, int(imm)))
		case isAddSubImm(-uint32(imm)):
			ctx.emit(addImm(is64, dst, dst, int(-uint32(imm))))
		default:
			ctx.emitWithTmp1(is64, imm, sub(is64, dst, dst, tmp1))
		}
	case (core.And | core.K) >> 3:
		ctx.emitLogicImm(is64, dst, imm, andImmOp, andOp)
	case (core.Or | core.K) >> 3:
		ctx.emitLogicImm(is64, dst, imm, orrImmOp, orrOp)
	case (core.Xor | core.K) >> 3:
		ctx.emitLogicImm(is64, dst, imm, eorImmOp, eorOp)
	case (core.Mul | core.K) >> 3:
		ctx.emitWithTmp1(is64, imm, mul(is64, dst, dst, tmp1))
	case (core.Div | core.K) >> 3, (core.Mod | core.K) >> 3:
		if ins.Off != 0 && ins.Off != 1 {
			return ctx.fieldError(i, "div/mod offset %d is not 0 or 1", int(ins.Off))
		}
		ctx.emitDivModK(is64, ins.OpCode() == core.Div, ins.Off == 1, dst, imm)
	case (core.Lsh | core.K) >> 3:
		ctx.emit(lslImm(is64, dst, dst, shiftImm(is64, imm)))
	case (core.Rsh | core.K) >> 3:
		ctx.emit(lsrImm(is64, dst, dst, shiftImm(is64, imm)))
	case (core.Arsh | core.K) >> 3:
		ctx.emit(asrImm(is64, dst, dst, shiftImm(is64, imm)))
	default:
		return ctx.unsupported(i)
	}
	return nil
}

// shiftImm is the shift count of an immediate shift. The kernel's verifier
// rejects counts outside the register ("invalid shift"), so its JIT never
// sees them (A64_LSL would give AARCH64_BREAK_FAULT). jitsim JITs such
// programs anyway and masks the count as RFC 9669 defines (mod 32 or 64),
// which is also what the x86 shift instructions do with theirs.
func shiftImm(is64 bool, imm int32) int { return int(imm) & (regBits(is64) - 1) }

// emitEnd is BPF_END: le/be in the ALU class, bswap in ALU64. On a
// little-endian CPU "le" only truncates (UXTH/UXTW, nothing for 64), the
// others reverse: REV16 then UXTH, REV of the W register (which clears the
// upper half by itself), REV of the X register.
func (ctx *jitCtx) emitEnd(i int, ins *core.Insn, dst reg) error {
	is64 := ins.Class() == core.ALU64
	if is64 && ins.Source() != core.ToLE {
		return ctx.unsupported(i)
	}
	if !is64 && ins.Source() == core.ToLE {
		switch ins.Imm {
		case 16:
			ctx.emit(uxth(is64, dst, dst))
		case 32:
			ctx.emit(uxtw(is64, dst, dst))
		case 64:
		default:
			return ctx.fieldError(i, "byte swap width %d is not 16, 32 or 64", int(ins.Imm))
		}
		return nil
	}
	switch ins.Imm {
	case 16:
		ctx.emit(rev16(is64, dst, dst))
		ctx.emit(uxth(is64, dst, dst))
	case 32:
		ctx.emit(rev32(false, dst, dst))
	case 64:
		ctx.emit(rev64(dst, dst))
	default:
		return ctx.fieldError(i, "byte swap width %d is not 16, 32 or 64", int(ins.Imm))
	}
	return nil
}

// emitDivModK is DIV/MOD by an immediate. The verifier's do_misc_fixups
// replaces signed division by -1 before any JIT runs (sdiv: dst = -dst;
// smod: dst = 0) and rejects division by a zero immediate; jitsim emits the
// A64 code of that replacement itself. Otherwise the immediate goes to a
// register: UDIV/SDIV for DIV, and for MOD the quotient in tmp and
// MSUB dst = dst - tmp * divisor.
func (ctx *jitCtx) emitDivModK(is64, isDiv, signed bool, dst reg, imm int32) {
	switch {
	case signed && imm == -1 && isDiv:
		ctx.emit(neg(is64, dst, dst)) // BPF_NEG (ALU or ALU64)
	case signed && imm == -1:
		ctx.emitA64MovI(false, dst, 0) // BPF_MOV32_IMM(dst, 0)
	case isDiv:
		ctx.emitA64MovI(is64, tmp1, imm)
		ctx.emit(divide(signed, is64, dst, dst, tmp1))
	default:
		ctx.emitA64MovI(is64, tmp2, imm)
		ctx.emit(divide(signed, is64, tmp1, dst, tmp2))
		ctx.emit(msub(is64, dst, dst, tmp1, tmp2))
	}
}

// divide is SDIV or UDIV.
func divide(signed, is64 bool, rd, rn, rm reg) uint32 {
	if signed {
		return sdiv(is64, rd, rn, rm)
	}
	return udiv(is64, rd, rn, rm)
}

// emitDivModX is DIV/MOD by a register, preceded by the guard the kernel's
// verifier inserts in do_misc_fixups before the JIT runs, emitted here as
// the A64 code the JIT produces for those patched instructions (each
// commented with the BPF instruction it stands for; branch distances count
// the A64 instructions between them). The guard is what gives the RFC 9669
// results: x/0 = 0, x%0 = x (its low 32 bits for the 32-bit forms),
// MIN/-1 = MIN and MIN%-1 = 0.
//
// A64 needs it less than x86 does: UDIV/SDIV by zero already give 0 and
// SDIV of MIN by -1 gives MIN without trapping, so MSUB yields x for x%0
// and 0 for MIN%-1. The kernel does not rely on that; jitsim mirrors the
// fixup so its code is the code the kernel runs.
func (ctx *jitCtx) emitDivModX(is64, isDiv, signed bool, dst, src reg) {
	switch {
	case isDiv && !signed: // chk_and_div
		ctx.emit(cmpImm(is64, src, 0)) // if src != 0 goto +2 (JMP or JMP32)
		ctx.emit(bCond(condNE, 3))     //   -> udiv
		ctx.emit(eor(false, dst, dst, dst))
		ctx.emit(b(2)) // goto +1 -> past udiv
		ctx.emit(divide(signed, is64, dst, dst, src))
	case !isDiv && !signed && is64: // chk_and_mod, last two dropped for ALU64
		ctx.emit(cmpImm(true, src, 0)) // if src == 0 goto +1
		ctx.emit(bCond(condEQ, 3))     //   -> past msub
		ctx.emit(divide(signed, true, tmp1, dst, src))
		ctx.emit(msub(true, dst, dst, tmp1, src))
	case !isDiv && !signed: // chk_and_mod
		ctx.emit(cmpImm(false, src, 0)) // if w_src == 0 goto +2
		ctx.emit(bCond(condEQ, 4))      //   -> w_dst = w_dst
		ctx.emit(divide(signed, false, tmp1, dst, src))
		ctx.emit(msub(false, dst, dst, tmp1, src))
		ctx.emit(b(2))                 // goto +1
		ctx.emit(mov(false, dst, dst)) // BPF_MOV32_REG(dst, dst)
	case isDiv: // chk_and_sdiv
		ctx.emit(mov(true, ax, src))      // AX = src
		ctx.emit(addImm(is64, ax, ax, 1)) // AX += 1: {-1, 0} -> {0, 1}
		ctx.emit(cmpImm(is64, ax, 1))     // if AX > 1 goto +4
		ctx.emit(bCond(condHI, 6))        //   -> sdiv
		ctx.emit(cmpImm(is64, ax, 0))     // if AX == 0 goto +1
		ctx.emit(bCond(condEQ, 2))        //   -> neg
		ctx.emitA64MovI(is64, dst, 0)     // dst = 0 (src was 0)
		ctx.emit(neg(is64, dst, dst))     // dst = -dst (MIN stays MIN)
		ctx.emit(b(2))                    // goto +1 -> past sdiv
		ctx.emit(divide(signed, is64, dst, dst, src))
	default: // chk_and_smod
		ctx.emit(mov(true, ax, src))      // AX = src
		ctx.emit(addImm(is64, ax, ax, 1)) // AX += 1
		ctx.emit(cmpImm(is64, ax, 1))     // if AX > 1 goto +3
		ctx.emit(bCond(condHI, 5))        //   -> smod
		ctx.emit(cmpImm(is64, ax, 1))     // if AX == 1 goto +3 (+4 for ALU)
		if is64 {
			ctx.emit(bCond(condEQ, 5)) //   -> end (src was 0: dst unchanged)
		} else {
			ctx.emit(bCond(condEQ, 6)) //   -> w_dst = w_dst
		}
		ctx.emitA64MovI(false, dst, 0) // w_dst = 0 (src was -1)
		ctx.emit(b(3))                 // goto +1
		ctx.emit(divide(signed, is64, tmp1, dst, src))
		ctx.emit(msub(is64, dst, dst, tmp1, src))
		if !is64 {
			ctx.emit(b(2))                 // goto +1
			ctx.emit(mov(false, dst, dst)) // BPF_MOV32_REG(dst, dst)
		}
	}
}
