package load_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/load"
)

var update = flag.Bool("update", false, "rewrite testdata/fuzz/FuzzELF from the checked-in objects")

// FuzzELF feeds bytes through cilium/ebpf and the conversion: no panic, and
// an error or an object, never both. An object must be self-consistent
// (a position per slot, map references in range, ld_imm64 never cut off)
// and must survive the verifier-lite, which may reject it but not crash.
// load.ELF turns a panic (in cilium/ebpf or the conversion) into an error
// so the CLI never crashes; here such an input is a finding all the same.
//
// The seeds are 10-50 KB objects, so run it without minimisation, which
// would otherwise spend a minute on every new input:
//
//	go test -run '^$' -fuzz FuzzELF -fuzzminimizetime 0s ./core/load/
func FuzzELF(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := load.ELF("fuzz.o", data)
		if err != nil {
			if obj != nil {
				t.Fatalf("object and error %v", err)
			}
			if strings.Contains(err.Error(), "panic while loading") {
				t.Fatalf("recovered panic: %v", err)
			}
			if e, ok := errors.AsType[*core.Error](err); !ok || e.Pos.File != "fuzz.o" || e.Op != "load" {
				t.Fatalf("error without file and stage: %T %v", err, err)
			}
			return
		}
		if obj == nil {
			t.Fatal("no object and no error")
		}
		for _, p := range obj.Progs {
			if len(p.SlotPos) != len(p.Insns) || len(p.Insns) == 0 {
				t.Fatalf("%s: %d slots, %d positions", p.Name, len(p.Insns), len(p.SlotPos))
			}
			for i, ins := range p.Insns {
				if ins.IsLdImm64() && i+1 == len(p.Insns) {
					t.Fatalf("%s: ld_imm64 cut off at slot %d", p.Name, i)
				}
				if ins.IsLdImm64() && (ins.Src == core.PseudoMapFD || ins.Src == core.PseudoMapValue) && int(ins.Imm) >= len(obj.Maps) {
					t.Fatalf("%s slot %d: map %d of %d", p.Name, i, ins.Imm, len(obj.Maps))
				}
			}
		}
		_ = analysis.Check(obj)
	})
}

// TestFuzzSeeds keeps FuzzELF's seed corpus equal to the checked-in
// objects but the benchmark's (go test -run TestFuzzSeeds -update rewrites
// it).
func TestFuzzSeeds(t *testing.T) {
	objs, _ := filepath.Glob(filepath.Join(examplesDir, "*", "*.o"))
	more, _ := filepath.Glob("testdata/*.o")
	dir := filepath.Join("testdata", "fuzz", "FuzzELF")
	want := map[string]bool{}
	for _, o := range append(objs, more...) {
		if o == "testdata/big.o" {
			continue // half a megabyte: for the benchmark, too slow to mutate
		}
		rel := strings.TrimPrefix(filepath.ToSlash(o), examplesDir+"/")
		name := strings.NewReplacer("/", "_", ".o", "").Replace(rel)
		want[name] = true
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(readObject(t, o))))
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(seed), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != seed {
			t.Errorf("seed %s is missing or stale (go test -run TestFuzzSeeds -update): %v", path, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !want[e.Name()] && !*update {
			t.Errorf("seed %s has no object", e.Name())
		}
	}
}
