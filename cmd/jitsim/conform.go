package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"jitsim/conformance"
)

func runConform(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("conform")
	engines := fs.String("engine", "", "engines to run, comma-separated (default: every available engine)")
	tcc := fs.String("tcc", "both", "tail call count scheme: fixed, legacy or both")
	asJSON := fs.Bool("json", false, "print one JSON object per case result, then the summary")
	strict := fs.Bool("strict", false, "an expected error's text must appear in the engine's error")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	schemes, err := conformance.ParseSchemes(*tcc)
	if err != nil {
		return usageError{err.Error()}
	}
	files, err := conformance.Files(fs.Args())
	if err != nil {
		return inputError{err}
	}
	r := &conformance.Runner{Engines: es, Schemes: schemes, Strict: *strict}
	var all []conformance.Report
	enc := json.NewEncoder(stdout)
	for _, f := range files {
		reps := r.RunFile(f)
		for _, rep := range reps {
			switch {
			case *asJSON:
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
			case rep.Skipped != "":
				fmt.Fprintf(stdout, "SKIP %s [%s/%s]: %s\n", rep.File, rep.Engine, rep.Scheme, rep.Skipped)
			case !rep.Pass:
				fmt.Fprintf(stdout, "FAIL %s [%s/%s]: %s\n", rep.File, rep.Engine, rep.Scheme, rep.Reason)
			}
		}
		all = append(all, reps...)
	}
	passed, failed, skipped := conformance.Tally(all)
	summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	fmt.Fprintln(stdout, summary)
	if failed > 0 {
		return errFailed
	}
	return nil
}
