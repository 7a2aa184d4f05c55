package arm64

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/kabi"
	"jitsim/core/mem"
)

// opName is the Op of every error this backend returns.
const opName = "jit arm64"

// scratch is what a Compile needs only while it runs, recycled between
// compilations so that compiling allocates little more than the image: the
// compiler and its jit_ctx structs, the ctx->offset arrays, the calls and
// the slots whose code depends on the layout, and the words of the last
// sizing pass.
type scratch struct {
	c       compiler
	ctxs    []jitCtx
	offsets []int32
	// calls and patch hold every function's call sites and
	// layout-dependent slots, each function a range of them, appended by
	// its sizing pass (functions are sized one after the other).
	calls []callSite
	patch []patch
	// rec is the code the sizing pass of the function being JITed
	// produced (the previous JIT's final code in the extra pass), at its
	// full capacity.
	rec []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release drops every reference to the program and the image, so the pool
// keeps neither alive, and returns s to the pool.
func (s *scratch) release() {
	s.c = compiler{}
	clear(s.ctxs)
	scratchPool.Put(s)
}

// Backend is the arm64 JIT as a jit.Backend.
type Backend struct{}

var _ jit.Backend = Backend{}

// Arch names the image format, as jit.Image.Arch.
func (Backend) Arch() string { return "arm64" }

// Compile JITs p; see the package function.
func (Backend) Compile(p *core.Program, opts jit.Options) (*jit.Image, error) {
	return Compile(p, opts)
}

// compiler is one Compile call: the program, the options that stand for the
// kernel's build configuration, and the image all functions are laid out
// in (the kernel gives each subprogram its own bpf_prog_pack chunk; jitsim
// puts them one after the other).
type compiler struct {
	prog   *core.Program
	opts   jit.Options
	legacy bool
	base   uint64 // guest address of code[0]
	// code is the whole image. Each function owns an allocation of the
	// size its first pass measured plus the PLT target, as
	// bpf_int_jit_compile allocates prog_size + PLT_TARGET_SIZE.
	code []byte
	ctxs []jitCtx
	// prologueOffset is PROLOGUE_OFFSET for this configuration.
	prologueOffset int
	// outOffset is the legacy JIT's static out_offset: the length of the
	// tail call sequence, fixed on first use and checked on every other.
	outOffset int
	// helperBase and stride describe the helper stubs for callx.
	helperBase, stride uint64
	// insnOffsets is jit.Image.InsnOffsets, which buildBody fills as it
	// goes with each function's byte offsets from its start (see image).
	insnOffsets []int
	scratch     *scratch
}

// jitCtx is the kernel's struct jit_ctx for one function (one bpf_prog
// after jit_subprogs() split the program).
type jitCtx struct {
	c     *compiler
	fn    int         // index in prog.Funcs; 0 is the main program
	insns []core.Insn // the function's slots (prog->insnsi)
	first int         // slot index of insns[0] in the whole program
	idx   int
	// epilogueOffset is where the epilogue starts, for "b epilogue".
	epilogueOffset int
	// offset is ctx->offset[]: offset[i] is the A64 instruction index where
	// slot i starts; offset[len] is the end of the body.
	offset []int32
	// insnOff is the function's part of compiler.insnOffsets: 4*offset[i]
	// as buildBody last set it. reoffset is whether relayout has moved
	// offsets since, making insnOff stale.
	insnOff  []int
	reoffset bool
	// calls are the function's helper and bpf-to-bpf calls, the only
	// instructions whose length depends on addresses, with the form each
	// has in the current layout.
	calls []callSite
	// patchLo and patchHi delimit, in scratch.patch, the slots whose code
	// depends on where things are (see replayBody).
	patchLo, patchHi int
	// moved is whether relayout moved any slot.
	moved bool
	// start is the function's first word in compiler.code and alloc its
	// allocation in words, both set once the first pass has sized it;
	// until then image is nil, as ctx->image and ctx->ro_image are in
	// pass 1.
	start, alloc int
	image        []byte
	// out is where emit puts words: image when writing, and in the sizing
	// pass, where the kernel writes nothing, the recording scratch.rec.
	out      []byte
	write    bool
	overflow bool
	// brk is the first AARCH64_BREAK_FAULT emitted in this pass, or -1:
	// what validate_code looks for.
	brk       int
	extraPass bool
	stackSize int
	// Fixed scheme: which callee-saved registers the function touches
	// (find_used_callee_regs), and whether r10 is used at all.
	usedCalleeReg   [6]reg
	nrUsedCalleeReg int
	fpUsed          bool
	// Legacy: FP_BOTTOM's distance below r10 (find_fpb_offset).
	fpbOffset int
	// r10Base and r10Adj are what an immediate-offset access through r10
	// goes through instead (frameBase).
	r10Base reg
	r10Adj  int
	// bodyIdx is where the body starts; firstIdx the size the first JIT
	// produced, which the extra pass of a multi-function program may only
	// shrink ("multi-func JIT bug").
	bodyIdx, firstIdx int
}

// Compile JITs a verified, xlated program whose Funcs analysis has filled,
// the way the kernel's arm64 JIT does (bpf_int_jit_compile, once per
// function as jit_subprogs() drives it):
//
//  1. a sizing pass with no image, every call indirect;
//  2. the function gets an allocation of that size plus the PLT target;
//  3. a pass that fixes every instruction's position now that addresses
//     are known (a call may become a one-word BL) without writing;
//  4. a pass that writes the code with the branch offsets of step 3.
//
// A program with subprograms then has every function JITed again (the
// extra pass) with the callees' addresses, so bpf-to-bpf calls become BL;
// code may only shrink. The legacy scheme models the kernel before the
// direct-call change (calls always indirect), where step 3 changes nothing,
// as its two-pass JIT did.
//
// Step 3 is done without re-emitting: calls are the only instructions
// whose length depends on an address, so deciding each call's form in
// order, as the kernel's pass does with write off, and shifting the
// offsets after it gives the same ctx->offset[]. (The kernel's pass also
// range-checks branches against the offsets of step 1; step 4 repeats the
// checks against the final ones.)
//
// Step 4 re-emits only what can differ from step 1: the sizing pass keeps
// the words the kernel's would have written had it an image, and the
// write pass copies them to their final place and emits again just the
// jumps, calls and callback addresses (replayBody).
//
// Options: Scheme picks the tail call count scheme, BTI and PAC the
// CONFIG_ARM64_BTI_KERNEL / CONFIG_ARM64_PTR_AUTH_KERNEL hints, LSE the
// atomics; Base is the image's guest address (mem.Arm64CodeBase when 0);
// HelperAddr places helpers.
func Compile(p *core.Program, opts jit.Options) (*jit.Image, error) {
	if err := checkFuncs(p); err != nil {
		return nil, err
	}
	s := scratchPool.Get().(*scratch)
	defer s.release()
	s.c = compiler{
		prog:      p,
		opts:      opts,
		legacy:    opts.Scheme == core.Legacy,
		base:      opts.Base,
		outOffset: -1,
		scratch:   s,
	}
	c := &s.c
	if c.base == 0 {
		c.base = mem.Arm64CodeBase
	}
	c.prologueOffset = 2 + 4
	if c.legacy {
		c.prologueOffset = 2 + 8
	}
	if opts.BTI {
		c.prologueOffset++
	}
	if opts.PAC {
		c.prologueOffset++
	}
	s.ctxs = slices.Grow(s.ctxs[:0], len(p.Funcs))[:len(p.Funcs)]
	c.ctxs = s.ctxs
	s.calls, s.patch = s.calls[:0], s.patch[:0]
	if cap(s.offsets) < len(p.Insns)+len(p.Funcs) {
		s.offsets = make([]int32, len(p.Insns)+len(p.Funcs))
	}
	offsets := s.offsets[:len(p.Insns)+len(p.Funcs)]
	c.insnOffsets = make([]int, len(p.Insns)+1)
	for k, f := range p.Funcs {
		n := f.End - f.Start
		c.ctxs[k] = jitCtx{
			c:       c,
			fn:      k,
			insns:   p.Insns[f.Start:f.End],
			first:   f.Start,
			offset:  offsets[: n+1 : n+1],
			insnOff: c.insnOffsets[f.Start:f.End:f.End],
		}
		offsets = offsets[n+1:]
	}
	for k := range c.ctxs {
		if err := c.ctxs[k].jit(false); err != nil {
			return nil, err
		}
	}
	if len(c.ctxs) > 1 {
		for k := range c.ctxs {
			if err := c.ctxs[k].jit(true); err != nil {
				return nil, err
			}
		}
	}
	return c.image(), nil
}

// checkFuncs rejects a function table the JIT cannot walk: analysis must
// have split the program into contiguous functions covering every slot.
func checkFuncs(p *core.Program) error {
	if len(p.Insns) == 0 {
		return core.Errorf(core.NoInsn, opName, "%s: program has no instructions", p.Name)
	}
	if len(p.Funcs) == 0 {
		return p.Errorf(0, opName, "program has no function table (core/analysis fills Program.Funcs)")
	}
	next := 0
	for k, f := range p.Funcs {
		if f.Start != next || f.End <= f.Start || f.End > len(p.Insns) {
			return p.Errorf(f.Start, opName, "function %d covers slots [%d, %d), want it to start at %d and end by %d",
				k, f.Start, f.End, next, len(p.Insns))
		}
		if f.StackDepth < 0 || f.StackDepth > kabi.MaxBPFStack {
			return p.Errorf(f.Start, opName, "function %d: stack depth %d outside [0, %d]", k, f.StackDepth, kabi.MaxBPFStack)
		}
		next = f.End
	}
	if next != len(p.Insns) {
		return p.Errorf(next, opName, "functions end at slot %d of %d", next, len(p.Insns))
	}
	return nil
}

// jit is bpf_int_jit_compile for one function; extraPass is the second
// visit jit_subprogs() makes once every function has an address.
func (ctx *jitCtx) jit(extraPass bool) error {
	c := ctx.c
	s := c.scratch
	ctx.extraPass = extraPass
	if !extraPass {
		if err := ctx.init(); err != nil {
			return err
		}
		// Pass 1: estimate the image size. The offsets start zeroed, as
		// kvcalloc leaves them, so branches read garbage that is never
		// written. The words go to the recording instead of nowhere.
		clear(ctx.offset)
		ctx.image, ctx.write, ctx.idx, ctx.brk, ctx.overflow = nil, false, 0, -1, false
		ctx.out = s.rec[:cap(s.rec)]
		ctx.patchLo = len(s.patch)
		callsLo := len(s.calls)
		ctx.recordRoom(maxSlotWords)
		if err := ctx.buildPrologue(); err != nil {
			return err
		}
		if err := ctx.buildBody(); err != nil {
			return err
		}
		ctx.epilogueOffset = ctx.idx
		ctx.recordRoom(maxSlotWords)
		ctx.buildEpilogue()
		ctx.buildPLT()
		s.rec = ctx.out
		ctx.patchHi = len(s.patch)
		ctx.calls = s.calls[callsLo:len(s.calls):len(s.calls)]
		// Allocate prog_size + PLT_TARGET_SIZE. Functions start 8-byte
		// aligned so the PLT target is aligned as build_plt intends; the
		// gap is BRK, as jit_fill_hole fills a fresh chunk (and, after the
		// last pass, what that leaves unwritten). The allocation starts as
		// a copy of the recording, what the last pass mostly writes again:
		// appending it spares clearing memory that the copy overwrites.
		ctx.start = (len(c.code)/4 + 1) &^ 1
		ctx.alloc = ctx.idx + 2
		c.code = append(c.code, breakBytes[:4*ctx.start-len(c.code)]...)
		c.code = append(c.code, s.rec[:4*ctx.alloc]...)
	} else {
		// The first JIT's code is what this pass starts from.
		s.rec = append(s.rec[:0], c.code[4*ctx.start:4*(ctx.start+int(ctx.offset[len(ctx.insns)]))]...)
		s.rec = s.rec[:cap(s.rec)]
	}
	ctx.image = c.code[4*ctx.start : 4*(ctx.start+ctx.alloc)]
	// A recording with a BRK in it (operands with no encoding) is no use:
	// validate_code must find the BRK of the last pass, so that pass
	// emits everything. So is one that ran out of room.
	replay := ctx.brk < 0 && !ctx.overflow && !fullPasses
	ctx.overflow = false

	// Pass 2: determine each instruction's position now that addresses
	// are known.
	ctx.relayout()
	ctx.epilogueOffset = int(ctx.offset[len(ctx.insns)])

	// Pass 3: write the prologue, the body with final jump offsets, the
	// epilogue.
	ctx.idx, ctx.write, ctx.brk, ctx.out = 0, true, -1, ctx.image
	if err := ctx.buildPrologue(); err != nil {
		return err
	}
	ctx.bodyIdx = ctx.idx
	var err error
	if replay {
		err = ctx.replayBody(s.rec)
	} else {
		err = ctx.buildBody()
	}
	if err != nil {
		return err
	}
	if ctx.idx != ctx.epilogueOffset {
		return ctx.errorf(-1, "body ends at instruction %d in the last pass, %d in the one before", ctx.idx, ctx.epilogueOffset)
	}
	ctx.buildEpilogue()
	ctx.buildPLT()
	if ctx.overflow {
		return ctx.errorf(-1, "code outgrew its allocation (%d words)", ctx.alloc)
	}
	if err := ctx.validateCode(); err != nil {
		return err
	}
	if extraPass && ctx.idx > ctx.firstIdx {
		return ctx.errorf(-1, "multi-func JIT bug %d > %d", ctx.idx, ctx.firstIdx)
	}
	if !extraPass {
		ctx.firstIdx = ctx.idx
		// The words past the PLT target stay as jit_fill_hole left them.
		// (The extra pass leaves the first JIT's there, as the kernel's
		// does when the code shrinks.)
		fillBreak(ctx.image[4*(ctx.idx+2):])
	}
	return nil
}

// fullPasses makes the write pass emit every slot again, as the kernel's
// does, instead of replaying the sizing pass's recording. Tests set it to
// check that the two give the same image.
var fullPasses bool

// breakBytes is AARCH64_BREAK_FAULT as it sits in memory.
var breakBytes = binary.LittleEndian.AppendUint32(nil, breakFault)

// fillBreak fills b with AARCH64_BREAK_FAULT: one word, then copies
// doubling the filled part, since memmove beats a store per word.
func fillBreak(b []byte) {
	if len(b) < 4 {
		return
	}
	binary.LittleEndian.PutUint32(b, breakFault)
	for w := 4; w < len(b); w *= 2 {
		copy(b[w:], b[:w])
	}
}

// replayBody is pass 3's build_body from the recording of the pass
// before: ALU, load, store and atomic code is the same wherever it lands,
// so runs of it are copied to their final place, moved by the change in
// length of the calls before them. Then the slots whose code depends on
// the layout, in order, get their words again: a jump's branch (its last
// word; what comes before it compares registers), a call (its form and
// BL offset depend on its address), a callback's ld_imm64 (the callee's
// address), a legacy tail call. The slot offsets are those relayout made
// final.
func (ctx *jitCtx) replayBody(rec []byte) error {
	offset := ctx.offset
	n := len(ctx.insns)
	if ctx.moved {
		from, shift := 0, int32(0)
		for k := range ctx.calls {
			site := &ctx.calls[k]
			end := site.slot
			if !site.rewrite {
				// Its words are as recorded, moved with the slots before
				// it.
				end++
			}
			ctx.copyRun(rec, offset[from], offset[end], shift)
			from, shift = int(site.slot)+1, site.shift
		}
		ctx.copyRun(rec, offset[from], offset[n], shift)
	}
	k := 0 // the next call
	for _, p := range ctx.c.scratch.patch[ctx.patchLo:ctx.patchHi] {
		i := int(p.slot)
		if p.kind == patchCall {
			site := &ctx.calls[k]
			k++
			if !site.rewrite {
				continue
			}
			ctx.idx = int(offset[i])
			if err := ctx.emitCall(i, ctx.siteTarget(site)); err != nil {
				return err
			}
			ctx.emit(mov(true, bpf2a64[core.R0], x0))
			if ctx.idx != int(offset[i+1]) {
				return ctx.errorf(i, "%s: code ends at instruction %d in the last pass, %d in the one before",
					ctx.what(i), ctx.idx, offset[i+1])
			}
			continue
		}
		if p.kind != patchSlot {
			// Only the branch word changes: aim it again (emitJump's
			// check_imm and encoder, written out for the commonest patch).
			idx := int(offset[i+1]) - 1
			jo := ctx.epilogueOffset - idx
			if p.target >= 0 {
				jo = int(offset[p.target]) - idx
			}
			var w uint32
			if p.kind == patchBranch26 {
				if jo>>26 != jo>>63 {
					return ctx.immOutOfRange(i, 26, jo)
				}
				w = b(jo)
			} else {
				if jo>>19 != jo>>63 {
					return ctx.immOutOfRange(i, 19, jo)
				}
				w = bCond(p.cond, jo)
			}
			ctx.idx = idx
			ctx.emit(w)
			continue
		}
		// A callback's ld_imm64 or a legacy tail call.
		ins := &ctx.insns[i]
		ctx.idx = int(offset[i])
		var err error
		if ins.Op&7 == core.LD {
			_, err = ctx.emitLD(i, ins)
		} else {
			err = ctx.emitJump(i, ins)
		}
		if err != nil {
			return err
		}
		if ctx.idx != int(offset[i+1]) {
			return ctx.errorf(i, "%s: code ends at instruction %d in the last pass, %d in the one before",
				ctx.what(i), ctx.idx, offset[i+1])
		}
	}
	ctx.idx = int(offset[n])
	return nil
}

// copyRun copies the recorded words that now go to [lo, hi), which were
// shift words further on. Unmoved words are in place already: the image
// started as a copy of the recording (in the extra pass, it is what was
// recorded).
func (ctx *jitCtx) copyRun(rec []byte, lo, hi, shift int32) {
	if lo >= hi || shift == 0 {
		return
	}
	if uint(4*hi) > uint(len(ctx.out)) || lo < 0 {
		ctx.overflow = true
		return
	}
	copy(ctx.out[4*lo:4*hi], rec[4*(lo-shift):4*(hi-shift)])
}

// relayout is the position-fixing pass: each call, in order, takes the
// form should_emit_indirect_call picks at its final address, and every
// later offset moves by the change in length (an indirect call is
// movn/movk/movk/blr, a direct one bl; "mov x7, x0" follows either).
func (ctx *jitCtx) relayout() {
	ctx.moved = false
	if ctx.c.legacy && !ctx.extraPass {
		// The legacy JIT predates BL calls: every call keeps the indirect
		// form and the address it was sized with.
		return
	}
	shift := int32(0)
	offset := ctx.offset
	next := 0 // first slot whose offset has not been shifted yet
	extra := ctx.extraPass
	calls := ctx.calls
	for k := range calls {
		site := &calls[k]
		s := site.slot
		if shift != 0 {
			for j := range offset[next : s+1] {
				offset[next+j] += shift
			}
		}
		next = int(s) + 1
		ctx.idx = int(offset[s])
		direct := !ctx.shouldEmitIndirectCall(ctx.siteTarget(site))
		switch {
		case direct && !site.direct:
			shift -= 3
		case !direct && site.direct:
			shift += 3
		}
		// The recorded words stand unless the call is or was a BL (whose
		// offset depends on its address) or, in the extra pass, calls a
		// function whose address it now loads instead of NULL.
		site.rewrite = direct || site.direct || site.callee >= 0 && extra
		site.direct, site.shift = direct, shift
		if shift != 0 {
			ctx.moved, ctx.reoffset = true, true
		}
	}
	if shift != 0 {
		for j := range offset[next:] {
			offset[next+j] += shift
		}
	}
}

// init computes what the kernel derives from the instructions before the
// first pass: the callee-saved registers in use (fixed scheme) or the
// FP_BOTTOM offset (legacy), and the stack size. It also rejects register
// numbers past r10, which the emitters index bpf2a64 with.
func (ctx *jitCtx) init() error {
	if i := ctx.findUsedCalleeRegs(); i >= 0 {
		ins := ctx.insns[i]
		return ctx.errorf(i, "%s: register out of range (dst %d, src %d)", ctx.what(i), ins.Dst, ins.Src)
	}
	// Stack must be multiples of 16B (build_prologue).
	ctx.stackSize = (ctx.c.prog.Funcs[ctx.fn].StackDepth + 15) &^ 15
	switch {
	case !ctx.c.legacy:
		ctx.r10Base, ctx.r10Adj = sp, ctx.stackSize
	case ctx.fpbOffset > 0:
		ctx.r10Base, ctx.r10Adj = fpBottom, ctx.fpbOffset
	default:
		ctx.r10Base, ctx.r10Adj = bpf2a64[core.R10], 0
	}
	return nil
}

// emit is the kernel's emit(): write the word when this pass writes, and
// always advance. The sizing pass records it instead (out is then the
// recording, with room made ahead of each run of slots; a word past its
// end only costs the recording). Small enough to inline: no calls.
func (ctx *jitCtx) emit(w uint32) {
	// idx as uint32, never near 2^32, lets Go see that o+4 does not wrap
	// and drop the slice's own bounds check; the store comes second so
	// that it is the fall-through.
	if o := uint(uint32(ctx.idx)) * 4; o+4 > uint(len(ctx.out)) {
		ctx.overflow = true
	} else {
		binary.LittleEndian.PutUint32(ctx.out[o:o+4], w)
	}
	if w == breakFault && ctx.brk < 0 {
		ctx.brk = ctx.idx
	}
	ctx.idx++
}

// maxSlotWords bounds the code of one slot (a tail call, the longest, is
// about 36 words), and recordChunk is how many slots buildBody emits
// between checks of the recording's room.
const (
	maxSlotWords = 64
	recordChunk  = 64
)

// recordRoom makes room in the recording for n more words.
func (ctx *jitCtx) recordRoom(n int) {
	if 4*(ctx.idx+n) > len(ctx.out) {
		rec := make([]byte, max(2*len(ctx.out), 4*(ctx.idx+n), 1<<12))
		copy(rec, ctx.out)
		ctx.out = rec
	}
}

// patch is a slot whose code depends on the layout, as the sizing pass
// found it, for replayBody: a branch (with what it needs to be aimed
// again) or a slot to emit again whole.
type patch struct {
	slot int32
	// target is the slot a branch goes to; -1 for the epilogue.
	target int32
	kind   patchKind
	cond   cond
}

type patchKind uint8

const (
	patchSlot     patchKind = iota // emit the slot again
	patchCall                      // a call: emit it again if relayout says so
	patchBranch19                  // B.cond
	patchBranch26                  // B
)

// layoutDependent notes, in the sizing pass, that slot i's code depends
// on the layout and must be emitted again.
func (ctx *jitCtx) layoutDependent(i int) {
	if ctx.image == nil {
		s := ctx.c.scratch
		s.patch = append(s.patch, patch{slot: int32(i)})
	}
}

// put stores instruction word at (an index in the function) little-endian.
func (ctx *jitCtx) put(at int, w uint32) {
	b, o := ctx.out, uint(4*at)
	if o+4 > uint(len(b)) { // 4*at+4 > len(b), or at < 0
		ctx.overflow = true
		return
	}
	binary.LittleEndian.PutUint32(b[o:o+4], w)
	if w == breakFault && ctx.brk < 0 {
		ctx.brk = at
	}
}

// pc is the guest address of the instruction about to be emitted
// (&ctx->ro_image[ctx->idx]).
func (ctx *jitCtx) pc() uint64 { return ctx.c.base + 4*uint64(ctx.start+ctx.idx) }

// funcAddr is bpf_func of function k, known once the first pass of k has
// allocated it.
func (c *compiler) funcAddr(k int) (uint64, bool) {
	if c.ctxs[k].alloc == 0 {
		return 0, false
	}
	return c.base + 4*uint64(c.ctxs[k].start), true
}

// buildBody is build_body: offset[i] is where slot i starts; an ld_imm64's
// second slot starts where the first ends. The switch is build_insn's
// dispatch on the instruction class, written into the loop rather than
// called per instruction: the call and its two results cost as much as
// emitting a simple instruction.
func (ctx *jitCtx) buildBody() error {
	insns := ctx.insns
	offset, insnOff := ctx.offset[:len(insns)], ctx.insnOff[:len(insns)]
	ctx.reoffset = false
	// wide: the slot is an ld_imm64's second (build_insn returned 1 for
	// the first), which starts where the first ended. Noted rather than
	// skipped with i++ so that i stays a plain loop index, which lets Go
	// drop the bounds checks.
	wide := false
	// The sizing pass makes room in its recording for recordChunk slots at
	// a time, outside the loop that emits them: a call in that loop, even
	// one not taken, makes Go reload all it keeps on every turn.
	for lo, hi := 0, 0; lo < len(insns); lo = hi {
		hi = min(lo+recordChunk, len(insns))
		if ctx.image == nil {
			ctx.recordRoom(recordChunk * maxSlotWords)
		}
		for i := lo; i < hi; i++ {
			idx := ctx.idx
			offset[i], insnOff[i] = int32(idx), 4*idx
			if wide {
				wide = false
				continue
			}
			ins := &insns[i]
			// ALU first: the commonest class, reached with one test.
			switch c := ins.Op & 7; {
			case c == core.ALU || c == core.ALU64:
				// The register operations and moves are one word with the
				// registers in fixed fields: a table lookup, no call.
				if w := aluRegOp[ins.Op]; w != 0 {
					d, s := uint32(bpf2a64[ins.Dst&15]), uint32(bpf2a64[ins.Src&15])
					if w&regOpMov == 0 {
						ctx.emit(w | s<<16 | d<<5 | d)
						continue
					}
					if ins.Off == 0 && ins.Imm == 0 {
						ctx.emit(w&^regOpMov | s<<5 | d)
						continue
					}
				}
				// So are the shifts by a constant, and the moves and
				// additions of one that a MOVZ, MOVN, ADD or SUB takes:
				// emitALU's code for them, without the call.
				is64, dst := c == core.ALU64, bpf2a64[ins.Dst&15]
				switch ins.Op &^ 7 {
				case core.Lsh | core.K:
					ctx.emit(lslImm(is64, dst, dst, shiftImm(is64, ins.Imm)))
					continue
				case core.Rsh | core.K:
					ctx.emit(lsrImm(is64, dst, dst, shiftImm(is64, ins.Imm)))
					continue
				case core.Arsh | core.K:
					ctx.emit(asrImm(is64, dst, dst, shiftImm(is64, ins.Imm)))
					continue
				case core.Mov | core.K:
					// emit_a64_mov_i's one-instruction cases.
					switch v := uint32(ins.Imm); v >> 16 {
					case 0:
						ctx.emit(movz(is64, dst, v, 0))
						continue
					case 0xffff:
						ctx.emit(movn(is64, dst, ^v&0xffff, 0))
						continue
					}
				case core.Add | core.K:
					// emit_a64_add_i's one-instruction cases.
					if v := uint32(ins.Imm); isAddSubImm(v) {
						ctx.emit(addImm(is64, dst, dst, int(v)))
						continue
					} else if isAddSubImm(-v) {
						ctx.emit(subImm(is64, dst, dst, int(-v)))
						continue
					}
				}
				if err := ctx.emitALU(i, ins); err != nil {
					return err
				}
			case c == core.LDX:
				// A load with an offset LDR (immediate) takes is one word
				// too: emitLoad's first case, without the call.
				if ins.Op&0xe0 == core.MEM {
					base, off := ctx.frameBase(bpf2a64[ins.Src&15], int(ins.Off))
					if w, ok := lsiWord(1, lsSizes[ins.Op>>3&3], bpf2a64[ins.Dst&15], base, off); ok {
						ctx.emit(w)
						continue
					}
				}
				if err := ctx.emitLoad(i, ins); err != nil {
					return err
				}
			case c == core.ST || c == core.STX:
				// And so is such a store of a register (emitStore's).
				if ins.Op&0xe7 == core.STX|core.MEM {
					base, off := ctx.frameBase(bpf2a64[ins.Dst&15], int(ins.Off))
					if w, ok := lsiWord(0, lsSizes[ins.Op>>3&3], bpf2a64[ins.Src&15], base, off); ok {
						ctx.emit(w)
						continue
					}
				}
				var err error
				if ins.Op&0xe7 == core.STX|core.ATOMIC { // ins.IsAtomic(), without copying ins
					err = ctx.emitAtomic(i, ins)
				} else {
					err = ctx.emitStore(i, ins)
				}
				if err != nil {
					return err
				}
			case c == core.JMP || c == core.JMP32:
				if err := ctx.emitJump(i, ins); err != nil {
					return err
				}
			case c == core.LD:
				var err error
				if wide, err = ctx.emitLD(i, ins); err != nil {
					return err
				}
			default:
				return ctx.unsupported(i)
			}
		}
	}
	ctx.offset[len(insns)] = int32(ctx.idx)
	return nil
}

// validateCode is validate_code: an encoder that got operands it cannot
// encode returned AARCH64_BREAK_FAULT, and such an image is refused. The
// error names the slot whose code holds the first one.
func (ctx *jitCtx) validateCode() error {
	w := ctx.brk
	if w < 0 {
		return nil
	}
	if w >= ctx.bodyIdx && w < ctx.epilogueOffset {
		for s := range ctx.insns {
			if int(ctx.offset[s]) <= w && w < int(ctx.offset[s+1]) {
				return ctx.errorf(s, "%s: operands have no A64 encoding (instruction %d of the function is AARCH64_BREAK_FAULT)",
					ctx.what(s), w)
			}
		}
	}
	where := "prologue"
	if w >= ctx.epilogueOffset {
		where = "epilogue"
	}
	return ctx.errorf(-1, "%s: instruction %d is AARCH64_BREAK_FAULT", where, w)
}

// image assembles the jit.Image: the words as little-endian bytes, each
// function's extent, and the slot offsets made image-relative.
func (c *compiler) image() *jit.Image {
	img := &jit.Image{
		Arch:           "arm64",
		Code:           c.code,
		Base:           c.base,
		Funcs:          make([]jit.Func, len(c.ctxs)),
		InsnOffsets:    c.insnOffsets,
		TailCallOffset: 4 * c.prologueOffset,
		EntryFrameSize: c.ctxs[0].entryFrameSize(),
	}
	for k := range c.ctxs {
		ctx := &c.ctxs[k]
		img.Funcs[k] = jit.Func{
			Name:      c.prog.Funcs[k].Name,
			Start:     4 * ctx.start,
			End:       4 * (ctx.start + ctx.idx),
			BodyStart: 4 * (ctx.start + ctx.bodyIdx),
		}
		// buildBody left the offsets from the function's start; they are
		// final for a function at the image's start whose calls kept their
		// length.
		if ctx.start == 0 && !ctx.reoffset {
			continue
		}
		offs, base := ctx.insnOff, 4*ctx.start
		from := ctx.offset[:len(offs)]
		for s := range offs {
			offs[s] = base + 4*int(from[s])
		}
	}
	last := &c.ctxs[len(c.ctxs)-1]
	img.InsnOffsets[len(c.prog.Insns)] = 4 * (last.start + int(last.offset[len(last.insns)]))
	return img
}

// errorf builds the backend's error for slot i of this function (i < 0:
// the function as a whole).
func (ctx *jitCtx) errorf(i int, format string, args ...any) error {
	slot := ctx.first + i
	if i < 0 {
		slot = ctx.first
		format = "function %d: " + format
		args = append([]any{ctx.fn}, args...)
	}
	return ctx.c.prog.Errorf(slot, opName, format, args...)
}

// fieldError is the error for slot i with a field value the kernel's
// verifier would not let through; format has one %d for it. Out of line
// with plain arguments, so that an emitter's error path is one call.
//
//go:noinline
func (ctx *jitCtx) fieldError(i int, format string, v int) error {
	return ctx.errorf(i, "%s: "+format, ctx.what(i), v)
}

func (ctx *jitCtx) unsupported(i int) error {
	return ctx.c.prog.Errorf(ctx.first+i, opName, "%s: %w", ctx.what(i), core.ErrUnsupported)
}

// what names slot i in errors, as the pseudo-C printer shows it, with the
// opcode for the cases that printer cannot spell.
func (ctx *jitCtx) what(i int) string {
	return fmt.Sprintf("%s (opcode %#02x)", ctx.c.prog.Disasm(ctx.first+i), ctx.insns[i].Op)
}
