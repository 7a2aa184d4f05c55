package interp

import (
	"slices"

	"jitsim/core"
	"jitsim/core/helper"
)

// dinsn is one predecoded slot: a dense internal opcode the run loop
// switches on, with jump targets resolved to slot indices and immediates
// already sign-extended. Slots keep their kernel index, so an error names
// the same instruction bpftool would.
type dinsn struct {
	op  uint8
	dst uint8
	src uint8
	_   uint8
	// x is the target slot of a jump or pseudo call, the offset of a memory
	// access, or the index of a helper in code.helpers.
	x int32
	// imm is Imm sign-extended to 64 bits (as ALU64, JMP and ST|DW use it;
	// 32-bit forms truncate), or ld_imm64's whole constant.
	imm uint64
}

// Internal opcodes. ALU operations come in four forms in the order
// 64-bit register, 64-bit immediate, 32-bit register, 32-bit immediate;
// conditional jumps the same (JMP then JMP32).
const (
	opBad uint8 = iota // an unreachable slot: the second half of ld_imm64
	opEnd              // one past the last slot: the program ran off its end

	opAdd64X
	opAdd64K
	opAdd32X
	opAdd32K
	opSub64X
	opSub64K
	opSub32X
	opSub32K
	opMul64X
	opMul64K
	opMul32X
	opMul32K
	opDiv64X
	opDiv64K
	opDiv32X
	opDiv32K
	opSdiv64X
	opSdiv64K
	opSdiv32X
	opSdiv32K
	opOr64X
	opOr64K
	opOr32X
	opOr32K
	opAnd64X
	opAnd64K
	opAnd32X
	opAnd32K
	opLsh64X
	opLsh64K
	opLsh32X
	opLsh32K
	opRsh64X
	opRsh64K
	opRsh32X
	opRsh32K
	opMod64X
	opMod64K
	opMod32X
	opMod32K
	opSmod64X
	opSmod64K
	opSmod32X
	opSmod32K
	opXor64X
	opXor64K
	opXor32X
	opXor32K
	opMov64X
	opMov64K
	opMov32X
	opMov32K
	opArsh64X
	opArsh64K
	opArsh32X
	opArsh32K

	opNeg64
	opNeg32
	opMovsx64B // ALU64 movsx from 8, 16, 32 bits
	opMovsx64H
	opMovsx64W
	opMovsx32B // ALU movsx from 8, 16 bits
	opMovsx32H
	opLe16 // to-LE on a little-endian machine: truncate
	opLe32
	opLe64   // a no-op that still counts as an instruction
	opSwap16 // be16/32/64 on a little-endian machine and ALU64 bswap
	opSwap32
	opSwap64

	opJa
	opJeq64X
	opJeq64K
	opJeq32X
	opJeq32K
	opJgt64X
	opJgt64K
	opJgt32X
	opJgt32K
	opJge64X
	opJge64K
	opJge32X
	opJge32K
	opJset64X
	opJset64K
	opJset32X
	opJset32K
	opJne64X
	opJne64K
	opJne32X
	opJne32K
	opJsgt64X
	opJsgt64K
	opJsgt32X
	opJsgt32K
	opJsge64X
	opJsge64K
	opJsge32X
	opJsge32K
	opJlt64X
	opJlt64K
	opJlt32X
	opJlt32K
	opJle64X
	opJle64K
	opJle32X
	opJle32K
	opJslt64X
	opJslt64K
	opJslt32X
	opJslt32K
	opJsle64X
	opJsle64K
	opJsle32X
	opJsle32K

	opCall     // helper by id, resolved at decode time
	opCallX    // helper whose id is in dst (the conformance suite's callx)
	opCallFunc // bpf-to-bpf
	opExit
	opTailCall // x: poke index (direct) or -1 (indirect)

	opLdImm64

	opLdxB
	opLdxH
	opLdxW
	opLdxDW
	opLdxsB
	opLdxsH
	opLdxsW
	opStB
	opStH
	opStW
	opStDW
	opStxB
	opStxH
	opStxW
	opStxDW

	// Atomics, 32-bit then 64-bit of each.
	opAtomicAddW
	opAtomicAddDW
	opAtomicOrW
	opAtomicOrDW
	opAtomicAndW
	opAtomicAndDW
	opAtomicXorW
	opAtomicXorDW
	opFetchAddW
	opFetchAddDW
	opFetchOrW
	opFetchOrDW
	opFetchAndW
	opFetchAndDW
	opFetchXorW
	opFetchXorDW
	opXchgW
	opXchgDW
	opCmpXchgW
	opCmpXchgDW
)

// aluBase maps an ALU operation (Op & 0xf0, with Off 1 selecting the signed
// division forms) to the first of its four internal forms.
var aluBase = [16]uint8{
	core.Add >> 4:  opAdd64X,
	core.Sub >> 4:  opSub64X,
	core.Mul >> 4:  opMul64X,
	core.Div >> 4:  opDiv64X,
	core.Or >> 4:   opOr64X,
	core.And >> 4:  opAnd64X,
	core.Lsh >> 4:  opLsh64X,
	core.Rsh >> 4:  opRsh64X,
	core.Mod >> 4:  opMod64X,
	core.Xor >> 4:  opXor64X,
	core.Mov >> 4:  opMov64X,
	core.Arsh >> 4: opArsh64X,
}

// jmpBase does the same for conditional jumps.
var jmpBase = [16]uint8{
	core.JEQ >> 4:  opJeq64X,
	core.JGT >> 4:  opJgt64X,
	core.JGE >> 4:  opJge64X,
	core.JSET >> 4: opJset64X,
	core.JNE >> 4:  opJne64X,
	core.JSGT >> 4: opJsgt64X,
	core.JSGE >> 4: opJsge64X,
	core.JLT >> 4:  opJlt64X,
	core.JLE >> 4:  opJle64X,
	core.JSLT >> 4: opJslt64X,
	core.JSLE >> 4: opJsle64X,
}

var ldxOp = [4]uint8{core.W >> 3: opLdxW, core.H >> 3: opLdxH, core.B >> 3: opLdxB, core.DW >> 3: opLdxDW}
var ldxsOp = [4]uint8{core.W >> 3: opLdxsW, core.H >> 3: opLdxsH, core.B >> 3: opLdxsB}
var stOp = [4]uint8{core.W >> 3: opStW, core.H >> 3: opStH, core.B >> 3: opStB, core.DW >> 3: opStDW}
var stxOp = [4]uint8{core.W >> 3: opStxW, core.H >> 3: opStxH, core.B >> 3: opStxB, core.DW >> 3: opStxDW}

// atomicOp maps STX|ATOMIC's Imm to the 32-bit form; the 64-bit one follows.
var atomicOp = map[int32]uint8{
	core.AtomicAdd:              opAtomicAddW,
	core.AtomicOr:               opAtomicOrW,
	core.AtomicAnd:              opAtomicAndW,
	core.AtomicXor:              opAtomicXorW,
	core.AtomicAdd | core.Fetch: opFetchAddW,
	core.AtomicOr | core.Fetch:  opFetchOrW,
	core.AtomicAnd | core.Fetch: opFetchAndW,
	core.AtomicXor | core.Fetch: opFetchXorW,
	core.AtomicXchg:             opXchgW,
	core.AtomicCmpXchg:          opCmpXchgW,
}

// code is a program predecoded for one helper set.
type code struct {
	insns   []dinsn // len(src)+1: the last is opEnd
	helpers []helper.Helper
	// src is the slot array decoded, to notice a Program changed in place.
	src []core.Insn
	set core.HelperSet
}

// decoder carries one decode's state.
type decoder struct {
	prog *core.Program
	c    *code
}

// decode checks every slot as the kernel's verifier checks opcodes and
// reserved fields (do_check, check_alu_op, check_cond_jmp_op,
// resolve_pseudo_ldimm64) and translates it. Checking everything up front,
// as the verifier and the JITs do, keeps the run loop free of validity
// tests: a program either decodes or is rejected before it runs.
func decode(prog *core.Program, set core.HelperSet) (*code, error) {
	n := len(prog.Insns)
	if n == 0 {
		return nil, core.Errorf(core.Pos{Insn: -1}, "run", "program %q has no instructions", prog.Name)
	}
	d := &decoder{prog: prog, c: &code{
		insns: make([]dinsn, n+1),
		src:   slices.Clone(prog.Insns),
		set:   set,
	}}
	d.c.insns[n].op = opEnd
	for i := 0; i < n; i++ {
		// opEnd names the last instruction, the one that falls through.
		d.c.insns[n].x = int32(i)
		ins := prog.Insns[i]
		if ins.IsLdImm64() {
			if err := d.ldImm64(i); err != nil {
				return nil, err
			}
			i++ // the second slot stays opBad: jumps into it are rejected below
			continue
		}
		di, err := d.insn(i, ins)
		if err != nil {
			return nil, err
		}
		d.c.insns[i] = di
	}
	// Targets in range were checked slot by slot; landing on the second
	// half of an ld_imm64 is checked once every slot is known, so one
	// ahead of the jump is caught too.
	for i := range n {
		di := &d.c.insns[i]
		if !isJump(di.op) && di.op != opCallFunc {
			continue
		}
		what := "jump"
		if di.op == opCallFunc {
			what = "call"
		}
		if t := di.x; d.c.insns[t].op == opBad {
			return nil, prog.Errorf(i, "run", "%s to %d lands in the middle of ld_imm64", what, t)
		}
	}
	return d.c, nil
}

func isJump(op uint8) bool { return op >= opJa && op <= opJsle32K }

func (d *decoder) errorf(i int, format string, args ...any) error {
	return d.prog.Errorf(i, "run", format, args...)
}

func (d *decoder) reserved(i int, ins core.Insn, what string) error {
	return d.errorf(i, "%s uses reserved fields (%s)", what, ins.Raw())
}

// reg checks a register operand; write says the instruction writes it.
func (d *decoder) reg(i int, r core.Reg, write bool) error {
	if r >= core.NumRegs {
		return d.errorf(i, "register r%d does not exist", r)
	}
	if write && r == core.RFP {
		return d.errorf(i, "frame pointer r10 is read only")
	}
	return nil
}

// target checks a jump or call target is a slot of the program and sets
// it. Landing in the middle of an ld_imm64 is checked once all slots are
// decoded.
func (d *decoder) target(i int, di *dinsn, what string, t int) error {
	if n := len(d.prog.Insns); t < 0 || t >= n {
		return d.errorf(i, "%s to %d is out of range (%d insns)", what, t, n)
	}
	di.x = int32(t)
	return nil
}

func (d *decoder) ldImm64(i int) error {
	p := d.prog.Insns
	ins := p[i]
	if i+1 >= len(p) {
		return d.errorf(i, "ld_imm64 is truncated: its second slot is missing")
	}
	hi := p[i+1]
	if hi.Op != 0 || hi.Dst != 0 || hi.Src != 0 || hi.Off != 0 {
		return d.errorf(i+1, "second slot of ld_imm64 uses reserved fields (%s)", hi.Raw())
	}
	if ins.Off != 0 {
		return d.reserved(i, ins, "ld_imm64")
	}
	if err := d.reg(i, ins.Dst, true); err != nil {
		return err
	}
	if ins.Src != 0 {
		// Map references became guest addresses in xlate; function
		// references (callbacks) are not modelled.
		return d.errorf(i, "ld_imm64 with pseudo source %d: %w", ins.Src, core.ErrUnsupported)
	}
	d.c.insns[i] = dinsn{op: opLdImm64, dst: uint8(ins.Dst), imm: core.Imm64(ins, hi)}
	return nil
}

func (d *decoder) insn(i int, ins core.Insn) (dinsn, error) {
	switch ins.Class() {
	case core.ALU, core.ALU64:
		return d.alu(i, ins)
	case core.JMP, core.JMP32:
		return d.jmp(i, ins)
	case core.LDX:
		return d.ldx(i, ins)
	case core.ST:
		return d.st(i, ins)
	case core.STX:
		return d.stx(i, ins)
	}
	// LD without IMM|DW: LD_ABS and LD_IND are rewritten by xlate.
	if ins.Mode() == core.ABS || ins.Mode() == core.IND {
		return dinsn{}, d.errorf(i, "legacy packet load %#02x must be rewritten by xlate first: %w", ins.Op, core.ErrUnsupported)
	}
	return dinsn{}, d.errorf(i, "unknown opcode %#02x", ins.Op)
}

func (d *decoder) alu(i int, ins core.Insn) (dinsn, error) {
	di := dinsn{dst: uint8(ins.Dst), src: uint8(ins.Src), imm: uint64(int64(ins.Imm))}
	is64 := ins.Class() == core.ALU64
	op := ins.OpCode()
	x := ins.Source() == core.X
	if err := d.reg(i, ins.Dst, true); err != nil {
		return di, err
	}
	switch op {
	case core.Neg:
		if x || ins.Src != 0 || ins.Off != 0 || ins.Imm != 0 {
			return di, d.reserved(i, ins, "neg")
		}
		di.op = pick(is64, opNeg64, opNeg32)
		return di, nil
	case core.End:
		if ins.Src != 0 || ins.Off != 0 || (ins.Imm != 16 && ins.Imm != 32 && ins.Imm != 64) || (is64 && x) {
			return di, d.reserved(i, ins, "byte swap")
		}
		k := ins.Imm/16 - 1 // 16, 32, 64 -> 0, 1, 3
		if k == 3 {
			k = 2
		}
		if !is64 && !x {
			di.op = opLe16 + uint8(k)
		} else {
			di.op = opSwap16 + uint8(k) // be on this little-endian machine, or bswap
		}
		return di, nil
	case core.Mov:
		if x && ins.Off != 0 {
			if ins.Imm != 0 {
				return di, d.reserved(i, ins, "movsx")
			}
			if err := d.reg(i, ins.Src, false); err != nil {
				return di, err
			}
			switch {
			case ins.Off == 8:
				di.op = pick(is64, opMovsx64B, opMovsx32B)
			case ins.Off == 16:
				di.op = pick(is64, opMovsx64H, opMovsx32H)
			case ins.Off == 32 && is64:
				di.op = opMovsx64W
			default:
				return di, d.reserved(i, ins, "movsx")
			}
			return di, nil
		}
	}
	base := aluBase[op>>4]
	if base == 0 {
		return di, d.errorf(i, "unknown ALU operation %#02x", ins.Op)
	}
	signed := false
	switch ins.Off {
	case 0:
	case 1:
		signed = op == core.Div || op == core.Mod
		if !signed {
			return di, d.reserved(i, ins, "ALU")
		}
	default:
		return di, d.reserved(i, ins, "ALU")
	}
	if signed {
		base += opSdiv64X - opDiv64X // smod follows mod as sdiv follows div
	}
	if x {
		if ins.Imm != 0 {
			return di, d.reserved(i, ins, "ALU")
		}
		if err := d.reg(i, ins.Src, false); err != nil {
			return di, err
		}
	} else if ins.Src != 0 {
		return di, d.reserved(i, ins, "ALU")
	}
	di.op = base + form(is64, x)
	return di, nil
}

// form is the offset of an ALU or conditional jump form from its base.
func form(is64, x bool) uint8 {
	var f uint8
	if !is64 {
		f = 2
	}
	if !x {
		f++
	}
	return f
}

func pick(is64 bool, a, b uint8) uint8 {
	if is64 {
		return a
	}
	return b
}

func (d *decoder) jmp(i int, ins core.Insn) (dinsn, error) {
	di := dinsn{dst: uint8(ins.Dst), src: uint8(ins.Src), imm: uint64(int64(ins.Imm))}
	is64 := ins.Class() == core.JMP
	x := ins.Source() == core.X
	switch op := ins.OpCode(); op {
	case core.JA:
		if x || ins.Src != 0 || ins.Dst != 0 || (is64 && ins.Imm != 0) || (!is64 && ins.Off != 0) {
			return di, d.reserved(i, ins, "ja")
		}
		di.op = opJa
		return di, d.target(i, &di, "jump", ins.JumpTarget(i))
	case core.Exit:
		if x || !is64 || ins.Src != 0 || ins.Dst != 0 || ins.Off != 0 || ins.Imm != 0 {
			return di, d.reserved(i, ins, "exit")
		}
		di.op = opExit
		return di, nil
	case core.Call:
		return d.call(i, ins, di)
	case core.TailCall:
		if is64 {
			// xlate's BPF_JMP|BPF_TAIL_CALL: Imm is a poke descriptor's
			// index + 1 for a direct tail call, 0 for an indirect one.
			if x || ins.Dst != 0 || ins.Src != 0 || ins.Off != 0 || ins.Imm < 0 {
				return di, d.reserved(i, ins, "tail call")
			}
			if int(ins.Imm) > len(d.prog.TailCallPokes) {
				return di, d.errorf(i, "tail call through poke descriptor %d, the program has %d", ins.Imm, len(d.prog.TailCallPokes))
			}
			di.op, di.x = opTailCall, ins.Imm-1
			return di, nil
		}
	}
	base := jmpBase[ins.OpCode()>>4]
	if base == 0 {
		return di, d.errorf(i, "unknown jump operation %#02x", ins.Op)
	}
	if x {
		if ins.Imm != 0 {
			return di, d.reserved(i, ins, "conditional jump")
		}
		if err := d.reg(i, ins.Src, false); err != nil {
			return di, err
		}
	} else if ins.Src != 0 {
		return di, d.reserved(i, ins, "conditional jump")
	}
	if err := d.reg(i, ins.Dst, false); err != nil {
		return di, err
	}
	di.op = base + form(is64, x)
	return di, d.target(i, &di, "jump", ins.JumpTarget(i))
}

func (d *decoder) call(i int, ins core.Insn, di dinsn) (dinsn, error) {
	if ins.Class() != core.JMP || ins.Off != 0 {
		return di, d.reserved(i, ins, "call")
	}
	if ins.Source() == core.X {
		// callx: the conformance suite's assembler puts the register in
		// dst (bpf_conformance lib/src/bpf_assembler.cc, "call %rN").
		if ins.Src != 0 || ins.Imm != 0 {
			return di, d.reserved(i, ins, "callx")
		}
		if err := d.reg(i, ins.Dst, false); err != nil {
			return di, err
		}
		di.op = opCallX
		return di, nil
	}
	if ins.Dst != 0 {
		return di, d.reserved(i, ins, "call")
	}
	switch ins.Src {
	case core.CallHelper:
		h, ok := helper.Lookup(d.c.set, ins.Imm)
		if !ok {
			name, known := helper.Describe(d.c.set, ins.Imm)
			if known {
				return di, d.errorf(i, "call %s: %w", name, core.ErrUnsupported)
			}
			return di, d.errorf(i, "call to %s", name)
		}
		di.op, di.x = opCall, int32(len(d.c.helpers))
		d.c.helpers = append(d.c.helpers, h)
		return di, nil
	case core.PseudoCall:
		di.op = opCallFunc
		return di, d.target(i, &di, "call", ins.CallTarget(i))
	case core.PseudoKfunc:
		return di, d.errorf(i, "kfunc call %d: %w", ins.Imm, core.ErrUnsupported)
	}
	return di, d.reserved(i, ins, "call")
}

func (d *decoder) ldx(i int, ins core.Insn) (dinsn, error) {
	di := dinsn{dst: uint8(ins.Dst), src: uint8(ins.Src), x: int32(ins.Off)}
	if ins.Imm != 0 {
		return di, d.reserved(i, ins, "BPF_LDX")
	}
	if err := d.reg(i, ins.Dst, true); err != nil {
		return di, err
	}
	if err := d.reg(i, ins.Src, false); err != nil {
		return di, err
	}
	switch ins.Mode() {
	case core.MEM:
		di.op = ldxOp[ins.Size()>>3]
		return di, nil
	case core.MEMSX:
		if ins.Size() != core.DW {
			di.op = ldxsOp[ins.Size()>>3]
			return di, nil
		}
	}
	return di, d.errorf(i, "unknown load opcode %#02x", ins.Op)
}

func (d *decoder) st(i int, ins core.Insn) (dinsn, error) {
	di := dinsn{dst: uint8(ins.Dst), x: int32(ins.Off), imm: uint64(int64(ins.Imm))}
	if ins.Mode() != core.MEM {
		return di, d.errorf(i, "unknown store opcode %#02x", ins.Op)
	}
	if ins.Src != 0 {
		return di, d.reserved(i, ins, "BPF_ST")
	}
	if err := d.reg(i, ins.Dst, false); err != nil {
		return di, err
	}
	di.op = stOp[ins.Size()>>3]
	return di, nil
}

func (d *decoder) stx(i int, ins core.Insn) (dinsn, error) {
	di := dinsn{dst: uint8(ins.Dst), src: uint8(ins.Src), x: int32(ins.Off)}
	if err := d.reg(i, ins.Dst, false); err != nil {
		return di, err
	}
	switch ins.Mode() {
	case core.MEM:
		if ins.Imm != 0 {
			return di, d.reserved(i, ins, "BPF_STX")
		}
		if err := d.reg(i, ins.Src, false); err != nil {
			return di, err
		}
		di.op = stxOp[ins.Size()>>3]
		return di, nil
	case core.ATOMIC:
		return d.atomic(i, ins, di)
	}
	return di, d.errorf(i, "unknown store opcode %#02x", ins.Op)
}

func (d *decoder) atomic(i int, ins core.Insn, di dinsn) (dinsn, error) {
	switch ins.Imm {
	case core.LoadAcq, core.StoreRel:
		return di, d.errorf(i, "load-acquire/store-release (imm %#x): %w", ins.Imm, core.ErrUnsupported)
	}
	op, ok := atomicOp[ins.Imm]
	if !ok {
		return di, d.errorf(i, "unknown atomic operation imm %#x", ins.Imm)
	}
	if ins.Size() != core.W && ins.Size() != core.DW {
		return di, d.errorf(i, "atomic operation of %d bytes: only 4 and 8 exist", core.SizeBytes(ins.Size()))
	}
	// Fetch forms write the old value back into src (cmpxchg into r0).
	if err := d.reg(i, ins.Src, ins.Imm&core.Fetch != 0 && ins.Imm != core.AtomicCmpXchg); err != nil {
		return di, err
	}
	if ins.Size() == core.DW {
		op++
	}
	di.op = op
	return di, nil
}
