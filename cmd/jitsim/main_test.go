package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jitsim/conformance"
)

func jitsim(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformSummary(t *testing.T) {
	dir := "../../../shared/bpf_conformance/tests"
	files, err := conformance.Files([]string{dir})
	if err != nil || len(files) == 0 {
		t.Fatalf("suite files: %d, %v", len(files), err)
	}
	code, out, _ := jitsim(t, "conform", "-engine", "interp", "-tcc", "both", dir)
	if want := fmt.Sprintf("%d passed, 0 failed", 2*len(files)); code != 0 || out != want+"\n" {
		t.Fatalf("exit %d, output %q, want only %q", code, out, want)
	}
}

func TestConformFailure(t *testing.T) {
	bad := writeFile(t, "bad.data", "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
	code, out, _ := jitsim(t, "conform", "-engine", "interp", "-tcc", "fixed", bad)
	want := "FAIL " + bad + " [interp/fixed]: r0 = 0x1, want 0x2\n0 passed, 1 failed\n"
	if code != 1 || out != want {
		t.Fatalf("exit %d, output %q, want %q", code, out, want)
	}
}

func TestConformJSON(t *testing.T) {
	ok := writeFile(t, "ok.data", "-- asm\nmov %r0, 7\nexit\n-- result\n0x7\n")
	code, out, _ := jitsim(t, "conform", "-engine", "interp", "-tcc", "legacy", "-json", ok)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || lines[1] != "1 passed, 0 failed" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	var rep struct {
		File, Engine, TCC string
		Pass              bool
		R0                uint64
	}
	if err := json.Unmarshal([]byte(lines[0]), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Engine != "interp" || rep.TCC != "legacy" || !rep.Pass || rep.R0 != 7 || rep.File != ok {
		t.Fatalf("report %+v", rep)
	}
}

func TestRun(t *testing.T) {
	prog := writeFile(t, "p.s", "r0 = *(u8 *)(r1 + 1)\nr0 += r2\nexit\n")
	code, out, _ := jitsim(t, "run", "-mem", "05 06 07", prog)
	if code != 0 || out != "r0 = 9 (0x9)\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	code, out, _ = jitsim(t, "run", "-json", "-mem", "0506", prog)
	var res struct {
		Engine, TCC string
		R0          uint64
		Insns       uint64
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %q", code, err, out)
	}
	if res.Engine != "interp" || res.TCC != "fixed" || res.R0 != 8 || res.Insns != 3 {
		t.Fatalf("result %+v", res)
	}
}

func TestRunDataFileUsesItsMem(t *testing.T) {
	code, out, _ := jitsim(t, "run", "../../../shared/bpf_conformance/tests/mem-len.data")
	if code != 0 || out != "r0 = 8 (0x8)\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestRunBudget(t *testing.T) {
	loop := writeFile(t, "loop.s", "r0 = 0\nr0 += 1\ngoto -2\n")
	code, out, errOut := jitsim(t, "run", "-budget", "100", loop)
	if code != 1 || out != "" || !strings.Contains(errOut, "instruction budget exhausted") || !strings.Contains(errOut, "loop.s:") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	prog := writeFile(t, "p.s", "r0 = 0\nexit\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-bogus", prog}, "jitsim run: flag provided but not defined: -bogus"},
		{[]string{"run", "-engine", "mips", prog}, `jitsim run: unknown engine "mips"`},
		{[]string{"run", "-tcc", "sometimes", prog}, `jitsim run: -tcc "sometimes": want fixed or legacy`},
		{[]string{"run", "/nonexistent/x.s"}, "jitsim run: open /nonexistent/x.s: no such file or directory"},
		{[]string{"run"}, "jitsim run: want exactly one FILE, got 0"},
		{[]string{"conform", "-tcc", "x", prog}, `jitsim conform: -tcc "x": want fixed, legacy or both`},
		{[]string{"conform"}, "jitsim conform: no PATH given"},
		{[]string{"dump", "-stage", "bogus", prog}, `jitsim dump: -stage "bogus"`},
		{[]string{"frobnicate"}, `jitsim: unknown command "frobnicate"`},
	} {
		code, _, errOut := jitsim(t, tc.args...)
		if code != 2 || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and one line starting %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestBadInputNamesThePlace(t *testing.T) {
	prog := writeFile(t, "bad.s", "r0 = 1\nr0 = *(u32 *)(r11 + 0)\nexit\n")
	code, _, errOut := jitsim(t, "run", prog)
	if code != 2 || !strings.Contains(errOut, "bad.s:2:") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestDumpXlated(t *testing.T) {
	prog := writeFile(t, "p.s", "r0 = 1\nr1 = 0x1122334455667788 ll\nif r0 > 5 goto +1\nr0 += 2\nexit\n")
	code, out, _ := jitsim(t, "dump", "-stage", "xlated", prog)
	want := "   0: (b7) r0 = 1\n" +
		"   1: (18) r1 = 0x1122334455667788 ll\n" +
		"   3: (25) if r0 > 0x5 goto pc+1\n" +
		"   4: (07) r0 += 2\n" +
		"   5: (95) exit\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
}
