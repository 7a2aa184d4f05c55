package analysis

import (
	"fmt"

	"jitsim/core"
	"jitsim/core/kabi"
)

// funcRef returns the slot a pseudo call or an ld_imm64 function reference
// at i names, and whether ins is one.
func funcRef(i int, ins core.Insn) (int, bool) {
	if ins.IsPseudoCall() || (ins.IsLdImm64() && ins.Src == core.PseudoFunc) {
		return i + 1 + int(ins.Imm), true
	}
	return 0, false
}

// splitFuncs finds the subprograms as add_subprog_and_kfunc does: slot 0
// starts the main function, and every pseudo call target and ld_imm64
// function reference (src BPF_PSEUDO_FUNC) starts one; a function runs to
// the next start. It then fills what each function needs from its slots
// alone: name, call edges, callee-saved registers, tail calls.
func (c *checker) splitFuncs() error {
	n := len(c.insns)
	isStart := make([]bool, n)
	isStart[0] = true
	for i := 0; i < n; i++ {
		if c.second[i] {
			continue
		}
		t, ok := funcRef(i, c.insns[i])
		if !ok {
			continue
		}
		what := "call"
		if c.insns[i].IsLdImm64() {
			what = "ld_imm64 function reference"
		}
		switch {
		case t < 0 || t >= n:
			return c.errorf(i, "%s to insn %d is outside the program (%d insns)", what, t, n)
		case c.second[t]:
			return c.errorf(i, "%s to insn %d lands in the second slot of the ld_imm64 at insn %d", what, t, t-1)
		}
		isStart[t] = true
	}

	names := c.symbolsAtEntries()
	c.funcOf = make([]int32, n)
	for i := 0; i < n; i++ {
		if isStart[i] {
			if len(c.funcs) > 0 {
				c.funcs[len(c.funcs)-1].End = i
			}
			f := fn{Func: core.Func{Start: i}}
			f.Name = names[i]
			if f.Name == "" {
				// The verifier log calls subprograms "func#N"; bpftool names
				// the main one after the program.
				switch {
				case i > 0:
					f.Name = fmt.Sprintf("func_%d", len(c.funcs))
				case c.p.Name != "":
					f.Name = c.p.Name
				default:
					f.Name = "main"
				}
			}
			c.funcs = append(c.funcs, f)
		}
		c.funcOf[i] = int32(len(c.funcs) - 1)
	}
	c.funcs[len(c.funcs)-1].End = n

	for fi := range c.funcs {
		f := &c.funcs[fi]
		for i := f.Start; i < f.End; i++ {
			ins := c.insns[i]
			c.noteRegs(f, ins)
			if c.second[i] {
				continue
			}
			if t, ok := funcRef(i, ins); ok {
				f.calls = append(f.calls, edge{insn: i, callee: int(c.funcOf[t])})
			}
			// check_subprogs marks has_tail_call on "call bpf_tail_call";
			// xlated code holds its rewrite, JMP|TAIL_CALL.
			if ins.Op == core.JMP|core.TailCall ||
				(c.obj.Helpers == core.HelpersKernel && ins.IsHelperCall() && ins.Imm == kabi.FnTailCall) {
				f.HasTailCall = true
			}
		}
	}
	return nil
}

// symbolsAtEntries returns the name the program's symbols give each slot,
// preferring function symbols over plain labels.
func (c *checker) symbolsAtEntries() map[int]string {
	names := make(map[int]string)
	isFunc := make(map[int]bool)
	for _, s := range c.p.Symbols {
		if s.Name == "" || (names[s.Insn] != "" && (isFunc[s.Insn] || !s.Func)) {
			continue
		}
		names[s.Insn] = s.Name
		isFunc[s.Insn] = s.Func
	}
	return names
}

// noteRegs records the callee-saved registers slot i uses, with the x86
// JIT's detect_reg_usage() rule: any slot whose dst or src field is r6..r9.
// (The src field of a call or an ld_imm64 holds a kind, never 6..9 once
// checkInsns has passed.) LD_ABS/LD_IND read the context from r6
// implicitly, and the verifier's rewrite (bpf_gen_ld_abs) names it, so they
// use r6 too.
func (c *checker) noteRegs(f *fn, ins core.Insn) {
	for _, r := range [...]core.Reg{ins.Dst, ins.Src} {
		if r >= core.R6 && r <= core.R9 {
			f.CalleeSaved[r-core.R6] = true
		}
	}
	if ins.Class() == core.LD && (ins.Mode() == core.ABS || ins.Mode() == core.IND) {
		f.CalleeSaved[0] = true
	}
}

// checkJumps checks what check_subprogs and check_cfg check of control
// flow: every jump lands on an instruction of its own function, never in
// the second slot of an ld_imm64, and every function ends with exit or an
// unconditional jump, so no path runs off its end.
func (c *checker) checkJumps() error {
	n := len(c.insns)
	for fi := range c.funcs {
		f := &c.funcs[fi]
		for i := f.Start; i < f.End; i++ {
			ins := c.insns[i]
			if c.second[i] || !ins.IsJump() {
				continue
			}
			switch t := ins.JumpTarget(i); {
			case t < 0 || t >= n:
				return c.errorf(i, "%s to insn %d is outside the program (%d insns)", insnName(ins), t, n)
			case c.second[t]:
				return c.errorf(i, "%s to insn %d lands in the second slot of the ld_imm64 at insn %d", insnName(ins), t, t-1)
			case t < f.Start || t >= f.End:
				return c.errorf(i, "%s to insn %d leaves function %s (insns %d-%d)", insnName(ins), t, f.Name, f.Start, f.End-1)
			}
		}
		last := f.End - 1
		if c.second[last] {
			return c.errorf(last, "function %s ends with an ld_imm64, so execution would run off its end; the last instruction must be exit or ja", f.Name)
		}
		switch ins := c.insns[last]; ins.Op {
		case core.JMP | core.Exit, core.JMP | core.JA, core.JMP32 | core.JA:
		default:
			return c.errorf(last, "function %s ends with %s, so execution would run off its end; the last instruction must be exit or ja", f.Name, insnName(ins))
		}
	}
	return nil
}
