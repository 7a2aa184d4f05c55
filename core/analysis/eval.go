package analysis

import (
	"jitsim/core"
)

var nonNeg = val{kind: kNonNeg}

// aluVal is the value an ALU instruction leaves in dst (see stack.go for
// what the kinds mean). srcReg is the value of the src register.
func aluVal(ins core.Insn, dst, srcReg val) val {
	is64 := ins.Class() == core.ALU64
	op := ins.OpCode()
	src := srcReg
	if ins.Source() == core.K {
		src = constant(uint64(int64(ins.Imm)))
	}
	switch op {
	case core.Mov:
		switch {
		case ins.Source() == core.K && is64:
			return src
		case ins.Source() == core.K:
			return constant(uint64(uint32(ins.Imm)))
		case ins.Off == 0 && is64:
			return src
		case src.kind == kConst:
			v, _ := core.EvalALU(ins, 0, uint64(src.c))
			return constant(v)
		case src.ownPtr():
			return taint(src)
		case !is64:
			return nonNeg
		}
		return unknown
	case core.Neg, core.End:
		switch {
		case dst.kind == kConst:
			v, _ := core.EvalALU(ins, uint64(dst.c), 0)
			return constant(v)
		case dst.ownPtr():
			return taint(dst)
		case op == core.Neg && !is64, op == core.End && ins.Imm != 64:
			return nonNeg
		}
		return unknown
	}
	if dst.kind == kConst && src.kind == kConst {
		if v, ok := core.EvalALU(ins, uint64(dst.c), uint64(src.c)); ok {
			return constant(v)
		}
	}
	if is64 && (op == core.Add || op == core.Sub) && (dst.isPtr() || src.isPtr()) {
		return ptrArith(op, dst, src)
	}
	if dst.ownPtr() || src.ownPtr() {
		return taint(dst, src)
	}
	// Arguments that are maybe pointers count as scalars from here on.
	if !is64 {
		return nonNeg
	}
	switch op {
	case core.And:
		if dst.nonNeg() || src.nonNeg() {
			return nonNeg
		}
	case core.Rsh:
		if src.kind == kConst && src.c&63 != 0 {
			return nonNeg
		}
	case core.Div, core.Mod:
		if ins.Off == 0 && dst.nonNeg() { // unsigned: never above dst
			return nonNeg
		}
	}
	return unknown
}

// ptrArith is 64-bit add or sub with a pointer operand.
func ptrArith(op uint8, d, s val) val {
	if op == core.Add {
		switch {
		case d.isPtr() && s.isPtr():
			return taint(d, s)
		case d.isPtr():
			return offsetBy(d, s)
		}
		return offsetBy(s, d)
	}
	switch {
	case d.isPtr() && s.isPtr():
		if d.single() && d.prec == exact && s.prec == exact && d.bases == s.bases {
			return constant(uint64(d.c - s.c)) // a distance
		}
		if s.ownPtr() {
			return unknown
		}
		return taint(d)
	case d.isPtr():
		if s.kind == kConst {
			return offsetBy(d, constant(uint64(-s.c)))
		}
		return taint(d)
	case s.ownPtr():
		return taint(s)
	}
	return unknown
}

// maxTrackedOff bounds tracked offsets: a pointer stepped further than any
// stack reaches is as good as lost, and the bound keeps sums from wrapping.
const maxTrackedOff = 1 << 40

func offsetBy(p, s val) val {
	switch {
	case p.prec == none:
	case s.kind == kConst:
		p.c += s.c
		if p.c > maxTrackedOff || p.c < -maxTrackedOff {
			return taint(p)
		}
	case s.nonNeg():
		p.prec = lower
	default:
		return taint(p)
	}
	return p
}

// branch decides a conditional jump whose operands are both constants, as
// the verifier's is_branch_taken() does, so a path that cannot run adds no
// stack accesses.
func branch(ins core.Insn, s *state) (taken, known bool) {
	d := s.regs[ins.Dst]
	src := constant(uint64(int64(ins.Imm)))
	if ins.Source() == core.X {
		src = s.regs[ins.Src]
	}
	if d.kind != kConst || src.kind != kConst {
		return false, false
	}
	return core.CondJump(ins, uint64(d.c), uint64(src.c))
}
