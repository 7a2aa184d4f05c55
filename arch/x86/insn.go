package x86

import "encoding/binary"

// asm holds the code of one BPF instruction, as do_jit's temp[] does
// before it is copied into the image: b[start:n]. In a compile, b is the
// output itself and the insn's code is written in place, so that copy is
// no copy at all (compiler.begin keeps asmSize bytes free after start).
// Builders append the bytes of one
// machine instruction each, choosing the prefixes and the short or long
// form exactly where the kernel's EMIT* sequence at the matching do_jit
// site does: two sites that encode the same instruction differently
// (EMIT_mov always has REX.W, emit_mov_reg(false, ...) only when a register
// needs it) get two builders. Section numbers are the Intel SDM volume 2
// instruction pages.
type asm struct {
	b        []byte
	start, n int
}

// newAsm returns an asm with a buffer of its own, for code built outside
// a compile (tests, stubs).
func newAsm() *asm { return &asm{b: make([]byte, asmSize)} }

// asmSize is BPF_MAX_INSN_SIZE + BPF_INSN_SAFETY, the size of temp[]: no
// BPF instruction's code comes near it.
const asmSize = maxInsnSize + 64

func (a *asm) len() int { return a.n - a.start }

// bytes is the code emitted since the last reset.
func (a *asm) bytes() []byte { return a.b[a.start:a.n] }

func (a *asm) reset() { a.n = a.start }

// patch8 sets the byte at offset p of the insn's code.
func (a *asm) patch8(p int, v byte) { a.b[a.start+p] = v }

func (a *asm) emit1(b byte) {
	a.b[a.n] = b
	a.n++
}

func (a *asm) emit2(b1, b2 byte) {
	a.b[a.n], a.b[a.n+1] = b1, b2
	a.n += 2
}

func (a *asm) emit3(b1, b2, b3 byte) {
	a.b[a.n], a.b[a.n+1], a.b[a.n+2] = b1, b2, b3
	a.n += 3
}

func (a *asm) emit4(b1, b2, b3, b4 byte) {
	a.b[a.n], a.b[a.n+1], a.b[a.n+2], a.b[a.n+3] = b1, b2, b3, b4
	a.n += 4
}

// imm32 appends a little-endian 32-bit value, as EMIT(off, 4).
func (a *asm) imm32(v uint32) {
	binary.LittleEndian.PutUint32(a.b[a.n:], v)
	a.n += 4
}

// REX and ModRM helpers, named after their kernel counterparts but taking
// hardware registers: rm goes into ModRM.rm (REX.B), r into ModRM.reg (REX.R).

// add1mod is add_1mod(): set REX.B when rm is r8..r15.
func add1mod(b byte, rm reg) byte {
	if isEreg(rm) {
		b |= 1
	}
	return b
}

// add2mod is add_2mod(): REX.B for rm, REX.R for r.
func add2mod(b byte, rm, r reg) byte {
	if isEreg(rm) {
		b |= 1
	}
	if isEreg(r) {
		b |= 4
	}
	return b
}

// add1reg is add_1reg(): the register in the low opcode/ModRM bits.
func add1reg(b byte, rm reg) byte { return b + rm.lo3() }

// add2reg is add_2reg(): ModRM with rm and reg fields.
func add2reg(b byte, rm, r reg) byte { return b + rm.lo3() + r.lo3()<<3 }

// maybeRex is maybe_emit_mod(): REX.W for 64-bit operands, else a REX only
// when a register needs one.
func (a *asm) maybeRex(w bool, rm, r reg) {
	// Built once and emitted unless it is a bare 0x40 (no W, R or B), so
	// that the builders calling this inline it.
	rex := add2mod(0x40, rm, r)
	if w {
		rex |= 8
	}
	if rex != 0x40 {
		a.emit1(rex)
	}
}

// maybeRex1 is maybe_emit_1mod().
func (a *asm) maybeRex1(w bool, rm reg) {
	rex := add1mod(0x40, rm)
	if w {
		rex |= 8
	}
	if rex != 0x40 {
		a.emit1(rex)
	}
}

func isImm8(v int64) bool { return v >= -128 && v <= 127 }

// isImm8Jmp is is_imm8_jmp_offset(): positive rel8 offsets stop at 123 so
// that the pass loop converges (see the comment above it in the kernel: a
// je 2<->6 / jmp 5<->2 size cycle otherwise never settles).
func isImm8Jmp(v int64) bool { return v >= -128 && v <= 123 }

func isSimm32(v int64) bool { return v == int64(int32(v)) }

func isUimm32(v uint64) bool { return v == uint64(uint32(v)) }

// --- moves ---

// movRegReg encodes MOV r/m64, r64 (REX.W 89 /r; kernel EMIT_mov). The
// caller skips it when dst == src, as EMIT_mov does.
func (a *asm) movRegReg(dst, src reg) {
	a.emit3(add2mod(0x48, dst, src), 0x89, add2reg(0xC0, dst, src))
}

// movRegReg32 encodes MOV r/m32, r32 (89 /r; emit_mov_reg(false, ...)),
// which zero-extends into the upper half, so it is emitted even for
// dst == src.
func (a *asm) movRegReg32(dst, src reg) {
	if isEreg(dst) || isEreg(src) {
		a.emit1(add2mod(0x40, dst, src))
	}
	a.emit2(0x89, add2reg(0xC0, dst, src))
}

// movImm32 encodes MOV r32, imm32 (B8+rd id; emit_mov_imm32's zero-extending
// form).
func (a *asm) movImm32(dst reg, imm uint32) {
	if isEreg(dst) {
		a.emit1(add1mod(0x40, dst))
	}
	a.emit1(add1reg(0xB8, dst))
	a.imm32(imm)
}

// movSxImm32 encodes MOV r/m64, imm32 (REX.W C7 /0 id), which sign-extends
// (emit_mov_imm32's negative case; the divisor load "mov r11, imm32").
func (a *asm) movSxImm32(dst reg, imm int32) {
	a.emit3(add1mod(0x48, dst), 0xC7, add1reg(0xC0, dst))
	a.imm32(uint32(imm))
}

// movabs encodes MOV r64, imm64 (REX.W B8+rd io; emit_mov_imm64).
func (a *asm) movabs(dst reg, imm uint64) {
	a.emit2(add1mod(0x48, dst), add1reg(0xB8, dst))
	binary.LittleEndian.PutUint64(a.b[a.n:], imm)
	a.n += 8
}

// xorRegReg32 encodes XOR r/m32, r32 (31 /r): emit_mov_imm32's zero case,
// "xor edx, edx" before div, and the 32-bit ALU XOR.
func (a *asm) xorRegReg32(dst, src reg) { a.aluRegReg(false, opXor, dst, src) }

// movsxRegReg encodes MOVSX/MOVSXD r, r/m (emit_movsx_reg): 0F BE (8),
// 0F BF (16), 63 (32, 64-bit only). The kernel always puts a REX on the
// 8-bit form so that sil/dil/bpl are meant, not dh/bh/ch.
func (a *asm) movsxRegReg(w bool, bits int, dst, src reg) {
	switch {
	case w && bits == 8:
		a.emit4(add2mod(0x48, src, dst), 0x0F, 0xBE, add2reg(0xC0, src, dst))
	case w && bits == 16:
		a.emit4(add2mod(0x48, src, dst), 0x0F, 0xBF, add2reg(0xC0, src, dst))
	case w && bits == 32:
		a.emit3(add2mod(0x48, src, dst), 0x63, add2reg(0xC0, src, dst))
	case bits == 8:
		a.emit4(add2mod(0x40, src, dst), 0x0F, 0xBE, add2reg(0xC0, src, dst))
	case bits == 16:
		if isEreg(dst) || isEreg(src) {
			a.emit1(add2mod(0x40, src, dst))
		}
		a.emit3(0x0F, 0xBF, add2reg(0xC0, src, dst))
	}
}

// movzxwRegReg32 encodes MOVZX r32, r/m16 (0F B7 /r), the END cases'
// "movzwl eax, ax". The kernel writes the REX as a literal 0x45 for the
// same-register form it uses.
func (a *asm) movzxwRegReg32(dst, src reg) {
	if isEreg(dst) || isEreg(src) {
		a.emit1(add2mod(0x40, src, dst))
	}
	a.emit3(0x0F, 0xB7, add2reg(0xC0, src, dst))
}

// --- ALU ---

// aluOp selects one of the binary ALU instructions that share the
// 01/29/21/09/31/39 r/m,r forms and the 83/81 /digit immediate forms.
type aluOp uint8

const (
	opAdd aluOp = iota
	opSub
	opAnd
	opOr
	opXor
	opCmp
)

// Opcodes of the r/m,reg form (simple_alu_opcodes[]), the ModRM byte of the
// immediate forms with rm = 0 (the kernel's b3), and the short rax,imm32
// forms (its b2).
var (
	aluRegOpc = [...]byte{opAdd: 0x01, opSub: 0x29, opAnd: 0x21, opOr: 0x09, opXor: 0x31, opCmp: 0x39}
	aluImmExt = [...]byte{opAdd: 0xC0, opSub: 0xE8, opAnd: 0xE0, opOr: 0xC8, opXor: 0xF0, opCmp: 0xF8}
	aluEaxOpc = [...]byte{opAdd: 0x05, opSub: 0x2D, opAnd: 0x25, opOr: 0x0D, opXor: 0x35, opCmp: 0x3D}
)

// aluRegReg encodes OP r/m, r (e.g. ADD 01 /r).
func (a *asm) aluRegReg(w bool, op aluOp, dst, src reg) {
	a.maybeRex(w, dst, src)
	a.emit2(aluRegOpc[op], add2reg(0xC0, dst, src))
}

// aluImm8 encodes OP r/m, imm8 (83 /digit ib, sign-extended).
func (a *asm) aluImm8(w bool, op aluOp, dst reg, imm int8) {
	a.maybeRex1(w, dst)
	a.emit3(0x83, add1reg(aluImmExt[op], dst), byte(imm))
}

// aluImm32 encodes OP r/m, imm32 (81 /digit id).
func (a *asm) aluImm32(w bool, op aluOp, dst reg, imm int32) {
	a.maybeRex1(w, dst)
	a.emit2(0x81, add1reg(aluImmExt[op], dst))
	a.imm32(uint32(imm))
}

// aluEaxImm32 encodes the short OP eax/rax, imm32 forms (05, 2D, 25, 0D, 35)
// the kernel picks when dst is rax.
func (a *asm) aluEaxImm32(w bool, op aluOp, imm int32) {
	a.maybeRex1(w, rax)
	a.emit1(aluEaxOpc[op])
	a.imm32(uint32(imm))
}

// negReg encodes NEG r/m (F7 /3).
func (a *asm) negReg(w bool, dst reg) {
	a.maybeRex1(w, dst)
	a.emit2(0xF7, add1reg(0xD8, dst))
}

// imulImm8 encodes IMUL r, r/m, imm8 (6B /r ib) with both registers dst.
func (a *asm) imulImm8(w bool, dst reg, imm int8) {
	a.maybeRex(w, dst, dst)
	a.emit3(0x6B, add2reg(0xC0, dst, dst), byte(imm))
}

// imulImm32 encodes IMUL r, r/m, imm32 (69 /r id).
func (a *asm) imulImm32(w bool, dst reg, imm int32) {
	a.maybeRex(w, dst, dst)
	a.emit2(0x69, add2reg(0xC0, dst, dst))
	a.imm32(uint32(imm))
}

// imulRegReg encodes IMUL r, r/m (0F AF /r): dst *= src.
func (a *asm) imulRegReg(w bool, dst, src reg) {
	a.maybeRex(w, src, dst)
	a.emit3(0x0F, 0xAF, add2reg(0xC0, src, dst))
}

// shiftOp selects SHL, SHR or SAR (the /4, /5, /7 of the D1/C1/D3 group).
type shiftOp uint8

const (
	opShl shiftOp = iota
	opShr
	opSar
)

// shiftExt is simple_alu_opcodes[BPF_LSH/RSH/ARSH]: ModRM with rm = 0.
var shiftExt = [...]byte{opShl: 0xE0, opShr: 0xE8, opSar: 0xF8}

// shiftImm1 encodes SHL/SHR/SAR r/m, 1 (D1 /digit).
func (a *asm) shiftImm1(w bool, op shiftOp, dst reg) {
	a.maybeRex1(w, dst)
	a.emit2(0xD1, add1reg(shiftExt[op], dst))
}

// shiftImm8 encodes SHL/SHR/SAR r/m, imm8 (C1 /digit ib). The CPU masks
// the count to 5 or 6 bits, which is the BPF rule too.
func (a *asm) shiftImm8(w bool, op shiftOp, dst reg, imm uint8) {
	a.maybeRex1(w, dst)
	a.emit3(0xC1, add1reg(shiftExt[op], dst), imm)
}

// shiftCL encodes SHL/SHR/SAR r/m, cl (D3 /digit).
func (a *asm) shiftCL(w bool, op shiftOp, dst reg) {
	a.maybeRex1(w, dst)
	a.emit2(0xD3, add1reg(shiftExt[op], dst))
}

// shiftxPP is emit_shiftx's pp field: the implied prefix that selects
// SHLX (66), SHRX (F2) or SARX (F3).
var shiftxPP = [...]byte{opShl: 1, opShr: 3, opSar: 2}

// shiftx encodes the BMI2 SHLX/SHRX/SARX r, r/m, r with dst as both
// destination and source (VEX.LZ.0F38 F7 /r; emit_3vex + emit_shiftx).
func (a *asm) shiftx(w bool, op shiftOp, dst, src reg) {
	r := isEreg(dst)
	b1 := byte(2) // m: 0F38 escape
	if !r {
		b1 |= 1<<7 | 1<<5 // ~R, ~B
	}
	b1 |= 1 << 6 // ~X
	vvvv := byte(src) & 15
	b2 := (^vvvv&15)<<3 | shiftxPP[op]
	if w {
		b2 |= 1 << 7
	}
	a.emit3(0xC4, b1, b2)
	a.emit2(0xF7, add2reg(0xC0, dst, dst))
}

// divReg encodes DIV r/m (F7 /6): rdx:rax / src.
func (a *asm) divReg(w bool, src reg) {
	a.maybeRex1(w, src)
	a.emit2(0xF7, add1reg(0xF0, src))
}

// idivReg encodes IDIV r/m (F7 /7).
func (a *asm) idivReg(w bool, src reg) {
	a.maybeRex1(w, src)
	a.emit2(0xF7, add1reg(0xF8, src))
}

// cdq encodes CDQ (99), or CQO (REX.W 99) for 64-bit: sign-extend rax
// into rdx before idiv.
func (a *asm) cdq(w bool) {
	if w {
		a.emit1(0x48)
	}
	a.emit1(0x99)
}

// rorw8 encodes ROR r/m16, 8 (66 C1 /1 08): swap the low two bytes.
func (a *asm) rorw8(dst reg) {
	a.emit1(0x66)
	if isEreg(dst) {
		a.emit1(0x41)
	}
	a.emit3(0xC1, add1reg(0xC8, dst), 8)
}

// bswap encodes BSWAP r32 (0F C8+rd) or r64 (REX.W 0F C8+rd).
func (a *asm) bswap(w bool, dst reg) {
	if w {
		a.emit3(add1mod(0x48, dst), 0x0F, add1reg(0xC8, dst))
		return
	}
	if isEreg(dst) {
		a.emit1(0x41)
	}
	a.emit2(0x0F, add1reg(0xC8, dst))
}

// --- memory ---

// memSuffix is emit_insn_suffix(): ModRM [base + disp8] or [base + disp32]
// with r in the reg field. disp8 is used even for 0: rbp and r13 have no
// disp-less form, and the kernel does not special-case the others.
func (a *asm) memSuffix(base, r reg, off int32) {
	if isImm8(int64(off)) {
		a.emit2(add2reg(0x40, base, r), byte(off))
	} else {
		a.emit1(add2reg(0x80, base, r))
		a.imm32(uint32(off))
	}
}

// movzxLoad8 encodes MOVZX r64, m8 (REX.W 0F B6 /r; emit_ldx BPF_B).
func (a *asm) movzxLoad8(dst, base reg, off int32) {
	a.emit3(add2mod(0x48, base, dst), 0x0F, 0xB6)
	a.memSuffix(base, dst, off)
}

// movzxLoad16 encodes MOVZX r64, m16 (REX.W 0F B7 /r; emit_ldx BPF_H).
func (a *asm) movzxLoad16(dst, base reg, off int32) {
	a.emit3(add2mod(0x48, base, dst), 0x0F, 0xB7)
	a.memSuffix(base, dst, off)
}

// movLoad32 encodes MOV r32, m32 (8B /r; emit_ldx BPF_W).
func (a *asm) movLoad32(dst, base reg, off int32) {
	if isEreg(dst) || isEreg(base) {
		a.emit2(add2mod(0x40, base, dst), 0x8B)
	} else {
		a.emit1(0x8B)
	}
	a.memSuffix(base, dst, off)
}

// movLoad64 encodes MOV r64, m64 (REX.W 8B /r; emit_ldx BPF_DW).
func (a *asm) movLoad64(dst, base reg, off int32) {
	a.emit2(add2mod(0x48, base, dst), 0x8B)
	a.memSuffix(base, dst, off)
}

// movsxLoad8 encodes MOVSX r64, m8 (REX.W 0F BE /r; emit_ldsx BPF_B).
func (a *asm) movsxLoad8(dst, base reg, off int32) {
	a.emit3(add2mod(0x48, base, dst), 0x0F, 0xBE)
	a.memSuffix(base, dst, off)
}

// movsxLoad16 encodes MOVSX r64, m16 (REX.W 0F BF /r; emit_ldsx BPF_H).
func (a *asm) movsxLoad16(dst, base reg, off int32) {
	a.emit3(add2mod(0x48, base, dst), 0x0F, 0xBF)
	a.memSuffix(base, dst, off)
}

// movsxdLoad32 encodes MOVSXD r64, m32 (REX.W 63 /r; emit_ldsx BPF_W).
func (a *asm) movsxdLoad32(dst, base reg, off int32) {
	a.emit2(add2mod(0x48, base, dst), 0x63)
	a.memSuffix(base, dst, off)
}

// movStore8 encodes MOV m8, r8 (88 /r; emit_stx BPF_B).
func (a *asm) movStore8(base, src reg, off int32) {
	if isEreg(base) || isEreg8l(src) {
		a.emit2(add2mod(0x40, base, src), 0x88)
	} else {
		a.emit1(0x88)
	}
	a.memSuffix(base, src, off)
}

// movStore16 encodes MOV m16, r16 (66 89 /r; emit_stx BPF_H).
func (a *asm) movStore16(base, src reg, off int32) {
	if isEreg(base) || isEreg(src) {
		a.emit3(0x66, add2mod(0x40, base, src), 0x89)
	} else {
		a.emit2(0x66, 0x89)
	}
	a.memSuffix(base, src, off)
}

// movStore32 encodes MOV m32, r32 (89 /r; emit_stx BPF_W).
func (a *asm) movStore32(base, src reg, off int32) {
	if isEreg(base) || isEreg(src) {
		a.emit2(add2mod(0x40, base, src), 0x89)
	} else {
		a.emit1(0x89)
	}
	a.memSuffix(base, src, off)
}

// movStore64 encodes MOV m64, r64 (REX.W 89 /r; emit_stx BPF_DW).
func (a *asm) movStore64(base, src reg, off int32) {
	a.emit2(add2mod(0x48, base, src), 0x89)
	a.memSuffix(base, src, off)
}

// stSuffix is the ST case's own addressing (do_jit label st:): ModRM with
// reg field 0, then the immediate of the store's size (a DW store takes a
// sign-extended imm32).
func (a *asm) stSuffix(base reg, off int32, imm int32, immBytes int) {
	if isImm8(int64(off)) {
		a.emit2(add1reg(0x40, base), byte(off))
	} else {
		a.emit1(add1reg(0x80, base))
		a.imm32(uint32(off))
	}
	switch immBytes {
	case 1:
		a.emit1(byte(imm))
	case 2:
		a.emit2(byte(imm), byte(imm>>8))
	default:
		a.imm32(uint32(imm))
	}
}

// movStoreImm8 encodes MOV m8, imm8 (C6 /0 ib).
func (a *asm) movStoreImm8(base reg, off int32, imm int32) {
	if isEreg(base) {
		a.emit1(0x41)
	}
	a.emit1(0xC6)
	a.stSuffix(base, off, imm, 1)
}

// movStoreImm16 encodes MOV m16, imm16 (66 C7 /0 iw).
func (a *asm) movStoreImm16(base reg, off int32, imm int32) {
	a.emit1(0x66)
	if isEreg(base) {
		a.emit1(0x41)
	}
	a.emit1(0xC7)
	a.stSuffix(base, off, imm, 2)
}

// movStoreImm32 encodes MOV m32, imm32 (C7 /0 id).
func (a *asm) movStoreImm32(base reg, off int32, imm int32) {
	if isEreg(base) {
		a.emit1(0x41)
	}
	a.emit1(0xC7)
	a.stSuffix(base, off, imm, 4)
}

// movStoreImm64 encodes MOV m64, imm32 (REX.W C7 /0 id, sign-extended).
func (a *asm) movStoreImm64(base reg, off int32, imm int32) {
	a.emit2(add1mod(0x48, base), 0xC7)
	a.stSuffix(base, off, imm, 4)
}

// lockAlu encodes LOCK ADD/AND/OR/XOR m, r (F0 01/21/09/31 /r; emit_atomic).
func (a *asm) lockAlu(w bool, op aluOp, base, src reg, off int32) {
	a.emit1(0xF0)
	a.maybeRex(w, base, src)
	a.emit1(aluRegOpc[op])
	a.memSuffix(base, src, off)
}

// lockXadd encodes LOCK XADD m, r (F0 0F C1 /r): BPF_ADD | BPF_FETCH.
func (a *asm) lockXadd(w bool, base, src reg, off int32) {
	a.emit1(0xF0)
	a.maybeRex(w, base, src)
	a.emit2(0x0F, 0xC1)
	a.memSuffix(base, src, off)
}

// lockXchg encodes XCHG m, r (87 /r) with the LOCK prefix the kernel
// emits for every atomic, though XCHG with memory locks by itself.
func (a *asm) lockXchg(w bool, base, src reg, off int32) {
	a.emit1(0xF0)
	a.maybeRex(w, base, src)
	a.emit1(0x87)
	a.memSuffix(base, src, off)
}

// lockCmpxchg encodes LOCK CMPXCHG m, r (F0 0F B1 /r): compare rax.
func (a *asm) lockCmpxchg(w bool, base, src reg, off int32) {
	a.emit1(0xF0)
	a.maybeRex(w, base, src)
	a.emit2(0x0F, 0xB1)
	a.memSuffix(base, src, off)
}

// --- tail call and prologue forms, always written with the kernel's
// fixed-size encodings ---

// movLoad64Disp32 encodes MOV r64, [base + disp32] (REX.W 8B /r with mod 10)
// as the kernel's __LOAD_TCC_PTR / RESTORE_TAIL_CALL_CNT: always disp32,
// even for small offsets, so the sequence has a fixed length of 7.
func (a *asm) movLoad64Disp32(dst, base reg, off int32) {
	a.emit3(add2mod(0x48, base, dst), 0x8B, add2reg(0x80, base, dst))
	a.imm32(uint32(off))
}

// movLoad32Disp32 encodes MOV r32, [base + disp32] (8B /r, mod 10): the
// legacy "mov eax, dword ptr [rbp - tcc_off]".
func (a *asm) movLoad32Disp32(dst, base reg, off int32) {
	a.emit2(0x8B, add2reg(0x80, base, dst))
	a.imm32(uint32(off))
}

// movStore32Disp32 encodes MOV [base + disp32], r32 (89 /r, mod 10): the
// legacy "mov dword ptr [rbp - tcc_off], eax".
func (a *asm) movStore32Disp32(base, src reg, off int32) {
	a.emit2(0x89, add2reg(0x80, base, src))
	a.imm32(uint32(off))
}

// cmpMem32RegDisp8 encodes CMP m32, r32 (39 /r, mod 01): "cmp dword ptr
// [rsi + max_entries], edx".
func (a *asm) cmpMem32RegDisp8(base, r reg, off int8) {
	a.emit3(0x39, add2reg(0x40, base, r), byte(off))
}

// cmpMem64Imm8 encodes CMP qword [base], imm8 (REX.W 83 /7 ib, mod 00):
// "cmp qword ptr [rax], MAX_TAIL_CALL_CNT".
func (a *asm) cmpMem64Imm8(base reg, imm int8) {
	a.emit4(0x48, 0x83, 0x38+base.lo3(), byte(imm))
}

// addMem64Imm8 encodes ADD qword [base], imm8 (REX.W 83 /0 ib, mod 00):
// "add qword ptr [rax], 1".
func (a *asm) addMem64Imm8(base reg, imm int8) {
	a.emit4(0x48, 0x83, base.lo3(), byte(imm))
}

// movLoad64Index8 encodes MOV r64, [base + index*8 + disp32] (REX.W 8B /r
// with SIB): "mov rcx, [rsi + rdx * 8 + offsetof(struct bpf_array, ptrs)]".
func (a *asm) movLoad64Index8(dst, base, index reg, off int32) {
	a.emit4(0x48, 0x8B, 0x84+dst.lo3()<<3, 0xC0+index.lo3()<<3+base.lo3())
	a.imm32(uint32(off))
}

// --- compare and branch ---

// cmpRegReg encodes CMP r/m, r (39 /r): flags of dst - src.
func (a *asm) cmpRegReg(w bool, dst, src reg) { a.aluRegReg(w, opCmp, dst, src) }

// testRegReg encodes TEST r/m, r (85 /r).
func (a *asm) testRegReg(w bool, dst, src reg) {
	a.maybeRex(w, dst, src)
	a.emit2(0x85, add2reg(0xC0, dst, src))
}

// testImm32 encodes TEST r/m, imm32 (F7 /0 id).
func (a *asm) testImm32(w bool, dst reg, imm int32) {
	a.maybeRex1(w, dst)
	a.emit2(0xF7, add1reg(0xC0, dst))
	a.imm32(uint32(imm))
}

// cmpImm8 encodes CMP r/m, imm8 (83 /7 ib).
func (a *asm) cmpImm8(w bool, dst reg, imm int8) { a.aluImm8(w, opCmp, dst, imm) }

// cmpImm32 encodes CMP r/m, imm32 (81 /7 id).
func (a *asm) cmpImm32(w bool, dst reg, imm int32) { a.aluImm32(w, opCmp, dst, imm) }

// Condition codes as the kernel's X86_J* short opcodes (Jcc rel8); the
// rel32 form is 0F followed by the same byte + 0x10.
const (
	jb  = 0x72
	jae = 0x73
	je  = 0x74
	jne = 0x75
	jbe = 0x76
	ja  = 0x77
	jl  = 0x7C
	jge = 0x7D
	jle = 0x7E
	jg  = 0x7F
)

// jccRel8 encodes Jcc rel8.
func (a *asm) jccRel8(cc byte, off int8) { a.emit2(cc, byte(off)) }

// jccRel32 encodes Jcc rel32 (0F 8x cd).
func (a *asm) jccRel32(cc byte, off int32) {
	a.emit2(0x0F, cc+0x10)
	a.imm32(uint32(off))
}

// jmpRel8 encodes JMP rel8 (EB cb).
func (a *asm) jmpRel8(off int8) { a.emit2(0xEB, byte(off)) }

// jmpRel32 encodes JMP rel32 (E9 cd; emit_jump).
func (a *asm) jmpRel32(off int32) {
	a.emit1(0xE9)
	a.imm32(uint32(off))
}

// callRel32 encodes CALL rel32 (E8 cd; emit_call).
func (a *asm) callRel32(off int32) {
	a.emit1(0xE8)
	a.imm32(uint32(off))
}

// callReg encodes CALL r/m64 (FF /2).
func (a *asm) callReg(r reg) {
	if isEreg(r) {
		a.emit1(0x41)
	}
	a.emit2(0xFF, add1reg(0xD0, r))
}

// jmpReg encodes JMP r/m64 (FF /4; emit_indirect_jump without retpolines).
func (a *asm) jmpReg(r reg) {
	if isEreg(r) {
		a.emit1(0x41)
	}
	a.emit2(0xFF, add1reg(0xE0, r))
}

// push encodes PUSH r64 (50+rd, REX.B for r8..r15).
func (a *asm) push(r reg) {
	if isEreg(r) {
		a.emit1(0x41)
	}
	a.emit1(add1reg(0x50, r))
}

// pop encodes POP r64 (58+rd).
func (a *asm) pop(r reg) {
	if isEreg(r) {
		a.emit1(0x41)
	}
	a.emit1(add1reg(0x58, r))
}

func (a *asm) leave()  { a.emit1(0xC9) }
func (a *asm) ret()    { a.emit1(0xC3) }
func (a *asm) int3()   { a.emit1(0xCC) }
func (a *asm) lfence() { a.emit3(0x0F, 0xAE, 0xE8) }

// endbr64 encodes ENDBR64 (F3 0F 1E FA; EMIT_ENDBR under
// CONFIG_X86_KERNEL_IBT).
func (a *asm) endbr64() { a.emit4(0xF3, 0x0F, 0x1E, 0xFA) }

// x86Nops is x86_nops[] of a 64-bit kernel (arch/x86/include/asm/nops.h,
// BYTES_NOP1..8): the recommended multi-byte NOPs.
var x86Nops = [...][]byte{
	1: {0x90},
	2: {0x66, 0x90},
	3: {0x0F, 0x1F, 0x00},
	4: {0x0F, 0x1F, 0x40, 0x00},
	5: {0x0F, 0x1F, 0x44, 0x00, 0x00},
	6: {0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00},
	7: {0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00},
	8: {0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
}

// asmNopMax is ASM_NOP_MAX.
const asmNopMax = 8

// nops is emit_nops(): n bytes of NOPs in chunks of at most ASM_NOP_MAX.
func (a *asm) nops(n int) {
	for n > 0 {
		k := min(n, asmNopMax)
		a.n += copy(a.b[a.n:], x86Nops[k])
		n -= k
	}
}
