package main

import (
	"strings"
	"testing"
)

// TestDemo: the main command's table. The expected numbers are the
// kernel's rules worked by hand (shared/docs/tailcall-hierarchy.md, the
// story's "count0 is 33. And count1 is 33, too"): legacy 33 + 33 = 66 tail
// calls, fixed 33 + 0; entry returns 0 either way.
func TestDemo(t *testing.T) {
	code, out, errOut := jitsim(t, "demo")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	table := []string{
		"engine  scheme   count0  count1  tail calls   r0",
		"interp  legacy       33      33          66    0",
		"interp  fixed        33       0          33    0",
		"x86_64  legacy       33      33          66    0",
		"x86_64  fixed        33       0          33    0",
		"arm64   legacy       33      33          66    0",
		"arm64   fixed        33       0          33    0",
		"",
		"Every engine agrees: legacy 33 + 33, fixed 33 + 0.",
	}
	if !strings.Contains(out, "\n\n"+strings.Join(table, "\n")+"\n") {
		t.Fatalf("no table\n%s\nin:\n%s", strings.Join(table, "\n"), out)
	}
	// The trace summary: one indirect tail call from the subprogram
	// entry calls (depth 1), then 32 direct ones, each from one frame
	// deeper; twice under legacy, once under fixed.
	legacy := "The tail calls under legacy, the same on every engine (1208 instructions run):\ntail calls: 66\nentry\n" +
		"   └─ entry -> classifier_01  slot 0, indirect, depth 1, count 0 -> 1\n" +
		"      └─ classifier_01 -> classifier_01  slot 0, direct, depth 2..33, count 1 -> 33  (32 calls)\n" +
		"   └─ entry -> classifier_23  slot 2, indirect, depth 1, count 0 -> 1\n" +
		"      └─ classifier_23 -> classifier_23  slot 2, direct, depth 2..33, count 1 -> 33  (32 calls)\n"
	fixed := "The tail calls under fixed, the same on every engine (615 instructions run):\ntail calls: 33\nentry\n" +
		"   └─ entry -> classifier_01  slot 0, indirect, depth 1, count 0 -> 1\n" +
		"      └─ classifier_01 -> classifier_01  slot 0, direct, depth 2..33, count 1 -> 33  (32 calls)\n"
	if !strings.Contains(out, legacy) || !strings.HasSuffix(out, fixed) {
		t.Fatalf("trace summaries missing:\n%s", out)
	}
}

// TestDemoObjAndEngines: -obj runs a given object (the checked-in one,
// as run.sh passes a fresh build), -engine picks the rows.
func TestDemoObjAndEngines(t *testing.T) {
	code, out, errOut := jitsim(t, "demo", "-engine", "arm64", "-obj", demoObject)
	want := "engine  scheme   count0  count1  tail calls   r0\n" +
		"arm64   legacy       33      33          66    0\n" +
		"arm64   fixed        33       0          33    0\n"
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "round 1): ../../examples/seed/demo.o\n") {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "-obj", "/nonexistent/demo.o"}, 2, "jitsim demo: open /nonexistent/demo.o: no such file or directory"},
		{[]string{"demo", "-obj", "../../examples/real/counter.o"}, 2, `jitsim demo: ../../examples/real/counter.o: jmp_table[0]: no prog_array "jmp_table" (the object has none)`},
		{[]string{"demo", "-engine", "mips"}, 2, `unknown engine "mips"`},
		{[]string{"demo", "extra"}, 2, `unexpected argument "extra"`},
	} {
		code, _, errOut := jitsim(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
