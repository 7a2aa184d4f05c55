package core

import "math/bits"

// EvalALU computes an ALU or ALU64 instruction on known values as RFC 9669
// defines it: dst is the destination's value, src the operand (the source
// register, or the immediate sign-extended to 64 bits, as the caller reads
// it; unused by neg and the byte-order operations). 32-bit operations work
// on the low halves and zero-extend; shift amounts are masked; division by
// zero gives 0 and modulo by zero keeps dst; signed division of the most
// negative value by -1 gives it back (Go's division wraps the same way).
// ok is false for an instruction that is not an ALU operation.
func EvalALU(ins Insn, dst, src uint64) (uint64, bool) {
	c := ins.Class()
	if c != ALU && c != ALU64 {
		return 0, false
	}
	is64 := c == ALU64
	op := ins.OpCode()
	signed := ins.Off == 1
	switch op {
	case Mov:
		switch ins.Off {
		case 8:
			src = uint64(int64(int8(src)))
		case 16:
			src = uint64(int64(int16(src)))
		case 32:
			src = uint64(int64(int32(src)))
		}
		return trunc(is64, src), true
	case End:
		swap := is64 || ins.Source() == ToBE
		switch ins.Imm {
		case 16:
			if swap {
				return uint64(bits.ReverseBytes16(uint16(dst))), true
			}
			return uint64(uint16(dst)), true
		case 32:
			if swap {
				return uint64(bits.ReverseBytes32(uint32(dst))), true
			}
			return uint64(uint32(dst)), true
		case 64:
			if swap {
				return bits.ReverseBytes64(dst), true
			}
			return dst, true
		}
		return 0, false
	case Neg:
		return trunc(is64, -dst), true
	}
	if !is64 {
		w, ok := binop[uint32, int32](op, uint32(dst), uint32(src), signed, 31)
		return uint64(w), ok
	}
	return binop[uint64, int64](op, dst, src, signed, 63)
}

// binop is a binary ALU operation in one width: U the register width, S
// its signed twin, mask the shift amount mask (width - 1).
func binop[U uint32 | uint64, S int32 | int64](op uint8, a, b U, signed bool, mask U) (U, bool) {
	switch op {
	case Add:
		return a + b, true
	case Sub:
		return a - b, true
	case Mul:
		return a * b, true
	case Div:
		switch {
		case b == 0:
			return 0, true
		case signed:
			return U(S(a) / S(b)), true
		}
		return a / b, true
	case Mod:
		switch {
		case b == 0:
			return a, true
		case signed:
			return U(S(a) % S(b)), true
		}
		return a % b, true
	case Or:
		return a | b, true
	case And:
		return a & b, true
	case Xor:
		return a ^ b, true
	case Lsh:
		return a << (b & mask), true
	case Rsh:
		return a >> (b & mask), true
	case Arsh:
		return U(S(a) >> (b & mask)), true
	}
	return 0, false
}

func trunc(is64 bool, v uint64) uint64 {
	if is64 {
		return v
	}
	return uint64(uint32(v))
}
