// Package interp is jitsim's reference interpreter: it defines what every
// other engine must compute. Semantics follow RFC 9669 and the kernel's own
// interpreter (___bpf_prog_run in kernel/bpf/core.c) where the RFC leaves
// room; memory is the shared guest address space of core/mem and helpers
// are the shared table of core/helper, so results compare bit for bit with
// the JITs run under the simulator.
//
// An Engine runs xlated code (core/xlate) and keeps the object's maps in
// its guest memory (core/maps) between runs. Programs are predecoded once
// per Engine (decode.go), checked the way the verifier checks opcodes and
// reserved fields, then run by a loop that counts every instruction
// against the budget (exec.go). Tail calls, with both tail call count
// schemes, are in tailcall.go.
//
// Not modelled yet: function references in ld_imm64 (callbacks), kfuncs,
// load-acquire and store-release. LD_ABS/LD_IND run once xlate has
// rewritten them, which it does for programs with a kernel context.
package interp

import (
	"slices"
	"time"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/kabi"
	"jitsim/core/maps"
	"jitsim/core/mem"
	"jitsim/core/xlate"
)

// Engine runs programs. It owns a guest address space and keeps it, and
// each program's predecoded form, across runs. An Engine is not safe for
// concurrent use.
type Engine struct {
	space mem.Space
	stack *mem.Region
	ctx   *mem.Region
	pkt   *mem.Region // the packet (core.Input.Packet)
	env   *helper.Env
	cache map[*core.Program]*code
	// args is where helper arguments are passed from: a field, so taking
	// its address for the indirect call does not allocate per call.
	args [5]uint64
	opts Options
	// cur is the object whose maps are in guest memory.
	cur *loaded
}

// Options are the interpreter's own choices, beyond core.RunOptions.
type Options struct {
	// TailCallCount says when a tail call attempt adds one to the count.
	TailCallCount CountPoint
}

// CountPoint is when a tail call attempt increments the tail call count.
// Implementations differ (shared/docs/tailcall-hierarchy.md):
//
//	engine                                  fixed            legacy
//	kernel interpreter (___bpf_prog_run)    before the slot  before the slot
//	x86-64 JIT (emit_bpf_tail_call_*)       after            before
//	arm64 JIT (emit_bpf_tail_call)          after            before
//	jitsim interp, CountPerScheme           after            before
//
// "before": the count is checked and incremented, then the slot is read,
// so an attempt on an empty slot still costs one (Linux <= 6.10 JITs,
// and the kernel's interpreter in every version). "after": the increment
// happens only once the slot is known to hold a program ("Inc
// tail_call_cnt if the slot is populated", the 6.11 tailcall hierarchy
// fix). The kernel interpreter never meets the schemes' other difference:
// it refuses programs that mix tail calls and bpf-to-bpf calls
// (allow_tail_call_in_subprogs needs a JIT).
type CountPoint uint8

const (
	// CountPerScheme is what the JITs of the run's scheme do: after the
	// slot check under core.Fixed, before it under core.Legacy.
	CountPerScheme CountPoint = iota
	// CountBeforeSlot counts every attempt that passes the bounds and
	// count checks.
	CountBeforeSlot
	// CountAfterSlot counts only attempts that find a program.
	CountAfterSlot
)

func (c CountPoint) early(s core.Scheme) bool {
	switch c {
	case CountBeforeSlot:
		return true
	case CountAfterSlot:
		return false
	}
	return s == core.Legacy
}

// loaded is an object prepared for running: xlated, its maps built.
type loaded struct {
	obj *core.Object
	x   *core.Object
	set *maps.Set
	// stamp is obj as loaded, to notice an in-place change.
	stamp core.Stamp
}

// maxCached bounds the predecode cache; past it the cache starts over.
const maxCached = 256

// New returns an Engine with the default Options. Guest memory is mapped
// on the first run.
func New() *Engine { return NewWith(Options{}) }

// NewWith returns an Engine with the given Options.
func NewWith(o Options) *Engine {
	e := &Engine{cache: make(map[*core.Program]*code), opts: o}
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
	e.stack, e.ctx, e.pkt, e.cur = nil, nil, nil, nil
	e.env.Maps = nil
	return e.space.Close()
}

// Maps returns obj's maps as this engine holds them (maps.Holder): built
// on first use, kept across runs, rebuilt when another object is run.
func (e *Engine) Maps(obj *core.Object) (*maps.Set, error) {
	l, err := e.load(obj)
	if err != nil {
		return nil, err
	}
	return l.set, nil
}

// load xlates obj and builds its maps, or returns what the last call
// built when obj has not changed since.
func (e *Engine) load(obj *core.Object) (*loaded, error) {
	if l := e.cur; l != nil && l.stamp.Same(obj) {
		return l, nil
	}
	if e.cur != nil {
		if err := e.cur.set.Close(); err != nil {
			return nil, core.Errorf(core.NoInsn, "run", "%v", err)
		}
		e.cur, e.env.Maps = nil, nil
	}
	x, err := xlate.Object(obj)
	if err != nil {
		return nil, err
	}
	set, err := maps.New(&e.space, obj)
	if err != nil {
		return nil, err
	}
	for i := range obj.Progs {
		// The kernel's interpreted programs share one bpf_func; a tail call
		// here finds its target by the struct bpf_prog's address.
		set.SetBpfFunc(i, maps.InterpFuncBase+uint64(i)*mem.PageSize)
	}
	l := &loaded{obj: obj, x: x, set: set, stamp: core.NewStamp(obj)}
	clear(e.cache) // the previous object's xlated programs
	e.cur = l
	return l, nil
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
	l, err := e.load(obj)
	if err != nil {
		return nil, err
	}
	p := l.x.Progs[prog]
	c, err := e.decoded(p, obj.Helpers)
	if err != nil {
		return nil, err
	}
	if err := e.setup(in.Ctx, in.Packet); err != nil {
		return nil, core.Errorf(core.NoInsn, "run", "%v", err)
	}
	if !opts.KeepMaps {
		l.set.Reset()
	}
	e.env.Reset()
	e.env.Maps = l.set

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
	st := &state{l: l, prog: p, c: c, scheme: opts.Scheme, early: e.opts.TailCallCount.early(opts.Scheme),
		budget: budget, deadline: deadline, limit: kabi.MaxCallFrames - 1}
	r0, err := e.exec(st, &r)
	if err != nil {
		return nil, err
	}
	res := &core.Result{R0: r0, Insns: st.insns, TailCalls: st.events}
	if len(in.Ctx) > 0 {
		res.Ctx = slices.Clone(e.ctx.Data[:len(in.Ctx)])
	}
	if len(in.Packet) > 0 {
		res.Packet = slices.Clone(e.pkt.Data[:len(in.Packet)])
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

// setup maps (or reuses) the stack, context and packet regions and fills
// them for a run: a zeroed stack, the context and packet bytes followed by
// zeros to the end of the page. The context and packet regions are exactly
// the input rounded up to pages on every run, so what faults does not
// depend on earlier runs.
func (e *Engine) setup(ctx, pkt []byte) error {
	if e.stack == nil {
		r, err := e.space.Map("stack", mem.StackBase, mem.StackSize, mem.Read|mem.Write)
		if err != nil {
			return err
		}
		e.stack = r
	} else {
		clear(e.stack.Data)
	}
	if err := e.fill(&e.ctx, "ctx", mem.CtxBase, ctx); err != nil {
		return err
	}
	return e.fill(&e.pkt, "packet", mem.PacketBase, pkt)
}

// fill maps *r at base with room for b (unmapping it when b is empty or
// needs another size) and copies b in.
func (e *Engine) fill(r **mem.Region, name string, base uint64, b []byte) error {
	want := 0
	if len(b) > 0 {
		want = mem.RoundUp(len(b))
	}
	if *r != nil && len((*r).Data) != want {
		if err := e.space.Unmap(*r); err != nil {
			return err
		}
		*r = nil
	}
	if want == 0 {
		return nil
	}
	if *r == nil {
		m, err := e.space.Map(name, base, want, mem.Read|mem.Write)
		if err != nil {
			return err
		}
		*r = m
	}
	n := copy((*r).Data, b)
	clear((*r).Data[n:])
	return nil
}

// regs are R0-R10; 16 entries so that indexing by a 4-bit register number
// needs no bounds check.
type regs [16]uint64

// maxFrames is how many bpf-to-bpf calls can be in progress at once: one
// MAX_BPF_STACK frame each below the entry frame's, in the stack region.
// One program nests at most MAX_CALL_FRAMES; tail calls from subprograms
// stack programs on top of each other.
const maxFrames = (mem.StackTop-mem.StackBase)/kabi.MaxBPFStack - 1

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
	// Once a tail call has replaced the callee's program, its exit returns
	// into another program: c and prog are the caller's, base the depth
	// the caller's program was entered at.
	c    *code
	prog *core.Program
	base int
}

// state is one run.
type state struct {
	prog     *core.Program // running now (tail calls change it)
	c        *code
	scheme   core.Scheme
	budget   uint64
	deadline time.Time
	insns    uint64 // instructions executed, set when the run ends

	// win is fast's window onto the last read-write region step used,
	// starting at guest address winBase.
	winBase uint64
	win     []byte

	depth int // frames in use: 0 in the entry program
	// base is the depth the running program was entered at: 0, or the
	// depth of the tail call that entered it. The verifier bounds the call
	// depth within one program (MAX_CALL_FRAMES); tail calls made from
	// subprograms stack programs on top of each other, which the kernel
	// bounds only through the tail call count and the stack.
	base int
	// limit is the depth at which a call is step's to make or refuse:
	// base + MAX_CALL_FRAMES - 1, or maxFrames.
	limit int
	// tailCalls is the count of the running frame under core.Legacy, and
	// the one count of the whole run under core.Fixed (Linux >= 6.11 keeps
	// it in the entry frame and hands subprograms a pointer to it).
	tailCalls uint32
	// early: a tail call attempt counts before the slot is looked at.
	early  bool
	l      *loaded
	events []core.TailCallEvent
	// frames are the bpf-to-bpf calls in progress. An array in place
	// rather than a pointer: fast then addresses frames off st with one
	// register less, which keeps its other state in registers.
	frames [maxFrames]frame
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
