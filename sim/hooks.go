package sim

import (
	"errors"
	"fmt"
	"math"

	"jitsim/core"
	"jitsim/core/helper"
	"jitsim/sim/uc"
)

// onIntr serves the helper trap stubs and turns every other CPU exception
// into the run's error.
func (e *Engine) onIntr(intno uint32) {
	st := e.run
	if st == nil {
		e.u.Stop()
		return
	}
	a := e.arch
	pc, err := e.u.RegRead(a.pc)
	if err != nil {
		e.fail(st, core.Errorf(core.NoInsn, "run", "read pc: %v", err))
		return
	}
	if intno == a.trapNo {
		stub := pc - a.trapLen
		if off := stub - a.helperBase; off < stubBytes && off%stubStride == 0 {
			e.callHelper(st, int32(off/stubStride), pc)
			return
		}
	}
	if a.dataAbort != 0 && intno == a.dataAbort {
		// arm64 atomics fault on a misaligned address (the interpreter's
		// rule too); the exception's PC is exact.
		if err := e.accessFault(st, pc); err != nil {
			e.fail(st, err)
			return
		}
	}
	what := a.exceptions[intno]
	if what == "" {
		what = fmt.Sprintf("exception %d", intno)
	}
	e.fail(st, st.errorAt(e.locate(pc), "cpu %s at %#x", what, pc))
}

// accessFault words a fault the CPU raised precisely at pc as the
// interpreter words a fault of that BPF memory instruction, or returns nil
// when pc is not in one.
func (e *Engine) accessFault(st *run, pc uint64) error {
	at := e.locate(pc)
	if at.im == nil {
		return nil
	}
	var regs [core.NumRegs]uint64
	if err := e.u.RegReadBatch(e.arch.bpf[:], regs[:]); err != nil {
		return nil
	}
	acc, ok := memAccess(at.im.src[at.slot], &regs)
	if !ok {
		return nil
	}
	acc.at = at
	return faultError(st, acc)
}

// fail records the run's first error and stops the CPU.
func (e *Engine) fail(st *run, err error) {
	if st.err == nil {
		st.err = err
	}
	e.u.Stop()
}

// callHelper runs helper id for the trap at pc: arguments from the ABI's
// registers, the result to its return register, then on to the stub's ret.
func (e *Engine) callHelper(st *run, id int32, pc uint64) {
	a := e.arch
	h, ok := helper.Lookup(st.set, id)
	if !ok {
		// Direct calls were checked before the run: this is callx.
		at := e.callSite()
		if at.im != nil && at.im.src[at.slot].Op == core.JMP|core.Call|core.X {
			e.fail(st, st.errorAt(at, "callx r%d: no helper %d in the %s set", at.im.src[at.slot].Dst, id, st.set))
			return
		}
		e.fail(st, st.errorAt(at, "call to helper %d, which the %s set does not have", id, st.set))
		return
	}
	vals := e.regs[:5]
	if err := e.u.RegReadBatch(a.args[:], vals); err != nil {
		e.fail(st, st.errorAt(e.callSite(), "call %s: read arguments: %v", h.Name, err))
		return
	}
	copy(e.args[:], vals)
	v, err := h.Fn(e.env, &e.args)
	if err != nil {
		if errors.Is(err, helper.ErrUnwind) {
			// uBPF's unwind: the program stops at once with r0 = 0.
			st.unwound = true
			e.u.Stop()
			return
		}
		e.fail(st, st.errorAt(e.callSite(), "call %s: %w", h.Name, err))
		return
	}
	var err2 error
	if a.resume == 0 {
		err2 = e.u.RegWrite(a.ret, v)
	} else {
		err2 = e.u.RegWriteBatch(a.retPC[:], append(vals[:0], v, pc+a.resume))
	}
	if err2 != nil {
		e.fail(st, st.errorAt(e.callSite(), "call %s: write result: %v", h.Name, err2))
	}
}

// callSite is the call that entered the helper page: the return address
// is on top of the stack (x86) or in x30 (arm64), and the call instruction
// ends right before it.
func (e *Engine) callSite() loc {
	var ret uint64
	if e.arch == x86Arch {
		sp, err := e.u.RegRead(uc.X86RegRSP)
		if err != nil {
			return loc{slot: -1}
		}
		v, ok := e.space.Load(sp, 8)
		if !ok {
			return loc{slot: -1}
		}
		ret = v
	} else {
		v, err := e.u.RegRead(uc.ARM64RegLR)
		if err != nil {
			return loc{slot: -1}
		}
		ret = v
	}
	return e.locate(ret - 1)
}

// onMemInvalid turns an access outside the mapped regions (or against a
// region's rights) into the run's error. Returning false ends the run.
func (e *Engine) onMemInvalid(access int, addr uint64, size int, _ int64) bool {
	st := e.run
	if st == nil || st.err != nil {
		return false
	}
	if st.replay {
		st.replayFault = true
		return false
	}
	if access == uc.AccessFetchUnmapped || access == uc.AccessFetchProt {
		st.err = e.fetchFault(st, addr)
		return false
	}
	st.err = e.dataFault(st, access, addr, size)
	return false
}

// fetchFault: the CPU jumped out of the code. The one way a verified
// program gets there is callx with an id past the trap stubs.
func (e *Engine) fetchFault(st *run, addr uint64) error {
	at := e.callSite()
	if at.im != nil {
		ins := at.im.src[at.slot]
		if ins.Op == core.JMP|core.Call|core.X {
			id, err := e.u.RegRead(e.arch.bpf[ins.Dst])
			if err == nil {
				return st.errorAt(at, "callx r%d: no helper %d in the %s set", ins.Dst, id, st.set)
			}
		}
	}
	return st.errorAt(at, "instruction fetch at %#x: %w", addr, core.ErrFault)
}

// access is one BPF memory instruction's access at the moment of a fault.
type access struct {
	at         loc
	addr       uint64
	size       int
	read, wrte bool
	what       string // the interpreter's word for it
}

// dataFault names the BPF instruction of a faulting load or store. The PC
// is only known to be in the block entered last, but the registers are
// exact: TCG writes guest registers back before every memory access, so
// they hold what the faulting instruction saw. Of the block's memory
// instructions, the one whose effective address (from those registers)
// covers the faulting address, with a matching direction, is the one; an
// earlier instruction whose base register changed since may match by
// accident, which the direction and size checks make unlikely.
func (e *Engine) dataFault(st *run, kind int, addr uint64, size int) error {
	write := kind == uc.AccessWriteUnmapped || kind == uc.AccessWriteProt
	blk, n := e.bud.LastBlock()
	im, lo := e.imageAt(blk)
	if im == nil {
		return st.errorAt(loc{slot: -1}, "access of %d bytes at %#x outside the programs' code (block %#x): %w", size, addr, blk, core.ErrFault)
	}
	var regs [core.NumRegs]uint64
	if err := e.u.RegReadBatch(e.arch.bpf[:], regs[:]); err != nil {
		return st.errorAt(loc{im, im.slotAt(lo)}, "access of %d bytes at %#x: %w", size, addr, core.ErrFault)
	}
	// The faulting instruction always matches: its address comes from
	// the registers it saw. When another one matches too, only running
	// again tells which.
	first := im.slotAt(lo)
	var matches []access
	for i := first; i < len(im.src) && im.img.InsnOffsets[i] < lo+int(n); i++ {
		acc, ok := memAccess(im.src[i], &regs)
		if !ok {
			continue
		}
		acc.at = loc{im, i}
		if addr-acc.addr >= uint64(acc.size) || (write && !acc.wrte) || (!write && !acc.read) {
			continue
		}
		matches = append(matches, acc)
	}
	if len(matches) != 1 {
		st.ambiguous = &fault{blk: blk, size: n, addr: addr, bytes: size, regs: regs, matches: matches}
		return st.errorAt(loc{im, first}, "access of %d bytes at %#x: %w", size, addr, core.ErrFault)
	}
	return faultError(st, matches[0])
}

// faultError words a fault as the interpreter does.
func faultError(st *run, acc access) error {
	if acc.what == "atomic access" && acc.addr%uint64(acc.size) != 0 {
		return st.errorAt(acc.at, "atomic access of %d bytes at %#x is misaligned: %w", acc.size, acc.addr, core.ErrFault)
	}
	return st.errorAt(acc.at, "%s of %d bytes at %#x: %w", acc.what, acc.size, acc.addr, core.ErrFault)
}

// fault is a data fault whose instruction the registers could not single
// out.
type fault struct {
	blk     uint64
	size    uint32
	addr    uint64
	bytes   int
	regs    [core.NumRegs]uint64
	matches []access
}

// resolveFault runs the program again from the start with an instruction
// hook on the faulting block, which makes Unicorn keep the PC exact there:
// the run is deterministic (same input, fresh stack and registers, helper
// state reset), so it faults at the same place, and the last instruction
// the hook saw is the faulting one.
func (e *Engine) resolveFault(st *run) error {
	f := st.ambiguous
	fallback := st.err
	var last uint64
	h, err := e.u.HookCode(f.blk, f.blk+uint64(f.size)-1, func(addr uint64, _ uint32) { last = addr })
	if err != nil {
		return fallback
	}
	defer e.u.HookDel(h)
	// The path to the first fault does not depend on the budget, which
	// the first run may have been stopping at.
	// Maps are as the first run found them only if it changed none: put
	// them back (a run that keeps maps across runs may end up differing).
	rs := &run{prog: st.prog, img: st.img, set: st.set, scheme: st.scheme, in: st.in, budget: math.MaxUint64, replay: true}
	if err := e.prepare(rs); err != nil {
		return fallback
	}
	if e.cur != nil && !st.keepMaps {
		e.cur.set.Reset()
	}
	e.run = rs
	e.u.Start(st.img.entry, e.arch.helperBase+stopOffset, 0, 0)
	e.run = st
	at := e.locate(last)
	if !rs.replayFault || at.im == nil {
		return fallback
	}
	for _, acc := range f.matches {
		if acc.at == at {
			return faultError(st, acc)
		}
	}
	if acc, ok := memAccess(at.im.src[at.slot], &f.regs); ok {
		acc.at = at
		return faultError(st, acc)
	}
	return st.errorAt(at, "access of %d bytes at %#x: %w", f.bytes, f.addr, core.ErrFault)
}

// memAccess is what ins accesses given the registers, if it is a load,
// store or atomic.
func memAccess(ins core.Insn, r *[core.NumRegs]uint64) (access, bool) {
	if ins.Dst >= core.NumRegs || ins.Src >= core.NumRegs {
		return access{}, false
	}
	n := core.SizeBytes(ins.Size())
	off := uint64(int64(ins.Off))
	switch ins.Class() {
	case core.LDX:
		if ins.Mode() != core.MEM && ins.Mode() != core.MEMSX {
			return access{}, false
		}
		return access{addr: r[ins.Src] + off, size: n, read: true, what: "load"}, true
	case core.ST:
		if ins.Mode() != core.MEM {
			return access{}, false
		}
		return access{addr: r[ins.Dst] + off, size: n, wrte: true, what: "store"}, true
	case core.STX:
		switch ins.Mode() {
		case core.MEM:
			return access{addr: r[ins.Dst] + off, size: n, wrte: true, what: "store"}, true
		case core.ATOMIC:
			return access{addr: r[ins.Dst] + off, size: n, read: true, wrte: true, what: "atomic access"}, true
		}
	}
	return access{}, false
}

// budgetStop finishes a run the budget stopped before a block whose BPF
// instructions do not all fit what is left. It runs the block again up to
// the first one that cannot start, so that a fault before it is reported
// as the interpreter reports it, then names that instruction.
func (e *Engine) budgetStop(st *run, budget uint64) error {
	blk, n := e.bud.LastBlock()
	left, _ := e.bud.Left()
	im, lo := e.imageAt(blk)
	if im == nil {
		return st.errorAt(loc{slot: -1}, "%w (%d instructions ran; stopped at %#x)", core.ErrBudget, budget, blk)
	}
	ms := im.marksIn(lo, lo+int(n))
	if left >= uint64(len(ms)) {
		return st.errorAt(loc{im, im.slotAt(lo)}, "budget stopped the block at %#x with %d left for %d instructions", blk, left, len(ms))
	}
	stop := ms[left]
	target := im.img.Base + uint64(stop.off)
	if target > blk {
		// A fresh translation of the block ends at the exit address; the
		// cached one would run past it. Unicorn drops the block holding
		// target-1 when the run ends.
		if err := e.u.RemoveCache(blk, target+1); err != nil {
			return st.errorAt(loc{im, stop.slot}, "%w (%d instructions ran; %v)", core.ErrBudget, budget, err)
		}
		e.bud.SetLeft(left)
		err := e.u.Start(blk, target, 0, 0)
		if st.ambiguous != nil {
			return e.resolveFault(st)
		}
		if st.err != nil {
			return st.err
		}
		pc, rerr := e.u.RegRead(e.arch.pc)
		if err != nil || rerr != nil || pc != target {
			return st.errorAt(loc{im, stop.slot}, "%w (%d instructions ran; the last block stopped at %#x, not %#x: %v)",
				core.ErrBudget, budget, pc, target, errors.Join(err, rerr))
		}
	}
	slot := stop.slot
	if left == 0 {
		slot = e.exitTaken(im, slot)
	}
	e.bud.SetLeft(0)
	return st.errorAt(loc{im, slot}, "%w (%d instructions ran)", core.ErrBudget, budget)
}

// exitTaken names the exit a run was taking when it stopped at the code
// exits share (see marks): an exit that is a jump to that code ends the
// block entered before, so that exit is the one that could not start.
func (e *Engine) exitTaken(im *image, slot int) int {
	if !im.src[slot].IsExit() {
		return slot
	}
	pa, pn := e.bud.PrevBlock()
	pim, lo := e.imageAt(pa)
	if pim != im || pn == 0 {
		return slot
	}
	fn := im.funcOf(slot)
	taken := slot
	for i := im.slotAt(lo); i < len(im.src) && im.img.InsnOffsets[i] < lo+int(pn); i++ {
		if i != slot && im.src[i].IsExit() && im.funcOf(i) == fn {
			taken = i
		}
	}
	return taken
}

// helperAddr is the guest address of helper id's stub (jit.Options.HelperAddr).
func (a *archInfo) helperAddr(id int32) uint64 {
	return a.helperBase + uint64(int64(id))*stubStride
}
