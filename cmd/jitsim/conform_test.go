package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jitsim/conformance"
	"jitsim/conformance/gen"
	"jitsim/core"
	"jitsim/core/interp"
)

// conformDir writes one passing and one failing case.
func conformDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{
		"ok.data":  "-- asm\nmov %r0, 7\nexit\n-- result\n0x7\n",
		"bad.data": "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestConformFormats: text ends with the exact summary line, json is one
// object per result then the summary, junit is one XML document with a
// testsuite per engine and scheme and a failure element per failed case.
func TestConformFormats(t *testing.T) {
	dir := conformDir(t)
	bad, ok := filepath.Join(dir, "bad.data"), filepath.Join(dir, "ok.data")

	code, out, _ := jitsim(t, "conform", "-engine", "interp", "-tcc", "fixed", dir)
	if want := "FAIL " + bad + " [interp/fixed]: r0 = 0x1, want 0x2\n1 passed, 1 failed\n"; code != 1 || out != want {
		t.Fatalf("text: exit %d, output %q\nwant %q", code, out, want)
	}

	for _, args := range [][]string{{"-format", "json"}, {"-json"}} {
		code, out, _ = jitsim(t, append(append([]string{"conform", "-engine", "interp", "-tcc", "legacy"}, args...), dir)...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 1 || len(lines) != 3 || lines[2] != "1 passed, 1 failed" {
			t.Fatalf("%v: exit %d, output %q", args, code, out)
		}
		var rep struct {
			File, Engine, TCC, Reason string
			Pass                      bool
		}
		if err := json.Unmarshal([]byte(lines[0]), &rep); err != nil || rep.File != bad || rep.Pass || rep.TCC != "legacy" || rep.Reason != "r0 = 0x1, want 0x2" {
			t.Fatalf("%v: %+v, %v", args, rep, err)
		}
	}

	code, out, errOut := jitsim(t, "conform", "-engine", "interp,arm64", "-format", "junit", dir)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				ClassName string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil || code != 1 || !strings.HasPrefix(out, "<?xml") {
		t.Fatalf("junit: exit %d, %v:\n%s", code, err, out)
	}
	if errOut != "4 passed, 4 failed\n" || doc.Tests != 8 || doc.Failures != 4 || len(doc.Suites) != 4 {
		t.Fatalf("junit: stderr %q, %d tests, %d failures, %d suites", errOut, doc.Tests, doc.Failures, len(doc.Suites))
	}
	var names []string
	for _, s := range doc.Suites {
		names = append(names, s.Name)
		if s.Tests != 2 || s.Failures != 1 || len(s.Cases) != 2 {
			t.Fatalf("suite %+v", s)
		}
		for _, c := range s.Cases {
			if (c.Failure != nil) != (c.Name == bad) || (c.Name != bad && c.Name != ok) || c.ClassName != strings.ReplaceAll(s.Name, "/", ".") {
				t.Fatalf("case %+v in %s", c, s.Name)
			}
			if c.Failure != nil && c.Failure.Message != "r0 = 0x1, want 0x2" {
				t.Fatalf("failure message %q", c.Failure.Message)
			}
		}
	}
	if strings.Join(names, " ") != "interp/fixed arm64/fixed interp/legacy arm64/legacy" {
		t.Fatalf("suites %v", names)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "xml", dir}, `-format "xml": want text, json or junit`},
		{[]string{"-json", "-format", "junit", dir}, "-json and -format junit: give one"},
	} {
		code, _, errOut := jitsim(t, append([]string{"conform"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
	}
}

// TestConformProgress: a progress line only on a terminal (a character
// device) outside CI; never on a pipe or buffer.
func TestConformProgress(t *testing.T) {
	dir := conformDir(t)
	_, _, errOut := jitsim(t, "conform", "-engine", "interp", dir)
	if errOut != "" {
		t.Fatalf("stderr is a buffer, yet: %q", errOut)
	}
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0) // a character device, as a terminal is
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	t.Setenv("CI", "")
	if !newProgress(tty, 3).on {
		t.Fatal("no progress on a character device")
	}
	t.Setenv("CI", "true")
	if newProgress(tty, 3).on {
		t.Fatal("progress in CI")
	}
	var b bytes.Buffer
	p := &progress{w: &b, on: true, total: 3}
	p.show(0, "a.data")
	p.show(1, "b.data") // within 100 ms of the last: not redrawn
	p.wipe()
	p.wipe()
	if b.String() != "\r[1/3] a.data\033[K\r\033[K" {
		t.Fatalf("progress output %q", b.String())
	}
}

// TestFuzzFormats: -format json gives an object per difference, then the
// summary; junit a failed testcase per difference (the summary on
// stderr), or one passing testcase for a clean run.
func TestFuzzFormats(t *testing.T) {
	flip := flipEngine{interp.New()}
	defer flip.e.Close()
	run := func(format string, engines []core.Engine) (string, string, error) {
		var o, e bytes.Buffer
		err := fuzzFormat(conformance.FuzzOptions{
			Schemes: []core.Scheme{core.Fixed, core.Legacy}, Seed: 9, N: 20, Gen: gen.DefaultConfig(),
		}, func() ([]core.Engine, error) { return engines, nil }, 0, &o, &e, false, format)
		return o.String(), e.String(), err
	}
	text, _, err := run("text", []core.Engine{flip})
	diffs := strings.Count(text, "DIFF ")
	if err != errFailed || diffs == 0 {
		t.Fatalf("text: %v, %q", err, text)
	}

	out, _, err := run("json", []core.Engine{flip})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if err != errFailed || len(lines) != diffs+1 || !strings.HasPrefix(lines[diffs], fmt.Sprintf("20 programs, %d differences (", diffs)) {
		t.Fatalf("json: %v, %q", err, out)
	}
	var d struct {
		Seed, Program uint64
		Engine        string
		TCC           []string
		Reason        string
	}
	if err := json.Unmarshal([]byte(lines[0]), &d); err != nil || d.Seed != 9 || d.Engine != "flip" || strings.Join(d.TCC, ",") != "fixed,legacy" || !strings.HasPrefix(d.Reason, "r0 0x") {
		t.Fatalf("json line %q: %+v, %v", lines[0], d, err)
	}

	out, errOut, err := run("junit", []core.Engine{flip})
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if xerr := xml.Unmarshal([]byte(out), &doc); xerr != nil || err != errFailed || doc.Tests != diffs || doc.Failures != diffs ||
		len(doc.Suites) != 1 || doc.Suites[0].Name != "fuzz seed 9" || !strings.HasPrefix(errOut, fmt.Sprintf("20 programs, %d differences", diffs)) {
		t.Fatalf("junit: %v %v, stderr %q, %+v:\n%s", err, xerr, errOut, doc, out)
	}
	out, _, err = run("junit", nil)
	if err != nil || !strings.Contains(out, `<testcase name="programs 0..19" classname="fuzz.fixed"`) || !strings.Contains(out, `failures="0"`) {
		t.Fatalf("clean junit: %v:\n%s", err, out)
	}
	if code, _, errOut := jitsim(t, "fuzz", "-format", "yaml"); code != 2 || !strings.Contains(errOut, `-format "yaml": want text, json or junit`) {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}
