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
	files, err := filepath.Glob("../../../shared/bpf_conformance/tests/*.data")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance files (%v)", err)
	}
	configs := []jit.Options{
		{}, {LSE: true}, {Scheme: core.Legacy}, {Scheme: core.Legacy, LSE: true, BTI: true, PAC: true},
	}
	compiled := 0
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
			continue // the assembler's business (core/asm tests these files)
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
			p.Funcs = append(p.Funcs, core.Func{Start: starts[k], End: starts[k+1], StackDepth: 512})
		}
		for _, opts := range configs {
			opts.HelperAddr = testHelperAddr
			img, err := Compile(p, opts)
			var ce *core.Error
			switch {
			case err == nil:
				if len(img.Code) == 0 || len(img.InsnOffsets) != len(p.Insns)+1 {
					t.Errorf("%s: empty image or offsets", filepath.Base(f))
				}
				compiled++
			case errors.As(err, &ce) && errors.Is(err, core.ErrUnsupported) && ce.Pos.Insn >= 0:
				t.Logf("%s: %v", filepath.Base(f), err)
			default:
				t.Errorf("%s %+v: %v", filepath.Base(f), opts, err)
			}
		}
	}
	if compiled < 4*290 {
		t.Errorf("only %d programs x configurations compiled", compiled)
	}
}
