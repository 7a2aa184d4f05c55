package x86

import "jitsim/core"

// BPF ALU operations that map onto one x86 binary ALU instruction.
var bpfAluOps = [16]aluOp{
	core.Add >> 4: opAdd, core.Sub >> 4: opSub, core.And >> 4: opAnd,
	core.Or >> 4: opOr, core.Xor >> 4: opXor,
}

var bpfShiftOps = [16]shiftOp{core.Lsh >> 4: opShl, core.Rsh >> 4: opShr, core.Arsh >> 4: opSar}

// emitALU is do_jit's ALU and ALU64 cases. 32-bit operations need no
// explicit zero extension: every x86 instruction with a 32-bit destination
// clears the upper half, which is why bpf_jit_needs_zext() is false here.
func (c *compiler) emitALU(i int, ins *core.Insn) error {
	w := ins.Class() == core.ALU64
	x := ins.Source() == core.X
	dst, src := bpf2x86[ins.Dst], bpf2x86[ins.Src]
	op := ins.OpCode()
	if ins.Off != 0 && op != core.Div && op != core.Mod && op != core.Mov {
		return c.errorf(c.slot(i), "op %#02x: reserved offset %d", ins.Op, ins.Off)
	}
	switch op {
	case core.Add, core.Sub, core.And, core.Or, core.Xor:
		if x {
			c.a.aluRegReg(w, bpfAluOps[op>>4], dst, src)
		} else {
			c.emitAluImm(w, bpfAluOps[op>>4], dst, ins.Imm)
		}
	case core.Mov:
		return c.emitMov(i, ins, w, x, dst, src)
	case core.Neg:
		if x {
			return c.unknown(i, ins)
		}
		c.a.negReg(w, dst)
	case core.Mul:
		switch {
		case x:
			c.a.imulRegReg(w, dst, src)
		case isImm8(int64(ins.Imm)):
			c.a.imulImm8(w, dst, int8(ins.Imm))
		default:
			c.a.imulImm32(w, dst, ins.Imm)
		}
	case core.Div, core.Mod:
		if ins.Off != 0 && ins.Off != 1 {
			return c.errorf(c.slot(i), "op %#02x: offset %d is neither 0 (unsigned) nor 1 (signed)", ins.Op, ins.Off)
		}
		c.emitDivMod(ins, w, x, dst, src)
	case core.Lsh, core.Rsh, core.Arsh:
		sop := bpfShiftOps[op>>4]
		switch {
		case x:
			c.emitShiftX(w, sop, dst, src)
		case ins.Imm == 1:
			c.a.shiftImm1(w, sop, dst)
		default:
			c.a.shiftImm8(w, sop, dst, uint8(ins.Imm))
		}
	case core.End:
		return c.emitEnd(i, ins, dst)
	default:
		return c.unknown(i, ins)
	}
	return nil
}

// emitAluImm is the ADD/SUB/AND/OR/XOR K case: imm8 form, else the short
// rax form, else imm32.
func (c *compiler) emitAluImm(w bool, op aluOp, dst reg, imm int32) {
	switch {
	case isImm8(int64(imm)):
		c.a.aluImm8(w, op, dst, int8(imm))
	case dst == rax:
		c.a.aluEaxImm32(w, op, imm)
	default:
		c.a.aluImm32(w, op, dst, imm)
	}
}

func (c *compiler) emitMov(i int, ins *core.Insn, w, x bool, dst, src reg) error {
	if !x {
		if ins.Off != 0 {
			return c.errorf(c.slot(i), "op %#02x: reserved offset %d", ins.Op, ins.Off)
		}
		c.emitMovImm32(w, dst, uint32(ins.Imm))
		return nil
	}
	switch ins.Off {
	case 0:
		c.emitMovReg(w, dst, src)
	case 8, 16:
		c.a.movsxRegReg(w, int(ins.Off), dst, src)
	case 32:
		if !w {
			return c.errorf(c.slot(i), "op %#02x: movsx32 needs ALU64", ins.Op)
		}
		c.a.movsxRegReg(w, 32, dst, src)
	default:
		// addr_space_cast and mov_percpu_addr (arena, per-CPU) are not
		// modelled.
		return c.errorf(c.slot(i), "op %#02x: mov with offset %d: %w", ins.Op, ins.Off, core.ErrUnsupported)
	}
	return nil
}

// emitMovImm32 is emit_mov_imm32(): the 7-byte sign-extending form only
// when a 64-bit destination needs the sign, "xor r32, r32" for 0, else the
// 5-byte zero-extending "mov r32, imm32".
func (c *compiler) emitMovImm32(signPropagate bool, dst reg, imm uint32) {
	switch {
	case signPropagate && int32(imm) < 0:
		c.a.movSxImm32(dst, int32(imm))
	case imm == 0:
		c.a.xorRegReg32(dst, dst)
	default:
		c.a.movImm32(dst, imm)
	}
}

// emitMovImm64 is emit_mov_imm64(): the shortest of the 32-bit forms when
// the value allows, else movabs.
func (c *compiler) emitMovImm64(dst reg, v uint64) {
	switch {
	case isUimm32(v):
		c.emitMovImm32(false, dst, uint32(v))
	case isSimm32(int64(v)):
		c.emitMovImm32(true, dst, uint32(v))
	default:
		c.a.movabs(dst, v)
	}
}

// emitMovReg is emit_mov_reg(): a 64-bit move to itself is dropped, a
// 32-bit one is not (it clears the upper half).
func (c *compiler) emitMovReg(w bool, dst, src reg) {
	if w {
		if dst != src {
			c.a.movRegReg(dst, src)
		}
		return
	}
	c.a.movRegReg32(dst, src)
}

// emitShiftX is the shift-by-register case. x86 shifts by cl only, so
// unless the count is already in rcx (r4) the JIT saves rcx (push, or in
// r11 when rcx is also the destination), loads the count, and restores.
func (c *compiler) emitShiftX(w bool, op shiftOp, dst, src reg) {
	// BMI2 shifts aren't better when the count is already in rcx.
	if c.bmi2 && src != rcx {
		c.a.shiftx(w, op, dst, src)
		return
	}
	orig := dst
	if src != rcx {
		if dst == rcx {
			c.a.movRegReg(auxReg, dst)
			dst = auxReg
		} else {
			c.a.push(rcx)
		}
		c.a.movRegReg(rcx, src)
	}
	c.a.shiftCL(w, op, dst)
	if src != rcx {
		if orig == rcx {
			c.a.movRegReg(rcx, auxReg)
		} else {
			c.a.pop(rcx)
		}
	}
}

// emitEnd is the BPF_END cases: be16/be32/be64 and the ALU64 bswap share
// one sequence (x86 is little-endian, so "to big-endian" swaps); le16/32
// only truncate and le64 is a no-op.
func (c *compiler) emitEnd(i int, ins *core.Insn, dst reg) error {
	switch {
	case ins.Op == core.ALU|core.End|core.ToBE || ins.Op == core.ALU64|core.End|core.K:
		switch ins.Imm {
		case 16:
			c.a.rorw8(dst)
			c.a.movzxwRegReg32(dst, dst)
		case 32:
			c.a.bswap(false, dst)
		case 64:
			c.a.bswap(true, dst)
		default:
			return c.errorf(c.slot(i), "op %#02x: byte swap of %d bits", ins.Op, ins.Imm)
		}
	case ins.Op == core.ALU|core.End|core.ToLE:
		switch ins.Imm {
		case 16:
			c.a.movzxwRegReg32(dst, dst)
		case 32:
			c.a.movRegReg32(dst, dst)
		case 64:
		default:
			return c.errorf(c.slot(i), "op %#02x: byte swap of %d bits", ins.Op, ins.Imm)
		}
	default:
		return c.unknown(i, ins)
	}
	return nil
}

// emitDivMod is the DIV/MOD cases, preceded by the guard that the kernel's
// verifier patches in before the JIT ever sees the instruction
// (do_misc_fixups, "Make divide-by-zero and divide-by-minus-one exceptions
// impossible"). jitsim JITs unpatched programs, so the guard is emitted here
// as the x86 code the JIT would produce for the patched BPF instructions,
// with their jumps short as the JIT picks them. That gives the RFC 9669
// results instead of #DE: x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN,
// INT_MIN%-1 = 0.
func (c *compiler) emitDivMod(ins *core.Insn, w, x bool, dst, src reg) {
	isDiv := ins.OpCode() == core.Div
	signed := ins.Off == 1
	a := &c.a
	if !x {
		switch {
		case ins.Imm == 0:
			// The verifier rejects division by a constant 0; emit what the
			// register form's guard leaves: 0, or dst (truncated for mod32).
			if isDiv {
				a.xorRegReg32(dst, dst)
			} else if !w {
				a.movRegReg32(dst, dst)
			}
		case signed && ins.Imm == -1:
			// do_misc_fixups replaces sdiv/smod by -1 with neg / "w = 0".
			if isDiv {
				a.negReg(w, dst)
			} else {
				a.xorRegReg32(dst, dst)
			}
		default:
			c.emitDivCore(w, isDiv, signed, dst, auxReg, true, ins.Imm)
		}
		return
	}
	switch {
	case signed && isDiv:
		//	AX = src; AX += 1; if AX > 1 goto div; if AX == 0 goto neg;
		//	dst = 0; neg: dst = -dst; goto out; div: dst s/= src; out:
		c.emitMovReg(true, axReg, src)
		c.emitAluImm(w, opAdd, axReg, 1)
		a.cmpImm8(w, axReg, 1)
		toDiv := c.jcc8(ja)
		a.testRegReg(w, axReg, axReg)
		toNeg := c.jcc8(je)
		c.emitMovImm32(w, dst, 0)
		c.patch8(toNeg)
		a.negReg(w, dst)
		toOut := c.jmp8()
		c.patch8(toDiv)
		c.emitDivCore(w, isDiv, signed, dst, src, false, 0)
		c.patch8(toOut)
	case signed:
		//	AX = src; AX += 1; if AX > 1 goto mod; if AX == 1 goto out;
		//	w(dst) = 0; goto out; mod: dst s%= src; out:
		// (mod32 ends with "w(dst) = w(dst)" on the src == 0 path.)
		c.emitMovReg(true, axReg, src)
		c.emitAluImm(w, opAdd, axReg, 1)
		a.cmpImm8(w, axReg, 1)
		toMod := c.jcc8(ja)
		a.cmpImm8(w, axReg, 1)
		toKeep := c.jcc8(je)
		c.emitMovImm32(false, dst, 0)
		toOut := c.jmp8()
		c.patch8(toMod)
		c.emitDivCore(w, isDiv, signed, dst, src, false, 0)
		c.finishMod(w, dst, toKeep, toOut)
	case isDiv:
		//	if src != 0 goto div; w(dst) ^= w(dst); goto out; div: ...; out:
		a.testRegReg(w, src, src)
		toDiv := c.jcc8(jne)
		a.xorRegReg32(dst, dst)
		toOut := c.jmp8()
		c.patch8(toDiv)
		c.emitDivCore(w, isDiv, signed, dst, src, false, 0)
		c.patch8(toOut)
	default:
		//	if src == 0 goto out; dst %= src; out:
		a.testRegReg(w, src, src)
		toKeep := c.jcc8(je)
		c.emitDivCore(w, isDiv, signed, dst, src, false, 0)
		c.finishMod(w, dst, toKeep, -1)
	}
}

// finishMod ends a mod guard. For ALU64 the "keep dst" path jumps past the
// end; for ALU the patch adds "goto out; w(dst) = w(dst)" so that the kept
// dst is zero-extended, and the keep path lands on that move. toOut, when
// set, is the jump of the path that already has its result and, as the
// verifier's "goto +1" does, lands on the next patched instruction.
func (c *compiler) finishMod(w bool, dst reg, toKeep, toOut int) {
	if w {
		c.patch8(toKeep)
		if toOut >= 0 {
			c.patch8(toOut)
		}
		return
	}
	if toOut >= 0 {
		c.patch8(toOut)
	}
	skip := c.jmp8()
	c.patch8(toKeep)
	c.a.movRegReg32(dst, dst)
	c.patch8(skip)
}

// emitDivCore is do_jit's DIV/MOD sequence: x86 divides rdx:rax, so rax
// and rdx are saved unless they are the destination, a divisor in rax or
// rdx (or an immediate) moves to r11, and the quotient (rax) or remainder
// (rdx) lands in dst.
func (c *compiler) emitDivCore(w, isDiv, signed bool, dst, src reg, k bool, imm int32) {
	a := &c.a
	if dst != rax {
		a.push(rax)
	}
	if dst != rdx {
		a.push(rdx)
	}
	if k {
		a.movSxImm32(auxReg, imm)
		src = auxReg
	} else if src == rax || src == rdx {
		a.movRegReg(auxReg, src)
		src = auxReg
	}
	if dst != rax {
		c.emitMovReg(w, rax, dst)
	}
	if signed {
		a.cdq(w)
		a.idivReg(w, src)
	} else {
		// xor edx, edx: same as xor rdx, rdx, one byte shorter.
		a.xorRegReg32(rdx, rdx)
		a.divReg(w, src)
	}
	if !isDiv && dst != rdx {
		c.emitMovReg(w, dst, rdx)
	} else if isDiv && dst != rax {
		c.emitMovReg(w, dst, rax)
	}
	if dst != rdx {
		a.pop(rdx)
	}
	if dst != rax {
		a.pop(rax)
	}
}

// jcc8 emits a short conditional jump to be patched once its target is
// emitted, and returns where its displacement byte is.
func (c *compiler) jcc8(cc byte) int {
	c.a.jccRel8(cc, 0)
	return c.a.len() - 1
}

// jmp8 is jcc8 for an unconditional short jump.
func (c *compiler) jmp8() int {
	c.a.jmpRel8(0)
	return c.a.len() - 1
}

// patch8 points the short jump whose displacement is at p to the current
// position (as the kernel's PROBE_MEM code patches end_of_jmp[-1]).
func (c *compiler) patch8(p int) {
	c.a.patch8(p, byte(c.a.len()-(p+1)))
}
