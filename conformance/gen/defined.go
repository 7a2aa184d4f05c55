package gen

import (
	"fmt"

	"jitsim/core"
)

// helperArgs are the argument registers each conformance helper reads
// (bit k for rk): gather_bytes, memfrob, no_op, sqrti, strcmp_ext, unwind.
var helperArgs = [...]regs{
	0: argRegs,
	1: bit(core.R1) | bit(core.R2),
	2: 0,
	3: bit(core.R1),
	4: bit(core.R1) | bit(core.R2),
	5: bit(core.R1),
}

// frame is what Defined knows at one slot: the registers written on every
// path to it, and the bytes of the function's stack below r10 likewise
// (stack[k] is r10-1-k).
type frame struct {
	regs  regs
	stack [8]uint64 // 512 bits
	ok    bool      // reached at all
}

func (f *frame) written(k int) bool { return k >= 0 && k < 512 && f.stack[k/64]>>(k%64)&1 != 0 }

func (f *frame) write(k int) {
	if k >= 0 && k < 512 {
		f.stack[k/64] |= 1 << (k % 64)
	}
}

// Defined checks p (analysed: p.Funcs filled) against the verifier's rule
// that nothing is read before it is written, which makes a run's result
// the same on every engine: a register (r1-r5 count as unwritten after a
// call, r0 as written; a subprogram starts with the argument registers
// every call site writes), a helper's arguments, or a stack byte. The
// entry function starts with r1, r2 (the input and its length) and r10.
// It returns the first violation found, naming the slot.
func Defined(p *core.Program) error {
	if len(p.Funcs) == 0 {
		return fmt.Errorf("%s: no functions: run analysis first", p.Name)
	}
	funcOf := func(slot int) int {
		for i, f := range p.Funcs {
			if slot >= f.Start && slot < f.End {
				return i
			}
		}
		return -1
	}
	entry := make([]regs, len(p.Funcs))
	entry[0] = bit(core.R1) | bit(core.R2) | fpBit
	for i := 1; i < len(entry); i++ {
		entry[i] = argRegs | fpBit // narrowed by the call sites
	}
	// A callee's entry depends on its callers' states; repeat until the
	// entries settle (once, when callers come first as generated).
	for round := 0; round <= len(p.Funcs); round++ {
		before := append([]regs(nil), entry...)
		for fi, f := range p.Funcs {
			if err := definedFunc(p, f, entry[fi], entry, funcOf); err != nil {
				return fmt.Errorf("%s: function %s: %w", p.Name, f.Name, err)
			}
		}
		if equalRegs(before, entry) {
			return nil
		}
	}
	return nil
}

func equalRegs(a, b []regs) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// definedFunc runs the must-be-written analysis over one function to a
// fixpoint, narrowing the entries of the functions it calls.
func definedFunc(p *core.Program, f core.Func, in regs, entry []regs, funcOf func(int) int) error {
	insns := p.Insns
	states := make([]frame, f.End-f.Start)
	states[0] = frame{regs: in, ok: true}
	for changed := true; changed; {
		changed = false
		for i := f.Start; i < f.End; i++ {
			s := states[i-f.Start]
			if !s.ok {
				continue
			}
			ins := insns[i]
			var err error
			read := func(m regs) {
				if err == nil && s.regs&m != m {
					for r := core.R0; r < core.NumRegs; r++ {
						if m&bit(r)&^s.regs != 0 {
							err = fmt.Errorf("slot %d (%v): r%d is read before it is written", i, ins, r)
							return
						}
					}
				}
			}
			readStack := func(off int16, n int) {
				for b := range n {
					if k := -int(off) - 1 - b; err == nil && !s.written(k) {
						err = fmt.Errorf("slot %d (%v): stack byte r10%+d is read before it is written", i, ins, int(off)+b)
					}
				}
			}
			next := [2]int{i + 1, -1}
			switch ins.Class() {
			case core.ALU, core.ALU64:
				if ins.OpCode() != core.Mov {
					read(bit(ins.Dst))
				}
				if ins.Source() == core.X && ins.OpCode() != core.End && ins.OpCode() != core.Neg {
					read(bit(ins.Src))
				}
				s.regs |= bit(ins.Dst)
			case core.LD:
				s.regs |= bit(ins.Dst)
				next[0] = i + 2
			case core.LDX:
				read(bit(ins.Src))
				if ins.Src == core.R10 {
					readStack(ins.Off, core.SizeBytes(ins.Size()))
				}
				s.regs |= bit(ins.Dst)
			case core.ST, core.STX:
				read(bit(ins.Dst))
				if ins.Class() == core.STX {
					read(bit(ins.Src))
				}
				atomic := ins.IsAtomic()
				if atomic && ins.Imm == core.AtomicCmpXchg {
					read(bit(core.R0))
				}
				if ins.Dst == core.R10 {
					if atomic {
						readStack(ins.Off, core.SizeBytes(ins.Size()))
					}
					for b := range core.SizeBytes(ins.Size()) {
						s.write(-int(ins.Off) - 1 - b)
					}
				}
				switch {
				case atomic && ins.Imm == core.AtomicCmpXchg:
					s.regs |= bit(core.R0)
				case atomic && ins.Imm&core.Fetch != 0:
					s.regs |= bit(ins.Src)
				}
			case core.JMP, core.JMP32:
				switch {
				case ins.IsExit():
					read(bit(core.R0))
					next[0] = -1
				case ins.IsPseudoCall():
					if c := funcOf(ins.CallTarget(i)); c >= 0 {
						entry[c] &= s.regs&argRegs | fpBit
					}
					s.regs = s.regs&^argRegs | bit(core.R0)
				case ins.IsHelperCall():
					if ins.Imm >= 0 && int(ins.Imm) < len(helperArgs) {
						read(helperArgs[ins.Imm])
					} else {
						read(argRegs)
					}
					s.regs = s.regs&^argRegs | bit(core.R0)
				case ins.Op == core.JMP|core.Call|core.X:
					read(bit(ins.Dst) | argRegs)
					s.regs = s.regs&^argRegs | bit(core.R0)
				case ins.OpCode() == core.JA:
					next[0] = ins.JumpTarget(i)
				default:
					read(bit(ins.Dst))
					if ins.Source() == core.X {
						read(bit(ins.Src))
					}
					next[1] = ins.JumpTarget(i)
				}
			}
			if err != nil {
				return err
			}
			for _, n := range next {
				if n < f.Start || n >= f.End {
					continue // analysis keeps jumps inside the function
				}
				old := &states[n-f.Start]
				m := s
				if old.ok {
					m.regs &= old.regs
					for k := range m.stack {
						m.stack[k] &= old.stack[k]
					}
				}
				if !old.ok || m.regs != old.regs || m.stack != old.stack {
					*old = m
					changed = true
				}
			}
		}
	}
	return nil
}
