// Package core holds jitsim's one BPF IR: instructions as the kernel's
// struct bpf_insn (one 8-byte slot each, ld_imm64 taking two), programs,
// object files with maps, source positions and errors. Every loader produces
// it, every engine consumes it. core imports no backend and no simulator.
package core

import "fmt"

// Insn is one 8-byte instruction slot, exactly as struct bpf_insn in
// include/uapi/linux/bpf.h. An ld_imm64 occupies two slots: the first holds
// the low 32 bits of the constant in Imm, the second (Op 0) the high 32 bits.
// Keeping the kernel's slot model means instruction indices, jump offsets and
// the JITs' addrs[] all count the same thing as bpftool and the verifier.
//
// Its field accessors take a pointer: with five fields the struct is not
// kept in registers, so a value receiver is a copy through the stack at
// every inlined call, which the JITs' per-insn loops paid for in every
// Class, OpCode and Source they asked.
type Insn struct {
	Op  uint8
	Dst Reg
	Src Reg
	Off int16
	Imm int32
}

// Reg is a BPF register number, R0..R10.
type Reg uint8

// The eleven BPF registers (RFC 9669 section 2.1). R10 is the read-only
// frame pointer.
const (
	R0 Reg = iota
	R1
	R2
	R3
	R4
	R5
	R6
	R7
	R8
	R9
	R10
	NumRegs = 11
)

// RFP is the frame pointer, as BPF_REG_FP.
const RFP = R10

func (r Reg) String() string { return fmt.Sprintf("r%d", uint8(r)) }

// Instruction classes (the low 3 bits of Op).
const (
	LD    = 0x00
	LDX   = 0x01
	ST    = 0x02
	STX   = 0x03
	ALU   = 0x04
	JMP   = 0x05
	JMP32 = 0x06
	ALU64 = 0x07
)

// Operand source for ALU and JMP classes.
const (
	K = 0x00 // use the 32-bit immediate
	X = 0x08 // use the source register
)

// Sizes for load and store classes.
const (
	W  = 0x00
	H  = 0x08
	B  = 0x10
	DW = 0x18
)

// Modes for load and store classes.
const (
	IMM    = 0x00 // ld_imm64 (with DW)
	ABS    = 0x20 // legacy packet access
	IND    = 0x40
	MEM    = 0x60
	MEMSX  = 0x80 // sign-extending load (v4)
	ATOMIC = 0xc0
)

// ALU operations (the high 4 bits of Op).
const (
	Add  = 0x00
	Sub  = 0x10
	Mul  = 0x20
	Div  = 0x30 // Off 1: sdiv
	Or   = 0x40
	And  = 0x50
	Lsh  = 0x60
	Rsh  = 0x70
	Neg  = 0x80
	Mod  = 0x90 // Off 1: smod
	Xor  = 0xa0
	Mov  = 0xb0 // Off 8/16/32: movsx
	Arsh = 0xc0
	End  = 0xd0 // ALU: le/be by source bit; ALU64|K: bswap
)

// Byte-order sources of End in the ALU class.
const (
	ToLE = K
	ToBE = X
)

// Jump operations (the high 4 bits of Op).
const (
	JA   = 0x00
	JEQ  = 0x10
	JGT  = 0x20
	JGE  = 0x30
	JSET = 0x40
	JNE  = 0x50
	JSGT = 0x60
	JSGE = 0x70
	Call = 0x80
	Exit = 0x90
	JLT  = 0xa0
	JLE  = 0xb0
	JSLT = 0xc0
	JSLE = 0xd0
	// TailCall is the kernel-internal BPF_TAIL_CALL: the verifier rewrites
	// "call bpf_tail_call" into JMP|TailCall. Only xlated code holds it.
	TailCall = 0xf0
)

// Atomic operations, in Imm of STX|ATOMIC.
const (
	AtomicAdd     = 0x00
	AtomicOr      = 0x40
	AtomicAnd     = 0x50
	AtomicXor     = 0xa0
	Fetch         = 0x01
	AtomicXchg    = 0xe0 | Fetch
	AtomicCmpXchg = 0xf0 | Fetch
	// LoadAcq and StoreRel (Linux 6.15) are named so errors can say what
	// they are; engines reject them.
	LoadAcq  = 0x100
	StoreRel = 0x110
)

// Pseudo sources of ld_imm64 (Src of the first slot), from uapi bpf.h.
const (
	PseudoMapFD       = 1
	PseudoMapValue    = 2
	PseudoBTFID       = 3
	PseudoFunc        = 4
	PseudoMapIdx      = 5
	PseudoMapIdxValue = 6
)

// Pseudo sources of Call.
const (
	CallHelper  = 0 // imm = helper id
	PseudoCall  = 1 // bpf-to-bpf: imm = relative slot offset of the callee
	PseudoKfunc = 2
)

// MaxInsnSlots bounds loaded programs, as BPF_COMPLEXITY_LIMIT_INSNS.
const MaxInsnSlots = 1_000_000

// Class returns the instruction class.
func (i *Insn) Class() uint8 { return i.Op & 0x07 }

// OpCode returns the operation bits of an ALU or JMP instruction.
func (i *Insn) OpCode() uint8 { return i.Op & 0xf0 }

// Source returns K or X.
func (i *Insn) Source() uint8 { return i.Op & 0x08 }

// Size returns W, H, B or DW of a load or store.
func (i *Insn) Size() uint8 { return i.Op & 0x18 }

// Mode returns the mode bits of a load or store.
func (i *Insn) Mode() uint8 { return i.Op & 0xe0 }

// SizeBytes converts a Size to a byte count.
func SizeBytes(size uint8) int {
	switch size {
	case B:
		return 1
	case H:
		return 2
	case W:
		return 4
	}
	return 8
}

// IsLdImm64 reports whether i is the first slot of an ld_imm64.
func (i *Insn) IsLdImm64() bool { return i.Op == LD|IMM|DW }

// IsAtomic reports whether i is STX|ATOMIC.
func (i *Insn) IsAtomic() bool { return i.Class() == STX && i.Mode() == ATOMIC }

// IsPseudoCall reports whether i is a bpf-to-bpf call.
func (i *Insn) IsPseudoCall() bool { return i.Op == JMP|Call && i.Src == PseudoCall }

// IsHelperCall reports whether i calls a helper by id.
func (i *Insn) IsHelperCall() bool { return i.Op == JMP|Call && i.Src == CallHelper }

// IsExit reports whether i is exit.
func (i *Insn) IsExit() bool { return i.Op == JMP|Exit }

// IsJump reports whether i is a jump with an offset (conditional or JA,
// including gotol), not call, exit or tail call.
func (i *Insn) IsJump() bool {
	c := i.Class()
	if c != JMP && c != JMP32 {
		return false
	}
	switch i.OpCode() {
	case Call, Exit, TailCall:
		return false
	}
	return true
}

// JumpTarget returns the slot a jump at index pc goes to: gotol (JMP32|JA)
// carries its offset in Imm, every other jump in Off.
func (i *Insn) JumpTarget(pc int) int {
	if i.Op == JMP32|JA {
		return pc + 1 + int(i.Imm)
	}
	return pc + 1 + int(i.Off)
}

// CallTarget returns the first slot of the subprogram a pseudo call at pc
// enters.
func (i *Insn) CallTarget(pc int) int { return pc + 1 + int(i.Imm) }

// Imm64 joins the two slots of an ld_imm64.
func Imm64(lo, hi Insn) uint64 { return uint64(uint32(lo.Imm)) | uint64(uint32(hi.Imm))<<32 }

// LdImm64 builds the two slots of "dst = imm ll".
func LdImm64(dst Reg, src Reg, imm uint64) [2]Insn {
	return [2]Insn{
		{Op: LD | IMM | DW, Dst: dst, Src: src, Imm: int32(uint32(imm))},
		{Imm: int32(uint32(imm >> 32))},
	}
}

// CondJump decides a conditional jump whose operands are known: a is dst,
// b is src or the sign-extended immediate, as the instruction reads them.
// JMP compares all 64 bits, JMP32 the low 32; the signed operations compare
// two's complement values. ok is false for anything that is not a
// conditional jump.
func CondJump(ins Insn, a, b uint64) (taken, ok bool) {
	sa, sb := int64(a), int64(b)
	if ins.Class() == JMP32 {
		a, b = uint64(uint32(a)), uint64(uint32(b))
		sa, sb = int64(int32(uint32(a))), int64(int32(uint32(b)))
	}
	switch ins.OpCode() {
	case JEQ:
		return a == b, true
	case JNE:
		return a != b, true
	case JGT:
		return a > b, true
	case JGE:
		return a >= b, true
	case JLT:
		return a < b, true
	case JLE:
		return a <= b, true
	case JSET:
		return a&b != 0, true
	case JSGT:
		return sa > sb, true
	case JSGE:
		return sa >= sb, true
	case JSLT:
		return sa < sb, true
	case JSLE:
		return sa <= sb, true
	}
	return false, false
}
