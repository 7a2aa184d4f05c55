package main

import (
	"fmt"
	"io"

	"jitsim/core"
)

func runDump(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dump")
	stage := fs.String("stage", "xlated", "what to print: xlated (the program as engines run it)")
	opcodes := fs.Bool("opcodes", false, "add each instruction's raw bytes")
	helpers := fs.String("helpers", "kernel", "helper ids of raw and asm files: kernel or conformance")
	progName := fs.String("prog", "", "program to print (default: every program)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("want exactly one FILE, got %d", fs.NArg())}
	}
	if *stage != "xlated" {
		return usageError{fmt.Sprintf("-stage %q: want xlated", *stage)}
	}
	hs, err := parseHelperSet(*helpers)
	if err != nil {
		return err
	}
	l, err := loadFile(fs.Arg(0), hs, *progName)
	if err != nil {
		return err
	}
	progs := l.obj.Progs
	if *progName != "" {
		progs = []*core.Program{progs[l.prog]}
	}
	for i, p := range progs {
		if len(progs) > 1 {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprintf(stdout, "%s:\n", p.Name)
		}
		if err := core.WriteXlated(stdout, l.obj, p, *opcodes); err != nil {
			return err
		}
	}
	return nil
}
