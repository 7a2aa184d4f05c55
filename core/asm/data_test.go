package asm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// suiteDir is the conformance suite's data (see the repo brief).
const suiteDir = "../../../shared/bpf_conformance"

type dataCase struct {
	name string // file base name
	asm  string // the "-- asm" section
	line int    // line number of the section's first line
}

// conformanceCases reads the asm sections of every .data file in dir
// (tests or negative): the text between "-- asm" and the next "-- " line.
func conformanceCases(t testing.TB, dir string) []dataCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(suiteDir, dir, "*.data"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .data files in %s (err %v)", filepath.Join(suiteDir, dir), err)
	}
	var cases []dataCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) != "-- asm" {
				continue
			}
			var sec strings.Builder
			for _, l := range lines[i+1:] {
				if strings.HasPrefix(l, "-- ") {
					break
				}
				sec.WriteString(l)
				sec.WriteByte('\n')
			}
			cases = append(cases, dataCase{name: filepath.Base(f), asm: sec.String(), line: i + 2})
			break
		}
	}
	return cases
}
