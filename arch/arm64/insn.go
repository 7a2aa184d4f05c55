package arm64

import "math/bits"

// Builders for the A64 instructions the kernel's BPF JIT emits. Each is a
// pure function returning one instruction word, like an A64_* macro of
// bpf_jit.h, and named after the mnemonic and operand form. Operands that
// cannot be encoded give breakFault, exactly as the aarch64_insn_gen_*
// encoders of arch/arm64/lib/insn.c return AARCH64_BREAK_FAULT; the JIT's
// validate_code pass then refuses the image. Branch offsets count
// instructions, as the A64_B/A64_B_/A64_CBZ macros take them.

// breakFault is AARCH64_BREAK_FAULT, "brk #0x100" (FAULT_BRK_IMM): the
// encoders' error value, and what jit_fill_hole writes into unused image
// space.
const breakFault uint32 = 0xd4202000

// cond is an A64 condition code (A64_COND_*).
type cond uint8

const (
	condEQ cond = 0x0 // ==
	condNE cond = 0x1 // !=
	condCS cond = 0x2 // unsigned >=
	condCC cond = 0x3 // unsigned <
	condHI cond = 0x8 // unsigned >
	condLS cond = 0x9 // unsigned <=
	condGE cond = 0xa // signed >=
	condLT cond = 0xb // signed <
	condGT cond = 0xc // signed >
	condLE cond = 0xd // signed <=
)

// lsSize is AARCH64_INSN_SIZE_8.._64: log2 of an access's byte width, the
// "size" field of loads and stores. BPF's B/H/W/DW map onto it 1:1.
type lsSize uint8

const (
	size8 lsSize = iota
	size16
	size32
	size64
)

// System instructions: fixed words (A64_NOP, A64_PACIASP, ... in bpf_jit.h,
// all but DMB in the HINT space, so they execute as NOPs on CPUs without
// pointer authentication or BTI).
const (
	nop     uint32 = 0xd503201f // hint #0
	paciasp uint32 = 0xd503233f // hint #25: sign LR with key A, SP as modifier
	autiasp uint32 = 0xd50323bf // hint #29: authenticate LR
	btiC    uint32 = 0xd503245f // hint #34: landing pad for BLR (calls)
	btiJ    uint32 = 0xd503249f // hint #36: landing pad for BR (tail calls)
	btiJC   uint32 = 0xd50324df // hint #38: both
	dmbISH  uint32 = 0xd5033bbf // A64_DMB_ISH
)

func sfBit(is64 bool) uint32 {
	if is64 {
		return 1 << 31
	}
	return 0
}

// sizeBits is the size field of exclusive and LSE accesses (A64_SIZE).
func sizeBits(is64 bool) uint32 {
	if is64 {
		return 3 << 30
	}
	return 2 << 30
}

func fitsSigned(v int, n uint) bool { return v >= -(1<<(n-1)) && v < 1<<(n-1) }

func rd5(r reg) uint32 { return uint32(r) & 31 }

// b encodes B (Arm ARM C6.2.26), A64_B.
func b(imm26 int) uint32 {
	if !fitsSigned(imm26, 26) {
		return breakFault
	}
	return 0x14000000 | uint32(imm26)&0x3ffffff
}

// bl encodes BL (C6.2.34), A64_BL: the direct call of emit_direct_call.
func bl(imm26 int) uint32 {
	if !fitsSigned(imm26, 26) {
		return breakFault
	}
	return 0x94000000 | uint32(imm26)&0x3ffffff
}

// bCond encodes B.cond (C6.2.27), A64_B_.
func bCond(c cond, imm19 int) uint32 {
	if !fitsSigned(imm19, 19) {
		return breakFault
	}
	return 0x54000000 | (uint32(imm19)&0x7ffff)<<5 | uint32(c)
}

// cbz encodes CBZ (C6.2.48), A64_CBZ.
func cbz(is64 bool, rt reg, imm19 int) uint32 {
	if !fitsSigned(imm19, 19) {
		return breakFault
	}
	return sfBit(is64) | 0x34000000 | (uint32(imm19)&0x7ffff)<<5 | rd5(rt)
}

// cbnz encodes CBNZ (C6.2.47), A64_CBNZ.
func cbnz(is64 bool, rt reg, imm19 int) uint32 {
	if !fitsSigned(imm19, 19) {
		return breakFault
	}
	return sfBit(is64) | 0x35000000 | (uint32(imm19)&0x7ffff)<<5 | rd5(rt)
}

// br encodes BR (C6.2.37), A64_BR: the tail call's jump.
func br(rn reg) uint32 { return 0xd61f0000 | rd5(rn)<<5 }

// blr encodes BLR (C6.2.35), A64_BLR: emit_indirect_call.
func blr(rn reg) uint32 { return 0xd63f0000 | rd5(rn)<<5 }

// ret encodes RET (C6.2.254), A64_RET.
func ret(rn reg) uint32 { return 0xd65f0000 | rd5(rn)<<5 }

// lsImm is LDR/STR (immediate, unsigned offset) (C6.2.166 and friends):
// size:111001:opc:imm12:Rn:Rt, the offset scaled by the access size
// (aarch64_insn_gen_load_store_imm).
func lsImm(opc uint32, size lsSize, rt, rn reg, off int) uint32 {
	size &= 3 // as it is; spares Go's guard for shifts past 63
	scale := 1 << size
	if off < 0 || off&(scale-1) != 0 || off>>size > 0xfff {
		return breakFault
	}
	return uint32(size)<<30 | 0x39000000 | opc<<22 | uint32(off>>size)<<10 | rd5(rn)<<5 | rd5(rt)
}

// strImm encodes STRB/STRH/STR (immediate), A64_STRBI .. A64_STR64I.
func strImm(size lsSize, rt, rn reg, off int) uint32 { return lsImm(0, size, rt, rn, off) }

// ldrImm encodes LDRB/LDRH/LDR (immediate), A64_LDRBI .. A64_LDR64I.
func ldrImm(size lsSize, rt, rn reg, off int) uint32 { return lsImm(1, size, rt, rn, off) }

// ldrsImm encodes LDRSB/LDRSH/LDRSW (immediate) into an X register,
// A64_LDRSBI/A64_LDRSHI/A64_LDRSWI (AARCH64_INSN_LDST_SIGNED_LOAD_IMM_OFFSET).
func ldrsImm(size lsSize, rt, rn reg, off int) uint32 {
	if size == size64 {
		return breakFault
	}
	return lsImm(2, size, rt, rn, off)
}

// lsReg is LDR/STR (register): size:111000:opc:1:Rm:011:0:10:Rn:Rt, the
// offset register unscaled (option LSL, S=0) as aarch64_insn_gen_load_store_reg
// encodes it.
func lsReg(opc uint32, size lsSize, rt, rn, rm reg) uint32 {
	return uint32(size)<<30 | 0x38206800 | opc<<22 | rd5(rm)<<16 | rd5(rn)<<5 | rd5(rt)
}

// strReg encodes STRB/STRH/STR (register), A64_STRB .. A64_STR64.
func strReg(size lsSize, rt, rn, rm reg) uint32 { return lsReg(0, size, rt, rn, rm) }

// ldrReg encodes LDRB/LDRH/LDR (register), A64_LDRB .. A64_LDR64.
func ldrReg(size lsSize, rt, rn, rm reg) uint32 { return lsReg(1, size, rt, rn, rm) }

// ldrsReg encodes LDRSB/LDRSH/LDRSW (register) into an X register,
// A64_LDRSB/A64_LDRSH/A64_LDRSW.
func ldrsReg(size lsSize, rt, rn, rm reg) uint32 {
	if size == size64 {
		return breakFault
	}
	return lsReg(2, size, rt, rn, rm)
}

// ldrLit64 encodes LDR (literal, 64-bit) (C6.2.167), A64_LDR64LIT: the PLT's
// load of its target.
func ldrLit64(rt reg, byteOff int) uint32 {
	if byteOff&3 != 0 || !fitsSigned(byteOff>>2, 19) {
		return breakFault
	}
	return 0x58000000 | (uint32(byteOff>>2)&0x7ffff)<<5 | rd5(rt)
}

// stpPre encodes STP (64-bit, pre-index) (C6.2.321): [Rn, #off]!.
func stpPre(rt, rt2, rn reg, off int) uint32 {
	if off&7 != 0 || !fitsSigned(off>>3, 7) {
		return breakFault
	}
	return 0xa9800000 | (uint32(off>>3)&0x7f)<<15 | rd5(rt2)<<10 | rd5(rn)<<5 | rd5(rt)
}

// ldpPost encodes LDP (64-bit, post-index) (C6.2.164): [Rn], #off.
func ldpPost(rt, rt2, rn reg, off int) uint32 {
	if off&7 != 0 || !fitsSigned(off>>3, 7) {
		return breakFault
	}
	return 0xa8c00000 | (uint32(off>>3)&0x7f)<<15 | rd5(rt2)<<10 | rd5(rn)<<5 | rd5(rt)
}

// push is A64_PUSH(Rt, Rt2, A64_SP): sp -= 16; [sp] = Rt; [sp+8] = Rt2.
func push(rt, rt2 reg) uint32 { return stpPre(rt, rt2, sp, -16) }

// pop is A64_POP(Rt, Rt2, A64_SP): Rt = [sp]; Rt2 = [sp+8]; sp += 16.
func pop(rt, rt2 reg) uint32 { return ldpPost(rt, rt2, sp, 16) }

// ldxr encodes LDXR (C6.2.190), A64_LDXR: Rs and Rt2 are XZR.
func ldxr(is64 bool, rt, rn reg) uint32 {
	return sizeBits(is64) | 0x085f7c00 | rd5(rn)<<5 | rd5(rt)
}

// stxr encodes STXR (C6.2.340), A64_STXR(sf, Rt, Rn, Rs): Ws gets the status.
func stxr(is64 bool, rt, rn, rs reg) uint32 {
	return sizeBits(is64) | 0x08007c00 | rd5(rs)<<16 | rd5(rn)<<5 | rd5(rt)
}

// stlxr encodes STLXR (C6.2.311), A64_STLXR: STXR with release semantics.
func stlxr(is64 bool, rt, rn, rs reg) uint32 {
	return sizeBits(is64) | 0x0800fc00 | rd5(rs)<<16 | rd5(rn)<<5 | rd5(rt)
}

// atomicOp selects the ARMv8.1 LSE memory operation
// (AARCH64_INSN_MEM_ATOMIC_*): the o3 and opc fields.
type atomicOp uint32

const (
	atomicAdd atomicOp = 0x0 << 12
	atomicClr atomicOp = 0x1 << 12 // [Rn] &= ~Rs
	atomicEor atomicOp = 0x2 << 12
	atomicSet atomicOp = 0x3 << 12 // [Rn] |= Rs
	atomicSwp atomicOp = 0x8 << 12
)

// memOrder is AARCH64_INSN_MEM_ORDER_*: the A (acquire) and R (release)
// bits of an LSE instruction. The JIT uses none (ST<op>) or both (the "AL"
// forms).
type memOrder uint32

const (
	orderNone   memOrder = 0
	orderAcqRel memOrder = 3 << 22
)

// atomicLdOp encodes LD<op>{,A,L,AL} and SWP{,A,L,AL} (C6.2.120 ff.) as
// aarch64_insn_gen_atomic_ld_op: Rt = old [Rn]; [Rn] = [Rn] op Rs.
func atomicLdOp(is64 bool, op atomicOp, ord memOrder, rt, rn, rs reg) uint32 {
	return sizeBits(is64) | 0x38200000 | uint32(ord) | rd5(rs)<<16 | uint32(op) | rd5(rn)<<5 | rd5(rt)
}

// stadd is A64_STADD: LDADD with XZR as Rt and no ordering.
func stadd(is64 bool, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicAdd, orderNone, zr, rn, rs)
}

// stclr is A64_STCLR.
func stclr(is64 bool, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicClr, orderNone, zr, rn, rs)
}

// steor is A64_STEOR.
func steor(is64 bool, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicEor, orderNone, zr, rn, rs)
}

// stset is A64_STSET.
func stset(is64 bool, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicSet, orderNone, zr, rn, rs)
}

// ldaddal is A64_LDADDAL(sf, Rt, Rn, Rs).
func ldaddal(is64 bool, rt, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicAdd, orderAcqRel, rt, rn, rs)
}

// ldclral is A64_LDCLRAL.
func ldclral(is64 bool, rt, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicClr, orderAcqRel, rt, rn, rs)
}

// ldeoral is A64_LDEORAL.
func ldeoral(is64 bool, rt, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicEor, orderAcqRel, rt, rn, rs)
}

// ldsetal is A64_LDSETAL.
func ldsetal(is64 bool, rt, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicSet, orderAcqRel, rt, rn, rs)
}

// swpal is A64_SWPAL: Rt = old [Rn]; [Rn] = Rs.
func swpal(is64 bool, rt, rn, rs reg) uint32 {
	return atomicLdOp(is64, atomicSwp, orderAcqRel, rt, rn, rs)
}

// casal encodes CASAL (C6.2.43), A64_CASAL(sf, Rt, Rn, Rs): if [Rn] == Rs
// then [Rn] = Rt; Rs = old [Rn] either way (aarch64_insn_gen_cas with
// L and o0 set).
func casal(is64 bool, rt, rn, rs reg) uint32 {
	return sizeBits(is64) | 0x08e0fc00 | rd5(rs)<<16 | rd5(rn)<<5 | rd5(rt)
}

// addSubImm is ADD/ADDS/SUB/SUBS (immediate) as aarch64_insn_gen_add_sub_imm
// encodes them: a 12-bit immediate, or one shifted left by 12.
func addSubImm(op uint32, is64 bool, rd, rn reg, imm int) uint32 {
	if imm&^0xfff != 0 {
		if imm&^0xfff000 != 0 {
			return breakFault
		}
		op, imm = op|1<<22, imm>>12 // sh = 1
	}
	return sfBit(is64) | op | uint32(imm)<<10 | rd5(rn)<<5 | rd5(rd)
}

// addImm encodes ADD (immediate) (C6.2.4), A64_ADD_I.
func addImm(is64 bool, rd, rn reg, imm int) uint32 {
	return addSubImm(0x11000000, is64, rd, rn, imm)
}

// addsImm encodes ADDS (immediate) (C6.2.8), A64_ADDS_I.
func addsImm(is64 bool, rd, rn reg, imm int) uint32 {
	return addSubImm(0x31000000, is64, rd, rn, imm)
}

// subImm encodes SUB (immediate) (C6.2.357), A64_SUB_I.
func subImm(is64 bool, rd, rn reg, imm int) uint32 {
	return addSubImm(0x51000000, is64, rd, rn, imm)
}

// subsImm encodes SUBS (immediate) (C6.2.363), A64_SUBS_I.
func subsImm(is64 bool, rd, rn reg, imm int) uint32 {
	return addSubImm(0x71000000, is64, rd, rn, imm)
}

// cmnImm is A64_CMN_I: ADDS XZR, Rn, #imm.
func cmnImm(is64 bool, rn reg, imm int) uint32 { return addsImm(is64, zr, rn, imm) }

// cmpImm is A64_CMP_I: SUBS XZR, Rn, #imm.
func cmpImm(is64 bool, rn reg, imm int) uint32 { return subsImm(is64, zr, rn, imm) }

// mov is A64_MOV: ADD Rd, Rn, #0. The kernel uses the add form, not ORR,
// because it also moves SP ("mov x29, sp"); disassemblers show the
// SP-free cases as "add Rd, Rn, #0x0".
func mov(is64 bool, rd, rn reg) uint32 {
	return sfBit(is64) | 0x11000000 | rd5(rn)<<5 | rd5(rd) // addImm(is64, rd, rn, 0), spelled out to inline
}

// moveWide is MOVN/MOVZ/MOVK (aarch64_insn_gen_movewide): imm16 placed at
// bit shift (0 or 16 for W registers, up to 48 for X).
func moveWide(op uint32, is64 bool, rd reg, imm16 uint32, shift int) uint32 {
	max := 16
	if is64 {
		max = 48
	}
	if imm16 > 0xffff || shift < 0 || shift > max || shift&15 != 0 {
		return breakFault
	}
	return sfBit(is64) | op | uint32(shift>>4)<<21 | imm16<<5 | rd5(rd)
}

// movn encodes MOVN (C6.2.192), A64_MOVN: Rd = ~(imm16 << shift).
func movn(is64 bool, rd reg, imm16 uint32, shift int) uint32 {
	return moveWide(0x12800000, is64, rd, imm16, shift)
}

// movz encodes MOVZ (C6.2.193), A64_MOVZ: Rd = imm16 << shift.
func movz(is64 bool, rd reg, imm16 uint32, shift int) uint32 {
	return moveWide(0x52800000, is64, rd, imm16, shift)
}

// movk encodes MOVK (C6.2.191), A64_MOVK: insert imm16 at shift.
func movk(is64 bool, rd reg, imm16 uint32, shift int) uint32 {
	return moveWide(0x72800000, is64, rd, imm16, shift)
}

// shiftedReg is the add/sub and logical (shifted register) forms with a
// zero shift, as the A64_ADD/A64_AND... macros use them.
func shiftedReg(op uint32, is64 bool, rd, rn, rm reg) uint32 {
	return sfBit(is64) | op | rd5(rm)<<16 | rd5(rn)<<5 | rd5(rd)
}

// Opcode bits of the logical (shifted register and immediate) forms, for
// emitLogicImm.
const (
	andOp    uint32 = 0x0a000000
	orrOp    uint32 = 0x2a000000
	eorOp    uint32 = 0x4a000000
	andImmOp uint32 = 0x12000000
	orrImmOp uint32 = 0x32000000
	eorImmOp uint32 = 0x52000000
)

// add encodes ADD (shifted register) (C6.2.5), A64_ADD.
func add(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(0x0b000000, is64, rd, rn, rm) }

// sub encodes SUB (shifted register) (C6.2.358), A64_SUB.
func sub(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(0x4b000000, is64, rd, rn, rm) }

// subs encodes SUBS (shifted register) (C6.2.364), A64_SUBS.
func subs(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(0x6b000000, is64, rd, rn, rm) }

// neg is A64_NEG: SUB Rd, XZR, Rm.
func neg(is64 bool, rd, rm reg) uint32 { return sub(is64, rd, zr, rm) }

// cmp is A64_CMP: SUBS XZR, Rn, Rm.
func cmp(is64 bool, rn, rm reg) uint32 { return subs(is64, zr, rn, rm) }

// and encodes AND (shifted register) (C6.2.13), A64_AND.
func and(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(andOp, is64, rd, rn, rm) }

// orr encodes ORR (shifted register) (C6.2.206), A64_ORR.
func orr(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(orrOp, is64, rd, rn, rm) }

// eor encodes EOR (shifted register) (C6.2.85), A64_EOR.
func eor(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(eorOp, is64, rd, rn, rm) }

// ands encodes ANDS (shifted register) (C6.2.15), A64_ANDS.
func ands(is64 bool, rd, rn, rm reg) uint32 { return shiftedReg(0x6a000000, is64, rd, rn, rm) }

// tst is A64_TST: ANDS XZR, Rn, Rm.
func tst(is64 bool, rn, rm reg) uint32 { return ands(is64, zr, rn, rm) }

// mvn is A64_MVN: ORN Rd, XZR, Rm.
func mvn(is64 bool, rd, rm reg) uint32 { return shiftedReg(0x2a200000, is64, rd, zr, rm) }

// logicImm is AND/ORR/EOR/ANDS (immediate) as A64_LOGIC_IMM builds them: a
// 64-bit operation sign-extends the BPF immediate, a 32-bit one
// zero-extends it, and an immediate that is no bitmask pattern gives
// breakFault, which the JIT takes as "use a register instead".
func logicImm(op uint32, is64 bool, rd, rn reg, imm int32) uint32 {
	v := uint64(uint32(imm))
	if is64 {
		v = uint64(int64(imm))
	}
	n, immr, imms, ok := encodeBitmaskImm(v, is64)
	if !ok {
		return breakFault
	}
	return sfBit(is64) | op | n<<22 | immr<<16 | imms<<10 | rd5(rn)<<5 | rd5(rd)
}

// andImm encodes AND (immediate) (C6.2.12), A64_AND_I.
func andImm(is64 bool, rd, rn reg, imm int32) uint32 {
	return logicImm(andImmOp, is64, rd, rn, imm)
}

// orrImm encodes ORR (immediate) (C6.2.205), A64_ORR_I.
func orrImm(is64 bool, rd, rn reg, imm int32) uint32 {
	return logicImm(orrImmOp, is64, rd, rn, imm)
}

// eorImm encodes EOR (immediate) (C6.2.84), A64_EOR_I.
func eorImm(is64 bool, rd, rn reg, imm int32) uint32 {
	return logicImm(eorImmOp, is64, rd, rn, imm)
}

// tstImm is A64_TST_I: ANDS (immediate) into XZR.
func tstImm(is64 bool, rn reg, imm int32) uint32 {
	return logicImm(0x72000000, is64, zr, rn, imm)
}

// encodeBitmaskImm finds N:immr:imms for a logical immediate the way
// aarch64_encode_bitmask_immediate in arch/arm64/lib/insn.c does: find the
// smallest repeating element, check it is a rotated run of ones, and
// compute the rotation.
func encodeBitmaskImm(imm uint64, is64 bool) (n, immr, imms uint32, ok bool) {
	// The commonest masks, ones from bit 0 up (0xff, 0xffff): the element
	// is the whole register and nothing is rotated.
	if imm != 0 && imm&(imm+1) == 0 {
		ones := uint32(bits.Len64(imm))
		if is64 && ones < 64 {
			return 1, 0, ones - 1, true
		}
		if !is64 && ones < 32 {
			return 0, 0, ones - 1, true
		}
	}
	// A 32-bit value is tried as itself twice over, a 64-bit pattern whose
	// element is at most 32 bits: the kernel's search from a 32-bit
	// element finds the same element, so the fields are the same (and N
	// is 0).
	if !is64 {
		if imm>>32 != 0 {
			return 0, 0, 0, false
		}
		imm |= imm << 32
	}
	// Full zeroes and full ones have no encoding.
	if imm == 0 || imm == ^uint64(0) {
		return 0, 0, 0, false
	}
	// Inverse of Replicate(): shrink to the smallest power-of-two element
	// that repeats, i.e. that rotating by half of it leaves the value as
	// it is. Rotations, unlike shifts by a variable, need no guard.
	esz := uint(64)
	for esz > 2 && bits.RotateLeft64(imm, int(esz/2)) == imm {
		esz /= 2
	}
	if esz == 64 {
		n = 1
	}
	mask := ^uint64(0) >> ((64 - esz) & 63)
	imm &= mask
	ones := uint32(bits.OnesCount64(imm))
	// imms is (ones - 1) prefixed by ones and a zero that give the element
	// size, capped to 6 bits (the kernel's "0xf << ffs(esz)").
	imms = ((ones - 1) | 0xf<<((bits.TrailingZeros(esz)+1)&31)) & 0x3f
	var ror uint
	if rangeOfOnes(imm) {
		ror = uint(bits.TrailingZeros64(imm))
	} else {
		// Pattern 0..01..10..01..1: fill the unused top bits with ones and
		// check that what is left is ones with one run of zeroes.
		imm |= ^mask
		if !rangeOfOnes(^imm) {
			return 0, 0, 0, false
		}
		ror = uint(bits.Len64(^imm))
	}
	immr = uint32((esz - ror) & (esz - 1)) // % esz, a power of two
	return n, immr, imms, true
}

// rangeOfOnes reports whether v (not zero) is one contiguous run of ones.
func rangeOfOnes(v uint64) bool {
	s := v >> (bits.TrailingZeros64(v) & 63)
	return (s+1)&s == 0
}

// bitfield is SBFM/UBFM as aarch64_insn_gen_bitfield encodes them (N = sf).
func bitfield(op uint32, is64 bool, rd, rn reg, immr, imms int) uint32 {
	// sf and N (bit 22) are both set for 64 bits, where the fields may
	// reach 63 instead of 31. Written to stay cheap enough that Go inlines
	// the shifts and extensions built on it.
	sfN, max := uint32(0), uint(31)
	if is64 {
		sfN, max = 1<<31|1<<22, 63
	}
	if uint(immr|imms) > max {
		return breakFault
	}
	return sfN | op | uint32(immr)<<16 | uint32(imms)<<10 | uint32(rn&31)<<5 | uint32(rd&31)
}

// Opcode bits of SBFM and UBFM.
const (
	sbfmOp uint32 = 0x13000000
	ubfmOp uint32 = 0x53000000
)

// sbfm encodes SBFM (C6.2.266), A64_SBFM.
func sbfm(is64 bool, rd, rn reg, immr, imms int) uint32 {
	return bitfield(sbfmOp, is64, rd, rn, immr, imms)
}

// ubfm encodes UBFM (C6.2.390), A64_UBFM.
func ubfm(is64 bool, rd, rn reg, immr, imms int) uint32 {
	return bitfield(ubfmOp, is64, rd, rn, immr, imms)
}

func regBits(is64 bool) int {
	if is64 {
		return 64
	}
	return 32
}

// lslImm is A64_LSL: UBFM Rd, Rn, #(-shift mod size), #(size-1-shift). A
// shift outside the register gives breakFault through the field checks.
func lslImm(is64 bool, rd, rn reg, shift int) uint32 {
	mask := regBits(is64) - 1
	return bitfield(ubfmOp, is64, rd, rn, -shift&mask, mask-shift) // UBFM; -shift mod size
}

// lsrImm is A64_LSR: UBFM Rd, Rn, #shift, #(size-1).
func lsrImm(is64 bool, rd, rn reg, shift int) uint32 {
	return ubfm(is64, rd, rn, shift, regBits(is64)-1)
}

// asrImm is A64_ASR: SBFM Rd, Rn, #shift, #(size-1).
func asrImm(is64 bool, rd, rn reg, shift int) uint32 {
	return sbfm(is64, rd, rn, shift, regBits(is64)-1)
}

// uxth is A64_UXTH: UBFM Rd, Rn, #0, #15.
func uxth(is64 bool, rd, rn reg) uint32 { return ubfm(is64, rd, rn, 0, 15) }

// uxtw is A64_UXTW: UBFM Rd, Rn, #0, #31.
func uxtw(is64 bool, rd, rn reg) uint32 { return ubfm(is64, rd, rn, 0, 31) }

// sxtb is A64_SXTB: SBFM Rd, Rn, #0, #7.
func sxtb(is64 bool, rd, rn reg) uint32 { return sbfm(is64, rd, rn, 0, 7) }

// sxth is A64_SXTH: SBFM Rd, Rn, #0, #15.
func sxth(is64 bool, rd, rn reg) uint32 { return sbfm(is64, rd, rn, 0, 15) }

// sxtw is A64_SXTW: SBFM Rd, Rn, #0, #31.
func sxtw(is64 bool, rd, rn reg) uint32 { return sbfm(is64, rd, rn, 0, 31) }

// rev16 encodes REV16 (C6.2.249), A64_REV16.
func rev16(is64 bool, rd, rn reg) uint32 { return sfBit(is64) | 0x5ac00400 | rd5(rn)<<5 | rd5(rd) }

// rev32 is A64_REV32: opc 10, which is REV of a W register when sf is 0
// and REV32 of an X register when sf is 1.
func rev32(is64 bool, rd, rn reg) uint32 { return sfBit(is64) | 0x5ac00800 | rd5(rn)<<5 | rd5(rd) }

// rev64 is A64_REV64: REV of an X register.
func rev64(rd, rn reg) uint32 { return 0xdac00c00 | rd5(rn)<<5 | rd5(rd) }

// data2 is the data-processing (2 source) group.
func data2(opcode uint32, is64 bool, rd, rn, rm reg) uint32 {
	return sfBit(is64) | 0x1ac00000 | rd5(rm)<<16 | opcode<<10 | rd5(rn)<<5 | rd5(rd)
}

// udiv encodes UDIV (C6.2.388), A64_UDIV. Division by zero yields 0.
func udiv(is64 bool, rd, rn, rm reg) uint32 { return data2(0x02, is64, rd, rn, rm) }

// sdiv encodes SDIV (C6.2.268), A64_SDIV. Division by zero yields 0 and
// MIN/-1 yields MIN; no exception either way.
func sdiv(is64 bool, rd, rn, rm reg) uint32 { return data2(0x03, is64, rd, rn, rm) }

// lslv encodes LSLV (C6.2.180), A64_LSLV: the shift count is taken mod size.
func lslv(is64 bool, rd, rn, rm reg) uint32 { return data2(0x08, is64, rd, rn, rm) }

// lsrv encodes LSRV (C6.2.183), A64_LSRV.
func lsrv(is64 bool, rd, rn, rm reg) uint32 { return data2(0x09, is64, rd, rn, rm) }

// asrv encodes ASRV (C6.2.19), A64_ASRV.
func asrv(is64 bool, rd, rn, rm reg) uint32 { return data2(0x0a, is64, rd, rn, rm) }

// madd encodes MADD (C6.2.187), A64_MADD(sf, Rd, Ra, Rn, Rm): Rd = Ra + Rn*Rm.
func madd(is64 bool, rd, ra, rn, rm reg) uint32 {
	return sfBit(is64) | 0x1b000000 | rd5(rm)<<16 | rd5(ra)<<10 | rd5(rn)<<5 | rd5(rd)
}

// msub encodes MSUB (C6.2.200), A64_MSUB(sf, Rd, Ra, Rn, Rm): Rd = Ra - Rn*Rm.
func msub(is64 bool, rd, ra, rn, rm reg) uint32 {
	return sfBit(is64) | 0x1b008000 | rd5(rm)<<16 | rd5(ra)<<10 | rd5(rn)<<5 | rd5(rd)
}

// mul is A64_MUL: MADD Rd, Rn, Rm, XZR.
func mul(is64 bool, rd, rn, rm reg) uint32 { return madd(is64, rd, zr, rn, rm) }
