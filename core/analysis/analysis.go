// Package analysis is jitsim's verifier-lite: it rejects programs that are
// certainly wrong (unknown opcodes, reserved fields, jumps out of their
// function, recursion, stacks past the kernel's limits, tail calls through
// maps that are not prog arrays, ...) and computes per function what the
// kernel's verifier hands its JITs: subprogram boundaries, stack_depth,
// tail_call_reachable, and the callee-saved registers in use.
//
// It is not the kernel's verifier: it tracks no register types or bounds
// beyond what the facts above need, so it accepts much that the kernel would
// reject (reading uninitialised registers, pointer leaks, division by a
// constant zero, which the conformance suite runs). What clang emits and the
// kernel accepts must pass.
package analysis

import (
	"fmt"

	"jitsim/core"
	"jitsim/core/kabi"
)

// Options select between kernel behaviours that differ by version.
type Options struct {
	// JITStackRounding makes the combined-stack check round each frame up to
	// 16 bytes, as round_up_stack_depth() does since Linux 6.9 when a JIT is
	// requested. The default is round_up(max(depth, 1), 32), the
	// interpreter's granularity, which every earlier kernel used for all
	// programs (check_max_stack_depth).
	JITStackRounding bool
}

// Check verifies every program of obj with the default Options and fills
// each program's Funcs. It returns the first error found: a *core.Error with
// Op "verify", the program's name and the instruction's position.
func Check(obj *core.Object) error { return Options{}.Check(obj) }

// CheckProgram verifies one program of obj with the default Options and
// fills p.Funcs.
func CheckProgram(obj *core.Object, p *core.Program) error {
	return Options{}.CheckProgram(obj, p)
}

// Check verifies every program of obj and fills each program's Funcs.
func (o Options) Check(obj *core.Object) error {
	if obj == nil {
		return core.Errorf(core.NoInsn, "verify", "no object to verify")
	}
	for _, p := range obj.Progs {
		if err := o.CheckProgram(obj, p); err != nil {
			return err
		}
	}
	return nil
}

// CheckProgram verifies p, one program of obj, and fills p.Funcs. On error
// p.Funcs is left as it was.
func (o Options) CheckProgram(obj *core.Object, p *core.Program) error {
	if obj == nil || p == nil {
		return core.Errorf(core.NoInsn, "verify", "no program to verify")
	}
	c := &checker{obj: obj, p: p, opts: o}
	funcs, err := c.run()
	if err != nil {
		return err
	}
	p.Funcs = funcs
	return nil
}

// checker holds one program's verification state.
type checker struct {
	obj  *core.Object
	p    *core.Program
	opts Options

	insns []core.Insn
	// second[i] is set when slot i is the second half of an ld_imm64.
	second []bool
	// funcOf[i] is the index in funcs of the function holding slot i.
	funcOf []int32
	funcs  []fn
	// topo lists the functions callees first.
	topo []int
}

// fn is a function under analysis: the core.Func being filled plus what the
// call graph and stack checks need.
type fn struct {
	core.Func
	// calls are the function's call edges in slot order: pseudo calls and
	// ld_imm64 function references, both of which check_max_stack_depth
	// walks as calls.
	calls []edge
	sum   summary
}

// edge is one call from a function.
type edge struct {
	insn   int // the call (or ld_imm64) slot
	callee int // index in checker.funcs
}

// errorf reports a problem at slot i, or with the whole program when i < 0.
func (c *checker) errorf(i int, format string, args ...any) error {
	e := c.p.Errorf(i, "verify", format, args...)
	if i < 0 {
		e.Pos = core.Pos{File: c.obj.File, Insn: -1}
		if len(c.p.SlotPos) > 0 {
			o := c.p.OriginOf(0)
			e.Pos = core.Pos{File: o.File, Section: o.Section, Insn: -1}
		}
	}
	return e
}

func (c *checker) run() ([]core.Func, error) {
	c.insns = c.p.Insns
	switch n := len(c.insns); {
	case n == 0:
		return nil, c.errorf(-1, "the program has no instructions")
	case n > core.MaxInsnSlots:
		return nil, c.errorf(-1, "%d instructions is more than the limit of %d", n, core.MaxInsnSlots)
	}
	if c.obj.Helpers != core.HelpersKernel && c.obj.Helpers != core.HelpersConformance {
		return nil, c.errorf(-1, "unknown helper set %d", c.obj.Helpers)
	}
	for _, step := range []func() error{
		c.checkInsns,    // each slot on its own (insn.go)
		c.splitFuncs,    // subprogram boundaries (funcs.go)
		c.checkJumps,    // jumps stay in their function, no fall-through (funcs.go)
		c.checkCalls,    // no recursion (calls.go)
		c.analyseStacks, // stack depths, map references (stack.go)
		c.checkFrames,   // call depth and combined stack (calls.go)
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	c.markTailCallReachable()
	out := make([]core.Func, len(c.funcs))
	for i := range c.funcs {
		out[i] = c.funcs[i].Func
	}
	return out, nil
}

// helperName names a helper of the object's set for messages.
func (c *checker) helperName(id int32) string {
	if c.obj.Helpers == core.HelpersConformance {
		if id >= 0 && int(id) < len(conformanceHelpers) {
			return conformanceHelpers[id].name
		}
		return fmt.Sprintf("helper %d", id)
	}
	if id > 0 && int(id) < len(kabi.HelperNames) {
		return "bpf_" + kabi.HelperNames[id]
	}
	return fmt.Sprintf("helper %d", id)
}
