package x86

import (
	"fmt"

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

// Backend is the x86-64 JIT (jit.Backend). The zero value JITs as a stock
// mainline kernel on a CPU without BMI2 and without IBT.
type Backend struct {
	// BMI2 emits shlx/shrx/sarx for shifts by a register other than r4,
	// as do_jit does when boot_cpu_has(X86_FEATURE_BMI2).
	BMI2 bool
}

// Arch is "x86_64".
func (Backend) Arch() string { return "x86_64" }

// Compile JITs every function of p into one image: each function gets its
// own prologue and its own pass loop, as jit_subprogs() JITs each subprogram
// as its own bpf_prog, then a final write pass with the functions laid out
// one after the other fixes the bpf-to-bpf call displacements (the kernel's
// extra pass). p.Funcs must tile p.Insns (core/analysis fills them).
func (b Backend) Compile(p *core.Program, opts jit.Options) (*jit.Image, error) {
	c := &compiler{p: p, opts: opts, bmi2: b.BMI2, legacy: opts.Scheme == core.Legacy}
	return c.compile()
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
	idx      int // index in p.Funcs
	start, n int // first slot and slot count
	// addrs is the kernel's addrs[]: addrs[0] is the prologue's length,
	// addrs[k] the end of slot k-1 (= start of slot k), relative to the
	// function's first byte.
	addrs       []int
	depth       int32 // round_up(stack_depth, 8)
	regsUsed    [4]bool
	tcReachable bool
	subprog     bool
	padding     bool
	proglen     int
	image       int // offset of the function in the image (final pass)

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

	a     asm
	funcs []funcState
	fs    *funcState // the function being JITed

	final     bool // write pass: addresses are known
	base      int  // a.buf offset of the current function's first byte
	insnStart int  // a.buf offset of the current BPF insn's code
	seenExit  bool

	second []bool // slot is the second half of an ld_imm64

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
	c.second = make([]bool, len(p.Insns))
	addrs := make([]int, len(p.Insns)+len(p.Funcs))
	next := 0
	for i := range p.Funcs {
		f := &p.Funcs[i]
		if f.Start != next || f.End <= f.Start || f.End > len(p.Insns) {
			return nil, c.errorf(f.Start, "function %d (%s) covers slots [%d, %d): functions must tile the %d slots in order",
				i, f.Name, f.Start, f.End, len(p.Insns))
		}
		next = f.End
		fs := &c.funcs[i]
		*fs = funcState{f: f, idx: i, start: f.Start, n: f.End - f.Start, subprog: i > 0,
			addrs: addrs[f.Start+i : f.End+i+1]}
		if f.StackDepth < 0 || f.StackDepth > kabi.MaxBPFStack {
			return nil, c.errorf(f.Start, "function %s: stack depth %d out of range", f.Name, f.StackDepth)
		}
		fs.depth = int32(f.StackDepth+7) &^ 7
		if err := c.scan(fs); err != nil {
			return nil, err
		}
	}
	if next != len(p.Insns) {
		return nil, c.errorf(next, "slots [%d, %d) belong to no function", next, len(p.Insns))
	}

	// The pass loop of bpf_int_jit_compile, per function, into a scratch
	// buffer: the image shrinks with every pass until its length repeats.
	c.a.buf = make([]byte, 0, 16*len(p.Insns)+256)
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
	c.a.buf = make([]byte, 0, total)
	img := &jit.Image{
		Arch:           "x86_64",
		Base:           c.opts.Base,
		Funcs:          make([]jit.Func, len(c.funcs)),
		InsnOffsets:    make([]int, len(p.Insns)+1),
		TailCallOffset: c.tailCallOffset,
	}
	for i := range c.funcs {
		fs := &c.funcs[i]
		c.fs, c.base = fs, c.a.len()
		proglen, err := c.doJIT()
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
		for k := 0; k < fs.n; k++ {
			img.InsnOffsets[fs.start+k] = fs.image + fs.addrs[k]
		}
	}
	img.InsnOffsets[len(p.Insns)] = total
	img.Code = c.a.buf
	img.Pokes = c.pokes
	return img, nil
}

// converge runs do_jit until two passes give the same length, as the
// kernel's loop does before it allocates the image; the jumps switch to
// padding after PADDING_PASSES so that oscillating sizes settle.
func (c *compiler) converge(fs *funcState) error {
	for k := range fs.addrs {
		fs.addrs[k] = firstEstimate * (k + 1)
	}
	fs.cleanupAddr = firstEstimate * (fs.n + 1)
	c.fs, c.base = fs, 0
	old := 0
	for pass := 0; pass < maxPasses; pass++ {
		if !fs.padding && pass >= paddingPasses {
			fs.padding = true
		}
		proglen, err := c.doJIT()
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
// out of range (the kernel trusts its verifier for these).
func (c *compiler) scan(fs *funcState) error {
	insns := c.p.Insns[fs.start : fs.start+fs.n]
	for k := 0; k < len(insns); k++ {
		if insns[k].IsLdImm64() && k+1 < len(insns) {
			c.second[fs.start+k+1] = true
			k++
		}
	}
	fs.regsUsed = fs.f.CalleeSaved
	fs.tcReachable = fs.f.TailCallReachable
	for k := 0; k < len(insns); k++ {
		ins := insns[k]
		slot := fs.start + k
		// detect_reg_usage looks at both fields of every insn.
		for r := core.R6; r <= core.R9; r++ {
			if ins.Dst == r || ins.Src == r {
				fs.regsUsed[r-core.R6] = true
			}
		}
		if ins.Dst > core.R10 {
			return c.errorf(slot, "op %#02x: bad destination register r%d", ins.Op, ins.Dst)
		}
		if srcIsReg(ins) && ins.Src > core.R10 {
			return c.errorf(slot, "op %#02x: bad source register r%d", ins.Op, ins.Src)
		}
		switch {
		case ins.IsLdImm64():
			if k+1 >= len(insns) || insns[k+1].Op != 0 {
				return c.errorf(slot, "ld_imm64 without its second slot")
			}
			k++
		case ins.Op == core.JMP|core.TailCall:
			// The verifier marks every function holding a tail call
			// tail_call_reachable; legacy do_jit also ORs in
			// tail_call_seen itself.
			fs.tcReachable = true
		case ins.IsJump():
			t := ins.JumpTarget(k)
			if ins.Op == core.JMP|core.JA && ins.Off == -1 || ins.Op == core.JMP32|core.JA && ins.Imm == -1 {
				break // jumps to itself: no addrs[] lookup
			}
			if t < 0 || t >= len(insns) {
				return c.errorf(slot, "jump to slot %d leaves function %s [%d, %d)", fs.start+t, fs.f.Name, fs.start, fs.start+fs.n)
			}
			if c.second[fs.start+t] {
				return c.errorf(slot, "jump to slot %d, the middle of an ld_imm64", fs.start+t)
			}
		}
	}
	return nil
}

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

// doJIT is one pass of do_jit over the current function: prologue, then
// every slot, recording addrs[]. In the final pass it checks, as the kernel
// does, that no instruction changed size since the previous pass.
func (c *compiler) doJIT() (int, error) {
	fs := c.fs
	c.a.buf = c.a.buf[:c.base]
	c.seenExit = false
	if err := c.emitPrologue(); err != nil {
		return 0, err
	}
	fs.addrs[0] = c.a.len() - c.base
	insns := c.p.Insns[fs.start : fs.start+fs.n]
	for i := 1; i <= fs.n; i++ {
		ins := insns[i-1]
		c.insnStart = c.a.len()
		if ins.IsLdImm64() {
			c.emitMovImm64(bpf2x86[ins.Dst], core.Imm64(ins, insns[i]))
			fs.addrs[i] = c.a.len() - c.base
			i++
		} else if err := c.emitInsn(i, ins); err != nil {
			return 0, err
		}
		ilen := c.a.len() - c.insnStart
		if ilen > maxInsnSize {
			return 0, c.errorf(fs.start+i-1, "op %#02x: %d bytes of code, more than BPF_MAX_INSN_SIZE", ins.Op, ilen)
		}
		proglen := c.a.len() - c.base
		if c.final && proglen != fs.addrs[i] {
			return 0, c.errorf(fs.start+i-1, "op %#02x: code moved in the final pass (ends at %d, was %d)", ins.Op, proglen, fs.addrs[i])
		}
		fs.addrs[i] = proglen
	}
	return c.a.len() - c.base, nil
}

// emitInsn is the big switch of do_jit, by class. i is do_jit's 1-based
// index: the insn is slot i-1 of the function.
func (c *compiler) emitInsn(i int, ins core.Insn) error {
	switch ins.Class() {
	case core.ALU, core.ALU64:
		return c.emitALU(i, ins)
	case core.LDX:
		return c.emitLoad(i, ins)
	case core.ST, core.STX:
		return c.emitStore(i, ins)
	case core.JMP, core.JMP32:
		return c.emitJump(i, ins)
	}
	return c.unknown(i, ins)
}

// unknown is do_jit's default case (-EINVAL): an opcode the JIT has no
// sequence for (LD_ABS/LD_IND are rewritten before the JIT).
func (c *compiler) unknown(i int, ins core.Insn) error {
	return c.errorf(c.fs.start+i-1, "op %#02x: %w", ins.Op, core.ErrUnsupported)
}

// slot is the program slot of do_jit index i.
func (c *compiler) slot(i int) int { return c.fs.start + i - 1 }

// pos is the current offset inside the function (do_jit's proglen plus the
// bytes emitted for the current insn so far).
func (c *compiler) pos() int { return c.a.len() - c.base }
