package main

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"jitsim/conformance"
)

func runConform(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("conform")
	engines := fs.String("engine", "", "engines to run, comma-separated (default: every available engine)")
	tcc := fs.String("tcc", "both", "tail call count scheme: fixed, legacy or both")
	format := fs.String("format", "text", "output: text (failures, then the summary), json (one object per result, then the summary) or junit (JUnit XML)")
	asJSON := fs.Bool("json", false, "the same as -format json")
	strict := fs.Bool("strict", false, "an expected error's text must appear in the engine's error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *asJSON {
		if set := givenFlags(fs); set["format"] && *format != "json" {
			return usageError{fmt.Sprintf("-json and -format %s: give one", *format)}
		}
		*format = "json"
	}
	if *format != "text" && *format != "json" && *format != "junit" {
		return usageError{fmt.Sprintf("-format %q: want text, json or junit", *format)}
	}
	if fs.NArg() == 0 {
		return usageError{"no PATH given"}
	}
	list := *engines
	if list == "" {
		list = strings.Join(conformance.Available(), ",")
	}
	es, err := conformance.NewEngines(list)
	if err != nil {
		return usageError{err.Error()}
	}
	defer closeEngines(es)
	schemes, err := conformance.ParseSchemes(*tcc)
	if err != nil {
		return usageError{err.Error()}
	}
	files, err := conformance.Files(fs.Args())
	if err != nil {
		return inputError{err}
	}
	r := &conformance.Runner{Engines: es, Schemes: schemes, Strict: *strict}
	prog := newProgress(stderr, len(files))
	var all []timedReport
	enc := json.NewEncoder(stdout)
	start := time.Now()
	for i, f := range files {
		prog.show(i, f)
		t0 := time.Now()
		reps := r.RunFile(f)
		each := time.Since(t0) / time.Duration(max(len(reps), 1))
		for _, rep := range reps {
			all = append(all, timedReport{Report: rep, time: each})
			switch {
			case *format == "json":
				prog.wipe()
				out := struct {
					File    string  `json:"file"`
					Engine  string  `json:"engine"`
					TCC     string  `json:"tcc"`
					Pass    bool    `json:"pass"`
					Skipped string  `json:"skipped,omitempty"`
					Reason  string  `json:"reason,omitempty"`
					R0      *uint64 `json:"r0,omitempty"`
				}{rep.File, rep.Engine, rep.Scheme.String(), rep.Pass, rep.Skipped, rep.Reason, nil}
				if rep.HasR0 {
					out.R0 = &rep.R0
				}
				if err := enc.Encode(out); err != nil {
					return err
				}
			case *format == "junit":
			case rep.Skipped != "":
				prog.wipe()
				fmt.Fprintf(stdout, "SKIP %s [%s/%s]: %s\n", rep.File, rep.Engine, rep.Scheme, rep.Skipped)
			case !rep.Pass:
				prog.wipe()
				fmt.Fprintf(stdout, "FAIL %s [%s/%s]: %s\n", rep.File, rep.Engine, rep.Scheme, rep.Reason)
			}
		}
	}
	prog.wipe()
	reps := make([]conformance.Report, len(all))
	for i, t := range all {
		reps[i] = t.Report
	}
	passed, failed, skipped := conformance.Tally(reps)
	summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	if *format == "junit" {
		if err := writeJUnit(stdout, "jitsim conform", all, time.Since(start)); err != nil {
			return err
		}
		fmt.Fprintln(stderr, summary) // stdout is the XML document only
	} else {
		fmt.Fprintln(stdout, summary)
	}
	if failed > 0 {
		return errFailed
	}
	return nil
}

// givenFlags names the flags given on the command line.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

type timedReport struct {
	conformance.Report
	time time.Duration
	// suite names the report's testsuite in JUnit output (default:
	// engine/scheme).
	suite string
}

// progress is a line on stderr, rewritten in place, for people watching a
// long run on a terminal; nothing when stderr is a file or a pipe, or in
// CI (CI=true), where it would only clutter the log.
type progress struct {
	w     io.Writer
	on    bool
	total int
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, on: isTerminal(w) && os.Getenv("CI") != "true"}
}

func (p *progress) show(i int, what string) {
	if !p.on {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.shown = true
		fmt.Fprintf(p.w, "\r[%d/%d] %s\033[K", i+1, p.total, what)
	}
}

// wipe clears the progress line before other output.
func (p *progress) wipe() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
		p.last = time.Time{}
	}
}

// JUnit XML as CI systems read it (Jenkins, GitLab, GitHub actions):
// one testsuite per engine and scheme, one testcase per file.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes reps as one testsuite per engine/scheme, in the order
// they first appear.
func writeJUnit(w io.Writer, name string, reps []timedReport, total time.Duration) error {
	doc := junitSuites{Name: name, Time: seconds(total)}
	index := map[string]int{}
	var times []time.Duration
	for _, r := range reps {
		key := r.suite
		if key == "" {
			key = r.Engine + "/" + r.Scheme.String()
		}
		k, ok := index[key]
		if !ok {
			k = len(doc.Suites)
			index[key] = k
			doc.Suites = append(doc.Suites, junitSuite{Name: key})
			times = append(times, 0)
		}
		s := &doc.Suites[k]
		c := junitCase{Name: r.File, ClassName: r.Engine + "." + r.Scheme.String(), Time: seconds(r.time)}
		switch {
		case r.Skipped != "":
			c.Skipped = &junitMessage{Message: r.Skipped}
			s.Skipped++
		case !r.Pass:
			c.Failure = &junitMessage{Message: firstLine(r.Reason), Text: r.Reason}
			s.Failures++
		}
		s.Tests++
		times[k] += r.time
		s.Cases = append(s.Cases, c)
	}
	for k := range doc.Suites {
		s := &doc.Suites[k]
		s.Time = seconds(times[k])
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
