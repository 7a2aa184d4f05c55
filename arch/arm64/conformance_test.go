package arm64

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
	"jitsim/core/jit"
)

// TestConformancePrograms JITs every program of the conformance suite in
// every configuration. Running them is sim's job; here each must compile,
// or fail with ErrUnsupported naming an instruction, and never panic.
func TestConformancePrograms(t *testing.T) {
	configs := []jit.Options{
		{}, {LSE: true}, {Scheme: core.Legacy}, {Scheme: core.Legacy, LSE: true, BTI: true, PAC: true},
	}
	compiled := 0
	for _, cp := range conformancePrograms(t, 512) {
		p := cp.prog
		for _, opts := range configs {
			opts.HelperAddr = testHelperAddr
			img, err := Compile(p, opts)
			var ce *core.Error
			switch {
			case err == nil:
				if len(img.Code) == 0 || len(img.InsnOffsets) != len(p.Insns)+1 {
					t.Errorf("%s: empty image or offsets", cp.name)
				}
				compiled++
			case errors.As(err, &ce) && errors.Is(err, core.ErrUnsupported) && ce.Pos.Insn >= 0:
				t.Logf("%s: %v", cp.name, err)
			default:
				t.Errorf("%s %+v: %v", cp.name, opts, err)
			}
		}
	}
	if compiled < 4*290 {
		t.Errorf("only %d programs x configurations compiled", compiled)
	}
}

type namedProg struct {
	name string
	prog *core.Program
}

// conformancePrograms assembles the program of every conformance file the
// assembler takes (core/asm tests the others), split into functions at
// its function symbols, each with the given stack depth.
func conformancePrograms(t *testing.T, stackDepth int) []namedProg {
	t.Helper()
	files, err := filepath.Glob("../../../shared/bpf_conformance/tests/*.data")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance files (%v)", err)
	}
	var progs []namedProg
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(b), "-- asm\n")
		if !ok {
			continue
		}
		src, _, _ := strings.Cut(rest, "\n-- ")
		obj, err := asm.ParseOpts([]byte(src), asm.Options{File: filepath.Base(f), Helpers: core.HelpersConformance})
		if err != nil {
			continue
		}
		p := obj.Progs[0]
		starts := []int{0}
		for _, s := range p.Symbols {
			if s.Func && s.Insn > 0 {
				starts = append(starts, s.Insn)
			}
		}
		starts = append(starts, len(p.Insns))
		p.Funcs = nil
		for k := 0; k+1 < len(starts); k++ {
			p.Funcs = append(p.Funcs, core.Func{Start: starts[k], End: starts[k+1], StackDepth: stackDepth})
		}
		progs = append(progs, namedProg{filepath.Base(f), p})
	}
	return progs
}
