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
func EvalALU(ins Insn, dst, src uint64) (v uint64, ok bool) {
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
		a, b := uint32(dst), uint32(src)
		var w uint32
		switch op {
		case Add:
			w = a + b
		case Sub:
			w = a - b
		case Mul:
			w = a * b
		case Div:
			switch {
			case b == 0:
				w = 0
			case signed:
				w = uint32(int32(a) / int32(b))
			default:
				w = a / b
			}
		case Mod:
			switch {
			case b == 0:
				w = a
			case signed:
				w = uint32(int32(a) % int32(b))
			default:
				w = a % b
			}
		case Or:
			w = a | b
		case And:
			w = a & b
		case Xor:
			w = a ^ b
		case Lsh:
			w = a << (b & 31)
		case Rsh:
			w = a >> (b & 31)
		case Arsh:
			w = uint32(int32(a) >> (b & 31))
		default:
			return 0, false
		}
		return uint64(w), true
	}
	a, b := dst, src
	switch op {
	case Add:
		v = a + b
	case Sub:
		v = a - b
	case Mul:
		v = a * b
	case Div:
		switch {
		case b == 0:
			v = 0
		case signed:
			v = uint64(int64(a) / int64(b))
		default:
			v = a / b
		}
	case Mod:
		switch {
		case b == 0:
			v = a
		case signed:
			v = uint64(int64(a) % int64(b))
		default:
			v = a % b
		}
	case Or:
		v = a | b
	case And:
		v = a & b
	case Xor:
		v = a ^ b
	case Lsh:
		v = a << (b & 63)
	case Rsh:
		v = a >> (b & 63)
	case Arsh:
		v = uint64(int64(a) >> (b & 63))
	default:
		return 0, false
	}
	return v, true
}

func trunc(is64 bool, v uint64) uint64 {
	if is64 {
		return v
	}
	return uint64(uint32(v))
}
