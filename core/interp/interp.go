// Package interp is jitsim's reference interpreter: it defines what every
// other engine must compute. Semantics follow RFC 9669 and the kernel's own
// interpreter (___bpf_prog_run in kernel/bpf/core.c) where the RFC leaves
// room; memory is the shared guest address space of core/mem and helpers
// are the shared table of core/helper, so results compare bit for bit with
// the JITs run under the simulator.
//
// Programs are predecoded once per Engine (decode.go), checked the way the
// verifier checks opcodes and reserved fields, then run by a loop that
// counts every instruction against the budget (exec.go).
//
// Not modelled yet: tail calls (JMP|TailCall is rejected with
// core.ErrUnsupported; frame.tailCalls and state.tailCalls already hold
// the counts both schemes need), map and function references in ld_imm64
// (xlate resolves them), LD_ABS/LD_IND, kfuncs, load-acquire and
// store-release.
package interp

import (
	"slices"
	"time"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// Engine runs programs. It owns a guest address space and keeps it, and
// each program's predecoded form, across runs. An Engine is not safe for
// concurrent use.
type Engine struct {
	space mem.Space
	stack *mem.Region
	ctx   *mem.Region
	env   *helper.Env
	cache map[*core.Program]*code
	// args is where helper arguments are passed from: a field, so taking
	// its address for the indirect call does not allocate per call.
	args [5]uint64
}

// maxCached bounds the predecode cache; past it the cache starts over.
const maxCached = 256

// New returns an Engine. Guest memory is mapped on the first run.
func New() *Engine {
	e := &Engine{cache: make(map[*core.Program]*code)}
	e.env = helper.NewEnv(&e.space)
	return e
}

// Name is the engine's name in results and test names.
func (e *Engine) Name() string { return "interp" }

// Env is the helper environment of the last run (its printk output).
func (e *Engine) Env() *helper.Env { return e.env }

// Space is the guest address space, for callers that map more regions
// (maps, packet data) or inspect memory after a run.
func (e *Engine) Space() *mem.Space { return &e.space }

// Close releases the guest memory. The Engine can be used again after.
func (e *Engine) Close() error {
	e.stack, e.ctx = nil, nil
	return e.space.Close()
}

// Run runs program prog of obj. On error the Result is nil; the error is a
// *core.Error naming the instruction, wrapping core.ErrBudget,
// core.ErrTimeout, core.ErrFault or core.ErrUnsupported where one applies.
func (e *Engine) Run(obj *core.Object, prog int, in core.Input, opts core.RunOptions) (*core.Result, error) {
	if obj == nil || prog < 0 || prog >= len(obj.Progs) || obj.Progs[prog] == nil {
		n := 0
		if obj != nil {
			n = len(obj.Progs)
		}
		return nil, core.Errorf(core.NoInsn, "run", "no program %d (the object has %d)", prog, n)
	}
	p := obj.Progs[prog]
	c, err := e.decoded(p, obj.Helpers)
	if err != nil {
		return nil, err
	}
	if err := e.setup(in.Ctx); err != nil {
		return nil, core.Errorf(core.NoInsn, "run", "%v", err)
	}
	e.env.Reset()

	var r regs
	if len(in.Ctx) > 0 {
		r[core.R1] = mem.CtxBase
		r[core.R2] = uint64(len(in.Ctx))
	}
	r[core.R10] = mem.StackTop
	budget := opts.Budget
	if budget == 0 {
		budget = core.DefaultBudget
	}
	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = time.Now().Add(opts.Timeout)
	}
	st := &state{prog: p, c: c, scheme: opts.Scheme, budget: budget, deadline: deadline}
	r0, err := e.exec(st, &r)
	if err != nil {
		return nil, err
	}
	res := &core.Result{R0: r0, Insns: st.insns}
	if len(in.Ctx) > 0 {
		res.Ctx = slices.Clone(e.ctx.Data[:len(in.Ctx)])
	}
	return res, nil
}

// decoded returns p's predecoded form, from the cache when p's slots have
// not changed since.
func (e *Engine) decoded(p *core.Program, set core.HelperSet) (*code, error) {
	if c, ok := e.cache[p]; ok && c.set == set && slices.Equal(c.src, p.Insns) {
		return c, nil
	}
	c, err := decode(p, set)
	if err != nil {
		return nil, err
	}
	if len(e.cache) >= maxCached {
		clear(e.cache)
	}
	e.cache[p] = c
	return c, nil
}

// setup maps (or reuses) the stack and context regions and fills them for
// a run: a zeroed stack, the context bytes followed by zeros to the end of
// the page. The context region is exactly the input rounded up to pages on
// every run, so what faults does not depend on earlier runs.
func (e *Engine) setup(ctx []byte) error {
	if e.stack == nil {
		r, err := e.space.Map("stack", mem.StackBase, mem.StackSize, mem.Read|mem.Write)
		if err != nil {
			return err
		}
		e.stack = r
	} else {
		clear(e.stack.Data)
	}
	want := 0
	if len(ctx) > 0 {
		want = mem.RoundUp(len(ctx))
	}
	if e.ctx != nil && len(e.ctx.Data) != want {
		if err := e.space.Unmap(e.ctx); err != nil {
			return err
		}
		e.ctx = nil
	}
	if want == 0 {
		return nil
	}
	if e.ctx == nil {
		r, err := e.space.Map("ctx", mem.CtxBase, want, mem.Read|mem.Write)
		if err != nil {
			return err
		}
		e.ctx = r
	}
	n := copy(e.ctx.Data, ctx)
	clear(e.ctx.Data[n:])
	return nil
}

// regs are R0-R10; 16 entries so that indexing by a 4-bit register number
// needs no bounds check.
type regs [16]uint64

// frame is one bpf-to-bpf call in progress: what the caller gets back at
// exit. The entry program has no frame.
type frame struct {
	ret   int       // slot the caller resumes at
	saved [4]uint64 // the caller's r6-r9
	fp    uint64    // the caller's r10
	// tailCalls is the caller's tail call count under core.Legacy, where
	// the count travels by value and a callee starts from a copy of its
	// caller's (Linux <= 6.10 passed it in rax).
	tailCalls uint32
}

// state is one run.
type state struct {
	prog     *core.Program
	c        *code
	scheme   core.Scheme
	budget   uint64
	deadline time.Time
	insns    uint64 // instructions executed, set when the run ends

	// win is fast's window onto the last read-write region step used,
	// starting at guest address winBase.
	winBase uint64
	win     []byte

	frames [kabi.MaxCallFrames - 1]frame
	depth  int // frames in use: 0 in the entry program
	// tailCalls is the count of the running frame under core.Legacy, and
	// the one count of the whole run under core.Fixed (Linux >= 6.11 keeps
	// it in the entry frame and hands subprograms a pointer to it).
	tailCalls uint32
}

func (st *state) errorf(pc int, format string, args ...any) error {
	return st.prog.Errorf(pc, "run", format, args...)
}

func (st *state) fault(pc int, kind string, addr uint64, n int) error {
	return st.errorf(pc, "%s of %d bytes at %#x: %w", kind, n, addr, core.ErrFault)
}

// helperError wraps what a helper returned with the calling instruction.
func (st *state) helperError(pc int, name string, err error) error {
	return st.errorf(pc, "call %s: %w", name, err)
}
