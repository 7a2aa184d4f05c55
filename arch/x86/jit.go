package x86

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"jitsim/core"
	"jitsim/core/jit"
	"jitsim/core/kabi"
)

// Limits of bpf_int_jit_compile / do_jit.
const (
	maxPasses     = 20            // MAX_PASSES
	paddingPasses = maxPasses - 5 // PADDING_PASSES: pad jumps instead of shrinking them
	maxInsnSize   = 128           // BPF_MAX_INSN_SIZE
	patchSize     = 5             // X86_PATCH_SIZE
	firstEstimate = 64            // bytes per insn before the first pass
	opName        = "jit x86_64"  // core.Error.Op
	maxTailCalls  = kabi.MaxTailCallCnt
)

// The first pass emits the commonest insns, those that are one machine
// instruction (or a cmp and a jcc) with the registers in fixed fields,
// from the tables below, in fastRun, a loop without a call: every call level
// on the per-insn path spills and reloads the loop's state (Go keeps no
// register across a call), which cost as much as encoding the insn. The
// bytes are the same as the emitter's for the insn (emitALU, emitMov,
// emitLoad, emitStore, emitJump's cmp and emit_cond_jmp); anything else (a reserved field set, a form the table
// does not cover, a jump that needs the error path) goes to emitInsn.

// Forms of fastForm.
const (
	fastNone   = iota
	fastRR     // [REX] opc ModRM(dst, src): ALU binop X, 32-bit mov X
	fastMovX64 // EMIT_mov: REX.W 89 ModRM, nothing when dst == src
	fastImm    // ALU binop K: 83 /ext ib, the rax form, 81 /ext id
	fastShiftK // D1 /ext, C1 /ext ib
	fastMovK   // emit_mov_imm32
	fastLoad   // emit_ldx / emit_ldsx: [REX] opc [opc2] ModRM disp
	fastStore  // emit_stx of a W or DW
	fastJmpX   // cmp/test dst, src; jcc
	fastJmpK   // test dst, imm32 / test dst, dst / cmp dst, imm; jcc
)

// fastForm says how the first pass emits one opcode without a call. It
// is packed into one word, which the loop keeps in a register: the form,
// REX (0x40, or 0x48 where the kernel always emits REX.W), the opcode of
// the reg-reg or memory form (the rax form's for fastImm), the second
// opcode byte after 0F (fastLoad; 0 if none), the ModRM of the immediate
// forms with rm = 0, and the jcc of a jump, a byte each.
type fastForm uint64

func mkFast(form, rex, opc, opc2, ext, cc uint8) fastForm {
	return fastForm(form) | fastForm(rex)<<8 | fastForm(opc)<<16 | fastForm(opc2)<<24 | fastForm(ext)<<32 | fastForm(cc)<<40
}

func (f fastForm) form() uint8 { return uint8(f) }
func (f fastForm) rex() uint8  { return uint8(f >> 8) }
func (f fastForm) opc() uint8  { return uint8(f >> 16) }
func (f fastForm) opc2() uint8 { return uint8(f >> 24) }
func (f fastForm) ext() uint8  { return uint8(f >> 32) }
func (f fastForm) cc() uint8   { return uint8(f >> 40) }

var fastForms = func() (t [256]fastForm) {
	for _, class := range []uint8{core.ALU, core.ALU64} {
		rex := uint8(0x40)
		if class == core.ALU64 {
			rex = 0x48
		}
		for _, op := range []uint8{core.Add, core.Sub, core.And, core.Or, core.Xor} {
			aop := bpfAluOps[op>>4]
			t[class|op|core.X] = mkFast(fastRR, rex, aluRegOpc[aop], 0, 0, 0)
			t[class|op|core.K] = mkFast(fastImm, rex, aluEaxOpc[aop], 0, aluImmExt[aop], 0)
		}
		for _, op := range []uint8{core.Lsh, core.Rsh, core.Arsh} {
			t[class|op|core.K] = mkFast(fastShiftK, rex, 0, 0, shiftExt[bpfShiftOps[op>>4]], 0)
		}
		t[class|core.Mov|core.K] = mkFast(fastMovK, rex, 0, 0, 0, 0)
	}
	t[core.ALU|core.Mov|core.X] = mkFast(fastRR, 0x40, 0x89, 0, 0, 0)
	t[core.ALU64|core.Mov|core.X] = mkFast(fastMovX64, 0x48, 0x89, 0, 0, 0)
	t[core.LDX|core.MEM|core.B] = mkFast(fastLoad, 0x48, 0x0F, 0xB6, 0, 0)
	t[core.LDX|core.MEM|core.H] = mkFast(fastLoad, 0x48, 0x0F, 0xB7, 0, 0)
	t[core.LDX|core.MEM|core.W] = mkFast(fastLoad, 0x40, 0x8B, 0, 0, 0)
	t[core.LDX|core.MEM|core.DW] = mkFast(fastLoad, 0x48, 0x8B, 0, 0, 0)
	t[core.LDX|core.MEMSX|core.B] = mkFast(fastLoad, 0x48, 0x0F, 0xBE, 0, 0)
	t[core.LDX|core.MEMSX|core.H] = mkFast(fastLoad, 0x48, 0x0F, 0xBF, 0, 0)
	t[core.LDX|core.MEMSX|core.W] = mkFast(fastLoad, 0x48, 0x63, 0, 0, 0)
	t[core.STX|core.MEM|core.W] = mkFast(fastStore, 0x40, 0x89, 0, 0, 0)
	t[core.STX|core.MEM|core.DW] = mkFast(fastStore, 0x48, 0x89, 0, 0, 0)
	for _, class := range []uint8{core.JMP, core.JMP32} {
		rex := uint8(0x40)
		if class == core.JMP {
			rex = 0x48
		}
		for op, cc := range bpfCond {
			if cc == 0 {
				continue
			}
			x, k := mkFast(fastJmpX, rex, 0x39, 0, 0, cc), mkFast(fastJmpK, rex, 0, 0, 0xF8, cc)
			if uint8(op<<4) == core.JSET {
				x = mkFast(fastJmpX, rex, 0x85, 0, 0, cc)
				k = mkFast(fastJmpK, rex, 0xF7, 0, 0xC0, cc)
			}
			t[class|uint8(op<<4)|core.X] = x
			t[class|uint8(op<<4)|core.K] = k
		}
	}
	return t
}()

// fastMax is the most bytes fastRun emits for one insn (a cmp with an
// imm32 and a jcc rel32), rounded up to cover putCode's 8-byte write.
const fastMax = 16

// regPair is what an instruction's encoding takes of two BPF registers,
// rm (dst) and reg (src): add_2reg's bits and add_2mod's REX bits.
// Indexed by register number & 15, so that it needs no bounds check: scan
// rejects a register field past r10 wherever it names a register.
var regPair = func() (t [16][16]pair) {
	for rm := range core.NumRegs {
		for r := range core.NumRegs {
			x, y := bpf2x86[rm], bpf2x86[r]
			t[rm][r] = pair(x&7|(y&7)<<3) | pair(add2mod(0, x, y))<<8 |
				pair(y&7|(x&7)<<3)<<16 | pair(add2mod(0, y, x))<<24
		}
	}
	return t
}()

// pair is one regPair entry: the ModRM register bits (mod 00) and the REX
// bits, then the same with the registers swapped.
type pair uint32

func (p pair) modrm() uint8  { return uint8(p) }
func (p pair) rm() uint8     { return uint8(p) & 7 }
func (p pair) rex() uint8    { return uint8(p >> 8) }
func (p pair) rexB() uint8   { return uint8(p>>8) & 1 }
func (p pair) same() bool    { return uint16(p) == uint16(p>>16) }
func (p pair) swapped() pair { return p >> 16 }

// Backend is the x86-64 JIT (jit.Backend). The zero value JITs as a stock
// mainline kernel on a CPU without BMI2 and without IBT.
type Backend struct {
	// BMI2 emits shlx/shrx/sarx for shifts by a register other than r4,
	// as do_jit does when boot_cpu_has(X86_FEATURE_BMI2).
	BMI2 bool
}

var _ jit.Backend = Backend{}

// Arch is "x86_64".
func (Backend) Arch() string { return "x86_64" }

// Compile JITs every function of p into one image: each function gets its
// own prologue and its own pass loop, as jit_subprogs() JITs each subprogram
// as its own bpf_prog, then a final write pass with the functions laid out
// one after the other fixes the bpf-to-bpf call displacements (the kernel's
// extra pass). p.Funcs must tile p.Insns (core/analysis fills them).
func (b Backend) Compile(p *core.Program, opts jit.Options) (*jit.Image, error) {
	c := compilers.Get().(*compiler)
	*c = compiler{p: p, opts: opts, bmi2: b.BMI2, legacy: opts.Scheme == core.Legacy, bufs: c.bufs}
	img, err := c.compile()
	*c = compiler{bufs: c.bufs}
	compilers.Put(c)
	return img, err
}

// compilers keeps the per-slot tables and the scratch code buffer between
// compiles: for big programs, fresh memory costs more than JITing.
var compilers = sync.Pool{New: func() any { return new(compiler) }}

// bufs are the reusable parts of a compiler.
type bufs struct {
	kind    []uint8
	scratch []byte
	// Per function, cut from these: volSlots and shift (one more than the
	// function has volatile slots); see funcState.
	volSlots []int32
	shift    []int
	recs     []volRec
	// volCount[k] is how many volatile slots of its function come
	// before slot k, for the jumps' volRec.vt.
	volCount []int32
}

// grow returns s resized to n, reusing its memory when it is big enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// TailCallOffset is X86_TAIL_CALL_OFFSET: how many bytes of a program's
// prologue a tail call skips, landing right after "mov rbp, rsp" (on the
// second endbr64 under IBT). 6.11 made "xor eax, eax"/nop2 three bytes long.
func TailCallOffset(scheme core.Scheme, ibt bool) int {
	off := 12
	if scheme == core.Legacy {
		off = 11
	}
	if ibt {
		off += len(endbr64) // ENDBR_INSN_SIZE
	}
	return off
}

// funcState is what the kernel keeps per JITed bpf_prog between passes:
// addrs[] and struct jit_context, plus what do_jit derives from the prog.
type funcState struct {
	f        *core.Func
	start, n int // first slot and slot count
	// addrs is the kernel's addrs[]: addrs[0] is the prologue's length,
	// addrs[k] the end of slot k-1 (= start of slot k), relative to the
	// function's first byte. Between the first pass and the final one it
	// keeps the first pass's values: only the volatile slots (volSlots)
	// change size after the first pass, so the code between two of them
	// only moves as a whole, and shift[j] is how far the code after the
	// first j volatile slots has moved. The kernel's addrs[k] is then
	// addrs[k] + shift[j], j the number of volatile slots before slot k,
	// and a sizing pass (see volRec) costs the volatile slots, not all of
	// them. shift[j] is updated in order, so entries for slots behind the
	// current one are this pass's and the ones ahead the previous pass's,
	// as in the kernel's array. The final pass folds shift into addrs.
	addrs       []int
	volSlots    []int32
	shift       []int
	depth       int32 // round_up(stack_depth, 8)
	regsUsed    [4]bool
	tcReachable bool
	subprog     bool
	padding     bool
	proglen     int
	image       int // offset of the function in the image (final pass)
	scratch     int // offset of its first-pass code in compiler.scratch

	// struct jit_context: labels found in one pass, used by the next.
	cleanupAddr     int
	tcDirectLabel   int
	tcIndirectLabel int
}

type compiler struct {
	p      *core.Program
	opts   jit.Options
	bmi2   bool
	legacy bool

	a     asm // the output of the pass: scratch, then the image
	funcs []funcState
	fs    *funcState // the function being JITed

	firstPass bool // the first pass: sorts jumps and exits into kinds
	final     bool // write pass: addresses are known
	proglen   int  // do_jit's proglen: the function's code before this insn
	// prevLen is the current insn's length as addrs[] has it (addrs[i] -
	// addrs[i-1]), for INSN_SZ_DIFF; set for the volatile insns of the
	// passes that can pad (not the first).
	prevLen  int
	seenExit bool

	// bufs.kind holds per-slot flags found by scan. bufs.scratch holds
	// every function's first-pass code, where addrs[] of the first pass
	// says each slot's is: the code of a slot that is not kindVolatile is
	// the same in every pass, so later passes only add up its size and
	// the final pass copies it.
	bufs

	tailCallOffset int
	pokes          []jit.Poke

	stride     uint64 // helper trap stub stride for callx, 0 until needed
	helperBase uint64
}

func (c *compiler) errorf(slot int, format string, args ...any) error {
	return c.p.Errorf(slot, opName, format, args...)
}

func (c *compiler) compile() (*jit.Image, error) {
	p := c.p
	if len(p.Funcs) == 0 {
		return nil, c.errorf(-1, "program has no functions (run analysis first)")
	}
	c.tailCallOffset = TailCallOffset(c.opts.Scheme, c.opts.IBT)
	c.funcs = make([]funcState, len(p.Funcs))
	c.kind = grow(c.kind, len(p.Insns))
	clear(c.kind)
	c.volSlots = grow(c.volSlots, len(p.Insns))
	c.volCount = grow(c.volCount, len(p.Insns))
	c.shift = grow(c.shift, len(p.Insns)+len(p.Funcs))
	nvol := 0
	// Each function's addrs[] lives in the image's InsnOffsets, which it
	// becomes once made image-relative. Function k's addrs[n] (its end) is
	// function k+1's addrs[0]; converge and the final pass take turns.
	offsets := make([]int, len(p.Insns)+1)
	next := 0
	for i := range p.Funcs {
		f := &p.Funcs[i]
		if f.Start != next || f.End <= f.Start || f.End > len(p.Insns) {
			return nil, c.errorf(f.Start, "function %d (%s) covers slots [%d, %d): functions must tile the %d slots in order",
				i, f.Name, f.Start, f.End, len(p.Insns))
		}
		next = f.End
		fs := &c.funcs[i]
		*fs = funcState{f: f, start: f.Start, n: f.End - f.Start, subprog: i > 0,
			addrs: offsets[f.Start : f.End+1]}
		if f.StackDepth < 0 || f.StackDepth > kabi.MaxBPFStack {
			return nil, c.errorf(f.Start, "function %s: stack depth %d out of range", f.Name, f.StackDepth)
		}
		fs.depth = int32(f.StackDepth+7) &^ 7
		if err := c.scan(fs, c.volSlots[nvol:]); err != nil {
			return nil, err
		}
		fs.shift = c.shift[nvol+i : nvol+i+len(fs.volSlots)+1]
		clear(fs.shift)
		nvol += len(fs.volSlots)
	}
	if next != len(p.Insns) {
		return nil, c.errorf(next, "slots [%d, %d) belong to no function", next, len(p.Insns))
	}

	// The pass loop of bpf_int_jit_compile, per function: the image
	// shrinks with every pass until its length repeats.
	c.scratch = grow(c.scratch, 8*len(p.Insns)+64*len(p.Funcs)+2*asmSize)[:0]
	total := 0
	for i := range c.funcs {
		fs := &c.funcs[i]
		if err := c.converge(fs); err != nil {
			return nil, err
		}
		fs.image = total
		total += fs.proglen
	}

	// The write pass: every function at its place, calls resolved.
	c.final = true
	c.a = asm{b: make([]byte, total+asmSize)} // begin's room
	img := &jit.Image{
		Arch:           "x86_64",
		Base:           c.opts.Base,
		Funcs:          make([]jit.Func, len(c.funcs)),
		InsnOffsets:    offsets,
		TailCallOffset: c.tailCallOffset,
		EntryFrameSize: 8, // push rbp; mov rbp, rsp (emitPrologue)
	}
	for i := range c.funcs {
		fs := &c.funcs[i]
		c.fs = fs
		proglen, err := c.finalPass()
		if err != nil {
			return nil, err
		}
		if proglen != fs.proglen {
			return nil, c.errorf(fs.start, "function %s: final pass emitted %d bytes, sizing converged on %d",
				fs.f.Name, proglen, fs.proglen)
		}
		name := fs.f.Name
		if name == "" {
			name = fmt.Sprintf("func%d", i)
		}
		img.Funcs[i] = jit.Func{Name: name, Start: fs.image, End: fs.image + proglen, BodyStart: fs.image + fs.addrs[0]}
		if fs.image != 0 {
			addrs := fs.addrs[:fs.n]
			for k := range addrs {
				addrs[k] += fs.image
			}
		}
	}
	offsets[len(p.Insns)] = total
	img.Code = c.a.b[:total:total]
	img.Pokes = c.pokes
	return img, nil
}

// converge runs do_jit until two passes give the same length, as the
// kernel's loop does before it allocates the image; the jumps switch to
// padding after PADDING_PASSES so that oscillating sizes settle. The first
// pass emits everything; the later ones look only at the volatile slots
// (jumps, exits, calls, tail calls), since the code between two of them
// cannot change, only move (funcState.addrs): the same addrs[], lengths
// and decisions as re-running do_jit whole, for a fraction of the work.
func (c *compiler) converge(fs *funcState) error {
	fs.cleanupAddr = firstEstimate * (fs.n + 1)
	c.fs = fs
	c.a = asm{b: c.scratch[:cap(c.scratch)], start: len(c.scratch), n: len(c.scratch)}
	fs.scratch = len(c.scratch)
	c.firstPass = true
	old, err := c.firstPassEmit()
	c.firstPass = false
	c.scratch = c.a.b[:c.a.n]
	if err != nil {
		return err
	}
	c.recordVolatile()
	for pass := 1; pass < maxPasses; pass++ {
		if !fs.padding && pass >= paddingPasses {
			fs.padding = true
		}
		proglen, err := c.sizePass()
		if err != nil {
			return err
		}
		if proglen == old {
			fs.proglen = proglen
			return nil
		}
		old = proglen
	}
	return c.errorf(fs.start, "function %s: image size did not converge in %d passes", fs.f.Name, maxPasses)
}

// scan does once per function what do_jit would redo every pass:
// detect_reg_usage, and the checks that keep the emitters from indexing
// out of range (the kernel trusts its verifier for these). It also sorts
// the slots into kinds for the sizing passes, lists the volatile ones in
// vol, which has room for every slot.
func (c *compiler) scan(fs *funcState, vol []int32) error {
	insns := c.p.Insns[fs.start : fs.start+fs.n]
	kind := c.kind[fs.start : fs.start+fs.n]
	fs.tcReachable = fs.f.TailCallReachable
	vol = vol[:len(insns)]
	used, nv, tc, lone := scanSlots(insns, kind, vol, c.volCount[fs.start:][:len(insns)])
	if lone {
		for k := range insns {
			if insns[k].IsLdImm64() && (k+1 >= len(insns) || insns[k+1].Op != 0) && kind[k] != kindSecond {
				return c.errorf(fs.start+k, "ld_imm64 without its second slot")
			}
		}
	}
	fs.tcReachable = fs.tcReachable || tc
	vol = vol[:nv]
	fs.volSlots = vol
	for r := range fs.regsUsed {
		fs.regsUsed[r] = fs.f.CalleeSaved[r] || used&(1<<(core.R6+core.Reg(r))) != 0
	}
	if used>>(core.R10+1) != 0 {
		for k := range insns {
			ins := &insns[k]
			if ins.Dst > core.R10 && kind[k] != kindSecond {
				return c.errorf(fs.start+k, "op %#02x: bad destination register r%d", ins.Op, ins.Dst)
			}
			if ins.Src > core.R10 && srcIsReg(*ins) {
				return c.errorf(fs.start+k, "op %#02x: bad source register r%d", ins.Op, ins.Src)
			}
		}
	}
	for _, k := range vol {
		ins := &insns[k]
		if !ins.IsJump() {
			continue
		}
		if ins.Op == core.JMP|core.JA && ins.Off == -1 || ins.Op == core.JMP32|core.JA && ins.Imm == -1 {
			continue // jumps to itself: no addrs[] lookup
		}
		t := ins.JumpTarget(int(k))
		if t < 0 || t >= len(insns) {
			return c.errorf(fs.start+int(k), "jump to slot %d leaves function %s [%d, %d)", fs.start+t, fs.f.Name, fs.start, fs.start+fs.n)
		}
		if kind[t] == kindSecond {
			return c.errorf(fs.start+int(k), "jump to slot %d, the middle of an ld_imm64", fs.start+t)
		}
	}
	return nil
}

// scanSlots is scan's loop over the slots of a function: it returns the
// registers used (regBit), the number of volatile slots, listed in vol,
// whether one is a tail call, and whether an ld_imm64 lacks its second
// slot; it fills kind and count (volCount). A leaf function, so that Go
// keeps its state in registers.
func scanSlots(insns []core.Insn, kind []uint8, vol, count []int32) (used uint16, nv int, tc, lone bool) {
	kind, vol, count = kind[:len(insns)], vol[:len(insns)], count[:len(insns)]
	for k := range insns {
		ins := &insns[k]
		// detect_reg_usage looks at both fields of every insn, the second
		// half of an ld_imm64 included; a value past r10 sets bit 15,
		// looked into below.
		used |= regBit[ins.Dst] | regBit[ins.Src]
		count[k] = int32(nv)
		// One test for the plain insns, most of them.
		if kd := opKind[ins.Op]; kd != kindPlain {
			switch {
			case kd == kindVolatile:
				// Jumps and exits depend on addrs[], calls on the layout,
				// tail calls on the labels of the previous pass.
				kind[k] = kindVolatile
				vol[nv] = int32(k) // no append: its call would spill the loop's registers
				nv++
				// The verifier marks every function holding a tail call
				// tail_call_reachable; legacy do_jit also ORs in
				// tail_call_seen itself.
				if ins.Op == core.JMP|core.TailCall {
					tc = true
				}
			case k+1 < len(insns) && insns[k+1].Op == 0:
				kind[k+1] = kindSecond
			default:
				lone = true
			}
		}
	}
	return used, nv, tc, lone
}

// regBit is detect_reg_usage's view of a register field: its bit, and bit
// 15 for a value no register has (rejected by scan).
var regBit = func() (t [256]uint16) {
	for r := range t {
		t[r] = 1 << min(r, 15)
	}
	return t
}()

// opKind sorts opcodes for scan: JMP and JMP32 are volatile, ld_imm64
// (BPF_LD | BPF_IMM | BPF_DW) takes two slots.
var opKind = func() (t [256]uint8) {
	for op := range t {
		if class := uint8(op) & 7; class == core.JMP || class == core.JMP32 {
			t[op] = kindVolatile
		}
	}
	t[core.LD|core.IMM|core.DW] = kindSecond
	return t
}()

// srcIsReg reports whether ins reads Src as a register.
func srcIsReg(ins core.Insn) bool {
	switch ins.Class() {
	case core.LDX, core.STX:
		return true
	case core.ALU, core.ALU64:
		return ins.Source() == core.X && ins.OpCode() != core.End
	case core.JMP, core.JMP32:
		return ins.Source() == core.X && ins.IsJump()
	}
	return false
}

// Slot kinds: scan marks every JMP/JMP32 slot volatile, the first pass
// tells the jumps and exits apart so that the sizing passes can size them
// without emitting them.
const (
	kindPlain     = iota
	kindSecond    // the second slot of an ld_imm64
	kindVolatile  // code may differ between passes: emit it again
	kindCond      // conditional jump; the high nibble is the cmp/test's length
	kindJA        // BPF_JA / gotol
	kindExitFirst // the exit holding the epilogue (cleanup_addr)
	kindExitJmp   // a later exit: a jump to cleanup_addr
)

// startFunc starts a pass that emits the current function: do_jit's
// state reset and the prologue.
func (c *compiler) startFunc() error {
	c.seenExit = false
	c.proglen = 0
	c.begin()
	if err := c.emitPrologue(); err != nil {
		return err
	}
	c.end()
	return nil
}

// firstPassEmit is the first pass of do_jit over the current function:
// prologue, then every slot, recording addrs[] (its later reads of
// addrs[] ahead of the slot see the initial estimates, as the kernel's
// first pass does) and appending the code to the scratch buffer, where
// the final pass copies it from.
func (c *compiler) firstPassEmit() (int, error) {
	fs := c.fs
	if err := c.startFunc(); err != nil {
		return 0, err
	}
	fs.addrs[0] = c.proglen
	insns := c.p.Insns[fs.start : fs.start+fs.n]
	// Sliced to len(insns) so that indexing by k needs no check.
	kind := c.kind[fs.start:][:len(insns)]
	addrs := fs.addrs[:len(insns)+1]
	// The loop writes at b[n:], b being the output from the function's
	// first byte on, so that n is do_jit's proglen (c.a.n and c.proglen
	// are synced around emitInsn only).
	base := c.a.n - c.proglen
	b, n := c.a.b[base:], c.proglen
	// fastRun emits what it can and stops at the first insn it leaves
	// to emitInsn, or when the buffer needs room (begin's check); the
	// loop here does that one.
	for k := 0; k < len(insns); k++ {
		k, n = fastRun(insns, addrs, kind, b, k, n)
		if k == len(insns) {
			break
		}
		ins := &insns[k]
		c.a.n, c.a.start, c.proglen = base+n, base+n, n
		c.begin() // room
		if err := c.emitInsn(k+1, ins); err != nil {
			return 0, err
		}
		if c.a.len() > maxInsnSize {
			return 0, c.errorf(fs.start+k, "op %#02x: %d bytes of code, more than BPF_MAX_INSN_SIZE", ins.Op, c.a.len())
		}
		b, n = c.a.b[base:], c.a.n-base
		addrs[k+1] = n
	}
	c.a.n, c.a.start, c.proglen = base+n, base+n, n
	return c.proglen, nil
}

// fastRun is the first pass's loop over the insns fastForms covers, from
// slot k on, writing at b[n:]; it returns the first slot it did not emit
// and the new n. It makes no call, so that Go keeps its state in
// registers: every call on the per-insn path spills and reloads it.
func fastRun(insns []core.Insn, addrs []int, kind []uint8, b []byte, k, n int) (int, int) {
	// Room for the insns this call may emit, checked once: a fast insn
	// is at most fastMax bytes and putCode writes 8 past where it starts.
	end := min(len(insns), k+(len(b)-n-asmSize)/fastMax)
	insns = insns[:max(end, k)]
	addrs = addrs[:len(insns)+1]
	kind = kind[:len(insns)]
	for ; k < len(insns); k++ {
		ins := &insns[k]
		var v uint64 // the insn's code, first byte lowest
		m := -1      // and its length; -1: emitInsn emits it
		f := fastForms[ins.Op]
		// The ModRM register bits and REX bits of dst in rm, src in reg
		// (a load has them the other way round: swapped).
		p := regPair[ins.Dst&15][ins.Src&15]
		// fastNone's case makes eight, which Go compiles to a jump table
		// rather than a search.
		switch f.form() {
		case fastNone:
		case fastRR:
			if ins.Off != 0 {
				break
			}
			v, m = uint64(f.opc())|uint64(0xC0|p.modrm())<<8, 2
			if rex := f.rex() | p.rex(); rex != 0x40 {
				v, m = v<<8|uint64(rex), 3
			}
		case fastMovX64:
			if ins.Off != 0 {
				break
			}
			v, m = uint64(f.rex()|p.rex())|uint64(f.opc())<<8|uint64(0xC0|p.modrm())<<16, 3
			if p.same() {
				m = 0 // a 64-bit move to itself: no code
			}
		case fastImm:
			if ins.Off != 0 {
				break
			}
			imm := ins.Imm
			switch {
			case isImm8(int64(imm)):
				v, m = 0x83|uint64(f.ext()|p.rm())<<8|uint64(uint8(imm))<<16, 3
			case p.rm() == 0 && p.rexB() == 0: // rax
				v, m = uint64(f.opc())|uint64(uint32(imm))<<8, 5
			default:
				v, m = 0x81|uint64(f.ext()|p.rm())<<8|uint64(uint32(imm))<<16, 6
			}
			if rex := f.rex() | p.rexB(); rex != 0x40 {
				v, m = v<<8|uint64(rex), m+1
			}
		case fastShiftK:
			if ins.Off != 0 {
				break
			}
			v, m = 0xC1|uint64(f.ext()|p.rm())<<8|uint64(uint8(ins.Imm))<<16, 3
			if ins.Imm == 1 {
				v, m = 0xD1|uint64(f.ext()|p.rm())<<8, 2
			}
			if rex := f.rex() | p.rexB(); rex != 0x40 {
				v, m = v<<8|uint64(rex), m+1
			}
		case fastMovK:
			if ins.Off != 0 {
				break
			}
			imm := ins.Imm
			switch {
			case f.rex() == 0x48 && imm < 0:
				v, m = uint64(0x48|p.rexB())|0xC7<<8|uint64(0xC0|p.rm())<<16|uint64(uint32(imm))<<24, 7
			case imm == 0:
				v, m = 0x31|uint64(0xC0|p.rm()*9)<<8, 2
				if p.rexB() != 0 {
					v, m = v<<8|0x45, 3
				}
			default:
				v, m = uint64(0xB8|p.rm())|uint64(uint32(imm))<<8, 5
				if p.rexB() != 0 {
					v, m = v<<8|0x41, 6
				}
			}
		case fastLoad, fastStore:
			// emit_insn_suffix: [base + disp8], else [base + disp32]; the
			// base is in rm.
			if f.form() == fastLoad {
				p = p.swapped()
			}
			mrm := uint64(0x40 | p.modrm())
			disp, dl := uint64(uint8(ins.Off)), 1
			if !isImm8(int64(ins.Off)) {
				mrm, disp, dl = mrm+0x40, uint64(uint32(int32(ins.Off))), 4
			}
			v, m = uint64(f.opc()), 1
			if f.opc2() != 0 {
				v, m = v|uint64(f.opc2())<<8, 2
			}
			if rex := f.rex() | p.rex(); rex != 0x40 {
				v, m = v<<8|uint64(rex), m+1
			}
			v |= (mrm | disp<<8) << (8 * m)
			m += 1 + dl
		case fastJmpX, fastJmpK:
			// emit_cond_jmp as the first pass sees it: addrs[] from this
			// insn on still hold the 64-byte estimate (addr), and there
			// is no padding yet.
			t := k + 1 + int(ins.Off)
			off := firstEstimate * (t - k - 1)
			if t <= k {
				off = addrs[t] - firstEstimate*(k+2) // scan checked t
			}
			if !isSimm32(int64(off)) {
				break // emitInsn's error
			}
			imm := ins.Imm
			switch {
			case f.form() == fastJmpX:
				v, m = uint64(f.opc())|uint64(0xC0|p.modrm())<<8, 2
				if rex := f.rex() | p.rex(); rex != 0x40 {
					v, m = v<<8|uint64(rex), 3
				}
			case f.opc() == 0xF7: // JSET: test dst, imm32
				v, m = 0xF7|uint64(f.ext()|p.rm())<<8|uint64(uint32(imm))<<16, 6
			case imm == 0: // test dst, dst: one byte shorter than cmp dst, 0
				v, m = 0x85|uint64(0xC0|p.rm()*9)<<8, 2
				if rex := f.rex() | p.rexB()*5; rex != 0x40 {
					v, m = v<<8|uint64(rex), 3
				}
			case isImm8(int64(imm)):
				v, m = 0x83|uint64(f.ext()|p.rm())<<8|uint64(uint8(imm))<<16, 3
			default:
				v, m = 0x81|uint64(f.ext()|p.rm())<<8|uint64(uint32(imm))<<16, 6
			}
			if f.form() == fastJmpK && (imm != 0 || f.opc() == 0xF7) {
				if rex := f.rex() | p.rexB(); rex != 0x40 {
					v, m = v<<8|uint64(rex), m+1
				}
			}
			putCode(b, n, v)
			kind[k] = kindCond | uint8(m)<<4
			n += m
			v, m = 0x0F|uint64(f.cc()+0x10)<<8|uint64(uint32(off))<<16, 6
			if isImm8Jmp(int64(off)) {
				v, m = uint64(f.cc())|uint64(uint8(off))<<8, 2
			}
		}
		if m < 0 {
			break
		}
		putCode(b, n, v)
		n += m
		addrs[k+1] = n
	}
	return k, n
}

// putCode writes up to 8 bytes of code at b[n:] (the rest of the word is
// garbage the next insn overwrites; begin keeps asmSize bytes of room).
func putCode(b []byte, n int, v uint64) { binary.LittleEndian.PutUint64(b[n:n+8:n+8], v) }

// begin starts the code of one insn where the output ends: the asm writes
// straight into the output buffer, so do_jit's temp[] and its memcpy into
// the image are one write, which end keeps. A sizing pass measures an
// insn between begin and drop.
func (c *compiler) begin() {
	a := &c.a
	if a.n+asmSize > len(a.b) {
		c.grow()
	}
	a.start = a.n
}

// grow makes room for begin (out of line, so that begin inlines).
func (c *compiler) grow() {
	c.a.b = slices.Grow(c.a.b[:c.a.n], len(c.a.b)+asmSize)
	c.a.b = c.a.b[:cap(c.a.b)]
}

// end keeps the insn begun by begin.
func (c *compiler) end() {
	c.proglen += c.a.n - c.a.start
	c.a.start = c.a.n
}

// drop forgets the insn begun by begin.
func (c *compiler) drop() { c.a.n = c.a.start }

// finalPass is do_jit's write pass into the image. Sizes have converged,
// so addrs[] first takes its final values (shift folded in). The code of
// the slots that are not volatile is the first pass's, byte for byte, and
// is copied from scratch a run at a time; the volatile ones are emitted
// again, now with the final addresses (calls and pokes need them).
func (c *compiler) finalPass() (int, error) {
	fs := c.fs
	addrs := fs.addrs[:fs.n+1]
	// Volatile slot j (volSlots[j]) ends the run of addrs[] entries that
	// shift[j] moves: vol[k] == j for k in (volSlots[j-1]+1, volSlots[j]].
	foldShift(addrs[:fs.n], fs.volSlots, fs.shift)
	// addrs[n] is also the next function's addrs[0], which its converge
	// has overwritten.
	addrs[fs.n] = fs.proglen

	if err := c.startFunc(); err != nil {
		return 0, err
	}
	// addrs[0] is also the previous function's addrs[n], which its final
	// pass has set to its length.
	addrs[0] = c.proglen
	// The loop keeps the image's end in w and the function's length in pl
	// (c.a.n and c.proglen are synced around the emitters only), and
	// emits the jcc of a conditional jump itself, as emitCondJmp does
	// outside padding passes.
	out, w, pl := c.a.b, c.a.n, c.proglen
	src := fs.scratch + pl // the first pass's code of the next slot
	insns := c.p.Insns[fs.start : fs.start+fs.n]
	kind := c.kind[fs.start : fs.start+fs.n]
	padding := fs.padding
	next := 0 // first slot not yet in the image
	for j, k := range fs.volSlots {
		// The cmp or test a conditional jump starts with depends on the
		// insn alone: it is copied with the run before it, and only the
		// jcc is emitted again.
		pre := 0
		if kind[k]&15 == kindCond {
			pre = int(kind[k] >> 4)
		}
		// The run of slots [next, k), none volatile, is the first pass's
		// code, copied in one piece.
		if pl != addrs[next] {
			return 0, c.errorf(fs.start+next, "code moved in the final pass (starts at %d, was %d)", pl, addrs[next])
		}
		n := addrs[k] - addrs[next]
		if w+n+asmSize > len(out) {
			c.a.n = w
			c.grow() // not for an image sized by the sizing passes
			out = c.a.b
		}
		copy(out[w:], c.scratch[src:src+n+pre])
		slot := fs.start + int(k)
		// The slot's first-pass code: its start and end then, shift[j]
		// and shift[j+1] before where they are now.
		src += n + addrs[k+1] - fs.shift[j+1] - addrs[k] + fs.shift[j]
		pl += n
		w += n + pre
		i, ins := int(k)+1, &insns[k]
		off, jlen := 0, 0
		if pre != 0 && !padding {
			off = addrs[i+int(ins.Off)] - addrs[i]
			switch {
			case isImm8Jmp(int64(off)):
				jlen = 2
			case isSimm32(int64(off)):
				jlen = 6
			}
		}
		if jlen == 2 {
			putCode(out, w, uint64(bpfCond[ins.OpCode()>>4])|uint64(uint8(off))<<8)
		} else if jlen == 6 {
			putCode(out, w, 0x0F|uint64(bpfCond[ins.OpCode()>>4]+0x10)<<8|uint64(uint32(off))<<16)
		} else {
			c.a.n, c.a.start, c.proglen = w, w-pre, pl
			c.prevLen = addrs[k+1] - addrs[k]
			var err error
			if pre != 0 {
				err = c.emitCondJmp(i, bpfCond[ins.OpCode()>>4], addrs[i+int(ins.Off)]-addrs[i])
			} else {
				err = c.emitInsn(i, ins)
			}
			if err != nil {
				return 0, err
			}
			out, jlen = c.a.b, c.a.n-w
		}
		w += jlen
		pl += pre + jlen
		if pl != addrs[k+1] {
			// The kernel's check that the image has not moved since the
			// pass the branches were computed in.
			return 0, c.errorf(slot, "op %#02x: code moved in the final pass (ends at %d, was %d)", insns[k].Op, pl, addrs[k+1])
		}
		next = int(k) + 1
	}
	clear(fs.shift)
	c.a.n, c.a.start, c.proglen = w, w, pl
	if err := c.copyRun(next, fs.n, 0, &src); err != nil {
		return 0, err
	}
	return c.proglen, nil
}

// foldShift adds shift[j] to the entries of addrs that volatile slot j
// ends the run of (finalPass), and the last shift to the rest. A leaf
// function, each run a slice, so that the adds need no bounds checks.
func foldShift(addrs []int, vol []int32, shift []int) {
	shift = shift[:len(vol)+1]
	from := 0
	for j, k := range vol {
		if d := shift[j]; d != 0 {
			run := addrs[from : k+1]
			for t := range run {
				run[t] += d
			}
		}
		from = int(k) + 1
	}
	if d := shift[len(vol)]; d != 0 {
		run := addrs[from:]
		for t := range run {
			run[t] += d
		}
	}
}

// copyRun appends the code of slots [from, to), none volatile, from where
// the first pass put it (src), in one piece, and then begins insn to with
// its first pre bytes, copied along.
func (c *compiler) copyRun(from, to, pre int, src *int) error {
	fs := c.fs
	if c.proglen != fs.addrs[from] {
		return c.errorf(fs.start+from, "code moved in the final pass (starts at %d, was %d)", c.proglen, fs.addrs[from])
	}
	n := fs.addrs[to] - fs.addrs[from]
	if c.a.n+n+asmSize > len(c.a.b) {
		c.grow() // not for an image sized by the sizing passes
	}
	copy(c.a.b[c.a.n:], c.scratch[*src:*src+n+pre])
	*src += n + pre
	c.proglen += n
	c.a.start = c.a.n + n
	c.a.n += n + pre
	return nil
}

// volRec is what a sizing pass needs of one volatile slot, taken from the
// first pass: its first-pass bounds and, for a jump, its target's
// first-pass address and volatile count, so that addr() of all three is a
// constant plus a shift. The passes then read these records in order
// instead of five per-slot arrays at scattered places (for a program of a
// million insns, the cache misses were most of a pass).
type volRec struct {
	start0, end0 int32 // addrs[k] and addrs[k+1] after the first pass
	target0      int32 // addrs[t], t the jump's target (do_jit index)
	vt           int32 // vol[t]; -1 for "goto -1", whose offset is fixed
	kind, size0  uint8
}

// recordVolatile fills c.recs for the current function after its first
// pass.
func (c *compiler) recordVolatile() {
	fs := c.fs
	insns := c.p.Insns[fs.start : fs.start+fs.n]
	kind := c.kind[fs.start : fs.start+fs.n]
	addrs := fs.addrs[:fs.n+1]
	c.recs = grow(c.recs, len(fs.volSlots))
	count := c.volCount[fs.start:][:fs.n]
	for j, k := range fs.volSlots {
		r := volRec{start0: int32(addrs[k]), end0: int32(addrs[k+1]), kind: kind[k], size0: uint8(addrs[k+1] - addrs[k])}
		ins := &insns[k]
		rel := int(ins.Off)
		switch kind[k] & 15 {
		case kindJA:
			if ins.Class() == core.JMP32 {
				rel = int(ins.Imm) // gotol
			}
			if rel == -1 {
				r.vt = -1
				break
			}
			fallthrough
		case kindCond:
			t := int(k) + 1 + rel
			r.target0, r.vt = int32(addrs[t]), count[t]
		}
		c.recs[j] = r
	}
}

// sizePass is a later sizing pass. Only the volatile slots can change
// size: jumps and exits are sized by the same decisions emit_cond_jmp and
// emit_jmp make, the other volatile ones (calls, tail calls) are emitted
// again, only to be measured, and each one's change moves all that
// follows (shift).
func (c *compiler) sizePass() (int, error) {
	fs := c.fs
	c.seenExit = false
	vol := fs.volSlots
	recs := c.recs[:len(vol)]
	shift := fs.shift[:len(recs)+1] // so that shift[j+1] needs no check
	padding := fs.padding
	for j := range recs {
		r := &recs[j]
		start := int(r.start0) + shift[j] // addr(i-1): the slot's start, this pass
		end := int(r.end0) + shift[j+1]   // addr(i): its end, the previous pass
		size := int(r.size0)
		kd := r.kind & 15
		if kd == kindCond && !padding {
			// condJmpForm's common case, without the call.
			if off := int(r.target0) + shift[r.vt] - end; isImm8Jmp(int64(off)) {
				shift[j+1] = start + int(r.kind>>4) + 2 - int(r.end0)
				continue
			}
		}
		i := int(vol[j]) + 1
		c.prevLen = end - start // for INSN_SZ_DIFF in padding passes
		switch kd {
		case kindCond:
			pre := int(r.kind >> 4)
			nops, jlen, err := c.condJmpForm(i, int(r.target0)+shift[r.vt]-end, pre)
			if err != nil {
				return 0, err
			}
			size = pre + nops + jlen
		case kindJA:
			off := -2 // jaOffset of "goto -1"
			if r.vt >= 0 {
				off = int(r.target0) + shift[r.vt] - end
			}
			var err error
			if off == 0 {
				size, err = c.jaNops(i)
			} else {
				var nops, jlen int
				nops, jlen, err = c.jmpForm(i, off)
				size = nops + jlen
			}
			if err != nil {
				return 0, err
			}
		case kindExitFirst:
			fs.cleanupAddr = start
		case kindExitJmp:
			nops, jlen, err := c.jmpForm(i, fs.cleanupAddr-end)
			if err != nil {
				return 0, err
			}
			size = nops + jlen
		default:
			c.begin()
			c.proglen = start
			if err := c.emitInsn(i, &c.p.Insns[fs.start+i-1]); err != nil {
				return 0, err
			}
			size = c.a.len()
			c.drop()
		}
		if size > maxInsnSize {
			return 0, c.errorf(fs.start+i-1, "op %#02x: %d bytes of code, more than BPF_MAX_INSN_SIZE", c.p.Insns[fs.start+i-1].Op, size)
		}
		shift[j+1] = start + size - int(r.end0)
	}
	return fs.addrs[fs.n] + shift[len(vol)], nil
}

// addr is addrs[k] as the kernel's array holds it while do_jit emits insn
// i. In the first pass the entries from i on still hold the estimate
// bpf_int_jit_compile starts with, 64 bytes an insn, which is computed
// rather than stored.
func (c *compiler) addr(i, k int) int {
	if c.firstPass && k >= i {
		return firstEstimate * (k + 1)
	}
	return c.fs.addrs[k]
}

// emitInsn is the big switch of do_jit. i is do_jit's 1-based index: the
// insn is slot i-1 of the function. A table rather than a switch keeps
// emitInsn small enough to inline, so an insn costs one call less. (The
// commonest insns of the first pass do not come here: fastRun.)
func (c *compiler) emitInsn(i int, ins *core.Insn) error {
	return emitByClass[ins.Class()](c, i, ins)
}

type emitFunc func(c *compiler, i int, ins *core.Insn) error

var emitByClass = [8]emitFunc{
	core.LD:    (*compiler).emitLdImm64,
	core.LDX:   (*compiler).emitLoad,
	core.ST:    (*compiler).emitStore,
	core.STX:   (*compiler).emitStore,
	core.ALU:   (*compiler).emitALU,
	core.JMP:   (*compiler).emitJump,
	core.JMP32: (*compiler).emitJump,
	core.ALU64: (*compiler).emitALU,
}

// emitLdImm64 is the BPF_LD | BPF_IMM | BPF_DW case: emit_mov_imm64 with
// both halves of the constant. Its second slot (the kernel skips it with
// insn++, i++) emits nothing. Other LD opcodes (LD_ABS/LD_IND) are
// rewritten before the JIT.
func (c *compiler) emitLdImm64(i int, ins *core.Insn) error {
	slot := c.fs.start + i - 1
	switch {
	case ins.IsLdImm64():
		// scan checked that the second slot follows.
		c.emitMovImm64(bpf2x86[ins.Dst], core.Imm64(*ins, c.p.Insns[slot+1]))
		return nil
	case c.kind[slot] == kindSecond:
		return nil
	}
	return c.unknown(i, ins)
}

// unknown is do_jit's default case (-EINVAL): an opcode the JIT has no
// sequence for (LD_ABS/LD_IND are rewritten before the JIT).
func (c *compiler) unknown(i int, ins *core.Insn) error {
	return c.errorf(c.fs.start+i-1, "op %#02x: %w", ins.Op, core.ErrUnsupported)
}

// slot is the program slot of do_jit index i.
func (c *compiler) slot(i int) int { return c.fs.start + i - 1 }

// pos is the current offset inside the function (do_jit's proglen plus the
// bytes emitted for the current insn so far).
func (c *compiler) pos() int { return c.proglen + c.a.len() }
