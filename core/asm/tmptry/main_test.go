package asmtry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
)

func section(data, name string) (string, int, bool) {
	lines := strings.Split(data, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "-- "+name {
			var b strings.Builder
			for _, l2 := range lines[i+1:] {
				if strings.HasPrefix(l2, "-- ") {
					break
				}
				b.WriteString(l2 + "\n")
			}
			return b.String(), i + 2, true
		}
	}
	return "", 0, false
}

func TestAll(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/bpf_conformance/tests/*.data")
	neg, _ := filepath.Glob("/work/shared/bpf_conformance/negative/*.data")
	for _, f := range append(files, neg...) {
		b, _ := os.ReadFile(f)
		src, line, ok := section(string(b), "asm")
		if !ok {
			continue
		}
		obj, err := asm.ParseOpts([]byte(src), asm.Options{File: filepath.Base(f), Line: line, Helpers: core.HelpersConformance})
		if err != nil {
			t.Logf("ERR %v", err)
			continue
		}
		if strings.Contains(f, "negative") {
			t.Logf("OK(neg) %s", f)
		}
		_ = obj
	}
}

func TestRT(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/bpf_conformance/tests/*.data")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		src, line, ok := section(string(b), "asm")
		if !ok {
			continue
		}
		obj, err := asm.ParseOpts([]byte(src), asm.Options{File: filepath.Base(f), Line: line, Helpers: core.HelpersConformance})
		if err != nil {
			t.Fatal(err)
		}
		text := asm.Format(obj)
		again, err := asm.Parse("again", []byte(text))
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, text)
		}
		if !slicesEqual(obj.Progs[0].Insns, again.Progs[0].Insns) {
			t.Errorf("%s: differs\n%s", f, text)
		}
		if strings.Contains(f, "lock_") || strings.Contains(f, "call") || strings.Contains(f, "lddw") {
			t.Logf("%s\n%s", f, text)
		}
	}
}

func slicesEqual(a, b []core.Insn) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
