package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoObject = "../../examples/seed/demo.o"

// TestDumpELF: a clang-built object dumps with its C lines, -prog picks a
// program by name or by a section only it has.
func TestDumpELF(t *testing.T) {
	code, out, errOut := jitsim(t, "dump", "-stage", "xlated", "-prog", "entry", demoObject)
	if code != 0 || !strings.Contains(out, "; bpf_tail_call(skb, &jmp_table, index);\n  11: (18) r2 = map[jmp_table]\n") {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	code, _, errOut = jitsim(t, "dump", "-prog", "tc", demoObject)
	if want := `section "tc" holds several programs (classifier_01, classifier_23, entry): name one`; code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr %q, want %q", code, errOut, want)
	}
	code, out, errOut = jitsim(t, "dump", "-prog", "xdp", "../../examples/real/xdp_drop.o")
	if code != 0 || !strings.HasPrefix(out, "xdp_drop_port:\n") {
		t.Fatalf("by section: exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
}

// TestELFByMagic: the ELF magic wins over the extension.
func TestELFByMagic(t *testing.T) {
	data, err := os.ReadFile(demoObject)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "demo.bin")
	if err := os.WriteFile(bin, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := jitsim(t, "dump", "-prog", "classifier_01", bin)
	if code != 0 || !strings.HasPrefix(out, "classifier_01:\n; count0++;\n   0: (18) r2 = map[.bss][0]+0\n") {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
}
