package sim

import (
	"fmt"
	"slices"

	"jitsim/core"
	"jitsim/core/mem"
	"jitsim/sim/uc"
)

// Stop is where RunTo stops a run: before the native instruction at Addr
// executes for the Hit-th time (1: the first) counted from the moment
// AfterTailCalls tail calls have landed (0: from the start).
type Stop struct {
	Addr           uint64
	Hit            int
	AfterTailCalls int
}

// Snapshot is the machine where RunTo stopped: the registers, a copy of
// the stack region and the tail calls that had landed.
type Snapshot struct {
	Arch string
	// Regs holds every general register by its name: x86-64 rax ... r15,
	// rsp, rip; arm64 x0 ... x30, sp, pc.
	Regs map[string]uint64
	// BPF holds r0-r10 as the backend maps them.
	BPF       [core.NumRegs]uint64
	TailCalls []core.TailCallEvent
	// Images are the run's images, as JIT returns them; Entry indexes the
	// entry program's.
	Images []JITed
	Entry  int
	// StackTop is r10 of the entry frame; EntrySP the stack pointer the
	// run started with (the kernel's caller's), above the entry frame.
	StackTop, EntrySP uint64
	// ReturnAddr is where the entry program returns to: the engine's stop
	// address, in the helper page.
	ReturnAddr uint64
	stackBase  uint64
	stack      []byte
}

// Load reads size bytes (1, 2, 4 or 8), little-endian, at addr from the
// stack copy.
func (s *Snapshot) Load(addr uint64, size int) (uint64, bool) {
	if addr < s.stackBase || addr-s.stackBase+uint64(size) > uint64(len(s.stack)) {
		return 0, false
	}
	return mem.LoadLE(s.stack[addr-s.stackBase:], size), true
}

// regNames are the registers a Snapshot holds, with their Unicorn ids.
var regNames = map[*archInfo][]struct {
	name string
	id   int
}{}

func init() {
	x := []struct {
		name string
		id   int
	}{
		{"rax", uc.X86RegRAX}, {"rbx", uc.X86RegRBX}, {"rcx", uc.X86RegRCX}, {"rdx", uc.X86RegRDX},
		{"rsi", uc.X86RegRSI}, {"rdi", uc.X86RegRDI}, {"rbp", uc.X86RegRBP}, {"rsp", uc.X86RegRSP},
		{"r8", uc.X86RegR8}, {"r9", uc.X86RegR9}, {"r10", uc.X86RegR10}, {"r11", uc.X86RegR11},
		{"r12", uc.X86RegR12}, {"r13", uc.X86RegR13}, {"r14", uc.X86RegR14}, {"r15", uc.X86RegR15},
		{"rip", uc.X86RegRIP},
	}
	a := []struct {
		name string
		id   int
	}{{"sp", uc.ARM64RegSP}, {"pc", uc.ARM64RegPC}}
	// Unicorn numbers x29 and x30 apart from x0-x28: list them one by one.
	for i, id := range []int{
		uc.ARM64RegX0, uc.ARM64RegX1, uc.ARM64RegX2, uc.ARM64RegX3, uc.ARM64RegX4, uc.ARM64RegX5,
		uc.ARM64RegX6, uc.ARM64RegX7, uc.ARM64RegX8, uc.ARM64RegX9, uc.ARM64RegX10, uc.ARM64RegX11,
		uc.ARM64RegX12, uc.ARM64RegX13, uc.ARM64RegX14, uc.ARM64RegX15, uc.ARM64RegX16, uc.ARM64RegX17,
		uc.ARM64RegX18, uc.ARM64RegX19, uc.ARM64RegX20, uc.ARM64RegX21, uc.ARM64RegX22, uc.ARM64RegX23,
		uc.ARM64RegX24, uc.ARM64RegX25, uc.ARM64RegX26, uc.ARM64RegX27, uc.ARM64RegX28, uc.ARM64RegX29,
		uc.ARM64RegX30,
	} {
		a = append(a, struct {
			name string
			id   int
		}{fmt.Sprintf("x%d", i), id})
	}
	regNames[x86Arch], regNames[arm64Arch] = x, a
}

// RunTo runs program prog of obj as Run does, but stops it at stop and
// returns the machine there instead of a result; the rest of the run does
// not happen. A code hook on exactly stop.Addr counts the hits (Unicorn
// keeps the PC exact in a hooked block). When the run ends before the
// stop, the error says how it ended.
func (e *Engine) RunTo(obj *core.Object, prog int, in core.Input, opts core.RunOptions, stop Stop) (*Snapshot, error) {
	if !opts.KeepMaps {
		// As Run: initial slots first, then the sites patched to them.
		l, err := e.load(obj)
		if err != nil {
			return nil, err
		}
		l.set.Reset()
	}
	js, err := e.JIT(obj, prog, opts.Scheme)
	if err != nil {
		return nil, err
	}
	l := e.cur
	img := l.images[opts.Scheme][prog]
	budget := opts.Budget
	if budget == 0 {
		budget = core.DefaultBudget
	}
	st := &run{prog: l.x.Progs[prog], img: img, set: obj.Helpers, scheme: opts.Scheme, keepMaps: opts.KeepMaps, in: in, budget: budget}
	st.entryFP = mem.StackTop
	if e.arch == arm64Arch {
		st.entryFP = mem.StackTop + uint64(img.img.EntryFrameSize) - 16
	}
	if err := e.prepare(st); err != nil {
		return nil, err
	}
	e.env.Maps = l.set
	want := max(stop.Hit, 1)
	hits := 0
	var snap *Snapshot
	var hookErr error
	h, err := e.u.HookCode(stop.Addr, stop.Addr, func(addr uint64, _ uint32) {
		if snap != nil || hookErr != nil || len(st.events) < stop.AfterTailCalls {
			return
		}
		if hits++; hits < want {
			return
		}
		snap, hookErr = e.snapshot(st, js)
		e.u.Stop()
	})
	if err != nil {
		return nil, core.Errorf(core.NoInsn, "run", "hook %#x: %v", stop.Addr, err)
	}
	e.run = st
	defer func() { e.run = nil }()
	startErr := e.start(img.entry, e.arch.helperBase+stopOffset, opts.Timeout)
	if err := e.u.HookDel(h); err != nil {
		return nil, core.Errorf(core.NoInsn, "run", "remove the hook at %#x: %v", stop.Addr, err)
	}
	if hookErr != nil {
		return nil, core.Errorf(core.NoInsn, "run", "at %#x: %v", stop.Addr, hookErr)
	}
	if snap != nil {
		return snap, nil
	}
	r0, err := e.finish(st, budget, startErr)
	if err != nil {
		return nil, fmt.Errorf("the run did not reach %#x (hit %d of %d after %d tail calls): %w", stop.Addr, hits, want, stop.AfterTailCalls, err)
	}
	return nil, core.Errorf(core.Pos{File: obj.File, Insn: -1}, "run", "the run ended (r0 = %#x, %d tail calls) before reaching %#x (hit %d of %d after %d tail calls)",
		r0, len(st.events), stop.Addr, hits, want, stop.AfterTailCalls)
}

// snapshot reads the registers and copies the stack.
func (e *Engine) snapshot(st *run, js []JITed) (*Snapshot, error) {
	names := regNames[e.arch]
	ids := make([]int, len(names))
	for i, r := range names {
		ids[i] = r.id
	}
	vals := make([]uint64, len(ids))
	if err := e.u.RegReadBatch(ids, vals); err != nil {
		return nil, err
	}
	s := &Snapshot{
		Arch:       e.arch.name,
		Regs:       make(map[string]uint64, len(names)),
		TailCalls:  slices.Clone(st.events),
		Images:     js,
		StackTop:   mem.StackTop,
		EntrySP:    mem.StackTop + uint64(st.img.img.EntryFrameSize),
		ReturnAddr: e.arch.helperBase + stopOffset,
		stackBase:  e.stack.Base,
		stack:      slices.Clone(e.stack.Data),
	}
	for i, r := range names {
		s.Regs[r.name] = vals[i]
	}
	for k, j := range js {
		if j.Prog == st.prog {
			s.Entry = k
		}
	}
	if err := e.u.RegReadBatch(e.arch.bpf[:], s.BPF[:]); err != nil {
		return nil, err
	}
	return s, nil
}
