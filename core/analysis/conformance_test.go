package analysis_test

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
)

const suiteDir = "../../../shared/bpf_conformance"

// loadCase reads the program of a bpf_conformance .data file from its
// "-- asm" or "-- raw" section. ok is false when the file has neither.
func loadCase(t *testing.T, path string) (obj *core.Object, ok bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var section string
	var body []string
	first := 0
	lines := strings.Split(string(data), "\n")
	sections := map[string][]string{}
	starts := map[string]int{}
	flush := func() {
		if section != "" {
			sections[section] = body
			starts[section] = first
		}
	}
	for n, line := range lines {
		if strings.HasPrefix(line, "-- ") {
			flush()
			section, body, first = strings.TrimSpace(line[3:]), nil, n+2
			continue
		}
		body = append(body, line)
	}
	flush()
	if src, found := sections["asm"]; found {
		obj, err := asm.ParseOpts([]byte(strings.Join(src, "\n")), asm.Options{File: path, Line: starts["asm"], Helpers: core.HelpersConformance})
		if err != nil {
			t.Fatalf("assembling: %v", err)
		}
		return obj, true
	}
	raw, found := sections["raw"]
	if !found {
		return nil, false
	}
	var b []byte
	for _, line := range raw {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		h, err := hex.DecodeString(strings.ReplaceAll(line, " ", ""))
		if err != nil {
			t.Fatalf("raw section: %v", err)
		}
		b = append(b, h...)
	}
	insns, err := core.DecodeRaw(path, b)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	p := &core.Program{Name: filepath.Base(path), Insns: insns}
	return &core.Object{File: path, Progs: []*core.Program{p}, Helpers: core.HelpersConformance}, true
}

// TestConformanceNegative: every "unused-*" case of the suite sets a field
// RFC 9669 reserves; each must be rejected, naming that field.
func TestConformanceNegative(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(suiteDir, "negative", "unused-*.data"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no unused-*.data under %s (%v)", suiteDir, err)
	}
	fields := map[string]string{"offset": "off", "src": "src", "dst": "dst", "imm": "imm"}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".data")
		t.Run(name, func(t *testing.T) {
			obj, ok := loadCase(t, path)
			if !ok {
				t.Fatal("no program in the file")
			}
			field := fields[name[strings.LastIndexByte(name, '-')+1:]]
			if field == "" {
				t.Fatalf("cannot tell the field from the file name")
			}
			err := analysis.Check(obj)
			var e *core.Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v, want a *core.Error", err)
			}
			if e.Pos.Insn != 0 || !strings.Contains(e.Err.Error(), " "+field+" ") {
				t.Errorf("error %q at insn %d; want insn 0 and the field %q named", e.Err, e.Pos.Insn, field)
			}
		})
	}
}

// TestConformancePositive: every case the suite expects to run passes, and
// every program's functions cover its slots.
func TestConformancePositive(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(suiteDir, "tests", "*.data"))
	if err != nil || len(files) < 300 {
		t.Fatalf("%d files under %s/tests (%v)", len(files), suiteDir, err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".data"), func(t *testing.T) {
			obj, ok := loadCase(t, path)
			if !ok {
				t.Fatal("no program in the file")
			}
			if err := analysis.Check(obj); err != nil {
				t.Fatalf("Check: %v", err)
			}
			p := obj.Progs[0]
			if len(p.Funcs) == 0 || p.Funcs[0].Start != 0 || p.Funcs[len(p.Funcs)-1].End != len(p.Insns) {
				t.Errorf("Funcs %+v do not cover %d slots", p.Funcs, len(p.Insns))
			}
		})
	}
}
