package conformance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jitsim/core"
)

// sharedDir is the public suite's data, beside the project (tests run in
// the package directory).
const sharedDir = "../../shared/bpf_conformance"

// allEngines builds every engine this build has; the suite runs on all.
func allEngines(t *testing.T) []core.Engine {
	t.Helper()
	var es []core.Engine
	for _, n := range Available() {
		e, err := NewEngine(n)
		if err != nil {
			t.Fatalf("engine %s: %v", n, err)
		}
		es = append(es, e)
	}
	return es
}

// dataFiles lists a folder's .data files and fails loudly when there are
// none: a suite that passes on zero cases proves nothing.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := Files([]string{dir})
	if err != nil {
		t.Fatalf("conformance data: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no .data files", dir)
	}
	return files
}

func runAll(t *testing.T, r *Runner, files []string) {
	t.Helper()
	n := 0
	for _, f := range files {
		for _, rep := range r.RunFile(f) {
			n++
			name := rep.Engine + "/" + rep.Scheme.String() + "/" + strings.TrimSuffix(filepath.Base(f), ".data")
			t.Run(name, func(t *testing.T) {
				if rep.Skipped != "" {
					t.Fatalf("skipped (%s): no case may be skipped", rep.Skipped)
				}
				if !rep.Pass {
					t.Fatalf("%s", rep.Reason)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("ran no case")
	}
}

func TestSuite(t *testing.T) {
	files := dataFiles(t, filepath.Join(sharedDir, "tests"))
	if len(files) < 300 {
		t.Fatalf("only %d files in the public suite, want its 313", len(files))
	}
	r := &Runner{Engines: allEngines(t), Schemes: []core.Scheme{core.Fixed, core.Legacy}}
	runAll(t, r, files)
}

func TestOwnCases(t *testing.T) {
	r := &Runner{Engines: allEngines(t), Schemes: []core.Scheme{core.Fixed, core.Legacy}, Strict: true}
	runAll(t, r, dataFiles(t, "testdata"))
}

// TestNegative: no malformed case may run to a pass. Each is either
// rejected with an error that names a place, or reported as a failure.
func TestNegative(t *testing.T) {
	files := dataFiles(t, filepath.Join(sharedDir, "negative"))
	r := &Runner{Engines: allEngines(t), Schemes: []core.Scheme{core.Fixed}}
	for _, f := range files {
		reps := r.RunFile(f)
		if len(reps) == 0 {
			t.Errorf("%s: no report", f)
		}
		for _, rep := range reps {
			if rep.Err == nil {
				if rep.Pass {
					t.Errorf("%s [%s]: passed without any error (r0 = %#x)", f, rep.Engine, rep.R0)
				}
				continue
			}
			var ce *core.Error
			if !errors.As(rep.Err, &ce) {
				t.Errorf("%s [%s]: error without a position: %v", f, rep.Engine, rep.Err)
				continue
			}
			if ce.Pos.File == "" || !strings.Contains(rep.Err.Error(), filepath.Base(f)) {
				t.Errorf("%s [%s]: error does not name the file: %v", f, rep.Engine, rep.Err)
			}
		}
	}
}

// TestNegativeOutcomes pins how some malformed cases are caught, so a
// regression that lets one through shows up by name.
func TestNegativeOutcomes(t *testing.T) {
	r := &Runner{Engines: allEngines(t)[:1], Schemes: []core.Scheme{core.Fixed}}
	for _, tc := range []struct{ file, want string }{
		{"empty.data", "no program"},
		{"empty_instructions.data", "no program"},
		{"invalid_unknown_directive.data", `unknown section "Unknown directive"`},
		{"incorrect_return_value_high_bits.data", "r0 = 0x8877665544332211, want 0x8977665544332211"},
		{"error.data", "ran without error"},
	} {
		reps := r.RunFile(filepath.Join(sharedDir, "negative", tc.file))
		if len(reps) != 1 || reps[0].Pass || !strings.Contains(reps[0].Reason, tc.want) {
			t.Errorf("%s: reports %+v, want a failure mentioning %q", tc.file, reps, tc.want)
		}
	}
}

func TestParseCase(t *testing.T) {
	src := "# comment\n-- asm\nmov %r0, 1\nexit\n-- mem\n01 02\n03\n-- result\n0x1\n"
	c, err := ParseCase("x.data", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Asm) != "mov %r0, 1\nexit" || c.AsmLine != 3 {
		t.Errorf("asm %q at line %d", c.Asm, c.AsmLine)
	}
	if string(c.Mem) != "\x01\x02\x03" || !c.HasMem || c.Result != 1 || !c.HasResult || c.Error {
		t.Errorf("case %+v", c)
	}
	for _, tc := range []struct{ src, want string }{
		{"-- asm\nexit\n", "x.data: parse: no expectation"},
		{"-- result\n0x1\n", "x.data: parse: no program"},
		{"-- raw\nzz\n-- result\n0\n", `x.data:2: parse: "zz" is not hex bytes`},
		{"-- asm\nexit\n-- result\nfoo\n", `x.data:3: parse: result "foo" is not a hex number`},
		{"-- asm\nexit\n-- asm\nexit\n-- result\n0\n", `x.data:3: parse: section "asm" appears twice`},
		{"mov %r0, 1\n-- result\n0\n", `x.data:1: parse: text before the first section`},
	} {
		_, err := ParseCase("x.data", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want prefix %q", tc.src, err, tc.want)
		}
	}
}

func TestRawLines(t *testing.T) {
	// An unknown opcode in a raw section is reported at its own line.
	src := "-- raw\nb7 00 00 00 01 00 00 00\nff 00 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n-- result\n0x1\n"
	c, err := ParseCase("r.data", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.Progs[0].PosOf(1); got.Line != 3 || got.Insn != 1 {
		t.Errorf("pos of insn 1 = %+v, want line 3", got)
	}
}

func FuzzParseCase(f *testing.F) {
	for _, name := range []string{"tests/lock_cmpxchg.data", "tests/mem-len.data", "negative/unused-add_imm-src.data"} {
		if b, err := os.ReadFile(filepath.Join(sharedDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("-- asm\nexit\n-- error\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCase("fuzz.data", data)
		if err != nil {
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error has no position: %v", err)
			}
			return
		}
		if !c.HasAsm && !c.HasRaw {
			t.Fatal("case without a program")
		}
		_, _ = c.Load()
	})
}

// TestSuiteLLSC runs the suite on arm64 as a CPU without LSE sees it: the
// JIT's LL/SC atomics, checked against the interpreter.
func TestSuiteLLSC(t *testing.T) {
	es, err := NewEngines("interp,arm64-llsc")
	if err != nil {
		t.Fatal(err)
	}
	if es[1].Name() != "arm64-llsc" {
		t.Fatalf("engine named %q", es[1].Name())
	}
	r := &Runner{Engines: es, Schemes: []core.Scheme{core.Fixed, core.Legacy}}
	runAll(t, r, append(dataFiles(t, filepath.Join(sharedDir, "tests")), dataFiles(t, "testdata")...))
}
