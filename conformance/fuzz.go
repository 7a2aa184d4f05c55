package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"jitsim/conformance/gen"
	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
	"jitsim/core/interp"
)

// FuzzOptions configure Fuzz.
type FuzzOptions struct {
	// Engines run every program and are compared with the interpreter. An
	// engine named "interp" is the reference itself; without one Fuzz
	// makes its own.
	Engines []core.Engine
	// Schemes to run each program under (default: core.Fixed).
	Schemes []core.Scheme
	// Seed and First name the programs: gen's programs First..First+N-1 of
	// Seed.
	Seed, First uint64
	N           int
	// Budget is each run's instruction budget (0: core.DefaultBudget).
	Budget uint64
	// Gen configures the generator. A zero MaxInsns becomes a quarter of
	// the budget (at most gen's default), so that a program that ends does
	// so far from the budget, where engines counting differently could
	// disagree about it for no bug.
	Gen gen.Config
	// Dir receives a reproducer .data file for each difference; "" writes
	// none.
	Dir string
	// Minimize shrinks each reproducer while the difference persists.
	Minimize bool
	// OnDiff is called for each difference when it is found.
	OnDiff func(Diff)
	// Progress, if set, is called after each program.
	Progress func(done, diffs int)
}

// Diff is one program on which an engine disagrees with the interpreter
// (or, for Engine "interp", on which the interpreter did not end the way
// the generator made the program to end).
type Diff struct {
	Seed, Index uint64
	Engine      string
	// Schemes lists the schemes under which the engine disagreed.
	Schemes []core.Scheme
	// Reason says how, for the reproducer's program.
	Reason string
	// Case is the reproducer: a .data file with the interpreter's result,
	// which `jitsim run` and `jitsim conform` take. File is where it was
	// written ("" when FuzzOptions.Dir is empty).
	Case []byte
	File string
	// Slots is the size of the reproducer's program, Generated that of the
	// generated one.
	Slots, Generated int
}

// FuzzStats sum up a Fuzz run.
type FuzzStats struct {
	Programs, Diffs int
	// Insns counts the reference interpreter's instructions.
	Insns   uint64
	Elapsed time.Duration
}

// Fuzz runs generated programs on every engine and scheme and compares r0,
// the kind of error (budget, fault) and the context memory after the run
// with the interpreter's. An error means the fuzzing itself could not go
// on: a generated program that analysis rejects (a generator bug) or a
// reproducer that cannot be written.
func Fuzz(o FuzzOptions) (st FuzzStats, err error) {
	start := time.Now()
	if o.Budget == 0 {
		o.Budget = core.DefaultBudget
	}
	if len(o.Schemes) == 0 {
		o.Schemes = []core.Scheme{core.Fixed}
	}
	if o.Gen.MaxInsns == 0 {
		o.Gen.MaxInsns = int(min(uint64(gen.DefaultConfig().MaxInsns), max(o.Budget/4, 1)))
	}
	g := gen.New(o.Gen)
	var ref core.Engine
	var others []core.Engine
	for _, e := range o.Engines {
		if e.Name() == "interp" && ref == nil {
			ref = e
		} else {
			others = append(others, e)
		}
	}
	if ref == nil {
		in := interp.New()
		defer in.Close()
		ref = in
	}
	f := &fuzzer{o: o, ref: ref}
	defer func() { st.Elapsed = time.Since(start) }() // st is the named result
	for k := range o.N {
		p := g.Generate(o.Seed, o.First+uint64(k))
		if err := analysis.Check(p.Obj); err != nil {
			return st, fmt.Errorf("seed %d program %d: the generator made a program analysis rejects: %w", p.Seed, p.Index, err)
		}
		diffs, insns, err := f.program(p, others)
		st.Programs++
		st.Insns += insns
		st.Diffs += diffs
		if err != nil {
			return st, err
		}
		if o.Progress != nil {
			o.Progress(st.Programs, st.Diffs)
		}
	}
	return st, nil
}

type fuzzer struct {
	o   FuzzOptions
	ref core.Engine
}

// outcome is one run: its result or error.
type outcome struct {
	res *core.Result
	err error
}

// run runs a program, turning an engine's panic into an error so one bad
// program does not end the fuzzing.
func run(e core.Engine, obj *core.Object, ctx []byte, opts core.RunOptions) (out outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = outcome{err: fmt.Errorf("%s panicked: %v", e.Name(), r)}
		}
	}()
	res, err := e.Run(obj, 0, core.Input{Ctx: ctx}, opts)
	return outcome{res, err}
}

// program runs one generated program everywhere and reports its
// differences.
func (f *fuzzer) program(p *gen.Program, engines []core.Engine) (int, uint64, error) {
	var insns uint64
	refs := make([]outcome, len(f.o.Schemes))
	for i, s := range f.o.Schemes {
		refs[i] = run(f.ref, p.Obj, p.Ctx, core.RunOptions{Scheme: s, Budget: f.o.Budget})
		if refs[i].res != nil {
			insns += refs[i].res.Insns
		}
	}
	n := 0
	for i, s := range f.o.Schemes {
		if why := unexpected(p, refs[i]); why != "" {
			// The generator's promise broke: the interpreter (or the
			// generator) is wrong. Reported once, under the first scheme.
			d := &Diff{Engine: f.ref.Name(), Schemes: []core.Scheme{s}, Reason: why}
			if err := f.report(p, d, p.Obj, s, refs[i]); err != nil {
				return n, insns, err
			}
			n++
			break
		}
	}
	for _, e := range engines {
		var failed []core.Scheme
		var why string
		for i, s := range f.o.Schemes {
			got := run(e, p.Obj, p.Ctx, core.RunOptions{Scheme: s, Budget: f.o.Budget})
			if msg := describe(refs[i], got); msg != "" {
				if failed == nil {
					why = msg
				}
				failed = append(failed, s)
			}
		}
		if failed == nil {
			continue
		}
		d := &Diff{Engine: e.Name(), Schemes: failed, Reason: why}
		obj, ref := p.Obj, refs[slices.Index(f.o.Schemes, failed[0])]
		if f.o.Minimize {
			obj, ref, d.Reason = f.minimize(p, e, failed[0], d.Reason)
		}
		if err := f.report(p, d, obj, failed[0], ref); err != nil {
			return n, insns, err
		}
		n++
	}
	return n, insns, nil
}

// unexpected says how the reference run broke the generator's promise
// about the program, or "".
func unexpected(p *gen.Program, ref outcome) string {
	switch p.Want {
	case gen.Exit:
		if ref.err != nil {
			return fmt.Sprintf("interp: %v; the program was made to exit within %d instructions", ref.err, p.MaxInsns)
		}
		if ref.res.Insns > uint64(p.MaxInsns) {
			return fmt.Sprintf("interp ran %d instructions; the program was made to exit within %d", ref.res.Insns, p.MaxInsns)
		}
	case gen.Endless:
		if !errors.Is(ref.err, core.ErrBudget) {
			return fmt.Sprintf("interp: %s; the program was made to loop until the budget runs out", outcomeText(ref))
		}
	case gen.Fault:
		if !errors.Is(ref.err, core.ErrFault) {
			return fmt.Sprintf("interp: %s; the program was made to fault", outcomeText(ref))
		}
	}
	return ""
}

func outcomeText(o outcome) string {
	if o.err != nil {
		return o.err.Error()
	}
	return fmt.Sprintf("r0 %#x", o.res.R0)
}

// describe compares an engine's run with the interpreter's, as the suite
// does, naming the first context byte that differs.
func describe(ref, got outcome) string {
	msg := disagree(ref.res, ref.err, got.res, got.err)
	if msg == "" || ref.err != nil || got.err != nil || bytes.Equal(ref.res.Ctx, got.res.Ctx) {
		return msg
	}
	a, b := ref.res.Ctx, got.res.Ctx
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if i >= len(a) || i >= len(b) {
		return fmt.Sprintf("context is %d bytes after the run, interp %d", len(b), len(a))
	}
	return fmt.Sprintf("context byte %d is %#02x after the run, interp %#02x", i, b[i], a[i])
}

// minimize shrinks the program while e still disagrees with the reference
// under scheme s: it turns runs of instructions into no-ops (ja +0), then
// drops the no-ops. Every candidate must pass analysis and gen.Defined;
// each costs two runs, and at most maxTries candidates are tried.
func (f *fuzzer) minimize(p *gen.Program, e core.Engine, s core.Scheme, why string) (*core.Object, outcome, string) {
	const maxTries = 400
	opts := core.RunOptions{Scheme: s, Budget: f.o.Budget}
	tries := 0
	best := p.Obj.Progs[0]
	bestRef := run(f.ref, p.Obj, p.Ctx, opts)
	try := func(prog *core.Program) bool {
		tries++
		obj := withProg(p.Obj, prog)
		// A candidate must keep the rules that make results comparable:
		// dropping "r3 = 1" would leave r3 to whatever each engine has.
		if analysis.Check(obj) != nil || gen.Defined(obj.Progs[0]) != nil {
			return false
		}
		ref := run(f.ref, obj, p.Ctx, opts)
		if msg := describe(ref, run(e, obj, p.Ctx, opts)); msg != "" {
			best, bestRef, why = obj.Progs[0], ref, msg
			return true
		}
		return false
	}
	nop := core.Insn{Op: core.JMP | core.JA}
	// units are the first slots of instructions (ld_imm64 takes two).
	var units []int
	for i := 0; i < len(best.Insns); i++ {
		units = append(units, i)
		if best.Insns[i].IsLdImm64() {
			i++
		}
	}
	units = append(units, len(best.Insns))
	for size := (len(units) - 1) / 2; size >= 1 && tries < maxTries; size /= 2 {
		for a := 0; a+1 < len(units) && tries < maxTries; a += size {
			b := min(a+size, len(units)-1)
			cand := slices.Clone(best.Insns)
			changed := false
			for i := units[a]; i < units[b]; i++ {
				if cand[i] != nop {
					cand[i], changed = nop, true
				}
			}
			if changed {
				try(&core.Program{Name: best.Name, Insns: cand, Symbols: best.Symbols})
			}
		}
	}
	if c := dropNops(best); c != nil {
		try(c)
	}
	return withProg(p.Obj, best), bestRef, why
}

// withProg is obj with its one program replaced; Funcs is filled again by
// analysis, so engines caching by program see a new one.
func withProg(obj *core.Object, p *core.Program) *core.Object {
	c := *obj
	c.Progs = []*core.Program{{Name: p.Name, Type: p.Type, Insns: p.Insns, Symbols: p.Symbols}}
	return &c
}

// dropNops removes the ja +0 slots, moving jump and call offsets and
// symbols to match; nil when there are none.
func dropNops(p *core.Program) *core.Program {
	n := len(p.Insns)
	newIdx := make([]int, n+1)
	kept := 0
	for i := 0; i < n; i++ {
		newIdx[i] = kept
		ins := p.Insns[i]
		if ins == (core.Insn{Op: core.JMP | core.JA}) {
			continue
		}
		kept++
		if ins.IsLdImm64() && i+1 < n {
			i++
			newIdx[i] = kept
			kept++
		}
	}
	newIdx[n] = kept
	if kept == n {
		return nil
	}
	out := make([]core.Insn, 0, kept)
	for i := 0; i < n; i++ {
		ins := p.Insns[i]
		if ins == (core.Insn{Op: core.JMP | core.JA}) {
			continue
		}
		at := len(out)
		switch {
		case ins.IsLdImm64():
			out = append(out, ins)
			if i+1 < n {
				out = append(out, p.Insns[i+1])
			}
			i++
			continue
		case ins.IsPseudoCall():
			ins.Imm = int32(newIdx[clampIdx(ins.CallTarget(i), n)] - at - 1)
		case ins.Op == core.JMP32|core.JA:
			ins.Imm = int32(newIdx[clampIdx(ins.JumpTarget(i), n)] - at - 1)
		case ins.IsJump():
			ins.Off = int16(newIdx[clampIdx(ins.JumpTarget(i), n)] - at - 1)
		}
		out = append(out, ins)
	}
	syms := make([]core.Symbol, len(p.Symbols))
	for i, s := range p.Symbols {
		s.Insn = newIdx[clampIdx(s.Insn, n)]
		syms[i] = s
	}
	return &core.Program{Name: p.Name, Type: p.Type, Insns: out, Symbols: syms}
}

func clampIdx(i, n int) int { return min(max(i, 0), n) }

// report writes d's reproducer and hands d on.
func (f *fuzzer) report(p *gen.Program, d *Diff, obj *core.Object, s core.Scheme, ref outcome) error {
	d.Seed, d.Index = p.Seed, p.Index
	d.Slots, d.Generated = len(obj.Progs[0].Insns), len(p.Obj.Progs[0].Insns)
	one := len(d.Schemes) < len(f.o.Schemes)
	d.Case = reproducer(d, obj, p.Ctx, f.o.Budget, s, one, ref)
	if f.o.Dir != "" {
		if err := os.MkdirAll(f.o.Dir, 0o755); err != nil {
			return err
		}
		d.File = filepath.Join(f.o.Dir, fmt.Sprintf("fuzz-%d-%d-%s.data", d.Seed, d.Index, d.Engine))
		if err := os.WriteFile(d.File, d.Case, 0o644); err != nil {
			return err
		}
	}
	if f.o.OnDiff != nil {
		f.o.OnDiff(*d)
	}
	return nil
}

// reproducer writes a .data case: the program as asm.Format prints it, the
// context as mem, the budget, the scheme when only one shows the
// difference, and the interpreter's r0 (or error) as the expectation.
func reproducer(d *Diff, obj *core.Object, ctx []byte, budget uint64, s core.Scheme, oneScheme bool, ref outcome) []byte {
	var b bytes.Buffer
	schemes := make([]string, len(d.Schemes))
	for i, sc := range d.Schemes {
		schemes[i] = sc.String()
	}
	fmt.Fprintf(&b, "# jitsim fuzz -seed %d: program %d, %s (%s): %s\n", d.Seed, d.Index, d.Engine, strings.Join(schemes, ", "), d.Reason)
	if d.Slots != d.Generated {
		fmt.Fprintf(&b, "# minimised from %d to %d slots.\n", d.Generated, d.Slots)
	}
	fmt.Fprintf(&b, "# The expectation is the interpreter's. Rerun: jitsim conform -engine interp,%s -tcc %s FILE\n", d.Engine, s)
	b.WriteString("-- asm\n")
	b.WriteString(asm.Format(obj))
	b.WriteString("-- mem\n")
	for i := 0; i < len(ctx); i += 16 {
		for j, c := range ctx[i:min(i+16, len(ctx))] {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%02x", c)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "-- budget\n%d\n", budget)
	if oneScheme {
		fmt.Fprintf(&b, "-- tcc\n%s\n", s)
	}
	switch {
	case ref.err == nil:
		fmt.Fprintf(&b, "-- result\n%#x\n", ref.res.R0)
	case errors.Is(ref.err, core.ErrBudget):
		fmt.Fprintf(&b, "-- error\n%v\n", core.ErrBudget)
	case errors.Is(ref.err, core.ErrFault):
		fmt.Fprintf(&b, "-- error\n%v\n", core.ErrFault)
	default:
		fmt.Fprintf(&b, "-- error\n%s\n", strings.ReplaceAll(ref.err.Error(), "\n", " "))
	}
	return b.Bytes()
}
