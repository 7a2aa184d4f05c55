package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"jitsim/core"
	"jitsim/core/analysis"
)

// Report is the outcome of one case on one engine under one scheme.
type Report struct {
	File   string
	Engine string
	Scheme core.Scheme
	Pass   bool
	// Skipped says why the case did not run (Pass is then false).
	Skipped string
	// Reason explains a failure, or what rejected a case that expected an
	// error.
	Reason string
	R0     uint64
	HasR0  bool
	Err    error
}

// Runner runs cases on engines. The interpreter, when listed, is also the
// reference: every other engine must agree with it on r0 and the context
// memory after the run, not only on the case's expected value.
type Runner struct {
	Engines []core.Engine
	Schemes []core.Scheme
	// Strict makes an expected error's text part of the expectation: the
	// engine's error must contain it. Our own cases are strict; the shared
	// suite's error texts are another runtime's wording.
	Strict bool
}

// Run runs one case on every engine and scheme.
func (r *Runner) Run(c *Case) []Report {
	var reports []Report
	obj, loadErr := c.Load()
	if loadErr == nil {
		loadErr = analysis.Check(obj)
	}
	for _, scheme := range r.Schemes {
		if c.HasScheme && c.Scheme != scheme {
			continue
		}
		var ref *core.Result
		var refErr error
		haveRef := false
		var refSteps []stepOutcome
		for _, e := range r.Engines {
			rep := Report{File: c.File, Engine: e.Name(), Scheme: scheme}
			if loadErr != nil {
				rep.Err = loadErr
				r.judgeError(c, &rep, loadErr)
				if c.Runs != nil {
					rep.Reason = "rejected: " + loadErr.Error()
				}
				reports = append(reports, rep)
				continue
			}
			if c.Runs != nil {
				outs := r.runSteps(c, obj, e, scheme, &rep)
				if e.Name() == "interp" {
					refSteps, haveRef = outs, true
				} else if haveRef && rep.Pass {
					if msg := stepsDisagree(refSteps, outs); msg != "" {
						rep.Pass, rep.Reason = false, "differs from interp: "+msg
					}
				}
				reports = append(reports, rep)
				continue
			}
			opts := core.RunOptions{Scheme: scheme, Budget: c.Budget}
			res, err := e.Run(obj, 0, c.Input(), opts)
			rep.Err = err
			if err == nil {
				rep.R0, rep.HasR0 = res.R0, true
			}
			switch {
			case c.Error:
				r.judgeError(c, &rep, err)
			case err != nil:
				rep.Reason = "error: " + err.Error()
			case res.R0 != c.Result:
				rep.Reason = fmt.Sprintf("r0 = %#x, want %#x", res.R0, c.Result)
			default:
				rep.Pass = true
			}
			if e.Name() == "interp" {
				ref, refErr, haveRef = res, err, true
			} else if haveRef && rep.Pass {
				if msg := disagree(ref, refErr, res, err); msg != "" {
					rep.Pass, rep.Reason = false, "differs from interp: "+msg
				}
			}
			reports = append(reports, rep)
		}
	}
	return reports
}

func (r *Runner) judgeError(c *Case, rep *Report, err error) {
	switch {
	case err == nil:
		rep.Reason = "ran without error, want a rejection"
		if rep.HasR0 {
			rep.Reason = fmt.Sprintf("ran without error (r0 = %#x), want a rejection", rep.R0)
		}
	case !c.Error:
		rep.Reason = "rejected: " + err.Error()
	case r.Strict && c.ErrorText != "" && !strings.Contains(err.Error(), c.ErrorText):
		rep.Reason = fmt.Sprintf("error %q does not contain %q", err.Error(), c.ErrorText)
	default:
		rep.Pass, rep.Reason = true, err.Error()
	}
}

// disagree compares an engine's run with the interpreter's.
func disagree(ref *core.Result, refErr error, res *core.Result, err error) string {
	if (refErr == nil) != (err == nil) {
		return fmt.Sprintf("interp error %v, engine error %v", refErr, err)
	}
	if err != nil {
		if errors.Is(refErr, core.ErrBudget) != errors.Is(err, core.ErrBudget) ||
			errors.Is(refErr, core.ErrFault) != errors.Is(err, core.ErrFault) {
			return fmt.Sprintf("interp error %v, engine error %v", refErr, err)
		}
		return ""
	}
	if ref.R0 != res.R0 {
		return fmt.Sprintf("r0 %#x, interp %#x", res.R0, ref.R0)
	}
	if !bytes.Equal(ref.Ctx, res.Ctx) {
		return "memory after the run differs"
	}
	return ""
}

// RunFile parses and runs one .data file. A file that cannot be read or
// parsed as a case is a failure on every engine and scheme: without its
// expectation nothing can pass.
func (r *Runner) RunFile(path string) []Report {
	data, err := os.ReadFile(path)
	if err == nil {
		var c *Case
		c, err = ParseCase(path, data)
		if err == nil {
			return r.Run(c)
		}
	}
	var reps []Report
	for _, s := range r.Schemes {
		for _, e := range r.Engines {
			reps = append(reps, Report{File: path, Engine: e.Name(), Scheme: s, Err: err, Reason: err.Error()})
		}
	}
	return reps
}

// Files expands paths into .data files: a folder gives every .data file
// below it, in lexical order.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".data") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .data files", p)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

// Tally counts reports.
func Tally(reps []Report) (passed, failed, skipped int) {
	for _, r := range reps {
		switch {
		case r.Skipped != "":
			skipped++
		case r.Pass:
			passed++
		default:
			failed++
		}
	}
	return
}
