package xlate

import (
	"jitsim/core"
	"jitsim/core/kabi"
	"jitsim/core/maps"
)

// The flow analysis answers one question per tail call site: is r2 the
// same map and r3 the same constant on every path that reaches it? That is
// what the verifier's record_func_key and bpf_map_ptr_store leave in
// insn_aux_data (a map pointer seen at the site, poisoned when a second
// one shows up; a key recorded when r3 is a known constant below
// max_entries, poisoned when not or when another constant shows up), and
// what do_misc_fixups turns into a poke descriptor.
//
// The verifier walks every path with the caller's registers flowing into
// each call of a static subprogram; here each function's entry state is
// the join of what its call sites pass in r1-r5, and blocks are joined at
// merge points. Both poison a site that sees two maps or two keys, so both
// agree on direct versus indirect for the programs compilers emit. Branches
// whose operands are known constants go one way only, as is_branch_taken
// prunes them. Constants spilled to the stack are not followed (the
// verifier does follow them); clang materialises the key as an immediate
// right before the call.

// kind is what a register is known to hold.
type kind uint8

const (
	kBottom kind = iota // no path reaches here yet
	kTop                // anything
	kConst              // the number c
	kMap                // map object c (index in Object.Maps)
	kMaps               // one of the maps in set (indices < 64)
)

type val struct {
	k   kind
	c   uint64
	set uint64
}

var top = val{k: kTop}

func konst(c uint64) val { return val{k: kConst, c: c} }

// maps returns the bit set of the map(s) v may be.
func (v val) maps() (uint64, bool) {
	switch {
	case v.k == kMap && v.c < 64:
		return 1 << v.c, true
	case v.k == kMaps:
		return v.set, true
	}
	return 0, false
}

func join(a, b val) val {
	switch {
	case a.k == kBottom:
		return b
	case b.k == kBottom || a == b:
		return a
	}
	sa, okA := a.maps()
	sb, okB := b.maps()
	if okA && okB {
		return val{k: kMaps, set: sa | sb}
	}
	return top
}

// regs are r0-r10, 16 entries so a 4-bit register field indexes them
// without a check (analysis rejects r11-r15).
type regs [16]val

func joinRegs(dst *regs, src *regs) bool {
	changed := false
	for i := range dst {
		if j := join(dst[i], src[i]); j != dst[i] {
			dst[i], changed = j, true
		}
	}
	return changed
}

// site is what reaches one tail call.
type site struct {
	reached bool
	r2, r3  val
}

// flow is one program's analysis.
type flow struct {
	obj   *core.Object
	lay   *maps.Layout
	p     *core.Program
	insns []core.Insn
	// blockAt[i] is the block starting at slot i, or -1.
	blockAt []int32
	starts  []int // block start slots, in order
	in      []regs
	queued  []bool
	work    []int
	sites   map[int]*site
}

// run computes the tail call sites' states. funcs are the function entry
// slots; entries[f] says whether a function is entered with unknown
// registers (the main function, callbacks referenced by ld_imm64).
func (f *flow) run(leaders []bool, unknownEntry []int) {
	n := len(f.insns)
	f.blockAt = make([]int32, n+1)
	for i := range f.blockAt {
		f.blockAt[i] = -1
	}
	for i := 0; i < n; i++ {
		if leaders[i] {
			f.blockAt[i] = int32(len(f.starts))
			f.starts = append(f.starts, i)
		}
	}
	f.in = make([]regs, len(f.starts))
	f.queued = make([]bool, len(f.starts))
	f.sites = make(map[int]*site)
	for _, e := range unknownEntry {
		var all regs
		for r := range all {
			all[r] = top
		}
		f.merge(e, &all)
	}
	for len(f.work) > 0 {
		b := f.work[len(f.work)-1]
		f.work = f.work[:len(f.work)-1]
		f.queued[b] = false
		f.block(b)
	}
}

// merge joins s into the in-state of the block at slot.
func (f *flow) merge(slot int, s *regs) {
	b := f.blockAt[slot]
	if b < 0 {
		return // the middle of an ld_imm64: the decoder rejects the jump
	}
	if joinRegs(&f.in[b], s) && !f.queued[b] {
		f.queued[b] = true
		f.work = append(f.work, int(b))
	}
}

// block runs block b from its in-state and passes the result on.
func (f *flow) block(b int) {
	s := f.in[b]
	n := len(f.insns)
	for i := f.starts[b]; i < n; i++ {
		if i > f.starts[b] && f.blockAt[i] >= 0 {
			f.merge(i, &s) // falls into the next block
			return
		}
		ins := f.insns[i]
		switch ins.Class() {
		case core.ALU, core.ALU64:
			s[ins.Dst&15] = alu(ins, s[ins.Dst&15], s[ins.Src&15])
		case core.LD:
			if ins.IsLdImm64() && i+1 < n {
				s[ins.Dst&15] = f.ldImm64(i)
				i++
				continue
			}
			clobber(&s) // LD_ABS/LD_IND: r0 loaded, r1-r5 clobbered
		case core.LDX:
			s[ins.Dst&15] = top
		case core.STX:
			if ins.IsAtomic() {
				switch {
				case ins.Imm == core.AtomicCmpXchg:
					s[core.R0] = top
				case ins.Imm&core.Fetch != 0:
					s[ins.Src&15] = top
				}
			}
		case core.JMP, core.JMP32:
			switch {
			case ins.IsExit():
				return
			case ins.IsPseudoCall():
				var entry regs
				for r := range entry {
					entry[r] = top
				}
				copy(entry[core.R1:core.R6], s[core.R1:core.R6])
				if t := ins.CallTarget(i); t >= 0 && t < n {
					f.merge(t, &entry)
				}
				clobber(&s)
			case f.isTailCall(ins):
				st := f.sites[i]
				if st == nil {
					st = &site{}
					f.sites[i] = st
				}
				st.reached = true
				st.r2, st.r3 = join(st.r2, s[core.R2]), join(st.r3, s[core.R3])
				clobber(&s)
			case ins.OpCode() == core.Call:
				clobber(&s)
			case ins.IsJump():
				t := ins.JumpTarget(i)
				taken, known := branch(ins, &s)
				if (!known || taken) && t >= 0 && t < n {
					f.merge(t, &s)
				}
				if ins.OpCode() == core.JA {
					return
				}
				if (!known || !taken) && i+1 < n {
					f.merge(i+1, &s)
				}
				return
			}
		}
	}
}

// isTailCall: the helper call the verifier rewrites, or an already
// rewritten one.
func (f *flow) isTailCall(ins core.Insn) bool {
	return ins.Op == core.JMP|core.TailCall ||
		f.obj.Helpers == core.HelpersKernel && ins.IsHelperCall() && ins.Imm == kabi.FnTailCall
}

// clobber is what a call leaves: r0-r5 unknown.
func clobber(s *regs) {
	for r := core.R0; r <= core.R5; r++ {
		s[r] = top
	}
}

func (f *flow) ldImm64(i int) val {
	lo, hi := f.insns[i], f.insns[i+1]
	switch lo.Src {
	case 0:
		c := core.Imm64(lo, hi)
		// Already xlated code holds the map's address: the same map.
		if m, ok := f.lay.MapAt(c); ok {
			return val{k: kMap, c: uint64(m)}
		}
		return konst(c)
	case core.PseudoMapFD:
		return val{k: kMap, c: uint64(uint32(lo.Imm))}
	}
	return top
}

// alu applies an ALU instruction when its operands are known constants;
// a 64-bit register move also carries a map.
func alu(ins core.Insn, d, s val) val {
	is64 := ins.Class() == core.ALU64
	op := ins.OpCode()
	x := ins.Source() == core.X
	if op == core.Mov && x && ins.Off == 0 {
		if is64 {
			return s
		}
		if s.k == kConst {
			return konst(uint64(uint32(s.c)))
		}
		return top
	}
	if x && s.k != kConst && op != core.Neg && op != core.End {
		return top
	}
	b := uint64(int64(ins.Imm))
	if x {
		b = s.c
	}
	if d.k != kConst && op != core.Mov {
		return top
	}
	v, ok := core.EvalALU(ins, d.c, b)
	if !ok {
		return top
	}
	return konst(v)
}

// branch evaluates a conditional jump whose operands are known constants.
func branch(ins core.Insn, s *regs) (taken, known bool) {
	op := ins.OpCode()
	if op == core.JA {
		return true, true
	}
	d := s[ins.Dst&15]
	b := uint64(int64(ins.Imm))
	if ins.Source() == core.X {
		sv := s[ins.Src&15]
		if sv.k != kConst {
			return false, false
		}
		b = sv.c
	}
	if d.k != kConst {
		return false, false
	}
	return core.CondJump(ins, d.c, b)
}
