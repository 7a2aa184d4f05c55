package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"jitsim/conformance"
	"jitsim/core"
)

// minFuzzBudget keeps room for what generated programs run before their
// loops: a smaller budget would stop programs made to exit.
const minFuzzBudget = 1000

func runFuzz(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fuzz")
	engines := fs.String("engines", "", "engines to compare with the interpreter, comma-separated (default: every available engine)")
	n := fs.Int("n", 1000, "number of programs")
	seed := fs.Uint64("seed", 1, "seed: the same seed makes the same programs")
	first := fs.Uint64("first", 0, "index of the first program (to rerun one: -first I -n 1)")
	tcc := fs.String("tcc", "both", "tail call count scheme: fixed, legacy or both")
	out := fs.String("out", ".", "folder for the reproducer .data files")
	budget := fs.Uint64("budget", core.DefaultBudget, "instruction budget of each run")
	minimize := fs.Bool("minimize", true, "shrink each reproducer while the difference persists")
	renew := fs.Int("renew", 2000, "build the engines afresh every N programs (0: never)")
	format := fs.String("format", "text", "output: text (a line per difference, then the summary), json (an object per difference, then the summary) or junit (JUnit XML; the summary on stderr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *n <= 0 {
		return usageError{"-n must be positive"}
	}
	if *format != "text" && *format != "json" && *format != "junit" {
		return usageError{fmt.Sprintf("-format %q: want text, json or junit", *format)}
	}
	if *renew < 0 {
		return usageError{"-renew must not be negative"}
	}
	if *budget < minFuzzBudget {
		return usageError{fmt.Sprintf("-budget %d is too small for generated programs (at least %d)", *budget, minFuzzBudget)}
	}
	list := *engines
	if list == "" {
		list = strings.Join(conformance.Available(), ",")
	}
	if _, err := conformance.NewEngines(list); err != nil {
		return usageError{err.Error()}
	}
	schemes, err := conformance.ParseSchemes(*tcc)
	if err != nil {
		return usageError{err.Error()}
	}
	return fuzzFormat(conformance.FuzzOptions{
		Schemes: schemes, Seed: *seed, First: *first, N: *n,
		Budget: *budget, Dir: *out, Minimize: *minimize,
	}, func() ([]core.Engine, error) { return conformance.NewEngines(list) }, *renew, stdout, stderr,
		isTerminal(stderr) && os.Getenv("CI") != "true", *format)
}

// isTerminal reports whether w is a character device: progress lines are
// for people watching, not for logs and CI.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// fuzz runs o on engines from newEngines, printing one line per
// difference and a summary on stdout and, when progress is set, a progress
// line on stderr. Every renew programs (0: never) the engines are closed
// and built afresh: the simulator keeps every translation Unicorn made, so
// its memory grows with each new program (about 15 KB per image).
func fuzz(o conformance.FuzzOptions, newEngines func() ([]core.Engine, error), renew int, stdout, stderr io.Writer, progress bool) error {
	return fuzzFormat(o, newEngines, renew, stdout, stderr, progress, "text")
}

// fuzzFormat is fuzz with the output format of -format: text, json (one
// object per difference, then the summary line) or junit (a document with
// a failed testcase per difference, or one passing testcase; the summary
// line goes to stderr).
func fuzzFormat(o conformance.FuzzOptions, newEngines func() ([]core.Engine, error), renew int, stdout, stderr io.Writer, progress bool, format string) error {
	start := time.Now()
	enc := json.NewEncoder(stdout)
	var diffs []timedReport
	var last time.Time
	wipe := func() {
		if progress && !last.IsZero() {
			fmt.Fprint(stderr, "\r\033[K")
		}
	}
	o.OnDiff = func(d conformance.Diff) {
		wipe()
		schemes := make([]string, len(d.Schemes))
		for i, s := range d.Schemes {
			schemes[i] = s.String()
		}
		where := d.File
		if where == "" {
			where = fmt.Sprintf("seed %d program %d", d.Seed, d.Index)
		}
		switch format {
		case "json":
			enc.Encode(struct {
				Seed   uint64   `json:"seed"`
				Index  uint64   `json:"program"`
				Engine string   `json:"engine"`
				TCC    []string `json:"tcc"`
				Reason string   `json:"reason"`
				File   string   `json:"file,omitempty"`
			}{d.Seed, d.Index, d.Engine, schemes, d.Reason, d.File})
		case "junit":
			rep := conformance.Report{File: where, Engine: d.Engine, Reason: d.Reason}
			if len(d.Schemes) > 0 {
				rep.Scheme = d.Schemes[0]
			}
			rep.Reason = fmt.Sprintf("under %s: %s", strings.Join(schemes, ","), d.Reason)
			diffs = append(diffs, timedReport{Report: rep, suite: fmt.Sprintf("fuzz seed %d", d.Seed)})
		default:
			fmt.Fprintf(stdout, "DIFF %s [%s/%s]: %s\n", where, d.Engine, strings.Join(schemes, ","), d.Reason)
		}
	}
	total := o.N
	if renew <= 0 {
		renew = total
	}
	var sum conformance.FuzzStats
	for sum.Programs < total {
		o.N = min(renew, total-sum.Programs)
		done, diffs := sum.Programs, sum.Diffs
		if progress {
			o.Progress = func(n, d int) {
				if now := time.Now(); now.Sub(last) >= 200*time.Millisecond || done+n == total {
					last = now
					rate := float64(done+n) / now.Sub(start).Seconds()
					fmt.Fprintf(stderr, "\r%d/%d programs, %d differences, %.0f programs/s\033[K", done+n, total, diffs+d, rate)
				}
			}
		}
		es, err := newEngines()
		if err != nil {
			return err
		}
		o.Engines = es
		st, err := conformance.Fuzz(o)
		closeEngines(es)
		sum.Programs += st.Programs
		sum.Diffs += st.Diffs
		o.First += uint64(st.Programs)
		if err != nil {
			wipe()
			return err
		}
	}
	wipe()
	summary := fmt.Sprintf("%d programs, %d differences (%.0f programs/s)", sum.Programs, sum.Diffs, float64(sum.Programs)/time.Since(start).Seconds())
	if format == "junit" {
		if len(diffs) == 0 {
			last := o.First - 1
			diffs = append(diffs, timedReport{suite: fmt.Sprintf("fuzz seed %d", o.Seed), Report: conformance.Report{Engine: "fuzz", Pass: true,
				File: fmt.Sprintf("programs %d..%d", last+1-uint64(sum.Programs), last)}})
		}
		if err := writeJUnit(stdout, "jitsim fuzz", diffs, time.Since(start)); err != nil {
			return err
		}
		fmt.Fprintln(stderr, summary)
	} else {
		fmt.Fprintln(stdout, summary)
	}
	if sum.Diffs > 0 {
		return errFailed
	}
	return nil
}

func closeEngines(es []core.Engine) {
	for _, e := range es {
		if c, ok := e.(io.Closer); ok {
			c.Close()
		}
	}
}
