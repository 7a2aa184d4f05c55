package conformance

import (
	"os"
	"slices"
	"strings"
	"testing"

	"jitsim/conformance/gen"
	"jitsim/core"
	"jitsim/core/interp"
)

// TestFuzzSmoke: a few hundred generated programs agree on every engine
// this build has, under both schemes.
func TestFuzzSmoke(t *testing.T) {
	var diffs []Diff
	st, err := Fuzz(FuzzOptions{
		Engines:  allEngines(t),
		Schemes:  []core.Scheme{core.Fixed, core.Legacy},
		Seed:     20,
		N:        300,
		Dir:      t.TempDir(),
		Minimize: true,
		OnDiff:   func(d Diff) { diffs = append(diffs, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("program %d on %s %v: %s\n%s", d.Index, d.Engine, d.Schemes, d.Reason, d.Case)
	}
	if st.Programs != 300 || st.Diffs != len(diffs) || st.Insns == 0 {
		t.Fatalf("stats %+v, %d differences reported", st, len(diffs))
	}
}

// hasMul64X reports whether p holds "rX *= rY" (ALU64), the planted bug's
// trigger.
func hasMul64X(p *core.Program) bool {
	return slices.ContainsFunc(p.Insns, func(i core.Insn) bool { return i.Op == core.ALU64|core.Mul|core.X })
}

// brokenEngine is the interpreter with a planted bug: r0's low bit flips in
// every program holding a 64-bit multiply by a register.
type brokenEngine struct{ e *interp.Engine }

func (b brokenEngine) Name() string { return "broken" }

func (b brokenEngine) Run(obj *core.Object, prog int, in core.Input, opts core.RunOptions) (*core.Result, error) {
	res, err := b.e.Run(obj, prog, in, opts)
	if err == nil && hasMul64X(obj.Progs[prog]) {
		res.R0 ^= 1
	}
	return res, err
}

// TestFuzzCatchesBrokenEngine: every program that triggers the planted bug
// and exits normally is reported, once, with a minimised reproducer that
// still triggers it and that the suite runner reads: the interpreter passes
// it, the broken engine fails it.
func TestFuzzCatchesBrokenEngine(t *testing.T) {
	broken := brokenEngine{interp.New()}
	defer broken.e.Close()
	ref := interp.New()
	defer ref.Close()
	const n = 60
	g := gen.New(gen.DefaultConfig())
	var want []uint64
	for i := uint64(0); i < n; i++ {
		if p := g.Generate(9, i); p.Want == gen.Exit && hasMul64X(p.Obj.Progs[0]) {
			want = append(want, i)
		}
	}
	if len(want) < 5 {
		t.Fatalf("only %d of %d programs trigger the planted bug; pick another seed", len(want), n)
	}
	dir := t.TempDir()
	var got []Diff
	st, err := Fuzz(FuzzOptions{
		Engines:  []core.Engine{ref, broken},
		Seed:     9,
		N:        n,
		Gen:      gen.DefaultConfig(),
		Dir:      dir,
		Minimize: true,
		OnDiff:   func(d Diff) { got = append(got, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var idx []uint64
	for _, d := range got {
		idx = append(idx, d.Index)
	}
	if !slices.Equal(idx, want) || st.Diffs != len(want) || st.Programs != n {
		t.Fatalf("differences in programs %v (stats %+v), want %v", idx, st, want)
	}
	for _, d := range got {
		if d.Engine != "broken" || !slices.Equal(d.Schemes, []core.Scheme{core.Fixed}) || !strings.HasPrefix(d.Reason, "r0 0x") {
			t.Fatalf("diff %+v", d)
		}
		if d.Slots >= d.Generated {
			t.Errorf("program %d: reproducer has %d slots, not fewer than the generated %d", d.Index, d.Slots, d.Generated)
		}
		data, err := os.ReadFile(d.File)
		if err != nil || string(data) != string(d.Case) {
			t.Fatalf("reproducer file %s: %v", d.File, err)
		}
		c, err := ParseCase(d.File, data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		obj, err := c.Load()
		if err != nil || !hasMul64X(obj.Progs[0]) || len(obj.Progs[0].Insns) != d.Slots {
			t.Fatalf("reproducer %s: %v; it must keep the trigger in %d slots\n%s", d.File, err, d.Slots, data)
		}
		r := &Runner{Engines: []core.Engine{ref, broken}, Schemes: []core.Scheme{core.Fixed}}
		reps := r.Run(c)
		if len(reps) != 2 || !reps[0].Pass || reps[1].Pass || !strings.Contains(reps[1].Reason, "r0 = ") {
			t.Fatalf("reproducer %s: reports %+v, want interp pass, broken fail\n%s", d.File, reps, data)
		}
		if reps[0].R0^reps[1].R0 != 1 {
			t.Fatalf("reproducer %s: r0 interp %#x, broken %#x; want them one bit apart", d.File, reps[0].R0, reps[1].R0)
		}
	}
}

// liarEngine stands in as the reference with a planted bug of its own:
// it reports every program that should exit as a fault.
type liarEngine struct{ e *interp.Engine }

func (l liarEngine) Name() string { return "interp" }

func (l liarEngine) Run(obj *core.Object, prog int, in core.Input, opts core.RunOptions) (*core.Result, error) {
	res, err := l.e.Run(obj, prog, in, opts)
	if err == nil {
		return nil, core.Errorf(core.NoInsn, "run", "made up: %w", core.ErrFault)
	}
	return res, err
}

// TestFuzzChecksTheReference: with the interpreter alone, a run that does
// not end as the generator made the program to end is a difference too.
func TestFuzzChecksTheReference(t *testing.T) {
	l := liarEngine{interp.New()}
	defer l.e.Close()
	g := gen.New(gen.DefaultConfig())
	want := 0
	for i := uint64(0); i < 20; i++ {
		if g.Generate(4, i).Want == gen.Exit {
			want++
		}
	}
	var got []Diff
	st, err := Fuzz(FuzzOptions{Engines: []core.Engine{l}, Seed: 4, N: 20, Gen: gen.DefaultConfig(), OnDiff: func(d Diff) { got = append(got, d) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Diffs != want || len(got) != want || want == 0 {
		t.Fatalf("%d differences, want %d", st.Diffs, want)
	}
	d := got[0]
	if d.Engine != "interp" || !strings.Contains(d.Reason, "made up: memory fault; the program was made to exit within") ||
		!strings.Contains(string(d.Case), "-- error\nmemory fault\n") || d.File != "" {
		t.Fatalf("diff %+v\n%s", d, d.Case)
	}
}

// TestDropNops: removing ja +0 slots moves jumps, gotol, calls and symbols
// with the code, and a jump to a removed slot lands on the next kept one.
func TestDropNops(t *testing.T) {
	nop := core.Insn{Op: core.JMP | core.JA}
	ld := core.LdImm64(core.R1, 0, 1<<40)
	p := &core.Program{Name: "p", Insns: []core.Insn{
		{Op: core.JMP | core.JEQ | core.K, Dst: core.R1, Off: 3}, // 0 -> 4 (a nop) -> new 2
		nop,
		ld[0], ld[1], // 2, 3
		nop,                                 // 4
		{Op: core.JMP32 | core.JA, Imm: -5}, // 5 -> 1 (a nop) -> new 1 (the ld_imm64)
		{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 1}, // 6 -> 8
		{Op: core.JMP | core.Exit},                               // 7
		nop,                                                      // 8
		{Op: core.ALU64 | core.Mov | core.K, Imm: 1}, // 9
		{Op: core.JMP | core.Exit},                   // 10
	}, Symbols: []core.Symbol{{Name: "f", Insn: 8, Func: true}}}
	got := dropNops(p)
	want := []core.Insn{
		{Op: core.JMP | core.JEQ | core.K, Dst: core.R1, Off: 2},
		ld[0], ld[1],
		{Op: core.JMP32 | core.JA, Imm: -3},
		{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 1},
		{Op: core.JMP | core.Exit},
		{Op: core.ALU64 | core.Mov | core.K, Imm: 1},
		{Op: core.JMP | core.Exit},
	}
	if !slices.Equal(got.Insns, want) {
		t.Fatalf("insns\n%v\nwant\n%v", got.Insns, want)
	}
	if len(got.Symbols) != 1 || got.Symbols[0].Insn != 6 {
		t.Fatalf("symbols %+v, want f at 6", got.Symbols)
	}
	if dropNops(got) != nil {
		t.Fatal("a program without nops changed")
	}
}

// BenchmarkFuzzInterp: generated programs per second through generation,
// analysis and the interpreter (the reference alone).
func BenchmarkFuzzInterp(b *testing.B) {
	st, err := Fuzz(FuzzOptions{Seed: 1, N: b.N})
	if err != nil || st.Diffs != 0 {
		b.Fatalf("%+v %v", st, err)
	}
	b.ReportMetric(float64(st.Programs)/b.Elapsed().Seconds(), "programs/s")
	b.ReportMetric(float64(st.Insns)/b.Elapsed().Seconds(), "insns/s")
}
