package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"jitsim/conformance"
	"jitsim/conformance/gen"
	"jitsim/core"
	"jitsim/core/interp"
)

// TestFuzzSummary: a clean run prints only the summary line, with the
// throughput, writes no file and exits 0; stderr is no terminal here, so
// no progress line.
func TestFuzzSummary(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := jitsim(t, "fuzz", "-engines", "interp", "-n", "150", "-seed", "3", "-out", dir)
	if ok, _ := regexp.MatchString(`^150 programs, 0 differences \([0-9]+ programs/s\)\n$`, out); code != 0 || !ok || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("%d files written for a clean run", len(files))
	}
}

func TestFuzzUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-n", "0"}, "-n must be positive"},
		{[]string{"-budget", "10"}, "-budget 10 is too small for generated programs (at least 1000)"},
		{[]string{"-tcc", "new"}, `-tcc "new": want fixed, legacy or both`},
		{[]string{"-engines", "interp,sparc"}, `unknown engine "sparc"`},
		{[]string{"x.s"}, `unexpected argument "x.s"`},
		{[]string{"-renew", "-1"}, "-renew must not be negative"},
	} {
		code, out, errOut := jitsim(t, append([]string{"fuzz"}, tc.args...)...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "jitsim fuzz: ") || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.msg)
		}
	}
}

// flipEngine is the interpreter with a planted bug: r0's low bit flips in
// programs holding a 64-bit multiply by a register.
type flipEngine struct{ e *interp.Engine }

func (f flipEngine) Name() string { return "flip" }

func (f flipEngine) Run(obj *core.Object, prog int, in core.Input, opts core.RunOptions) (*core.Result, error) {
	res, err := f.e.Run(obj, prog, in, opts)
	if err == nil && slices.ContainsFunc(obj.Progs[prog].Insns, func(i core.Insn) bool { return i.Op == core.ALU64|core.Mul|core.X }) {
		res.R0 ^= 1
	}
	return res, err
}

// TestFuzzDifference: each difference is one line naming its reproducer,
// the summary counts them, the exit status is 1, and every reproducer is a
// case `jitsim run` and `jitsim conform` take, expecting the interpreter's
// r0.
func TestFuzzDifference(t *testing.T) {
	flip := flipEngine{interp.New()}
	defer flip.e.Close()
	dir := t.TempDir()
	run := func(renew int) (string, int) {
		var o, e bytes.Buffer
		builds := 0
		err := fuzz(conformance.FuzzOptions{
			Schemes: []core.Scheme{core.Fixed, core.Legacy},
			Seed:    9, N: 20, Dir: dir, Minimize: true, Gen: gen.DefaultConfig(),
		}, func() ([]core.Engine, error) { builds++; return []core.Engine{flip}, nil }, renew, &o, &e, false)
		if err != errFailed || e.Len() != 0 {
			t.Fatalf("error %v, stderr %q; want errFailed and nothing on stderr", err, e.String())
		}
		return o.String(), builds
	}
	// Building the engines afresh every 7 programs runs the same programs.
	out, builds := run(0)
	again, rebuilds := run(7)
	if builds != 1 || rebuilds != 3 || strings.SplitAfterN(out, "(", 2)[0] != strings.SplitAfterN(again, "(", 2)[0] {
		t.Fatalf("%d and %d builds; output\n%s\nthen\n%s", builds, rebuilds, out, again)
	}
	o := bytes.NewBufferString(out)
	lines := strings.Split(strings.TrimSuffix(o.String(), "\n"), "\n")
	diffLine := regexp.MustCompile(`^DIFF (\S+) \[flip/fixed,legacy\]: r0 0x[0-9a-f]+, interp 0x[0-9a-f]+$`)
	var files []string
	for _, l := range lines[:len(lines)-1] {
		m := diffLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not a difference line", l)
		}
		files = append(files, m[1])
	}
	summary := regexp.MustCompile(fmt.Sprintf(`^20 programs, %d differences \([0-9]+ programs/s\)$`, len(files)))
	if len(files) < 3 || !summary.MatchString(lines[len(lines)-1]) {
		t.Fatalf("output:\n%s", o.String())
	}
	for _, f := range files {
		if filepath.Dir(f) != dir || !regexp.MustCompile(`^fuzz-9-[0-9]+-flip\.data$`).MatchString(filepath.Base(f)) {
			t.Fatalf("reproducer %s: want fuzz-9-N-flip.data in %s", f, dir)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := conformance.ParseCase(f, data)
		if err != nil || !c.HasResult {
			t.Fatalf("%s: %v\n%s", f, err, data)
		}
		code, out, errOut := jitsim(t, "run", "-engine", "interp", f)
		if want := fmt.Sprintf("r0 = %d (%#x)\n", c.Result, c.Result); code != 0 || out != want {
			t.Fatalf("jitsim run %s: exit %d, %q %q; want %q", f, code, out, errOut, want)
		}
		code, out, _ = jitsim(t, "conform", "-engine", "interp", f)
		if code != 0 || out != "2 passed, 0 failed\n" {
			t.Fatalf("jitsim conform %s: exit %d, %q", f, code, out)
		}
	}
}

// TestFuzzProgress: on a terminal the progress line is rewritten in place
// and wiped before the summary.
func TestFuzzProgress(t *testing.T) {
	var o, e bytes.Buffer
	err := fuzz(conformance.FuzzOptions{Seed: 1, N: 30}, func() ([]core.Engine, error) { return nil, nil }, 12, &o, &e, true)
	if err != nil {
		t.Fatal(err)
	}
	p := e.String()
	if !strings.HasPrefix(p, "\r") || !strings.Contains(p, "30/30 programs, 0 differences, ") || !strings.HasSuffix(p, "\r\033[K") {
		t.Fatalf("progress output %q", p)
	}
	if !strings.HasPrefix(o.String(), "30 programs, 0 differences (") {
		t.Fatalf("stdout %q", o.String())
	}
}
