// Package gen makes random BPF programs for differential testing of the
// engines against the interpreter. Every program it makes passes
// core/analysis and keeps the rules that make a result well defined on every
// engine, the ones the kernel's verifier enforces:
//
//   - no register is read before it is written (the verifier's NOT_INIT), and
//     r1-r5 count as unwritten after every call (caller-saved, clobbered);
//   - no stack byte is read before it is written: each function's prologue
//     stores to its whole stack area;
//   - memory accesses stay on the function's own stack (r10 - off) or inside
//     the context (ctx + off < input size); atomics are naturally aligned;
//   - a value derived from r10 never lands in a register: r10 is only used as
//     a base in memory operands. Subprogram frames sit at different addresses
//     on each engine (native stacks), so such a value would differ for no bug.
//     The context pointer is mem.CtxBase everywhere, so it may flow freely;
//   - loops run a counter down (or up) to a bound, so a program ends within
//     Program.MaxInsns instructions, unless it was made to loop for ever or
//     to fault on purpose (Program.Want).
//
// A (seed, index) pair names one program: Generate draws it from its own
// PCG stream, so one program is remade without making the ones before it,
// and a seed means the same programs on every machine.
package gen

import (
	"math/rand/v2"
	"strconv"

	"jitsim/core"
	"jitsim/core/mem"
)

// Outcome is how a generated program ends.
type Outcome uint8

const (
	// Exit: the program returns within Program.MaxInsns instructions.
	Exit Outcome = iota
	// Endless: the main function enters a loop that never ends, so every
	// engine must stop it with core.ErrBudget.
	Endless
	// Fault: the main function accesses unmapped memory (core.ErrFault).
	Fault
)

func (o Outcome) String() string {
	switch o {
	case Endless:
		return "endless loop"
	case Fault:
		return "fault"
	}
	return "exit"
}

// Config bounds what Generate makes. Zero fields take the defaults of
// DefaultConfig; a negative probability disables that outcome.
type Config struct {
	// MaxStmts bounds the statements of the main function's top level
	// (subprograms get half; at most 64); nested blocks are short.
	MaxStmts int
	// MaxSubs bounds the number of subprograms.
	MaxSubs int
	// MaxInsns bounds the instructions a program whose Want is Exit runs.
	MaxInsns int
	// Endless and Faults are the probabilities that a program is made to
	// loop for ever or to fault.
	Endless, Faults float64
}

// DefaultConfig is what a zero Config means.
func DefaultConfig() Config {
	return Config{MaxStmts: 32, MaxSubs: 3, MaxInsns: 10_000, Endless: 0.005, Faults: 0.01}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxStmts <= 0 {
		c.MaxStmts = d.MaxStmts
	}
	// Nested blocks multiply a statement's size; past 64 top-level
	// statements a jump could outgrow its 16-bit offset.
	c.MaxStmts = min(c.MaxStmts, 64)
	if c.MaxSubs == 0 {
		c.MaxSubs = d.MaxSubs
	}
	c.MaxSubs = max(c.MaxSubs, 0)
	if c.MaxInsns <= 0 {
		c.MaxInsns = d.MaxInsns
	}
	if c.Endless == 0 {
		c.Endless = d.Endless
	}
	if c.Faults == 0 {
		c.Faults = d.Faults
	}
	return c
}

// Program is one generated program and its input.
type Program struct {
	Seed, Index uint64
	// Obj holds one program, "fuzz", with conformance helper ids; its
	// subprograms are named sub1, sub2, ... Analysis has not run on it.
	Obj *core.Object
	// Ctx is the input: r1 points to it, r2 holds its length.
	Ctx  []byte
	Want Outcome
	// MaxInsns bounds the instructions the program runs when Want is Exit
	// (an upper bound over every path, not the exact count).
	MaxInsns int
}

// Generator makes programs. It holds only its Config, so it is cheap and
// safe for concurrent use.
type Generator struct{ cfg Config }

// New returns a Generator.
func New(cfg Config) *Generator { return &Generator{cfg: cfg.withDefaults()} }

// Config is the configuration in use, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Generate makes program index of seed.
func (g *Generator) Generate(seed, index uint64) *Program {
	s := &state{r: rand.New(rand.NewPCG(seed, index)), cfg: g.cfg}
	s.ctx = s.makeCtx()
	switch x := s.r.Float64(); {
	case x < g.cfg.Endless:
		s.want = Endless
	case x < g.cfg.Endless+g.cfg.Faults:
		s.want = Fault
	}
	nsubs := 0
	if g.cfg.MaxSubs > 0 {
		nsubs = s.r.IntN(g.cfg.MaxSubs + 1)
	}
	s.funcs = make([]*fn, nsubs+1)
	// Callees first: a caller needs their cost and arguments. Function i
	// calls only functions above i, so there is no recursion and the call
	// chain is at most nsubs+1 frames deep.
	for i := nsubs; i >= 0; i-- {
		s.funcs[i] = s.makeFunc(i)
	}
	p := &core.Program{Name: "fuzz"}
	starts := make([]int, len(s.funcs))
	for i, f := range s.funcs {
		starts[i] = len(p.Insns)
		p.Insns = append(p.Insns, f.code...)
		if i > 0 {
			p.Symbols = append(p.Symbols, core.Symbol{Name: "sub" + strconv.Itoa(i), Insn: starts[i], Func: true})
		}
	}
	for i, f := range s.funcs {
		for _, c := range f.calls {
			at := starts[i] + c.at
			p.Insns[at].Imm = int32(starts[c.callee] - at - 1)
		}
	}
	name := "fuzz-" + strconv.FormatUint(seed, 10) + "-" + strconv.FormatUint(index, 10)
	return &Program{
		Seed: seed, Index: index,
		Obj:      &core.Object{File: name, Progs: []*core.Program{p}, Helpers: core.HelpersConformance},
		Ctx:      s.ctx,
		Want:     s.want,
		MaxInsns: s.funcs[0].cost,
	}
}

// state is one program being made.
type state struct {
	r     *rand.Rand
	cfg   Config
	ctx   []byte
	want  Outcome
	funcs []*fn
}

// Interesting constants: the edges of signed and unsigned 8..64-bit ranges,
// where sign and zero extension, overflow and division trap bugs show.
var (
	imm32s = [...]int32{0, 1, -1, 2, -2, 7, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x10000, 0x7fffffff, -0x80000000, -0x7fffffff, 31, 32, 63, 64}
	imm64s = [...]uint64{0, 1, 1<<64 - 1, 1 << 63, 1<<63 - 1, 1<<63 + 1, 0xffffffff, 1 << 32,
		0xffffffff80000000, 0x80000000, 0x7fffffff, 0xffffffff00000000, 0x00000001ffffffff,
		0x0123456789abcdef, 0xfedcba9876543210, 0x8080808080808080, 0xff, 0xff00, 0x8000}
	// divisors are frequent so that every engine's zero, -1 and INT_MIN
	// handling is exercised (BPF: x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN).
	divisors32 = [...]int32{0, 0, -1, -1, -0x80000000, 1, 2, -2, 3, 0x7fffffff}
	divisors64 = [...]uint64{0, 0, 1<<64 - 1, 1<<64 - 1, 1 << 63, 1, 0xffffffff00000000, 0x100000000, 0xffffffff, 3}
	// shift amounts around the widths, and past them: BPF masks the amount
	// by 31 or 63 (RFC 9669), which each JIT must reproduce.
	shifts = [...]uint64{0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 255, 1<<64 - 1, 0x100000001}
	// faultAddrs are far from every mapped region of core/mem.
	faultAddrs = [...]uint64{0, 8, 0xdead0000, mem.CtxBase + 0x100000, mem.StackBase - 0x10000}
)

func (s *state) imm32() int32 {
	switch s.r.IntN(4) {
	case 0, 1:
		return imm32s[s.r.IntN(len(imm32s))]
	case 2:
		return int32(s.r.IntN(33) - 16)
	}
	return int32(s.r.Uint32())
}

func (s *state) imm64() uint64 {
	switch s.r.IntN(4) {
	case 0, 1:
		return imm64s[s.r.IntN(len(imm64s))]
	case 2:
		return uint64(int64(s.r.IntN(513) - 256))
	}
	return s.r.Uint64()
}

// makeCtx makes the input: 8 to 128 bytes, sometimes up to 1024, random
// with special words.
func (s *state) makeCtx() []byte {
	n := 8 + s.r.IntN(121)
	if s.r.IntN(10) == 0 {
		n = 8 + s.r.IntN(1017) // offsets past arm64's scaled and unscaled immediates
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.r.Uint32())
	}
	for i := 0; i+8 <= len(b); i += 8 {
		if s.r.IntN(4) == 0 {
			v := imm64s[s.r.IntN(len(imm64s))]
			for k := range 8 {
				b[i+k] = byte(v >> (8 * k))
			}
		}
	}
	return b
}

// Register sets are bit masks over r0..r10.
type regs uint16

const (
	argRegs  regs = 1<<core.R1 | 1<<core.R2 | 1<<core.R3 | 1<<core.R4 | 1<<core.R5
	calleeSv regs = 1<<core.R6 | 1<<core.R7 | 1<<core.R8 | 1<<core.R9
	allRegs  regs = 1<<core.NumRegs - 1
	fpBit    regs = 1 << core.R10
)

func bit(r core.Reg) regs { return 1 << r }

// pick returns a random register of a non-empty set.
func (s *state) pick(m regs) core.Reg {
	n := 0
	for x := m; x != 0; x &= x - 1 {
		n++
	}
	k := s.r.IntN(n)
	for r := core.R0; r < core.NumRegs; r++ {
		if m&bit(r) != 0 {
			if k == 0 {
				return r
			}
			k--
		}
	}
	panic("gen: pick from an empty register set")
}

// fn is one function being made.
type fn struct {
	s     *state
	idx   int // 0: main
	code  []core.Insn
	calls []reloc
	// stack is how many bytes below r10 the function uses (a multiple of 8,
	// all written by the prologue).
	stack  int
	hasCtx bool
	ctx    core.Reg // the context pointer's register, when hasCtx
	nargs  int
	// cost bounds the instructions one call of the function runs,
	// counting the call instruction itself.
	cost int
	// init holds the registers with a defined value; reserved those no
	// statement may write (r10, the context copy, live loop counters).
	init, reserved regs
	// noCalls > 0 inside a loop whose counter lives in r0-r5, which a call
	// would clobber.
	noCalls int
	depth   int
	// dead > 0 while making code that never runs.
	dead int
}

type reloc struct{ at, callee int }

func (f *fn) emit(ins core.Insn) int {
	f.code = append(f.code, ins)
	return len(f.code) - 1
}

func (f *fn) emitLd64(dst core.Reg, v uint64) {
	i := core.LdImm64(dst, 0, v)
	f.code = append(f.code, i[0], i[1])
	f.init |= bit(dst)
}

// readable are registers a statement may read: written ones, never r10.
func (f *fn) readable() regs { return f.init &^ fpBit }

func (f *fn) writable() regs { return allRegs &^ f.reserved &^ fpBit }

// setConst writes a constant to dst (mov32, mov64 or ld_imm64) and
// returns the slots used.
func (f *fn) setConst(dst core.Reg) int {
	f.init |= bit(dst)
	switch f.s.r.IntN(3) {
	case 0:
		f.emit(core.Insn{Op: core.ALU | core.Mov | core.K, Dst: dst, Imm: f.s.imm32()})
		return 1
	case 1:
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: dst, Imm: f.s.imm32()})
		return 1
	}
	f.emitLd64(dst, f.s.imm64())
	return 1 // ld_imm64 runs as one instruction
}

// source returns a readable register, first giving a writable one a value
// when none is readable.
func (f *fn) source() core.Reg {
	if m := f.readable(); m != 0 {
		return f.s.pick(m)
	}
	r := f.s.pick(f.writable())
	f.setConst(r)
	return r
}

// rmwDst returns a register to read and write (dst of add, shifts, ...).
func (f *fn) rmwDst() core.Reg {
	if m := f.readable() & f.writable(); m != 0 {
		return f.s.pick(m)
	}
	r := f.s.pick(f.writable())
	f.setConst(r)
	return r
}

// newDst returns a register to write, preferring unwritten ones half the
// time so programs use many registers.
func (f *fn) newDst() core.Reg {
	w := f.writable()
	if m := w &^ f.init; m != 0 && f.s.r.IntN(2) == 0 {
		return f.s.pick(m)
	}
	return f.s.pick(w)
}

// makeFunc makes function i: main (0) or subprogram i.
func (s *state) makeFunc(i int) *fn {
	f := &fn{s: s, idx: i, reserved: fpBit, init: fpBit}
	budget := s.cfg.MaxInsns
	n := 1 + s.r.IntN(s.cfg.MaxStmts)
	if i == 0 {
		// Callees take up to 96 bytes each; main may have the rest of
		// MAX_BPF_STACK (all 512 without callees), so the combined stack
		// check passes and large offsets (past disp8 on x86, past ldur's
		// 9 bits on arm64) occur. Small frames are more common, as the
		// prologue writes every byte.
		f.stack = 8 * (1 + s.r.IntN(8))
		if s.r.IntN(4) == 0 {
			f.stack = 8 * (1 + s.r.IntN((512-96*(len(s.funcs)-1))/8))
		}
		f.hasCtx = true
		f.init |= bit(core.R1) | bit(core.R2)
	} else {
		f.stack = 8 * (1 + s.r.IntN(4))
		if s.r.IntN(4) == 0 {
			f.stack = 8 * (1 + s.r.IntN(12))
		}
		f.nargs = s.r.IntN(6)
		f.hasCtx = f.nargs > 0 && s.r.IntN(3) > 0
		f.init |= argRegs & (1<<(f.nargs+1) - 2)
		budget = 16 + s.r.IntN(s.cfg.MaxInsns/16+1)
		n = 1 + s.r.IntN(max(s.cfg.MaxStmts/2, 1))
	}
	used := 1 // exit
	if i > 0 {
		used++ // the call that enters it
	}
	if f.hasCtx {
		// Keep the context pointer in a callee-saved register: r1 does not
		// survive calls.
		f.ctx = s.pick(calleeSv)
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: f.ctx, Src: core.R1})
		f.init |= bit(f.ctx)
		f.reserved |= bit(f.ctx)
		used++
	}
	used += f.prologue()
	const foldCost = 8
	budget -= used + foldCost
	if i == 0 && s.want != Exit {
		at := s.r.IntN(n)
		used += f.block(at, budget/2)
		f.terminator()
		used += f.block(n-at, budget/2)
	} else {
		used += f.block(n, budget)
	}
	used += f.fold()
	f.emit(core.Insn{Op: core.JMP | core.Exit})
	f.cost = used
	return f
}

// prologue writes every stack byte the function will use (so no load reads
// uninitialised stack, which differs between engines) and gives some
// registers values.
func (f *fn) prologue() int {
	n := 0
	for off := 8; off <= f.stack; off += 8 {
		if m := f.readable(); m != 0 && f.s.r.IntN(2) == 0 {
			f.emit(core.Insn{Op: core.STX | core.MEM | core.DW, Dst: core.R10, Src: f.s.pick(m), Off: int16(-off)})
		} else {
			f.emit(core.Insn{Op: core.ST | core.MEM | core.DW, Dst: core.R10, Off: int16(-off), Imm: f.s.imm32()})
		}
		n++
	}
	for r := core.R0; r <= core.R9; r++ {
		if f.writable()&bit(r) != 0 && f.init&bit(r) == 0 && f.s.r.IntN(3) == 0 {
			n += f.setConst(r)
		}
	}
	return n
}

// fold mixes registers into r0 before an exit, so a wrong value in any of
// them shows in the result, and returns the instructions used.
func (f *fn) fold() int {
	n := 0
	if f.init&bit(core.R0) == 0 {
		if m := f.readable(); m != 0 && f.s.r.IntN(2) == 0 {
			f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: core.R0, Src: f.s.pick(m)})
		} else {
			f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: core.R0, Imm: f.s.imm32()})
		}
		f.init |= bit(core.R0)
		n++
	}
	ops := [...]uint8{core.Xor, core.Add, core.Sub, core.Xor}
	for k := f.s.r.IntN(7); k > 0; k-- {
		m := f.readable() &^ bit(core.R0)
		if m == 0 {
			break
		}
		f.emit(core.Insn{Op: core.ALU64 | ops[f.s.r.IntN(len(ops))] | core.X, Dst: core.R0, Src: f.s.pick(m)})
		n++
	}
	return n
}

// minStmt is the least budget a statement needs: the longest straight-line
// statement (gather_bytes with five ld_imm64 arguments) runs 11.
const minStmt = 12

// block makes up to n statements that run at most budget instructions
// and returns the bound they use.
func (f *fn) block(n, budget int) int {
	used := 0
	for range n {
		if budget-used < minStmt {
			break
		}
		used += f.stmt(budget - used)
	}
	return used
}

// nested makes a short block one level deeper.
func (f *fn) nested(budget int) int {
	f.depth++
	n := f.s.r.IntN(5)
	if f.s.r.IntN(10) == 0 {
		n = f.s.r.IntN(16) // long enough for rel32 jumps on x86
	}
	c := f.block(n, budget)
	f.depth--
	return c
}

// stmt makes one statement that runs at most budget (>= minStmt) instructions
// and returns its bound.
func (f *fn) stmt(budget int) int {
	start := len(f.code)
	structured := f.depth < 3 && f.dead == 0
	switch w := f.s.r.IntN(100); {
	case w < 26:
		f.alu()
	case w < 29:
		f.emitLd64(f.newDst(), f.s.imm64())
	case w < 40:
		f.load()
	case w < 49:
		f.store()
	case w < 55:
		f.atomic()
	case w < 60 && structured && f.noCalls == 0:
		f.helperCall()
	case w < 67 && structured && f.noCalls == 0:
		if c, ok := f.call(budget); ok {
			return c
		}
		f.alu()
	case w < 77 && structured:
		return f.ifStmt(budget)
	case w < 88 && structured:
		if c, ok := f.loop(budget); ok {
			return c
		}
		f.alu()
	case w < 91 && f.dead == 0:
		f.skip()
		return 1
	case w < 93 && structured && (f.idx > 0 || f.s.want == Exit):
		// An early return (not in a main that must reach its endless loop
		// or fault).
		return f.earlyExit()
	default:
		f.alu()
	}
	// Straight-line code runs each slot once (ld_imm64 counts once, a
	// harmless overestimate here).
	return len(f.code) - start
}

var aluOps = [...]uint8{core.Add, core.Sub, core.Mul, core.Div, core.Or, core.And, core.Lsh, core.Rsh,
	core.Neg, core.Mod, core.Xor, core.Mov, core.Arsh, core.End}

// alu makes one ALU or ALU64 instruction, with setup for the interesting
// operands: special divisors and dividends, shift amounts.
func (f *fn) alu() {
	r := f.s.r
	class := uint8(core.ALU64)
	if r.IntN(2) == 0 {
		class = core.ALU
	}
	is64 := class == core.ALU64
	op := aluOps[r.IntN(len(aluOps))]
	x := r.IntN(2) == 0
	switch op {
	case core.Neg:
		f.emit(core.Insn{Op: class | core.Neg, Dst: f.rmwDst()})
		return
	case core.End:
		widths := [...]int32{16, 32, 64}
		ins := core.Insn{Op: class | core.End, Dst: f.rmwDst(), Imm: widths[r.IntN(3)]}
		if !is64 && x {
			ins.Op |= core.ToBE
		}
		f.emit(ins)
		return
	case core.Mov:
		src := core.R0
		if x {
			src = f.source()
		}
		ins := core.Insn{Op: class | core.Mov, Dst: f.newDst()}
		if x {
			ins.Op |= core.X
			ins.Src = src
			if r.IntN(2) == 0 { // movsx
				offs := [...]int16{8, 16, 32}
				ins.Off = offs[r.IntN(2+b2i(is64))]
			}
		} else {
			ins.Imm = f.s.imm32()
		}
		f.emit(ins)
		f.init |= bit(ins.Dst)
		return
	}
	dst := f.rmwDst()
	ins := core.Insn{Op: class | op, Dst: dst}
	if (op == core.Div || op == core.Mod) && r.IntN(2) == 0 {
		ins.Off = 1 // sdiv, smod
	}
	if (op == core.Div || op == core.Mod) && ins.Off == 1 && r.IntN(4) == 0 && f.writable()&bit(dst) != 0 {
		// INT_MIN / -1 overflows: BPF defines it (INT_MIN, 0) where a
		// machine divide traps.
		if is64 {
			f.emitLd64(dst, 1<<63)
		} else {
			f.emit(core.Insn{Op: core.ALU | core.Mov | core.K, Dst: dst, Imm: -0x80000000})
		}
	}
	if !x {
		switch {
		case op == core.Div || op == core.Mod:
			if r.IntN(2) == 0 {
				ins.Imm = divisors32[r.IntN(len(divisors32))]
			} else {
				ins.Imm = f.s.imm32()
			}
		case op == core.Lsh || op == core.Rsh || op == core.Arsh:
			// Immediate amounts past the width are rejected by the
			// kernel's verifier but accepted by analysis (the
			// conformance suite runs them), so they are kept rare.
			width := int32(32 << b2i(is64))
			if r.IntN(16) == 0 {
				ins.Imm = int32(shifts[r.IntN(len(shifts))])
			} else {
				ins.Imm = r.Int32N(width)
			}
		default:
			ins.Imm = f.s.imm32()
		}
		f.emit(ins)
		return
	}
	ins.Op |= core.X
	switch {
	case (op == core.Div || op == core.Mod) && r.IntN(2) == 0:
		src := f.s.pick(f.writable())
		if src != dst || r.IntN(4) == 0 {
			if is64 || r.IntN(2) == 0 {
				f.emitLd64(src, divisors64[r.IntN(len(divisors64))])
			} else {
				f.emit(core.Insn{Op: core.ALU | core.Mov | core.K, Dst: src, Imm: divisors32[r.IntN(len(divisors32))]})
				f.init |= bit(src)
			}
		}
		ins.Src = src
	case (op == core.Lsh || op == core.Rsh || op == core.Arsh) && r.IntN(3) == 0:
		src := f.s.pick(f.writable())
		if src != dst {
			f.emitLd64(src, shifts[r.IntN(len(shifts))])
		}
		ins.Src = src
	default:
		ins.Src = f.source()
	}
	f.emit(ins)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var sizes = [...]uint8{core.B, core.H, core.W, core.DW}

// memRef returns a base register and offset for an access of n bytes on
// the stack or in the context; aligned makes it naturally aligned.
func (f *fn) memRef(n int, aligned bool) (core.Reg, int16) {
	r := f.s.r
	if !f.hasCtx || r.IntN(2) == 0 || len(f.s.ctx) < n {
		k := n + r.IntN(f.stack-n+1)
		if aligned {
			k = n * (1 + r.IntN(f.stack/n))
		}
		return core.R10, int16(-k)
	}
	off := r.IntN(len(f.s.ctx) - n + 1)
	if aligned {
		off = n * r.IntN((len(f.s.ctx)-n)/n+1)
	}
	if r.IntN(4) == 0 {
		// A pointer into the context held in a scratch register, reached
		// with a negative or positive offset.
		base := f.s.pick(f.writable())
		d := r.IntN(len(f.s.ctx)+129) - 64
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: base, Src: f.ctx})
		f.emit(core.Insn{Op: core.ALU64 | core.Add | core.K, Dst: base, Imm: int32(d)})
		f.init |= bit(base)
		return base, int16(off - d)
	}
	return f.ctx, int16(off)
}

func (f *fn) load() {
	r := f.s.r
	size := sizes[r.IntN(4)]
	mode := uint8(core.MEM)
	if size != core.DW && r.IntN(3) == 0 {
		mode = core.MEMSX
	}
	base, off := f.memRef(core.SizeBytes(size), r.IntN(3) > 0)
	dst := f.newDst()
	f.emit(core.Insn{Op: core.LDX | mode | size, Dst: dst, Src: base, Off: off})
	f.init |= bit(dst)
}

func (f *fn) store() {
	r := f.s.r
	size := sizes[r.IntN(4)]
	base, off := f.memRef(core.SizeBytes(size), r.IntN(3) > 0)
	if r.IntN(3) == 0 {
		f.emit(core.Insn{Op: core.ST | core.MEM | size, Dst: base, Off: off, Imm: f.s.imm32()})
		return
	}
	f.emit(core.Insn{Op: core.STX | core.MEM | size, Dst: base, Src: f.source(), Off: off})
}

var atomicOps = [...]int32{core.AtomicAdd, core.AtomicOr, core.AtomicAnd, core.AtomicXor,
	core.AtomicAdd | core.Fetch, core.AtomicOr | core.Fetch, core.AtomicAnd | core.Fetch,
	core.AtomicXor | core.Fetch, core.AtomicXchg, core.AtomicCmpXchg}

func (f *fn) atomic() {
	r := f.s.r
	size := uint8(core.W)
	if r.IntN(2) == 0 {
		size = core.DW
	}
	op := atomicOps[r.IntN(len(atomicOps))]
	if op == core.AtomicCmpXchg && f.writable()&bit(core.R0) == 0 {
		op = core.AtomicAdd // r0 is a loop counter here
	}
	base, off := f.memRef(core.SizeBytes(size), true)
	var src core.Reg
	if op&core.Fetch != 0 && op != core.AtomicCmpXchg {
		// The old value comes back in src, so src is written too.
		src = f.rmwDst()
	} else {
		src = f.source()
	}
	// The kernel's arm64 LL/SC sequences (emit_ll_sc_atomic) address
	// [dst] directly when off is 0 and load the old value into src (r0 for
	// cmpxchg) inside the loop: when that register is dst, the load
	// overwrites the address before the store-exclusive uses it, and the
	// JITed code faults or writes elsewhere. That is the kernel's code,
	// reproduced on purpose (arm64-llsc, sim's TestLLSCAddressClobber), not
	// a translation bug to hunt, so the generator leaves that pairing out.
	loaded := src
	if op == core.AtomicCmpXchg {
		loaded = core.R0
	}
	if op&core.Fetch != 0 && loaded == base && off == 0 {
		op = core.AtomicAdd
		src = f.source()
	}
	if op == core.AtomicCmpXchg && f.init&bit(core.R0) == 0 {
		f.setConst(core.R0)
	}
	f.emit(core.Insn{Op: core.STX | core.ATOMIC | size, Dst: base, Src: src, Off: off, Imm: op})
	if op == core.AtomicCmpXchg {
		f.init |= bit(core.R0)
	}
}

// clobber applies a call's effect on the registers: r0 holds the result,
// r1-r5 are undefined (the verifier marks them NOT_INIT).
func (f *fn) clobber() {
	f.init = f.init&^argRegs | bit(core.R0)
}

// Conformance helper ids (shared/bpf_conformance/README.md).
const (
	helperGatherBytes = 0
	helperMemfrob     = 1
	helperNoOp        = 2
	helperSqrti       = 3
)

func (f *fn) helperCall() {
	r := f.s.r
	ids := []int32{helperGatherBytes, helperNoOp, helperSqrti}
	if f.hasCtx {
		ids = append(ids, helperMemfrob)
	}
	id := ids[r.IntN(len(ids))]
	// callx (the conformance suite's call through a register, the id in
	// dst) names a helper no checker can see, so every argument register
	// gets a value.
	via := f.writable() &^ argRegs
	callx := via != 0 && r.IntN(4) == 0
	args := helperArgs[id]
	if callx {
		args = argRegs
	}
	if id == helperMemfrob {
		// memfrob(ctx + off, len) within the input.
		off := r.IntN(len(f.s.ctx))
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: core.R1, Src: f.ctx})
		f.emit(core.Insn{Op: core.ALU64 | core.Add | core.K, Dst: core.R1, Imm: int32(off)})
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: core.R2, Imm: int32(r.IntN(len(f.s.ctx) - off + 1))})
		f.init |= bit(core.R1) | bit(core.R2)
		args &^= bit(core.R1) | bit(core.R2)
	}
	for a := core.R1; a <= core.R5; a++ {
		if args&bit(a) != 0 {
			f.arg(a)
		}
	}
	if callx {
		reg := f.s.pick(via)
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: reg, Imm: id})
		f.emit(core.Insn{Op: core.JMP | core.Call | core.X, Dst: reg})
	} else {
		f.emit(core.Insn{Op: core.JMP | core.Call, Imm: id})
	}
	f.clobber()
}

// arg gives argument register a a value unless it has one and is kept.
func (f *fn) arg(a core.Reg) {
	if f.init&bit(a) != 0 && f.s.r.IntN(2) == 0 {
		return
	}
	if m := f.readable() &^ bit(a); m != 0 && f.s.r.IntN(2) == 0 {
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: a, Src: f.s.pick(m)})
		f.init |= bit(a)
		return
	}
	f.setConst(a)
}

// call makes a bpf-to-bpf call to a later function that fits the budget.
func (f *fn) call(budget int) (int, bool) {
	var cands []int
	for j := f.idx + 1; j < len(f.s.funcs); j++ {
		g := f.s.funcs[j]
		if g.cost+2*g.nargs <= budget && (f.hasCtx || !g.hasCtx) {
			cands = append(cands, j)
		}
	}
	if len(cands) == 0 {
		return 0, false
	}
	g := f.s.funcs[cands[f.s.r.IntN(len(cands))]]
	start := len(f.code)
	for a := 1; a <= g.nargs; a++ {
		if a == 1 && g.hasCtx {
			f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.X, Dst: core.R1, Src: f.ctx})
			f.init |= bit(core.R1)
			continue
		}
		f.arg(core.Reg(a))
	}
	setup := len(f.code) - start
	f.calls = append(f.calls, reloc{at: f.emit(core.Insn{Op: core.JMP | core.Call, Src: core.PseudoCall}), callee: g.idx})
	f.clobber()
	return setup + g.cost, true // g.cost counts the call itself
}

var condOps = [...]uint8{core.JEQ, core.JGT, core.JGE, core.JSET, core.JNE, core.JSGT,
	core.JSGE, core.JLT, core.JLE, core.JSLT, core.JSLE}

// cond makes a conditional jump with a placeholder offset.
func (f *fn) cond() int {
	r := f.s.r
	class := uint8(core.JMP)
	if r.IntN(3) == 0 {
		class = core.JMP32
	}
	ins := core.Insn{Op: class | condOps[r.IntN(len(condOps))], Dst: f.source()}
	if r.IntN(2) == 0 {
		ins.Op |= core.X
		ins.Src = f.source()
	} else {
		ins.Imm = f.s.imm32()
	}
	return f.emit(ins)
}

// patch points the jump at j to the next slot to be emitted.
func (f *fn) patch(j int) {
	d := len(f.code) - j - 1
	if f.code[j].Op == core.JMP32|core.JA {
		f.code[j].Imm = int32(d)
	} else {
		f.code[j].Off = int16(d)
	}
}

// ifStmt makes "if cond goto else; then [; goto end; else]". The registers
// written on both paths are written after it.
func (f *fn) ifStmt(budget int) int {
	j := f.cond()
	in := f.init
	if f.s.r.IntN(2) == 0 {
		then := f.nested(budget - 1)
		f.patch(j)
		f.init &= in
		return 1 + then
	}
	half := (budget - 2) / 2
	then := f.nested(half)
	k := f.emit(f.jumpAlways())
	thenInit := f.init
	f.init = in
	f.patch(j)
	els := f.nested(half)
	f.patch(k)
	f.init &= thenInit
	return 1 + max(then+1, els)
}

// jumpAlways is ja or gotol with a placeholder offset.
func (f *fn) jumpAlways() core.Insn {
	if f.s.r.IntN(3) == 0 {
		return core.Insn{Op: core.JMP32 | core.JA}
	}
	return core.Insn{Op: core.JMP | core.JA}
}

// skip jumps over code that never runs.
func (f *fn) skip() {
	j := f.emit(f.jumpAlways())
	in, res := f.init, f.reserved
	f.dead++
	for k := f.s.r.IntN(4); k > 0; k-- {
		f.stmt(1 << 20)
	}
	f.dead--
	f.init, f.reserved = in, res
	f.patch(j)
}

// earlyExit makes "if cond goto +n; r0 = fold; exit".
func (f *fn) earlyExit() int {
	j := f.cond()
	in := f.init
	n := f.fold()
	f.emit(core.Insn{Op: core.JMP | core.Exit})
	f.patch(j)
	f.init = in
	return n + 2
}

// restore gives back a value to the registers of want a block lost (to a
// call), so a loop's next iteration or the code after finds them written.
func (f *fn) restore(want regs) int {
	n := 0
	for lost := want &^ f.init; lost != 0; lost &= lost - 1 {
		r := core.Reg(0)
		for lost&bit(r) == 0 {
			r++
		}
		n += f.setConst(r)
	}
	return n
}

// loopForm is one way to count a loop: the counter's start value, the
// step, and the test that goes back.
type loopForm struct {
	up        bool  // count 0..k instead of k..0
	stepClass uint8 // ALU or ALU64
	stepOp    uint8 // Add or Sub
	test      uint8 // jump class | op
	testImm   func(k int32) int32
	exitFirst bool // "if c == 0 goto out; ja/gotol head" instead of a back jump
}

var loopForms = [...]loopForm{
	{stepClass: core.ALU64, stepOp: core.Sub, test: core.JMP | core.JNE},
	{stepClass: core.ALU64, stepOp: core.Add, test: core.JMP | core.JSGT},
	{stepClass: core.ALU, stepOp: core.Sub, test: core.JMP32 | core.JNE},
	{stepClass: core.ALU64, stepOp: core.Sub, test: core.JMP | core.JGT},
	{stepClass: core.ALU64, stepOp: core.Sub, test: core.JMP | core.JGE, testImm: func(int32) int32 { return 1 }},
	{stepClass: core.ALU64, stepOp: core.Sub, test: core.JMP32 | core.JSGT},
	{stepClass: core.ALU64, stepOp: core.Sub, test: core.JMP | core.JEQ, exitFirst: true},
	{up: true, stepClass: core.ALU64, stepOp: core.Add, test: core.JMP | core.JLT, testImm: func(k int32) int32 { return k }},
	{up: true, stepClass: core.ALU, stepOp: core.Add, test: core.JMP32 | core.JNE, testImm: func(k int32) int32 { return k }},
	{up: true, stepClass: core.ALU64, stepOp: core.Add, test: core.JMP | core.JSLE, testImm: func(k int32) int32 { return k - 1 }},
	{up: true, stepClass: core.ALU64, stepOp: core.Add, test: core.JMP32 | core.JLE, testImm: func(k int32) int32 { return k - 1 }},
}

// loop makes a bounded do-while loop: the counter lives in a register no
// statement of the body may write.
func (f *fn) loop(budget int) (int, bool) {
	r := f.s.r
	free := f.writable()
	if free == 0 {
		return 0, false
	}
	c := f.s.pick(free)
	if m := free & calleeSv; m != 0 && r.IntN(4) > 0 {
		c = f.s.pick(m) // survives calls in the body
	}
	form := loopForms[r.IntN(len(loopForms))]
	const overhead = 3 + 5 // step, test, back jump; restoring r1-r5
	k := 1 + r.IntN([...]int{2, 4, 8, 16}[r.IntN(4)])
	for k > 1 && (budget-1)/k-overhead < minStmt {
		k /= 2
	}
	per := (budget-1)/k - overhead
	if per < minStmt {
		return 0, false
	}
	start := int32(k)
	if form.up {
		start = 0
	}
	f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: c, Imm: start})
	f.init |= bit(c)
	res := f.reserved
	f.reserved |= bit(c)
	inArgs := c <= core.R5
	if inArgs {
		f.noCalls++
	}
	head := len(f.code)
	in := f.init
	body := f.nested(per)
	body += f.restore(in)
	step := int32(1)
	if form.stepOp == core.Add && !form.up {
		step = -1
	}
	f.emit(core.Insn{Op: form.stepClass | form.stepOp | core.K, Dst: c, Imm: step})
	var imm int32
	if form.testImm != nil {
		imm = form.testImm(int32(k))
	}
	back := func(ins core.Insn) {
		j := f.emit(ins)
		d := head - j - 1
		if ins.Op == core.JMP32|core.JA {
			f.code[j].Imm = int32(d)
		} else {
			f.code[j].Off = int16(d)
		}
	}
	iter := body + 2
	if form.exitFirst {
		f.emit(core.Insn{Op: form.test | core.K, Dst: c, Imm: imm, Off: 1})
		back(f.jumpAlways())
		iter++
	} else {
		back(core.Insn{Op: form.test | core.K, Dst: c, Imm: imm})
	}
	if inArgs {
		f.noCalls--
	}
	f.reserved = res
	return 1 + k*iter, true
}

// terminator makes the main function's endless loop or fault.
func (f *fn) terminator() {
	r := f.s.r
	if f.s.want == Fault {
		base := f.s.pick(f.writable())
		f.emitLd64(base, faultAddrs[r.IntN(len(faultAddrs))])
		off := int16(8 * r.IntN(4))
		switch r.IntN(3) {
		case 0:
			dst := f.newDst()
			f.emit(core.Insn{Op: core.LDX | core.MEM | sizes[r.IntN(4)], Dst: dst, Src: base, Off: off})
			f.init |= bit(dst)
		case 1:
			f.emit(core.Insn{Op: core.STX | core.MEM | sizes[r.IntN(4)], Dst: base, Src: f.source(), Off: off})
		default:
			f.emit(core.Insn{Op: core.ST | core.MEM | sizes[r.IntN(4)], Dst: base, Off: off, Imm: f.s.imm32()})
		}
		return
	}
	head := len(f.code)
	if r.IntN(6) == 0 {
		f.emit(core.Insn{Op: core.JMP | core.JA, Off: -1}) // the tightest loop
		return
	}
	res := f.reserved
	counter := r.IntN(3) == 0
	var c core.Reg
	if counter {
		// A counter that is tested but never stepped.
		c = f.s.pick(f.writable() & calleeSv &^ bit(f.ctx))
		f.emit(core.Insn{Op: core.ALU64 | core.Mov | core.K, Dst: c, Imm: int32(1 + r.IntN(100))})
		f.init |= bit(c)
		f.reserved |= bit(c)
		head++
	}
	in := f.init
	f.nested(200)
	f.restore(in)
	j := len(f.code)
	if counter {
		f.emit(core.Insn{Op: core.JMP | core.JNE | core.K, Dst: c, Off: int16(head - j - 1)})
	} else if ins := f.jumpAlways(); ins.Op == core.JMP32|core.JA {
		f.emit(core.Insn{Op: ins.Op, Imm: int32(head - j - 1)})
	} else {
		f.emit(core.Insn{Op: ins.Op, Off: int16(head - j - 1)})
	}
	f.reserved = res
}
