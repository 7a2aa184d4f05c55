package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"jitsim/conformance"
	"jitsim/core"
)

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run")
	engine := fs.String("engine", "interp", "engine: interp, x86_64 or arm64")
	tcc := fs.String("tcc", "fixed", "tail call count scheme: fixed or legacy")
	memHex := fs.String("mem", "", "context memory as hex bytes (r1 points to it, r2 holds its length)")
	budget := fs.Uint64("budget", core.DefaultBudget, "instruction budget")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	helpers := fs.String("helpers", "kernel", "helper ids of raw and asm files: kernel or conformance")
	progName := fs.String("prog", "", "entry program (default: the first)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("want exactly one FILE, got %d", fs.NArg())}
	}
	scheme, ok := core.ParseScheme(*tcc)
	if !ok {
		return usageError{fmt.Sprintf("-tcc %q: want fixed or legacy", *tcc)}
	}
	if *budget == 0 {
		return usageError{"-budget must be positive"}
	}
	hs, err := parseHelperSet(*helpers)
	if err != nil {
		return err
	}
	e, err := conformance.NewEngine(*engine)
	if err != nil {
		return usageError{err.Error()}
	}
	l, err := loadFile(fs.Arg(0), hs, *progName)
	if err != nil {
		return err
	}
	in := l.input
	if *memHex != "" {
		b, err := hex.DecodeString(strings.Join(strings.Fields(*memHex), ""))
		if err != nil {
			return usageError{fmt.Sprintf("-mem: %v", err)}
		}
		in = core.Input{Ctx: b}
	}
	res, err := e.Run(l.obj, l.prog, in, core.RunOptions{Scheme: scheme, Budget: *budget})
	if err != nil {
		fmt.Fprintf(stderr, "jitsim run: %s/%s: %v\n", e.Name(), scheme, err)
		return errFailed
	}
	if *asJSON {
		out := struct {
			Engine    string               `json:"engine"`
			TCC       string               `json:"tcc"`
			Prog      string               `json:"prog"`
			R0        uint64               `json:"r0"`
			R0Hex     string               `json:"r0_hex"`
			Insns     uint64               `json:"insns"`
			TailCalls []core.TailCallEvent `json:"tail_calls"`
		}{e.Name(), scheme.String(), l.obj.Progs[l.prog].Name, res.R0, fmt.Sprintf("%#x", res.R0), res.Insns, res.TailCalls}
		if out.TailCalls == nil {
			out.TailCalls = []core.TailCallEvent{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "r0 = %d (%#x)\n", res.R0, res.R0)
	return nil
}
