package interp

import (
	"jitsim/core"
	"jitsim/core/kabi"
)

// Tail calls follow the kernel's rules (shared/docs/tailcall-hierarchy.md),
// not any one JIT's code:
//
//   - bpf_tail_call(ctx, array, index) fails, and the program goes on at the
//     next instruction, when index (as u32) >= array->map.max_entries, when
//     the count has reached MAX_TAIL_CALL_CNT (33), or when the slot is
//     empty. Options.TailCallCount says whether an attempt on an empty slot
//     has already cost one.
//   - A tail call that succeeds replaces the running program in the same
//     frame and never returns: r10 and the frame stay, so the new program
//     exits to whoever called the frame. Registers stay as they are, as in
//     ___bpf_prog_run (JMP_TAIL_CALL only moves insn): r1 is the context
//     the kernel passes on; the verifier treats the rest as uninitialised
//     in the new program and as clobbered (r1-r5) or undefined (r0) after a
//     failed attempt, so no valid program can tell.
//   - core.Fixed (Linux >= 6.11): one count per run, shared by every frame
//     (the entry program's counter, reached through tcc_ptr).
//   - core.Legacy (Linux <= 6.10): each frame has its own count. A
//     bpf-to-bpf call hands the callee a copy of the caller's count (x86-64
//     passes it in rax, arm64 saves x26); a tail call increments the current
//     frame's count and the new program continues with it; returning from a
//     subprogram leaves the caller's count as it was.
//
// The array and its slots are read from guest memory at the offsets the
// JITs read (kabi.ArrayMaxEntriesOff, kabi.ArrayPtrsOff), so what the maps
// hold is what every engine sees.

// tailCall runs the JMP|TailCall at pc and returns where the run goes on.
func (e *Engine) tailCall(st *state, r *regs, pc int, d *dinsn) (int, error) {
	set := st.l.set
	direct := d.x >= 0
	var addr uint64
	var key uint32
	if direct {
		// The JIT jumps to the poke's target, patched to the slot's
		// program: r2 and r3 are not looked at.
		pk := st.prog.TailCallPokes[d.x]
		if pk.Map < 0 || pk.Map >= set.Len() || set.Map(pk.Map).Def.Type != core.MapProgArray {
			return 0, st.errorf(pc, "direct tail call through map %d, which is not a prog_array", pk.Map)
		}
		addr, key = set.Map(pk.Map).Addr(), pk.Key
	} else {
		m, ok := set.MapAt(r[core.R2])
		if !ok || m.Def.Type != core.MapProgArray {
			return 0, st.errorf(pc, "tail call through r2 = %#x, which is not a prog_array (the verifier passes only one)", r[core.R2])
		}
		addr, key = m.Addr(), uint32(r[core.R3])
	}
	maxEntries, ok := e.space.Load(addr+kabi.ArrayMaxEntriesOff, 4)
	if !ok {
		return 0, st.fault(pc, "tail call load of max_entries", addr+kabi.ArrayMaxEntriesOff, 4)
	}
	if uint64(key) >= maxEntries {
		return pc + 1, nil
	}
	before := st.tailCalls
	if before >= kabi.MaxTailCallCnt {
		return pc + 1, nil
	}
	if st.early {
		st.tailCalls++
	}
	slot := addr + kabi.ArrayPtrsOff + 8*uint64(key)
	ptr, ok := e.space.Load(slot, 8)
	if !ok {
		return 0, st.fault(pc, "tail call load of a slot", slot, 8)
	}
	if ptr == 0 {
		return pc + 1, nil
	}
	if !st.early {
		st.tailCalls++
	}
	target, ok := set.ProgAt(ptr)
	if !ok {
		return 0, st.errorf(pc, "tail call: slot %d holds %#x, which is no program's struct bpf_prog", key, ptr)
	}
	tp := st.l.x.Progs[target]
	c, err := e.decoded(tp, st.l.obj.Helpers)
	if err != nil {
		return 0, err
	}
	st.events = append(st.events, core.TailCallEvent{
		From: st.prog.Name, To: tp.Name, Slot: key, Direct: direct,
		CountBefore: before, CountAfter: st.tailCalls, Depth: st.depth,
	})
	if st.depth > st.base {
		// A subprogram's frame now runs another program, whose exit must
		// return into this one. (At depth == base the frame was taken
		// over before and already says where to return.)
		f := &st.frames[st.depth-1]
		f.c, f.prog, f.base = st.c, st.prog, st.base
	}
	st.prog, st.c = tp, c
	st.setBase(st.depth)
	return 0, nil
}

// callFunc is the bpf-to-bpf call fast handed back at state.limit: the
// program's own call depth is at MAX_CALL_FRAMES, or the stack region is
// full (tail calls from subprograms nest programs, each with up to 8
// frames; the kernel's frames are smaller and its stack bigger).
func (e *Engine) callFunc(st *state, r *regs, pc int, d *dinsn) (int, bool, error) {
	if st.depth-st.base >= kabi.MaxCallFrames-1 {
		return 0, false, st.errorf(pc, "call nests deeper than %d frames", kabi.MaxCallFrames)
	}
	return 0, false, st.errorf(pc, "stack overflow: no room for a %d-byte frame at call depth %d (tail calls from subprograms nest programs)", kabi.MaxBPFStack, st.depth+1)
}

// setBase records that the running program was entered at depth base.
func (st *state) setBase(base int) {
	st.base = base
	st.limit = min(base+kabi.MaxCallFrames-1, maxFrames)
}

// ret is the exit of a program's main function in a frame a tail call
// took over (depth == base > 0): back to the caller's program.
func (st *state) ret(r *regs) int {
	st.depth--
	f := &st.frames[st.depth]
	r[6], r[7], r[8], r[9] = f.saved[0], f.saved[1], f.saved[2], f.saved[3]
	r[10] = f.fp
	if st.scheme == core.Legacy {
		st.tailCalls = f.tailCalls
	}
	st.c, st.prog = f.c, f.prog
	st.setBase(f.base)
	return f.ret
}
