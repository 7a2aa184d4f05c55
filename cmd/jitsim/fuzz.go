package main

import (
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *n <= 0 {
		return usageError{"-n must be positive"}
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
	return fuzz(conformance.FuzzOptions{
		Schemes: schemes, Seed: *seed, First: *first, N: *n,
		Budget: *budget, Dir: *out, Minimize: *minimize,
	}, func() ([]core.Engine, error) { return conformance.NewEngines(list) }, *renew, stdout, stderr, isTerminal(stderr))
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
	start := time.Now()
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
		fmt.Fprintf(stdout, "DIFF %s [%s/%s]: %s\n", where, d.Engine, strings.Join(schemes, ","), d.Reason)
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
	fmt.Fprintf(stdout, "%d programs, %d differences (%.0f programs/s)\n", sum.Programs, sum.Diffs, float64(sum.Programs)/time.Since(start).Seconds())
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
