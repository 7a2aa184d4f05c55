package main

import (
	"strings"
	"testing"
)

const hierarchy3 = "../../conformance/testdata/tailcall/hierarchy_3.data"

// TestDumpStages: xlated as bpftool shows it (map references, calls of
// bpf_tail_call) with each tail call's kind noted; -addrs as the engines
// run it; input as loaded.
func TestDumpStages(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // lines, in order, each a prefix of its output line
	}{
		{[]string{"-prog", "main"}, []string{
			"   0: (18) r2 = map[jmp_table0]\n",
			"   2: (b7) r3 = 0\n",
			"   3: (85) call bpf_tail_call#12\t# direct: jmp_table0[0]\n",
		}},
		{[]string{"-prog", "classifier_0"}, []string{
			"  19: (85) call bpf_tail_call#12\t# indirect\n",
		}},
		{[]string{"-prog", "classifier_0", "-addrs"}, []string{
			"   1: (18) r1 = 0xffff888120000110 ll\t# map[count][0]+0\n",
			"   7: (18) r2 = 0xffff888110000000 ll\t# map[jmp_table0]\n",
			"  11: (18) r2 = 0xffff888110002000 ll\t# map[jmp_table1]\n",
			"  19: (f5) tail_call\t# indirect\n",
		}},
		{[]string{"-prog", "main", "-stage", "input"}, []string{
			"   0: (18) r2 = map[jmp_table0]\n",
			"   3: (85) call bpf_tail_call#12\n",
		}},
	} {
		code, out, errOut := jitsim(t, append(append([]string{"dump"}, tc.args...), hierarchy3)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", tc.args, code, errOut)
		}
		rest := out
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("%v: no line %q (in order) in:\n%s", tc.args, w, out)
			}
			rest = rest[i+len(w):]
		}
	}
}

// TestDumpAssembles: an -addrs listing is input jitsim reads back.
func TestDumpAssembles(t *testing.T) {
	_, out, _ := jitsim(t, "dump", "-addrs", "-prog", "classifier_0", hierarchy3)
	again := writeFile(t, "c0.s", out)
	code, out2, errOut := jitsim(t, "dump", "-stage", "input", again)
	if code != 0 || !strings.Contains(out2, "  19: (f5) tail_call\n") || !strings.Contains(out2, "   7: (18) r2 = 0xffff888110000000 ll\n") {
		t.Fatalf("exit %d, %s\n%s", code, errOut, out2)
	}
}
