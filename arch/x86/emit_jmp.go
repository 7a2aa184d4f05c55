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
func (c *compiler) emitJump(i int, ins *core.Insn) error {
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
	if c.firstPass {
		c.kind[c.slot(i)] = kindCond | uint8(c.a.len())<<4
	}
	return c.emitCondJmp(i, cc, c.addr(i, i+int(ins.Off))-c.addr(i, i))
}

// insnSzDiff is INSN_SZ_DIFF: how much longer this insn was in the
// previous pass (addrs[i] - addrs[i-1], which the pass keeps in prevLen)
// than the emitted bytes so far.
func (c *compiler) insnSzDiff(emitted int) int {
	return c.prevLen - emitted
}

// condJmpForm is emit_cond_jmp's choice, given the distance (addrs[] of the
// previous pass for forward targets) and the bytes already emitted for
// the insn: rel8 when the distance allows, padded in padding passes by the
// 4 bytes a rel32 jcc had in the previous pass so the insn does not shrink
// again, else rel32. It returns the padding and the jcc's length.
func (c *compiler) condJmpForm(i, off, emitted int) (nops, jlen int, err error) {
	switch {
	case isImm8Jmp(int64(off)):
		if c.fs.padding {
			nops = c.insnSzDiff(emitted) - 2
			if nops != 0 && nops != 4 {
				return 0, 0, c.errorf(c.slot(i), "unexpected jmp_cond padding: %d bytes", nops)
			}
		}
		return nops, 2, nil
	case isSimm32(int64(off)):
		return 0, 6, nil
	}
	return 0, 0, c.errorf(c.slot(i), "cond_jmp gen bug %x", off)
}

// emitCondJmp is the label emit_cond_jmp.
func (c *compiler) emitCondJmp(i int, cc byte, off int) error {
	nops, jlen, err := c.condJmpForm(i, off, c.a.len())
	if err != nil {
		return err
	}
	c.a.nops(nops)
	if jlen == 2 {
		c.a.jccRel8(cc, int8(off))
	} else {
		c.a.jccRel32(cc, int32(off))
	}
	return nil
}

// jaOffset is BPF_JA's jmp_offset: the offset is in Off, or in Imm for
// gotol (JMP32); "goto -1" is a 2-byte jump to itself whatever addrs[]
// says.
func (c *compiler) jaOffset(i int, ins *core.Insn) int {
	rel := int(ins.Off)
	if ins.Class() == core.JMP32 {
		rel = int(ins.Imm)
	}
	if rel == -1 {
		return -2
	}
	return c.addr(i, i+rel) - c.addr(i, i)
}

// jaNops is the padding of a jump to the next insn, which emits nothing
// outside padding passes: nothing if it was elided before too, else the 2
// or 5 bytes of the previous pass's jmp.
func (c *compiler) jaNops(i int) (int, error) {
	if !c.fs.padding {
		return 0, nil
	}
	nops := c.insnSzDiff(0)
	if nops != 0 && nops != 2 && nops != 5 {
		return 0, c.errorf(c.slot(i), "unexpected nop jump padding: %d bytes", nops)
	}
	return nops, nil
}

// emitJA is BPF_JA and gotol.
func (c *compiler) emitJA(i int, ins *core.Insn) error {
	if c.firstPass {
		c.kind[c.slot(i)] = kindJA
	}
	off := c.jaOffset(i, ins)
	if off == 0 {
		nops, err := c.jaNops(i)
		c.a.nops(nops)
		return err
	}
	return c.emitJmp(i, off)
}

// jmpForm is emit_jmp's choice: JMP rel8 (padded to the previous pass's 5
// bytes in padding passes) or JMP rel32.
func (c *compiler) jmpForm(i, off int) (nops, jlen int, err error) {
	switch {
	case isImm8Jmp(int64(off)):
		if c.fs.padding {
			nops = c.insnSzDiff(0) - 2
			if nops != 0 && nops != 3 {
				return 0, 0, c.errorf(c.slot(i), "unexpected jump padding: %d bytes", nops)
			}
		}
		return nops, 2, nil
	case isSimm32(int64(off)):
		return 0, 5, nil
	}
	return 0, 0, c.errorf(c.slot(i), "jmp gen bug %x", off)
}

// emitJmp is the label emit_jmp.
func (c *compiler) emitJmp(i int, off int) error {
	nops, jlen, err := c.jmpForm(i, off)
	if err != nil {
		return err
	}
	c.a.nops(nops)
	if jlen == 2 {
		c.a.jmpRel8(int8(off))
	} else {
		c.a.jmpRel32(int32(off))
	}
	return nil
}

// emitExit is BPF_EXIT: the first exit of a function emits the epilogue
// and becomes cleanup_addr; later ones jump there.
func (c *compiler) emitExit(i int) error {
	fs := c.fs
	if c.seenExit {
		if c.firstPass {
			c.kind[c.slot(i)] = kindExitJmp
		}
		return c.emitJmp(i, fs.cleanupAddr-c.addr(i, i))
	}
	if c.firstPass {
		c.kind[c.slot(i)] = kindExitFirst
	}
	c.seenExit = true
	fs.cleanupAddr = c.pos()
	c.emitEpilogue()
	return nil
}
