package sim_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"jitsim/conformance"
	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
	"jitsim/core/interp"
	"jitsim/sim"
)

// engine is one simulator configuration the tests run.
type engine struct {
	name string
	arch string
	opts sim.Options
}

// configs: both arches with a stock kernel's options, and arm64 with the
// LL/SC atomics on an ARMv8.0 CPU.
var configs = []engine{
	{"x86_64", "x86_64", sim.DefaultOptions("x86_64")},
	{"arm64", "arm64", sim.DefaultOptions("arm64")},
	{"arm64-llsc", "arm64", sim.Options{LSE: false}},
}

// Engines are shared by the tests: creating a Unicorn instance is the
// expensive part, and reuse across programs is what the engine promises.
var (
	enginesOnce sync.Once
	engines     map[string]*sim.Engine
	enginesErr  error
)

func getEngine(t testing.TB, name string) *sim.Engine {
	t.Helper()
	enginesOnce.Do(func() {
		engines = map[string]*sim.Engine{}
		for _, c := range configs {
			e, err := sim.New(c.arch, c.opts)
			if err != nil {
				enginesErr = fmt.Errorf("%s: %w", c.name, err)
				return
			}
			engines[c.name] = e
		}
	})
	if enginesErr != nil {
		t.Fatal(enginesErr)
	}
	return engines[name]
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, e := range engines {
		e.Close()
	}
	os.Exit(code)
}

// load assembles and checks a test program.
func load(t testing.TB, src string) *core.Object {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := analysis.Check(obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// outcome is a run as far as engines must agree on it.
type outcome struct {
	r0    uint64
	insns uint64
	ctx   []byte
	err   string
}

func (o outcome) String() string {
	if o.err != "" {
		return "error " + o.err
	}
	return fmt.Sprintf("r0 %#x, %d insns, ctx %x", o.r0, o.insns, o.ctx)
}

func runOn(e core.Engine, obj *core.Object, in core.Input, opts core.RunOptions) outcome {
	res, err := e.Run(obj, 0, in, opts)
	if err != nil {
		return outcome{err: err.Error()}
	}
	return outcome{r0: res.R0, insns: res.Insns, ctx: res.Ctx}
}

func (o outcome) equal(p outcome) bool {
	return o.r0 == p.r0 && o.insns == p.insns && bytes.Equal(o.ctx, p.ctx) && o.err == p.err
}

// want runs obj on the interpreter, whose outcome every engine must give
// exactly: r0, the instruction count, the context, or the error's text
// (which names the instruction and its source line).
func want(t testing.TB, obj *core.Object, in core.Input, opts core.RunOptions) outcome {
	t.Helper()
	return runOn(interp.New(), obj, in, opts)
}

// agree runs obj on every configuration and compares with the interpreter.
func agree(t *testing.T, obj *core.Object, in core.Input, opts core.RunOptions) outcome {
	t.Helper()
	ref := want(t, obj, in, opts)
	for _, c := range configs {
		got := runOn(getEngine(t, c.name), obj, in, opts)
		if !got.equal(ref) {
			t.Errorf("%s: %v\ninterp: %v", c.name, got, ref)
		}
	}
	return ref
}

// TestConformance runs every public and own conformance case on every
// configuration in both schemes and compares each run with the
// interpreter's: r0, context, error text and instruction count. (The
// conformance package's runner compares r0, context and error kinds; this
// adds the budget accounting and the wording.)
func TestConformance(t *testing.T) {
	files, err := conformance.Files([]string{"../../shared/bpf_conformance/tests"})
	if err != nil {
		t.Fatal(err)
	}
	// Our own cases without maps: tail calls (testdata/tailcall) are not
	// simulated yet.
	own, err := filepath.Glob("../conformance/testdata/*.data")
	if err != nil || len(own) < 30 {
		t.Fatalf("own cases: %d, %v", len(own), err)
	}
	files = append(files, own...)
	if len(files) < 313 {
		t.Fatalf("%d case files, want at least the public suite's 313", len(files))
	}
	ran := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := conformance.ParseCase(f, data)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := c.Load()
		if err == nil {
			err = analysis.Check(obj)
		}
		if err != nil {
			continue // rejected before any engine runs; conformance tests that
		}
		for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
			if c.HasScheme && c.Scheme != scheme {
				continue
			}
			opts := core.RunOptions{Scheme: scheme, Budget: c.Budget}
			ref := want(t, obj, c.Input(), opts)
			for _, cf := range configs {
				name := cf.name + "/" + scheme.String() + "/" + filepath.Base(f)
				got := runOn(getEngine(t, cf.name), obj, c.Input(), opts)
				ran++
				if !got.equal(ref) {
					t.Errorf("%s: %v\ninterp: %v", name, got, ref)
				}
			}
		}
	}
	if ran < 313*2*len(configs) {
		t.Errorf("ran %d cases, want at least %d", ran, 313*2*len(configs))
	}
}

// TestTailCalls runs every program of each tail call case once from the
// maps' initial contents and compares everything with the interpreter,
// the tail call trace included: from, to, slot, direct, the count before
// and after, and the call depth.
func TestTailCalls(t *testing.T) {
	files, err := filepath.Glob("../conformance/testdata/tailcall/*.data")
	if err != nil || len(files) < 10 {
		t.Fatalf("tail call cases: %d, %v", len(files), err)
	}
	events := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := conformance.ParseCase(f, data)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := c.Load()
		if err == nil {
			err = analysis.Check(obj)
		}
		if err != nil {
			continue // a rejection case
		}
		for _, scheme := range []core.Scheme{core.Fixed, core.Legacy} {
			opts := core.RunOptions{Scheme: scheme, Budget: c.Budget}
			for prog := range obj.Progs {
				ref, refErr := interp.New().Run(obj, prog, c.Input(), opts)
				for _, cf := range configs {
					name := fmt.Sprintf("%s/%v/%s/%s", cf.name, scheme, filepath.Base(f), obj.Progs[prog].Name)
					got, err := getEngine(t, cf.name).Run(obj, prog, c.Input(), opts)
					if (err == nil) != (refErr == nil) || err != nil && err.Error() != refErr.Error() {
						t.Errorf("%s: error %v\ninterp: %v", name, err, refErr)
						continue
					}
					if err != nil {
						continue
					}
					if got.R0 != ref.R0 || got.Insns != ref.Insns || !slices.Equal(got.TailCalls, ref.TailCalls) {
						t.Errorf("%s: r0 %#x, %d insns, tail calls %+v\ninterp: r0 %#x, %d insns, tail calls %+v",
							name, got.R0, got.Insns, got.TailCalls, ref.R0, ref.Insns, ref.TailCalls)
					}
					events += len(ref.TailCalls)
				}
			}
		}
	}
	if events < 100 {
		t.Errorf("only %d tail call events compared", events)
	}
}
