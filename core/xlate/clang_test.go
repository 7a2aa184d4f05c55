package xlate_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/load"
	"jitsim/core/xlate"
)

// TestClangObjects: the kernel selftests' programs as clang builds them
// (examples/tailcall), each tail call site direct ("d") or indirect ("i")
// as the kernel's verifier decides (kernel-notes/selftests.md: constant map
// and key below max_entries: direct; key from memory (tailcall4, 6), a
// different constant per path (tailcall5), a key past max_entries
// (bpf2bpf2's key 1, bpf2bpf3's key 10), a map passed as an argument
// (hierarchy3's subprog_tail): indirect).
func TestClangObjects(t *testing.T) {
	want := map[string]map[string]string{
		"tailcall1":                   {"entry": "dddddddddddd"},
		"tailcall2":                   {"entry": "ddd", "classifier_0": "d", "classifier_1": "d", "classifier_3": "d", "classifier_4": "d"},
		"tailcall3":                   {"entry": "d", "classifier_0": "d"},
		"tailcall4":                   {"entry": "i"},
		"tailcall5":                   {"entry": "i"},
		"tailcall6":                   {"entry": "i", "classifier_0": "i"},
		"tailcall_bpf2bpf1":           {"entry": "dd"},
		"tailcall_bpf2bpf2":           {"entry": "d", "classifier_0": "id"},
		"tailcall_bpf2bpf3":           {"entry": "d", "classifier_0": "id"},
		"tailcall_bpf2bpf4":           {"entry": "d", "classifier_0": "d", "classifier_1": "d", "classifier_2": "d"},
		"tailcall_bpf2bpf6":           {"entry": "d"},
		"tailcall_bpf2bpf_hierarchy1": {"entry": "d"},
		"tailcall_bpf2bpf_hierarchy2": {"tailcall_bpf2bpf_hierarchy_2": "dd", "classifier_0": "d", "classifier_1": "d"},
		"tailcall_bpf2bpf_hierarchy3": {"tailcall_bpf2bpf_hierarchy_3": "d", "classifier_0": "i"},
		"tailcall_jit":                {"main": "d"},
	}
	for name, progs := range want {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("../../examples/tailcall", name+".o")
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := load.ELF(file, data)
			if err != nil {
				t.Fatal(err)
			}
			x, err := xlate.Object(obj)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range x.Progs {
				var b strings.Builder
				for i, ins := range p.Insns {
					if ins.IsHelperCall() && ins.Imm == 12 {
						t.Fatalf("%s: slot %d not rewritten", p.Name, i)
					}
					if ins.Op != core.JMP|core.TailCall {
						continue
					}
					if _, ok := xlate.IsDirect(p, i); ok {
						b.WriteByte('d')
					} else {
						b.WriteByte('i')
					}
				}
				if b.Len() > 0 {
					got[p.Name] = b.String()
				}
			}
			for p, w := range progs {
				if got[p] != w {
					t.Errorf("%s: sites %q, want %q", p, got[p], w)
				}
			}
			keys := func(m map[string]string) []string {
				var k []string
				for n := range m {
					k = append(k, n)
				}
				slices.Sort(k)
				return k
			}
			if !slices.Equal(keys(got), keys(progs)) {
				t.Errorf("programs with tail calls %v, want %v", keys(got), keys(progs))
			}
		})
	}
}
