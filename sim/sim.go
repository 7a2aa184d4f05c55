// Package sim runs the backends' JITed images under Unicorn as core.Engines
// ("x86_64", "arm64"), against the same guest address space and helper
// table as the interpreter, so that every run compares with it bit for bit.
//
// An Engine owns one Unicorn instance and one core/mem space for its whole
// life. Guest memory is mapped into Unicorn once with MemMapPtr (the stack,
// the JIT code region, the helper trap page) and the context and packet
// (mem.PacketBase) per run, at the interpreter's addresses: r1 =
// mem.CtxBase and r2 = len(ctx) when there is a context, and r10 of the
// entry frame is mem.StackTop. Images are JITed per (program, scheme),
// cached, and appended to the code region, so the translations Unicorn
// made of them stay valid across runs.
//
// # The instruction budget
//
// The budget counts BPF instructions as the interpreter does (one per
// instruction started; ld_imm64 once; exit and call included). Each BPF
// instruction's native code start is marked in a prefix-sum table that a C
// block hook reads (uc.WeightBudget): entering a translated block spends the
// number of BPF instructions starting in it. A block is straight-line code,
// so when it is entered all its instructions start (barring a fault), and a
// run that ends normally has spent exactly the interpreter's count. When a
// block would spend more than is left the CPU stops before it; the engine
// then runs the block again only up to the first instruction that cannot
// start (an exit address in the middle of the block), so a fault before
// that point is still reported as the fault, and the budget error names
// the same instruction as the interpreter's. Where the count cannot match,
// see exitMarks: JIT code that several BPF instructions share.
//
// # Faults
//
// Unicorn 2.0.1 keeps the PC exact only at block starts in uncounted runs.
// A fault therefore names the BPF memory instruction of the faulting block
// whose effective address, computed from the registers at the fault (TCG
// writes guest registers back before every memory access), covers the
// faulting address; the message is the interpreter's ("load of 4 bytes at
// 0x0: memory fault"). CPU exceptions (x86 #DE, arm64 undefined
// instructions) are precise and name the instruction holding the PC.
// When several instructions of the block match, the run is repeated from
// the start with an instruction hook on that block, which makes Unicorn
// keep the PC exact there; the run is deterministic, so it faults at the
// same instruction.
//
// # Known differences from the interpreter
//
//   - Result.Insns is one higher per jump that lands right after a slot
//     whose JIT code is empty (x86 "goto +0", "r1 = r1", le64; arm64 le64):
//     the landing address is also the empty slot's, so it counts too.
//   - A page of JIT code or helper stubs is readable by the program once
//     the CPU has executed from it (QEMU's TLB entry for the fetch admits
//     reads); the interpreter has no such pages and faults.
//   - x86 runs misaligned atomics (lock works on any address); arm64 and
//     the interpreter fault. callx with an id of 2^61 or more wraps the x86
//     backend's id*8 onto a stub.
//
// # Maps and tail calls
//
// An object is xlated and its maps built in the guest space (core/maps)
// once, and their regions mapped into Unicorn; the engine is a
// maps.Holder. When the object has a prog array every program is JITed
// (any may be a tail call target) and its struct bpf_prog's bpf_func
// points at its image. Direct tail call sites (x86-64) are patched at the
// start of each run to what the slots hold, as bpf_arch_poke_desc_update
// patches them when a slot changes. A tail call is seen where it lands: a
// block that starts at a program's landing point (bpf_func + the tail call
// offset) is reported to Go by the budget hook, which reads the slot, the
// count (through tcc_ptr under core.Fixed) and the call depth (by walking
// the frame records) for Result.TailCalls.
package sim

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/core/mem"
	"jitsim/sim/uc"
)

// Options are what differs between kernel builds and CPUs.
type Options struct {
	// IBT emits endbr64 (x86-64, CONFIG_X86_KERNEL_IBT).
	IBT bool
	// LSE selects the ARMv8.1 atomics and a CPU that has them (Unicorn's
	// "max"); without it the JIT emits LL/SC loops and the CPU is a
	// Cortex-A72 (ARMv8.0), as the kernel would see it (arm64).
	LSE bool
	// BTI and PAC emit the branch target and pointer authentication hints
	// (arm64).
	BTI, PAC bool
}

// DefaultOptions are a stock kernel's: no IBT on x86-64, LSE on arm64.
func DefaultOptions(arch string) Options {
	return Options{LSE: arch == "arm64"}
}

// Engine runs JITed programs of one architecture. It is not safe for
// concurrent use.
type Engine struct {
	arch *archInfo
	opts Options
	u    *uc.Unicorn
	bud  *uc.WeightBudget

	space   mem.Space
	stack   *mem.Region
	ctx     *mem.Region
	pkt     *mem.Region // the packet (core.Input.Packet)
	code    *mem.Region
	helpers *mem.Region
	env     *helper.Env

	images   map[imageKey]*image
	placed   int      // images placed since the instance was opened (renewAfter)
	byBase   []*image // images in the code region, by address
	codeUsed int
	// entries flags each program's tail call landing point in the code
	// region (uc.WeightBudget.Entries).
	entries []byte
	cur     *loaded // the object whose maps are in guest memory

	run  *run      // the run in progress, for the hooks
	args [5]uint64 // helper arguments: a field, so the call does not allocate
	regs []uint64  // scratch for batched register access

	// wd guards the timeout's Stop against a run that has already ended.
	wd struct {
		sync.Mutex
		gen     uint64
		running bool
		fired   bool
	}
}

// New opens an engine for arch "x86_64" or "arm64". With no Options the
// engine has DefaultOptions(arch).
func New(arch string, opts ...Options) (*Engine, error) {
	var a *archInfo
	switch arch {
	case "x86_64":
		a = x86Arch
	case "arm64":
		a = arm64Arch
	default:
		return nil, fmt.Errorf("sim: unknown architecture %q (want x86_64 or arm64)", arch)
	}
	o := DefaultOptions(arch)
	if len(opts) > 1 {
		return nil, fmt.Errorf("sim: %d option sets, want at most one", len(opts))
	}
	if len(opts) == 1 {
		o = opts[0]
	}
	e := &Engine{arch: a, opts: o, images: map[imageKey]*image{}}
	if err := e.open(); err != nil {
		e.Close()
		return nil, fmt.Errorf("sim %s: %w", arch, err)
	}
	return e, nil
}

// open creates the Unicorn instance, maps the fixed regions and installs
// the hooks, before any code is translated.
func (e *Engine) open() error {
	a := e.arch
	u, err := uc.Open(a.ucArch, a.ucMode)
	if err != nil {
		return err
	}
	e.u = u
	if a.ucArch == uc.ArchARM64 {
		model := uc.CPUARM64A72
		if e.opts.LSE {
			model = uc.CPUARM64Max
		}
		if err := u.SetCPUModel(model); err != nil {
			return fmt.Errorf("cpu model: %w", err)
		}
	}
	e.env = helper.NewEnv(&e.space)
	if e.stack, err = e.mapRegion("stack", mem.StackBase, mem.StackSize, mem.Read|mem.Write); err != nil {
		return err
	}
	// Code and helper stubs are execute-only, to helpers as to the guest:
	// a program reading them faults, as on the interpreter, which has no
	// such regions.
	if e.code, err = e.mapRegion("jit", a.codeBase, codeBytes, mem.Exec); err != nil {
		return err
	}
	if e.helpers, err = e.mapRegion("helpers", a.helperBase, helperBytes, mem.Exec); err != nil {
		return err
	}
	h := e.helpers.Data
	for i := 0; i < len(h); i += 4 {
		copy(h[i:], a.fill[:])
	}
	for id := range numStubs {
		s := a.stub(id)
		copy(h[id*stubStride:], s[:])
	}
	if e.bud, err = u.NewWeightBudget(a.codeBase, codeBytes); err != nil {
		return err
	}
	if e.entries, err = e.bud.Entries(e.onLanding); err != nil {
		return err
	}
	if _, err := u.HookIntr(e.onIntr); err != nil {
		return err
	}
	if _, err := u.HookMemInvalid(e.onMemInvalid); err != nil {
		return err
	}
	e.regs = make([]uint64, len(a.batch))
	return nil
}

// mapRegion maps a fresh region into the space and into Unicorn.
func (e *Engine) mapRegion(name string, base uint64, size int, prot mem.Prot) (*mem.Region, error) {
	r, err := e.space.Map(name, base, size, prot)
	if err != nil {
		return nil, err
	}
	if err := e.u.MemMapPtr(r.Base, r.Data, uc.Prot(prot)); err != nil {
		e.space.Unmap(r)
		return nil, fmt.Errorf("map %s at %#x: %w", name, base, err)
	}
	return r, nil
}

// unmapRegion undoes mapRegion.
func (e *Engine) unmapRegion(r *mem.Region) error {
	err := e.u.MemUnmap(r.Base, uint64(len(r.Data)))
	if err2 := e.space.Unmap(r); err == nil {
		err = err2
	}
	return err
}

// Name is the architecture: "x86_64" or "arm64".
func (e *Engine) Name() string { return e.arch.name }

// Options are the engine's build options.
func (e *Engine) Options() Options { return e.opts }

// Env is the helper environment of the last run (its printk output).
func (e *Engine) Env() *helper.Env { return e.env }

// Space is the guest address space.
func (e *Engine) Space() *mem.Space { return &e.space }

// Close releases the Unicorn instance and the guest memory. The Engine
// cannot be used after.
func (e *Engine) Close() error {
	var errs []error
	if e.u != nil {
		errs = append(errs, e.unload())
	}
	if e.bud != nil {
		errs = append(errs, e.bud.Close())
		e.bud = nil
	}
	if e.u != nil {
		errs = append(errs, e.u.Close())
		e.u = nil
	}
	// Unicorn is gone: the host memory it pointed into can go too.
	errs = append(errs, e.space.Close())
	e.stack, e.ctx, e.pkt, e.code, e.helpers, e.entries = nil, nil, nil, nil, nil, nil
	clear(e.images)
	e.byBase = nil
	return errors.Join(errs...)
}

// run is one Run in progress: what the hooks need and what they found.
type run struct {
	prog     *core.Program // the xlated program run
	img      *image
	set      core.HelperSet
	scheme   core.Scheme
	keepMaps bool
	// entryFP is the entry frame's frame pointer (x86 rbp, arm64 x29):
	// where a walk up the frame records ends.
	entryFP uint64
	events  []core.TailCallEvent
	// err is the first error a hook met (fault, helper error, exception);
	// the run stopped on it.
	err error
	// unwound: the unwind helper ended the program with r0 = 0.
	unwound bool
	in      core.Input
	budget  uint64
	// replay is set while a faulting run is run again to find the
	// faulting instruction; replayFault is then set by the fault.
	replay      bool
	replayFault bool
	// ambiguous is a data fault more than one instruction of its block
	// could have made (see dataFault).
	ambiguous *fault
}

// Run runs program prog of obj. On error the Result is nil; the error is a
// *core.Error naming the BPF instruction, wrapping core.ErrBudget,
// core.ErrTimeout, core.ErrFault or core.ErrUnsupported where one applies.
func (e *Engine) Run(obj *core.Object, prog int, in core.Input, opts core.RunOptions) (*core.Result, error) {
	if e.u == nil {
		return nil, core.Errorf(core.NoInsn, "run", "sim %s: engine is closed", e.arch.name)
	}
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
	if opts.Scheme != core.Fixed && opts.Scheme != core.Legacy {
		return nil, core.Errorf(core.NoInsn, "run", "unknown tail call count scheme %d", opts.Scheme)
	}
	// The slots go back to their initial contents before the direct tail
	// call sites are patched to them.
	if !opts.KeepMaps {
		l.set.Reset()
	}
	img, err := e.programs(l, prog, opts.Scheme)
	if err != nil {
		return nil, err
	}
	budget := opts.Budget
	if budget == 0 {
		budget = core.DefaultBudget
	}
	st := &run{prog: l.x.Progs[prog], img: img, set: obj.Helpers, scheme: opts.Scheme, keepMaps: opts.KeepMaps, in: in, budget: budget}
	// x86: rbp = StackTop; arm64: x29 points at the frame record pushed
	// first, right below the entry stack pointer.
	st.entryFP = mem.StackTop
	if e.arch == arm64Arch {
		st.entryFP = mem.StackTop + uint64(img.img.EntryFrameSize) - 16
	}
	if err := e.prepare(st); err != nil {
		return nil, err
	}
	e.env.Maps = l.set
	e.run = st
	defer func() { e.run = nil }()
	err = e.start(img.entry, e.arch.helperBase+stopOffset, opts.Timeout)
	r0, err := e.finish(st, budget, err)
	if err != nil {
		return nil, err
	}
	left, _ := e.bud.Left()
	res := &core.Result{R0: r0, Insns: budget - left, TailCalls: st.events}
	if len(in.Ctx) > 0 {
		res.Ctx = slices.Clone(e.ctx.Data[:len(in.Ctx)])
	}
	if len(in.Packet) > 0 {
		res.Packet = slices.Clone(e.pkt.Data[:len(in.Packet)])
	}
	return res, nil
}

// prepare puts memory, registers, helper state and budget where a run
// starts: nothing of an earlier run survives.
func (e *Engine) prepare(st *run) error {
	if err := e.fill(&e.ctx, "ctx", mem.CtxBase, st.in.Ctx); err != nil {
		return core.Errorf(core.NoInsn, "run", "%v", err)
	}
	if err := e.fill(&e.pkt, "packet", mem.PacketBase, st.in.Packet); err != nil {
		return core.Errorf(core.NoInsn, "run", "%v", err)
	}
	clear(e.stack.Data)
	e.env.Reset()
	if err := e.resetRegs(st.img, len(st.in.Ctx)); err != nil {
		return st.errorf(0, "set up registers: %v", err)
	}
	e.bud.SetLeft(st.budget)
	return nil
}

// start runs the CPU from begin until it reaches until. The timeout is a Go
// timer calling Stop, not Unicorn's (which starts a thread per run, about
// 250 µs); the generation check keeps a late timer off the next run.
func (e *Engine) start(begin, until uint64, timeout time.Duration) error {
	if timeout <= 0 {
		e.wd.fired = false // no timer of an earlier run is live
		return e.u.Start(begin, until, 0, 0)
	}
	e.wd.Lock()
	e.wd.gen++
	gen := e.wd.gen
	e.wd.running, e.wd.fired = true, false
	// t is set under the lock the callback takes first.
	var t *time.Timer
	t = time.AfterFunc(timeout, func() {
		e.wd.Lock()
		defer e.wd.Unlock()
		if e.wd.gen == gen && e.wd.running {
			e.wd.fired = true
			e.u.Stop()
			// Unicorn 2.0.1 loses a stop that comes before its CPU loop
			// starts (resume_all_vcpus clears exit_request), which a
			// loaded machine makes likely for short timeouts: ask again
			// until the run has ended.
			t.Reset(time.Millisecond)
		}
	})
	e.wd.Unlock()
	err := e.u.Start(begin, until, 0, 0)
	e.wd.Lock()
	t.Stop()
	e.wd.running = false
	e.wd.Unlock()
	return err
}

// timedOut reports whether the last start ended by its timeout.
func (e *Engine) timedOut() bool {
	e.wd.Lock()
	defer e.wd.Unlock()
	return e.wd.fired && !e.wd.running
}

// finish turns how the CPU stopped into r0 or an error.
func (e *Engine) finish(st *run, budget uint64, startErr error) (uint64, error) {
	if st.ambiguous != nil {
		return 0, e.resolveFault(st)
	}
	if st.err != nil {
		return 0, st.err
	}
	if st.unwound {
		return 0, nil
	}
	if _, hit := e.bud.Left(); hit {
		return 0, e.budgetStop(st, budget)
	}
	vals := e.regs[:2]
	if err := e.u.RegReadBatch(e.arch.retPC[:], vals); err != nil {
		return 0, core.Errorf(core.NoInsn, "run", "read r0 and pc: %v", err)
	}
	r0, pc := vals[0], vals[1]
	stop := e.arch.helperBase + stopOffset
	if startErr == nil && pc == stop {
		return r0, nil // finished, even if the timer fired as it did
	}
	if e.timedOut() {
		left, _ := e.bud.Left()
		return 0, st.errorAt(e.locate(pc), "%w after %d instructions", core.ErrTimeout, budget-left)
	}
	if errors.Is(startErr, uc.ErrInsnInvalid) {
		// x86 #UD ends the run here rather than in the interrupt hook.
		return 0, st.errorAt(e.locate(pc), "cpu invalid instruction at %#x", pc)
	}
	if startErr != nil {
		return 0, st.errorAt(e.locate(pc), "cpu stopped at %#x: %v", pc, startErr)
	}
	return 0, st.errorAt(e.locate(pc), "cpu stopped at %#x, not at the return address %#x", pc, stop)
}

func (st *run) errorf(slot int, format string, args ...any) error {
	return st.prog.Errorf(slot, "run", format, args...)
}

// errorAt names the program and slot at: after a tail call, the program
// running is not the one the run started.
func (st *run) errorAt(at loc, format string, args ...any) error {
	if at.im == nil {
		return st.prog.Errorf(-1, "run", format, args...)
	}
	return at.im.prog.Errorf(at.slot, "run", format, args...)
}

// fill maps (or reuses) the context or packet region *r and fills it: the
// bytes b followed by zeros to the end of the page. The region is exactly
// the input rounded up to pages, as the interpreter's is, so what faults
// does not depend on earlier runs; a run with a different page count
// remaps it.
func (e *Engine) fill(r **mem.Region, name string, base uint64, b []byte) error {
	want := 0
	if len(b) > 0 {
		want = mem.RoundUp(len(b))
	}
	if *r != nil && len((*r).Data) != want {
		old := *r
		*r = nil
		if err := e.unmapRegion(old); err != nil {
			return err
		}
	}
	if want == 0 {
		return nil
	}
	if *r == nil {
		m, err := e.mapRegion(name, base, want, mem.Read|mem.Write)
		if err != nil {
			return err
		}
		*r = m
	}
	n := copy((*r).Data, b)
	clear((*r).Data[n:])
	return nil
}

// resetRegs starts the CPU as the kernel calls a program: r1 = ctx (and,
// by the conformance suite's convention, r2 = its length), the return
// address the stop address, and the stack pointer placed so that the
// prologue sets r10 to mem.StackTop as on the interpreter. Everything else
// starts at zero, as the interpreter's registers do.
func (e *Engine) resetRegs(img *image, ctxLen int) error {
	a := e.arch
	var r1, r2 uint64
	if ctxLen > 0 {
		r1, r2 = mem.CtxBase, uint64(ctxLen)
	}
	stop := a.helperBase + stopOffset
	sp := mem.StackTop + uint64(img.img.EntryFrameSize)
	// One batch: every register zero, then the entry values over them
	// (Unicorn writes a batch in order).
	n := len(a.reset)
	vals := e.regs[:n+len(a.entry)]
	clear(vals[:n])
	vals[n], vals[n+1], vals[n+2] = sp, r1, r2
	if a == x86Arch {
		// The caller's call left the return address where rsp points.
		mem.StoreLE(e.stack.Data[sp-mem.StackBase:], 8, stop)
		vals[n+3] = 0x2 // EFLAGS: bit 1 is always set
	} else {
		vals[n+3] = stop // x30
	}
	return e.u.RegWriteBatch(a.batch, vals)
}
