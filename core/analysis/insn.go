package analysis

import (
	"fmt"

	"jitsim/core"
	"jitsim/core/kabi"
)

// The per-slot checks follow the kernel's: bpf_opcode_in_insntable() for
// known opcodes, resolve_pseudo_ldimm64() for ld_imm64 and LDX, and do_check
// / check_alu_op / check_cond_jmp_op / check_atomic for the reserved fields
// of the rest. RFC 9669 defines the same set (v1-v4) and says unused fields
// must be zero. Two kernel rejections are left out on purpose because the
// conformance suite runs them: division by a constant zero and shifts by an
// immediate out of range.

var aluNames = [16]string{"add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov", "arsh", "end", "alu 0xe0", "alu 0xf0"}

var jmpNames = [16]string{"ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt", "jle", "jslt", "jsle", "jcond", "tail_call"}

var sizeNames = map[uint8]string{core.B: "b", core.H: "h", core.W: "w", core.DW: "dw"}

// insnName names an instruction the way messages refer to it ("add64 imm",
// "ldxdw", "jeq32 reg", "gotol", ...).
func insnName(ins core.Insn) string {
	size := sizeNames[ins.Size()]
	switch ins.Class() {
	case core.ALU, core.ALU64:
		bits := "32"
		if ins.Class() == core.ALU64 {
			bits = "64"
		}
		op := aluNames[ins.OpCode()>>4]
		switch {
		case ins.OpCode() == core.End:
			switch {
			case ins.Class() == core.ALU64:
				op = "bswap"
			case ins.Source() == core.ToBE:
				op = "be"
			default:
				op = "le"
			}
			return op + fmt.Sprint(ins.Imm)
		case ins.OpCode() == core.Neg:
			return "neg" + bits
		case ins.OpCode() == core.Div && ins.Off == 1:
			op = "sdiv"
		case ins.OpCode() == core.Mod && ins.Off == 1:
			op = "smod"
		case ins.OpCode() == core.Mov && ins.Source() == core.X && ins.Off != 0:
			op = "movsx"
		}
		if ins.Source() == core.X {
			return op + bits + " reg"
		}
		return op + bits + " imm"
	case core.JMP, core.JMP32:
		op := jmpNames[ins.OpCode()>>4]
		switch {
		case ins.Op == core.JMP32|core.JA:
			return "gotol"
		case ins.Op == core.JMP|core.Call|core.X:
			return "callx"
		case ins.OpCode() == core.JA || ins.OpCode() == core.Call || ins.OpCode() == core.Exit || ins.OpCode() == core.TailCall:
			return op
		}
		if ins.Class() == core.JMP32 {
			op += "32"
		}
		if ins.Source() == core.X {
			return op + " reg"
		}
		return op + " imm"
	case core.LDX:
		if ins.Mode() == core.MEMSX {
			return "ldxs" + size
		}
		return "ldx" + size
	case core.ST:
		return "st" + size
	case core.STX:
		if ins.Mode() == core.ATOMIC {
			if ins.Size() == core.DW {
				return "atomic64"
			}
			return "atomic32"
		}
		return "stx" + size
	case core.LD:
		switch ins.Mode() {
		case core.ABS:
			return "ldabs" + size
		case core.IND:
			return "ldind" + size
		}
		return "ld_imm64"
	}
	return "?"
}

// checkInsns checks every slot on its own, in order, and marks the second
// slots of ld_imm64.
func (c *checker) checkInsns() error {
	n := len(c.insns)
	c.second = make([]bool, n)
	for i := 0; i < n; i++ {
		ins := c.insns[i]
		if ins.IsLdImm64() {
			if err := c.checkLdImm64(i); err != nil {
				return err
			}
			c.second[i+1] = true
			i++
			continue
		}
		var err error
		switch ins.Class() {
		case core.ALU, core.ALU64:
			err = c.checkALU(i, ins)
		case core.JMP, core.JMP32:
			err = c.checkJmp(i, ins)
		case core.LDX:
			err = c.checkLdx(i, ins)
		case core.ST:
			err = c.checkSt(i, ins)
		case core.STX:
			err = c.checkStx(i, ins)
		case core.LD:
			err = c.checkLd(i, ins)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) unknownOp(i int, ins core.Insn, why string) error {
	if why != "" {
		why = " (" + why + ")"
	}
	return c.errorf(i, "unknown opcode %#02x%s", ins.Op, why)
}

// mustZero reports the first of the named fields that is set.
func (c *checker) mustZero(i int, ins core.Insn, fields string) error {
	for _, f := range fields {
		var v int64
		var name string
		switch f {
		case 'd':
			v, name = int64(ins.Dst), "dst"
		case 's':
			v, name = int64(ins.Src), "src"
		case 'o':
			v, name = int64(ins.Off), "off"
		case 'i':
			v, name = int64(ins.Imm), "imm"
		}
		if v != 0 {
			return c.errorf(i, "%s: unused %s field must be 0, is %d", insnName(ins), name, v)
		}
	}
	return nil
}

// reg checks that a register field names one of r0..r10; write says the
// instruction writes it, which r10 forbids.
func (c *checker) reg(i int, ins core.Insn, field string, r core.Reg, write bool) error {
	if r > core.R10 {
		return c.errorf(i, "%s: %s register r%d does not exist (r0-r10)", insnName(ins), field, r)
	}
	if write && r == core.RFP {
		return c.errorf(i, "%s: r10 is the read-only frame pointer and cannot be written", insnName(ins))
	}
	return nil
}

func (c *checker) checkALU(i int, ins core.Insn) error {
	is64 := ins.Class() == core.ALU64
	x := ins.Source() == core.X
	var err error
	switch op := ins.OpCode(); op {
	case 0xe0, 0xf0:
		return c.unknownOp(i, ins, "no such ALU operation")
	case core.Neg:
		if x {
			return c.errorf(i, "%s: neg has no source operand; the source bit (X) is reserved", insnName(ins))
		}
		err = c.mustZero(i, ins, "soi")
	case core.End:
		if is64 && x {
			return c.unknownOp(i, ins, "bswap takes no source bit; ALU64 END with X is reserved")
		}
		if err = c.mustZero(i, ins, "so"); err == nil && ins.Imm != 16 && ins.Imm != 32 && ins.Imm != 64 {
			err = c.errorf(i, "%s: imm must be 16, 32 or 64, is %d", insnName(ins), ins.Imm)
		}
	case core.Mov:
		if !x {
			err = c.mustZero(i, ins, "so")
			break
		}
		switch {
		case is64 && ins.Off == 1 && (ins.Imm == 1 || ins.Imm == 1<<16):
			// BPF_ADDR_SPACE_CAST (arena pointers, Linux 6.9).
			return c.errorf(i, "addr_space_cast (mov64 reg with off 1) is for BPF arenas: %w", core.ErrUnsupported)
		case ins.Off == 0 || ins.Off == 8 || ins.Off == 16 || (is64 && ins.Off == 32):
			err = c.mustZero(i, ins, "i")
		case is64:
			err = c.errorf(i, "mov64 reg: off must be 0 (mov) or 8, 16, 32 (movsx), is %d", ins.Off)
		default:
			err = c.errorf(i, "mov32 reg: off must be 0 (mov) or 8, 16 (movsx), is %d", ins.Off)
		}
	default:
		if x {
			err = c.mustZero(i, ins, "i")
		} else {
			err = c.mustZero(i, ins, "s")
		}
		if err == nil && ins.Off != 0 && (ins.Off != 1 || (op != core.Div && op != core.Mod)) {
			if op == core.Div || op == core.Mod {
				err = c.errorf(i, "%s: off must be 0 or 1 (signed), is %d", insnName(ins), ins.Off)
			} else {
				err = c.errorf(i, "%s: unused off field must be 0, is %d", insnName(ins), ins.Off)
			}
		}
	}
	if err != nil {
		return err
	}
	if x && ins.OpCode() != core.End && ins.OpCode() != core.Neg {
		if err := c.reg(i, ins, "src", ins.Src, false); err != nil {
			return err
		}
	}
	return c.reg(i, ins, "dst", ins.Dst, true)
}

func (c *checker) checkJmp(i int, ins core.Insn) error {
	x := ins.Source() == core.X
	jmp32 := ins.Class() == core.JMP32
	switch ins.OpCode() {
	case core.Call:
		if jmp32 {
			return c.unknownOp(i, ins, "call exists only in the JMP class")
		}
		if x {
			return c.checkCallx(i, ins)
		}
		return c.checkCall(i, ins)
	case core.Exit:
		if jmp32 || x {
			return c.unknownOp(i, ins, "exit exists only as JMP|EXIT|K")
		}
		return c.mustZero(i, ins, "dsoi")
	case core.JA:
		if x {
			return c.errorf(i, "indirect jump (JA with source X, gotox) is not supported: %w", core.ErrUnsupported)
		}
		if jmp32 {
			return c.mustZero(i, ins, "dso") // gotol: the target is in imm
		}
		return c.mustZero(i, ins, "dsi")
	case core.TailCall:
		// Only xlated code holds it (the verifier's rewrite of bpf_tail_call);
		// imm is the kernel's poke descriptor index of a direct tail call.
		if jmp32 || x {
			return c.unknownOp(i, ins, "tail_call exists only as JMP|TAIL_CALL|K")
		}
		return c.mustZero(i, ins, "dso")
	case 0xe0:
		return c.errorf(i, "may_goto (JMP|JCOND) is not supported: %w", core.ErrUnsupported)
	}
	var err error
	if x {
		if err = c.mustZero(i, ins, "i"); err == nil {
			err = c.reg(i, ins, "src", ins.Src, false)
		}
	} else {
		err = c.mustZero(i, ins, "s")
	}
	if err != nil {
		return err
	}
	return c.reg(i, ins, "dst", ins.Dst, false)
}

func (c *checker) checkCall(i int, ins core.Insn) error {
	switch ins.Src {
	case core.PseudoKfunc:
		return c.errorf(i, "call to kernel function (kfunc) btf_id %d: kfuncs are %w", ins.Imm, core.ErrUnsupported)
	case core.CallHelper, core.PseudoCall:
	default:
		return c.errorf(i, "call: src must be 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc), is %d", ins.Src)
	}
	if err := c.mustZero(i, ins, "do"); err != nil {
		return err
	}
	if ins.Src == core.PseudoCall {
		return nil // the target is checked with the function boundaries
	}
	id := ins.Imm
	if c.obj.Helpers == core.HelpersConformance {
		if id < 0 || int(id) >= len(conformanceHelpers) {
			return c.errorf(i, "call %d: no such helper; the conformance suite's helpers are 0-%d", id, len(conformanceHelpers)-1)
		}
		return nil
	}
	if isModelled(id) {
		return nil
	}
	if id > 0 && int(id) < len(kabi.HelperNames) {
		return c.errorf(i, "call %d: bpf_%s is a kernel helper jitsim does not model: %w", id, kabi.HelperNames[id], core.ErrUnsupported)
	}
	return c.errorf(i, "call %d: no kernel helper has this id", id)
}

// checkCallx checks "call %rN" as the conformance suite's assembler encodes
// it (JMP|CALL|X, the helper id in the register named by dst). Only the
// conformance runtimes define it; the kernel has no indirect call.
func (c *checker) checkCallx(i int, ins core.Insn) error {
	if c.obj.Helpers != core.HelpersConformance {
		return c.errorf(i, "callx (call through a register) exists only for the conformance suite's helpers, not kernel helpers")
	}
	if err := c.mustZero(i, ins, "soi"); err != nil {
		return err
	}
	return c.reg(i, ins, "dst", ins.Dst, false)
}

func (c *checker) checkLdx(i int, ins core.Insn) error {
	switch ins.Mode() {
	case core.MEM:
	case core.MEMSX:
		if ins.Size() == core.DW {
			return c.unknownOp(i, ins, "no sign-extending 64-bit load")
		}
	default:
		return c.unknownOp(i, ins, "LDX takes modes MEM and MEMSX only")
	}
	if err := c.mustZero(i, ins, "i"); err != nil {
		return err
	}
	if err := c.reg(i, ins, "src", ins.Src, false); err != nil {
		return err
	}
	return c.reg(i, ins, "dst", ins.Dst, true)
}

func (c *checker) checkSt(i int, ins core.Insn) error {
	if ins.Mode() != core.MEM {
		return c.unknownOp(i, ins, "ST takes mode MEM only")
	}
	if err := c.mustZero(i, ins, "s"); err != nil {
		return err
	}
	return c.reg(i, ins, "dst", ins.Dst, false)
}

func (c *checker) checkStx(i int, ins core.Insn) error {
	switch ins.Mode() {
	case core.MEM:
		if err := c.mustZero(i, ins, "i"); err != nil {
			return err
		}
	case core.ATOMIC:
		if err := c.checkAtomic(i, ins); err != nil {
			return err
		}
	default:
		return c.unknownOp(i, ins, "STX takes modes MEM and ATOMIC only")
	}
	if err := c.reg(i, ins, "dst", ins.Dst, false); err != nil {
		return err
	}
	// Fetching atomics load into src (cmpxchg into r0).
	write := ins.Mode() == core.ATOMIC && ins.Imm&core.Fetch != 0 && ins.Imm != core.AtomicCmpXchg
	return c.reg(i, ins, "src", ins.Src, write)
}

func (c *checker) checkAtomic(i int, ins core.Insn) error {
	switch ins.Imm {
	case core.AtomicAdd, core.AtomicOr, core.AtomicAnd, core.AtomicXor,
		core.AtomicAdd | core.Fetch, core.AtomicOr | core.Fetch, core.AtomicAnd | core.Fetch, core.AtomicXor | core.Fetch,
		core.AtomicXchg, core.AtomicCmpXchg:
	case core.LoadAcq:
		return c.errorf(i, "load-acquire (atomic imm %#x, Linux 6.15) is %w", ins.Imm, core.ErrUnsupported)
	case core.StoreRel:
		return c.errorf(i, "store-release (atomic imm %#x, Linux 6.15) is %w", ins.Imm, core.ErrUnsupported)
	default:
		return c.errorf(i, "%s: unknown atomic operation (imm %#x)", insnName(ins), ins.Imm)
	}
	if ins.Size() != core.W && ins.Size() != core.DW {
		return c.errorf(i, "atomic operations take 32 or 64-bit operands, not %s (op %#02x)", sizeNames[ins.Size()], ins.Op)
	}
	return nil
}

func (c *checker) checkLd(i int, ins core.Insn) error {
	mode := ins.Mode()
	if (mode != core.ABS && mode != core.IND) || ins.Size() == core.DW {
		return c.unknownOp(i, ins, "LD takes ld_imm64, ABS and IND only")
	}
	// check_ld_abs: only programs whose context is an sk_buff
	// (may_access_skb) and with r6 holding it implicitly.
	switch c.p.Type {
	case core.ProgTypeSocketFilter, core.ProgTypeSchedCLS, core.ProgTypeSchedAct:
	default:
		return c.errorf(i, "%s: legacy packet access needs a socket filter or tc program, not program type %d", insnName(ins), c.p.Type)
	}
	fields := "do"
	if mode == core.ABS {
		fields = "dso"
	}
	if err := c.mustZero(i, ins, fields); err != nil {
		return err
	}
	if mode == core.IND {
		return c.reg(i, ins, "src", ins.Src, false)
	}
	return nil
}

// checkLdImm64 checks both slots of the ld_imm64 at i and what its pseudo
// source refers to (resolve_pseudo_ldimm64, check_ld_imm).
func (c *checker) checkLdImm64(i int) error {
	lo := c.insns[i]
	if i+1 >= len(c.insns) {
		return c.errorf(i, "ld_imm64 is missing its second slot")
	}
	hi := c.insns[i+1]
	for _, f := range []struct {
		name string
		v    int64
	}{{"op", int64(hi.Op)}, {"dst", int64(hi.Dst)}, {"src", int64(hi.Src)}, {"off", int64(hi.Off)}} {
		if f.v != 0 {
			return c.errorf(i+1, "ld_imm64: the second slot's %s field must be 0, is %#x", f.name, f.v)
		}
	}
	if err := c.mustZero(i, lo, "o"); err != nil {
		return err
	}
	if err := c.reg(i, lo, "dst", lo.Dst, true); err != nil {
		return err
	}
	switch lo.Src {
	case 0, core.PseudoFunc: // a constant; a subprogram (checked with the boundaries)
		return nil
	case core.PseudoMapFD, core.PseudoMapValue:
		return c.checkMapRef(i, lo, hi)
	case core.PseudoBTFID:
		return c.errorf(i, "ld_imm64 with src 3 (BPF_PSEUDO_BTF_ID, a kernel variable) is %w", core.ErrUnsupported)
	case core.PseudoMapIdx, core.PseudoMapIdxValue:
		name := "BPF_PSEUDO_MAP_IDX"
		if lo.Src == core.PseudoMapIdxValue {
			name = "BPF_PSEUDO_MAP_IDX_VALUE"
		}
		return c.errorf(i, "ld_imm64 with src %d (%s) indexes the fd_array, which is %w", lo.Src, name, core.ErrUnsupported)
	}
	return c.errorf(i, "ld_imm64: unknown pseudo source %d (src must be 0-6)", lo.Src)
}

func (c *checker) checkMapRef(i int, lo, hi core.Insn) error {
	idx := uint32(lo.Imm)
	if idx >= uint32(len(c.obj.Maps)) {
		return c.errorf(i, "ld_imm64 refers to map %d, but the object has %d maps", idx, len(c.obj.Maps))
	}
	m := c.obj.Maps[idx]
	if lo.Src == core.PseudoMapFD {
		if hi.Imm != 0 {
			return c.errorf(i+1, "ld_imm64 of map %q: the second slot's imm must be 0, is %d", m.Name, hi.Imm)
		}
		return nil
	}
	// array_map_direct_value_addr: the one value of a single-entry array.
	if m.Type != core.MapArray || m.MaxEntries != 1 {
		return c.errorf(i, "ld_imm64 of a value of map %q: direct value access needs an array with one entry, not a %s with %d", m.Name, m.Type, m.MaxEntries)
	}
	if off := uint32(hi.Imm); off >= m.ValueSize {
		return c.errorf(i, "ld_imm64 of a value of map %q: offset %d is past the value size %d", m.Name, off, m.ValueSize)
	}
	return nil
}
