package analysis

import (
	"math/bits"

	"jitsim/core"
	"jitsim/core/kabi"
)

// The stack analysis finds, per function, how far below r10 its accesses
// reach: the verifier's stack_depth. The kernel grows it from every stack
// access it proves (grow_stack_state() since Linux 6.8, which rounds the
// size up to 8; update_stack_depth() before, which did not round):
// loads, stores and atomics through a pointer into the stack, helper memory
// arguments, and a subprogram's accesses through a pointer its caller
// passed, which count against the caller's frame (the pointer's frameno).
//
// A forward constant-offset analysis over each function's control flow
// graph tracks, for every register and every 8-byte slot spilled at a
// known r10 offset, whether it holds a constant, a map reference from
// ld_imm64, or a pointer into a stack: the function's own (r10) or the one
// an argument register pointed into at entry. Pointer arithmetic keeps the
// offset exact (pointer +/- constant), a lower bound (pointer + value known
// to be non-negative: zero-extended loads and 32-bit results, AND with a
// non-negative mask, right shifts), or loses it. A function's accesses
// through its arguments make a summary that its callers apply to the
// pointers they pass, callees first (checkCalls forbids recursion).
//
// Where an offset is lost the result is conservative, never smaller than
// the truth: StackDepth becomes MaxBPFStack (512) when an access into the
// function's own stack has no lower bound, or when a pointer into it
// escapes tracking (stored anywhere but an exact spill slot, or left in a
// spill slot that a helper or callee may overwrite), since a copy could
// later be loaded back and dereferenced anywhere. The kernel itself knows
// more (register bounds from branches), so it may report less. The limit
// checks (checkFrames) use only what is certain, so that nothing is
// rejected on a guess; JITs get the safe upper bound.
//
// Values derived from an argument register are only maybe pointers (most
// arguments are scalars): bitwise and multiplicative operations on them give
// scalars, as they would be in any program the kernel accepts, which
// prohibits such operations on pointers. On a pointer into the function's
// own stack they keep the pointer but lose its offset.

type kind uint8

const (
	kUnknown kind = iota // nothing known; not a pointer into a tracked stack
	kConst               // scalar with value c
	kNonNeg              // scalar in [0, 2^63)
	kPtr                 // pointer into the stacks in bases, offset c (see prec)
	kMap                 // map reference (ld_imm64 src 1): c is the index in Object.Maps
)

type prec uint8

const (
	exact prec = iota // the offset is c
	lower             // the offset is at least c
	none              // nothing known of the offset
)

// Bases: bit 0 is the function's own stack, bit k (1..5) the stack the
// pointer in rk at entry pointed into.
const ownStack = 1

type val struct {
	kind  kind
	prec  prec
	bases uint8
	c     int64
}

var unknown = val{}

func constant(c uint64) val { return val{kind: kConst, c: int64(c)} }

func (v val) isPtr() bool { return v.kind == kPtr }

// ownPtr: the value may point into the function's own stack (and where it
// does it is surely a pointer, unlike a value derived from an argument).
func (v val) ownPtr() bool { return v.kind == kPtr && v.bases&ownStack != 0 }

func (v val) nonNeg() bool { return v.kind == kNonNeg || (v.kind == kConst && v.c >= 0) }

func (v val) single() bool { return v.kind == kPtr && bits.OnesCount8(v.bases) == 1 && v.prec != none }

// taint is a pointer into the same stacks with its offset lost.
func taint(vs ...val) val {
	out := val{kind: kPtr, prec: none}
	for _, v := range vs {
		if v.kind == kPtr {
			out.bases |= v.bases
		}
	}
	return out
}

func join(a, b val) val {
	switch {
	case a == b:
		return a
	case a.kind == kPtr && b.kind == kPtr:
		if a.bases == b.bases && a.prec != none && b.prec != none {
			return val{kind: kPtr, prec: lower, bases: a.bases, c: min(a.c, b.c)}
		}
		return taint(a, b)
	case a.kind == kPtr:
		// b is not a stack pointer on its paths: a dereference there is
		// not a stack access, so a's facts cover both.
		return a
	case b.kind == kPtr:
		return b
	case a.nonNeg() && b.nonNeg():
		return val{kind: kNonNeg}
	}
	return unknown
}

// spill is a tracked 8-byte stack slot at r10+off.
type spill struct {
	off int64
	v   val
}

type state struct {
	regs   [core.NumRegs]val
	spills []spill // sorted by off
}

func (s *state) clone() *state {
	t := &state{regs: s.regs}
	if len(s.spills) > 0 {
		t.spills = append([]spill(nil), s.spills...)
	}
	return t
}

// copyFrom makes s a copy of o, reusing s's spill storage.
func (s *state) copyFrom(o *state) {
	s.regs = o.regs
	s.spills = append(s.spills[:0], o.spills...)
}

func (s *state) spillAt(off int64) val {
	for _, sp := range s.spills {
		if sp.off == off {
			return sp.v
		}
	}
	return unknown
}

// joinFrom joins o into s; widen turns pointer offsets that still change
// into unknown ones, so loops that step a pointer converge.
func (s *state) joinFrom(o *state, widen bool) bool {
	changed := false
	w := func(old, nv val) val {
		if widen && nv.kind == kPtr && nv != old {
			nv = val{kind: kPtr, prec: none, bases: nv.bases}
		}
		return nv
	}
	for r := range s.regs {
		if nv := w(s.regs[r], join(s.regs[r], o.regs[r])); nv != s.regs[r] {
			s.regs[r] = nv
			changed = true
		}
	}
	if len(s.spills) == 0 && len(o.spills) == 0 {
		return changed
	}
	// A slot missing on one side holds an unknown there; join keeps
	// pointers (see join), so a spilled pointer is never forgotten.
	out := make([]spill, 0, len(s.spills)+len(o.spills))
	i, j := 0, 0
	for i < len(s.spills) || j < len(o.spills) {
		var off int64
		a, b := unknown, unknown
		switch {
		case j >= len(o.spills) || (i < len(s.spills) && s.spills[i].off < o.spills[j].off):
			off, a = s.spills[i].off, s.spills[i].v
			i++
		case i >= len(s.spills) || o.spills[j].off < s.spills[i].off:
			off, b = o.spills[j].off, o.spills[j].v
			j++
		default:
			off, a, b = s.spills[i].off, s.spills[i].v, o.spills[j].v
			i++
			j++
		}
		if nv := w(a, join(a, b)); nv.kind != kUnknown {
			out = append(out, spill{off, nv})
		}
	}
	if len(out) != len(s.spills) {
		changed = true
	} else {
		for k := range out {
			if out[k] != s.spills[k] {
				changed = true
				break
			}
		}
	}
	s.spills = out
	return changed
}

// lowest is how far below a base pointer the accesses through it reach.
type lowest struct {
	cert, poss       int64 // the lowest offset reached for certain, possibly
	hasCert, hasPoss bool
	unbounded        bool // some access has no lower bound
}

func (l *lowest) add(off int64, certain bool) {
	if certain && (!l.hasCert || off < l.cert) {
		l.cert, l.hasCert = off, true
	}
	if !l.hasPoss || off < l.poss {
		l.poss, l.hasPoss = off, true
	}
}

// summary is what a function's analysis tells the JIT and its callers.
type summary struct {
	own   lowest
	param [6]lowest // 1..5: through the pointer passed in rk
	// retBases are the stacks r0 may point into at exit.
	retBases uint8
}

func depthOf(off int64, has bool) int {
	if !has || off >= 0 {
		return 0
	}
	return int(min(-off, kabi.MaxBPFStack))
}

// certainDepth is the stack_depth the accesses prove, rounded to 8 as
// grow_stack_state() does.
func (s *summary) certainDepth() int { return roundUp(depthOf(s.own.cert, s.own.hasCert), 8) }

// stackDepth is the frame a JIT must reserve: every access may land in it.
func (s *summary) stackDepth() int {
	if s.own.unbounded {
		return kabi.MaxBPFStack
	}
	return roundUp(depthOf(s.own.poss, s.own.hasPoss), 8)
}

// analyseStacks runs the analysis on every function, callees first.
func (c *checker) analyseStacks() error {
	for _, f := range c.topo {
		a := &frameAnalysis{c: c, fi: f, f: &c.funcs[f]}
		if err := a.run(); err != nil {
			return err
		}
		a.f.StackDepth = a.f.sum.stackDepth()
	}
	return nil
}

type frameAnalysis struct {
	c      *checker
	fi     int
	f      *fn
	record bool // the final pass: record accesses and report errors
}

// block is a basic block [start, end) of the function.
type block struct {
	start, end int
	in         *state
	visits     int
	dirty      bool
}

// widenAfter is how many times a block is processed before pointer offsets
// that keep changing at its entry are given up.
const widenAfter = 8

func (a *frameAnalysis) run() error {
	insns := a.c.insns
	f := a.f
	n := f.End - f.Start
	leader := make([]bool, n+1)
	leader[0] = true
	for i := f.Start; i < f.End; i++ {
		ins := insns[i]
		if a.c.second[i] {
			continue
		}
		if ins.IsJump() {
			leader[ins.JumpTarget(i)-f.Start] = true
			leader[i+1-f.Start] = true
		} else if ins.IsExit() {
			leader[i+1-f.Start] = true
		}
	}
	var blocks []block
	blockAt := make([]int32, n)
	for i := 0; i < n; i++ {
		if leader[i] {
			if len(blocks) > 0 {
				blocks[len(blocks)-1].end = f.Start + i
			}
			blocks = append(blocks, block{start: f.Start + i})
		}
		blockAt[i] = int32(len(blocks) - 1)
	}
	blocks[len(blocks)-1].end = f.End

	entry := &state{}
	entry.regs[core.RFP] = val{kind: kPtr, bases: ownStack}
	if a.fi != 0 {
		for r := core.R1; r <= core.R5; r++ {
			entry.regs[r] = val{kind: kPtr, bases: 1 << r}
		}
	}
	blocks[0].in = entry
	blocks[0].dirty = true

	// A worklist ordered by block index: forward code converges in one
	// pass, and a change that flows back along a loop costs only the blocks
	// it reaches, never a rescan of the function.
	var succ [2]int
	s := &state{}
	work := blockHeap{0}
	for len(work) > 0 {
		b := work.pop()
		blk := &blocks[b]
		blk.dirty = false
		blk.visits++
		s.copyFrom(blk.in)
		ns, err := a.block(s, blk, succ[:0])
		if err != nil {
			return err
		}
		for _, t := range ns {
			tb := &blocks[blockAt[t-f.Start]]
			changed := false
			if tb.in == nil {
				tb.in = s.clone()
				changed = true
			} else {
				changed = tb.in.joinFrom(s, tb.visits > widenAfter)
			}
			if changed && !tb.dirty {
				tb.dirty = true
				work.push(blockAt[t-f.Start])
			}
		}
	}

	// The states are final: replay each reached block once, recording.
	a.record = true
	for b := range blocks {
		if blocks[b].in == nil {
			continue // no path reaches it (the kernel never visits it either)
		}
		s.copyFrom(blocks[b].in)
		if _, err := a.block(s, &blocks[b], succ[:0]); err != nil {
			return err
		}
	}
	return nil
}

// blockHeap is a min-heap of block indices.
type blockHeap []int32

func (h *blockHeap) push(b int32) {
	*h = append(*h, b)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p] <= q[i] {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

func (h *blockHeap) pop() int32 {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(q) && q[l] < q[m] {
			m = l
		}
		if r := l + 1; r < len(q) && q[r] < q[m] {
			m = r
		}
		if m == i {
			break
		}
		q[m], q[i] = q[i], q[m]
		i = m
	}
	*h = q
	return top
}

// block runs the block's instructions on s and returns the successors.
func (a *frameAnalysis) block(s *state, blk *block, succ []int) ([]int, error) {
	insns := a.c.insns
	for i := blk.start; i < blk.end; i++ {
		if a.c.second[i] {
			continue
		}
		ins := insns[i]
		if err := a.step(s, i, ins); err != nil {
			return nil, err
		}
		if i != blk.end-1 {
			continue
		}
		switch {
		case ins.IsExit():
			if a.record && s.regs[core.R0].isPtr() {
				a.f.sum.retBases |= s.regs[core.R0].bases
			}
			return succ, nil
		case ins.IsJump():
			t := ins.JumpTarget(i)
			if ins.OpCode() == core.JA {
				return append(succ, t), nil
			}
			taken, known := branch(ins, s)
			if !known || taken {
				succ = append(succ, t)
			}
			if !known || !taken {
				succ = append(succ, i+1)
			}
			return succ, nil
		}
	}
	// The block ends where another begins; the last slot of a function is
	// exit or ja (checkJumps), so the next slot is in the function.
	return append(succ, blk.end), nil
}

// step applies one instruction to s.
func (a *frameAnalysis) step(s *state, i int, ins core.Insn) error {
	switch ins.Class() {
	case core.ALU, core.ALU64:
		s.regs[ins.Dst] = aluVal(ins, s.regs[ins.Dst], s.regs[ins.Src])
	case core.LD:
		if ins.IsLdImm64() {
			hi := a.c.insns[i+1]
			switch ins.Src {
			case 0:
				s.regs[ins.Dst] = constant(core.Imm64(ins, hi))
			case core.PseudoMapFD:
				s.regs[ins.Dst] = val{kind: kMap, c: int64(uint32(ins.Imm))}
			default: // a map value or a function: not a stack pointer
				s.regs[ins.Dst] = unknown
			}
			return nil
		}
		// LD_ABS/LD_IND: r0 gets at most 32 zero-extended bits; like a
		// helper call they clobber r1-r5.
		s.regs[core.R0] = val{kind: kNonNeg}
		for r := core.R1; r <= core.R5; r++ {
			s.regs[r] = unknown
		}
	case core.LDX:
		size := core.SizeBytes(ins.Size())
		base := s.regs[ins.Src]
		if err := a.access(i, base, int64(ins.Off), size); err != nil {
			return err
		}
		v := unknown
		switch {
		case ins.Mode() == core.MEM && size == 8 && base.ownPtr() && base.single() && base.prec == exact:
			v = s.spillAt(base.c + int64(ins.Off))
		case ins.Mode() == core.MEM && size < 8:
			v = val{kind: kNonNeg}
		}
		s.regs[ins.Dst] = v
	case core.ST:
		return a.store(s, i, s.regs[ins.Dst], ins, constant(uint64(int64(ins.Imm))))
	case core.STX:
		if ins.Mode() == core.ATOMIC {
			return a.atomic(s, i, ins)
		}
		return a.store(s, i, s.regs[ins.Dst], ins, s.regs[ins.Src])
	case core.JMP, core.JMP32:
		switch {
		case ins.Op == core.JMP|core.Call && ins.Src == core.PseudoCall:
			a.pseudoCall(s, i, ins)
		case ins.Op == core.JMP|core.Call || ins.Op == core.JMP|core.Call|core.X || ins.Op == core.JMP|core.TailCall:
			return a.helperCall(s, i, ins)
		}
	}
	return nil
}

// Sizes for access that are not instruction operand sizes.
const (
	helperArg = 0  // a helper's memory argument: from the pointer up
	maybeArg  = -1 // an argument of an unknown helper (callx): maybe memory
)

// access records a load or store of size bytes at base+off.
func (a *frameAnalysis) access(i int, base val, off int64, size int) error {
	if !a.record || !base.isPtr() {
		return nil
	}
	if !base.single() {
		a.unbound(base.bases)
		return nil
	}
	m := base.c + off
	if base.bases == ownStack {
		switch {
		case base.prec != exact || size == maybeArg:
		case size == helperArg && (m < -kabi.MaxBPFStack || m >= 0):
			return a.c.errorf(i, "%s: memory argument r10%+d is outside the %d-byte stack below r10",
				a.c.helperName(a.c.insns[i].Imm), m, kabi.MaxBPFStack)
		case size > 0 && (m < -kabi.MaxBPFStack || m+int64(size) > 0):
			return a.c.errorf(i, "%s: access to r10%+d (%d bytes) is outside the %d-byte stack below r10",
				insnName(a.c.insns[i]), m, size, kabi.MaxBPFStack)
		}
		a.f.sum.own.add(m, base.prec == exact)
		return nil
	}
	a.f.sum.param[bits.TrailingZeros8(base.bases)].add(m, base.prec == exact)
	return nil
}

// unbound records accesses with no lower bound into the given stacks.
func (a *frameAnalysis) unbound(bases uint8) {
	if !a.record {
		return
	}
	for b := range 6 {
		if bases&(1<<b) == 0 {
			continue
		}
		if b == 0 {
			a.f.sum.own.unbounded = true
		} else {
			a.f.sum.param[b].unbounded = true
		}
	}
}

// store handles ST and STX|MEM: the access, then what the slot holds.
func (a *frameAnalysis) store(s *state, i int, base val, ins core.Insn, v val) error {
	size := core.SizeBytes(ins.Size())
	off := int64(ins.Off)
	if err := a.access(i, base, off, size); err != nil {
		return err
	}
	kept := false
	switch {
	case base.ownPtr() && base.single() && base.prec == exact:
		m := base.c + off
		a.kill(s, m, m+int64(size))
		if size == 8 && v.kind != kUnknown {
			s.spills = insertSpill(s.spills, spill{m, v})
			kept = true
		}
	case base.ownPtr():
		a.kill(s, -1<<62, 1<<62)
	}
	if v.isPtr() && !kept {
		a.unbound(v.bases) // the pointer escapes into memory we do not track
	}
	return nil
}

func (a *frameAnalysis) atomic(s *state, i int, ins core.Insn) error {
	base := s.regs[ins.Dst]
	size := core.SizeBytes(ins.Size())
	if err := a.access(i, base, int64(ins.Off), size); err != nil {
		return err
	}
	if base.ownPtr() {
		if base.single() && base.prec == exact {
			m := base.c + int64(ins.Off)
			a.kill(s, m, m+int64(size))
		} else {
			a.kill(s, -1<<62, 1<<62)
		}
	}
	if v := s.regs[ins.Src]; v.isPtr() {
		a.unbound(v.bases)
	}
	loaded := unknown
	if size == 4 {
		loaded = val{kind: kNonNeg}
	}
	switch {
	case ins.Imm == core.AtomicCmpXchg:
		s.regs[core.R0] = loaded
	case ins.Imm&core.Fetch != 0:
		s.regs[ins.Src] = loaded
	}
	return nil
}

func insertSpill(sp []spill, n spill) []spill {
	k := 0
	for k < len(sp) && sp[k].off < n.off {
		k++
	}
	sp = append(sp, spill{})
	copy(sp[k+1:], sp[k:])
	sp[k] = n
	return sp
}

// kill forgets the spill slots overlapping [lo, hi). A pointer that was in
// one may survive in memory (the slot was only maybe overwritten, or only
// in part), so it escapes.
func (a *frameAnalysis) kill(s *state, lo, hi int64) {
	out := s.spills[:0]
	for _, sp := range s.spills {
		if sp.off < hi && lo < sp.off+8 {
			if sp.v.isPtr() && !(sp.off == lo && hi == lo+8) {
				a.unbound(sp.v.bases)
			}
			continue
		}
		out = append(out, sp)
	}
	s.spills = out
}

// helperCall handles helper calls, callx and the xlated tail call.
func (a *frameAnalysis) helperCall(s *state, i int, ins core.Insn) error {
	set := a.c.obj.Helpers
	known := ins.Op == core.JMP|core.Call
	id := ins.Imm
	tailCall := ins.Op == core.JMP|core.TailCall || (known && set == core.HelpersKernel && id == kabi.FnTailCall)
	if a.record {
		if err := a.checkMapArgs(s, i, id, tailCall, known && set == core.HelpersKernel); err != nil {
			return err
		}
	}
	h := unknownHelper
	switch {
	case tailCall:
		h = helperProto{}
	case known:
		h = proto(set, id)
	}
	for r := core.R1; r <= core.R5; r++ {
		v := s.regs[r]
		if h.mem&(1<<r) == 0 || !v.isPtr() {
			continue
		}
		// The helper reads or writes from the pointer up.
		size := helperArg
		if !known {
			size = maybeArg
		}
		if err := a.access(i, v, 0, size); err != nil {
			return err
		}
		if h.write&(1<<r) == 0 || !v.ownPtr() {
			continue
		}
		switch n := s.regs[h.size[r]]; {
		case !v.single() || v.prec != exact:
			a.kill(s, -1<<62, 1<<62)
		case h.size[r] != 0 && n.kind == kConst && n.c >= 0 && n.c <= kabi.MaxBPFStack:
			a.kill(s, v.c, v.c+n.c)
		default:
			a.kill(s, v.c, 1<<62)
		}
	}
	for r := core.R0; r <= core.R5; r++ {
		s.regs[r] = unknown
	}
	return nil
}

// checkMapArgs rejects what check_map_func_compatibility would: a tail call
// through a map that is not a prog array, and a prog array handed to the
// map helpers. Only a map loaded by ld_imm64 on every path is known.
func (a *frameAnalysis) checkMapArgs(s *state, i int, id int32, tailCall, kernel bool) error {
	maps := a.c.obj.Maps
	if tailCall {
		if v := s.regs[core.R2]; v.kind == kMap {
			if m := maps[v.c]; m.Type != core.MapProgArray {
				return a.c.errorf(i, "bpf_tail_call: r2 is map %q, a %s; tail calls go through a prog_array", m.Name, m.Type)
			}
		}
		return nil
	}
	if kernel && isMapHelper(id) {
		if v := s.regs[core.R1]; v.kind == kMap {
			if m := maps[v.c]; m.Type == core.MapProgArray {
				return a.c.errorf(i, "%s: r1 is prog_array %q, which only bpf_tail_call takes", a.c.helperName(id), m.Name)
			}
		}
	}
	return nil
}

// pseudoCall applies the callee's summary to the pointers passed to it.
func (a *frameAnalysis) pseudoCall(s *state, i int, ins core.Insn) {
	callee := &a.c.funcs[a.c.funcOf[ins.CallTarget(i)]].sum
	for r := core.R1; r <= core.R5; r++ {
		v, l := s.regs[r], callee.param[r]
		if !v.isPtr() || !(l.hasPoss || l.unbounded) {
			continue
		}
		switch {
		case l.unbounded || !v.single():
			a.unbound(v.bases)
		case a.record:
			b := bits.TrailingZeros8(v.bases)
			dst := &a.f.sum.own
			if b != 0 {
				dst = &a.f.sum.param[b]
			}
			if l.hasCert {
				dst.add(v.c+l.cert, v.prec == exact)
			}
			dst.add(v.c+l.poss, false)
		}
		if v.ownPtr() {
			if v.single() && !l.unbounded {
				a.kill(s, v.c+l.poss, 1<<62)
			} else {
				a.kill(s, -1<<62, 1<<62)
			}
		}
	}
	// A subprogram returns a scalar in any program the kernel accepts; if
	// this one may return a pointer into a stack, its offset is unknown.
	ret := unknown
	if callee.retBases != 0 {
		ret = val{kind: kPtr, prec: none}
		for b := range 6 {
			switch {
			case callee.retBases&(1<<b) == 0:
			case b == 0:
				ret.bases |= ownStack // below this frame: the callee's dead one
			case s.regs[b].isPtr():
				ret.bases |= s.regs[b].bases
			}
		}
		if ret.bases == 0 {
			ret = unknown
		}
	}
	for r := core.R1; r <= core.R5; r++ {
		s.regs[r] = unknown
	}
	s.regs[core.R0] = ret
}
