package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
