package x86

import "jitsim/core"

// bpfCond maps BPF jump operations to the kernel's X86_J* condition codes
// (JSET tests with "test", so it jumps on not-zero).
var bpfCond = [16]byte{
	core.JEQ >> 4: je, core.JNE >> 4: jne, core.JSET >> 4: jne,
	core.JGT >> 4: ja, core.JLT >> 4: jb, core.JGE >> 4: jae, core.JLE >> 4: jbe,
	core.JSGT >> 4: jg, core.JSLT >> 4: jl, core.JSGE >> 4: jge, core.JSLE >> 4: jle,
}

// emitJump is do_jit's JMP and JMP32 cases.
func (c *compiler) emitJump(i int, ins core.Insn) error {
	jmp64 := ins.Class() == core.JMP
	switch ins.OpCode() {
	case core.Call:
		if !jmp64 {
			return c.unknown(i, ins)
		}
		return c.emitCall(i, ins)
	case core.TailCall:
		if !jmp64 || ins.Source() != core.K {
			return c.unknown(i, ins)
		}
		return c.emitTailCall(i, ins)
	case core.Exit:
		if !jmp64 || ins.Source() != core.K {
			return c.unknown(i, ins)
		}
		return c.emitExit(i)
	case core.JA:
		if ins.Source() != core.K {
			return c.unknown(i, ins)
		}
		return c.emitJA(i, ins)
	}
	cc := bpfCond[ins.OpCode()>>4]
	if cc == 0 {
		return c.unknown(i, ins)
	}
	dst := bpf2x86[ins.Dst]
	switch {
	case ins.Source() == core.X && ins.OpCode() == core.JSET:
		c.a.testRegReg(jmp64, dst, bpf2x86[ins.Src])
	case ins.Source() == core.X:
		c.a.cmpRegReg(jmp64, dst, bpf2x86[ins.Src])
	case ins.OpCode() == core.JSET:
		c.a.testImm32(jmp64, dst, ins.Imm)
	case ins.Imm == 0:
		// test dst, dst: one byte shorter than cmp dst, 0.
		c.a.testRegReg(jmp64, dst, dst)
	case isImm8(int64(ins.Imm)):
		c.a.cmpImm8(jmp64, dst, int8(ins.Imm))
	default:
		c.a.cmpImm32(jmp64, dst, ins.Imm)
	}
	return c.emitCondJmp(i, cc, c.fs.addrs[i+int(ins.Off)]-c.fs.addrs[i])
}

// insnSzDiff is INSN_SZ_DIFF: how much longer this insn was in the
// previous pass than what has been emitted for it so far.
func (c *compiler) insnSzDiff(i int) int {
	return (c.fs.addrs[i] - c.fs.addrs[i-1]) - (c.a.len() - c.insnStart)
}

// emitCondJmp is the label emit_cond_jmp: rel8 when the distance (from the
// previous pass for forward targets) allows, padded in padding passes so
// the insn does not shrink again, else rel32.
func (c *compiler) emitCondJmp(i int, cc byte, off int) error {
	switch {
	case isImm8Jmp(int64(off)):
		if c.fs.padding {
			// A rel32 jcc is 6 bytes, a rel8 one 2: pad 4 bytes before
			// the jump when the previous pass had the long form.
			nops := c.insnSzDiff(i) - 2
			if nops != 0 && nops != 4 {
				return c.errorf(c.slot(i), "unexpected jmp_cond padding: %d bytes", nops)
			}
			c.a.nops(nops)
		}
		c.a.jccRel8(cc, int8(off))
	case isSimm32(int64(off)):
		c.a.jccRel32(cc, int32(off))
	default:
		return c.errorf(c.slot(i), "cond_jmp gen bug %x", off)
	}
	return nil
}

// emitJA is BPF_JA (offset in Off) and gotol (JMP32, offset in Imm). A jump
// to the next insn emits nothing; "goto -1" is a 2-byte jump to itself
// without looking at addrs[].
func (c *compiler) emitJA(i int, ins core.Insn) error {
	rel := int(ins.Off)
	if ins.Class() == core.JMP32 {
		rel = int(ins.Imm)
	}
	var off int
	if rel == -1 {
		off = -2
	} else {
		off = c.fs.addrs[i+rel] - c.fs.addrs[i]
	}
	if off == 0 {
		if c.fs.padding {
			// Elided before (0), or a short (2) or long (5) jmp before.
			nops := c.insnSzDiff(i)
			if nops != 0 && nops != 2 && nops != 5 {
				return c.errorf(c.slot(i), "unexpected nop jump padding: %d bytes", nops)
			}
			c.a.nops(nops)
		}
		return nil
	}
	return c.emitJmp(i, off)
}

// emitJmp is the label emit_jmp: JMP rel8 (padded to the previous pass's 5
// bytes in padding passes) or JMP rel32.
func (c *compiler) emitJmp(i int, off int) error {
	switch {
	case isImm8Jmp(int64(off)):
		if c.fs.padding {
			nops := c.insnSzDiff(i) - 2
			if nops != 0 && nops != 3 {
				return c.errorf(c.slot(i), "unexpected jump padding: %d bytes", nops)
			}
			c.a.nops(nops)
		}
		c.a.jmpRel8(int8(off))
	case isSimm32(int64(off)):
		c.a.jmpRel32(int32(off))
	default:
		return c.errorf(c.slot(i), "jmp gen bug %x", off)
	}
	return nil
}

// emitExit is BPF_EXIT: the first exit of a function emits the epilogue
// and becomes cleanup_addr; later ones jump there.
func (c *compiler) emitExit(i int) error {
	fs := c.fs
	if c.seenExit {
		return c.emitJmp(i, fs.cleanupAddr-fs.addrs[i])
	}
	c.seenExit = true
	fs.cleanupAddr = c.pos()
	c.emitEpilogue()
	return nil
}
