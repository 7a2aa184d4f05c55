package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"jitsim/core"
	"jitsim/core/maps"
	"jitsim/core/xlate"
)

func runDump(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dump")
	stage := fs.String("stage", "xlated", "what to print: xlated (after the verifier's rewrites, as bpftool shows it), input (as loaded) or jited (the machine code an engine runs; see -arch)")
	addrs := fs.Bool("addrs", false, "xlated: show map references as the guest addresses engines run with, tail calls as tail_call")
	opcodes := fs.Bool("opcodes", false, "add each instruction's raw bytes")
	helpers := fs.String("helpers", "kernel", "helper ids of raw and asm files: kernel or conformance")
	progName := fs.String("prog", "", "program to print (default: every program)")
	var jf jitFlags
	jf.add(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("want exactly one FILE, got %d", fs.NArg())}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["arch"] && !set["stage"] {
		*stage = "jited" // -arch alone asks for the machine code
	}
	if *stage != "xlated" && *stage != "input" && *stage != "jited" {
		return usageError{fmt.Sprintf("-stage %q: want xlated, input or jited", *stage)}
	}
	if *stage != "jited" {
		for _, name := range jitFlagNames {
			if set[name] {
				return usageError{fmt.Sprintf("-%s applies to -stage jited", name)}
			}
		}
	}
	hs, err := parseHelperSet(*helpers)
	if err != nil {
		return err
	}
	if *stage == "jited" {
		cfg, err := jf.config(set)
		if err != nil {
			return err
		}
		l, err := loadFile(fs.Arg(0), hs, *progName)
		if err != nil {
			return err
		}
		return dumpJited(stdout, l, *progName != "", cfg, *opcodes)
	}
	l, err := loadFile(fs.Arg(0), hs, *progName)
	if err != nil {
		return err
	}
	obj := l.obj
	var lay *maps.Layout
	if *stage == "xlated" {
		if lay, err = maps.Plan(obj); err == nil {
			obj, err = xlate.ObjectLayout(obj, lay)
		}
		if err != nil {
			return inputError{err}
		}
	}
	progs := obj.Progs
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
		if lay == nil {
			if err := core.WriteXlated(stdout, obj, p, *opcodes); err != nil {
				return err
			}
			continue
		}
		if err := writeNoted(stdout, obj, lay, p, *opcodes, *addrs); err != nil {
			return err
		}
	}
	return nil
}

// writeNoted lists an xlated program: as bpftool shows it (map
// addresses back to map references, tail calls as calls of
// bpf_tail_call), or with addrs as the engines run it. xlate.Note follows
// every tail call (direct or indirect) and, with addrs, every map address,
// as a "#" comment so the listing still assembles.
func writeNoted(w io.Writer, obj *core.Object, lay *maps.Layout, p *core.Program, opcodes, addrs bool) error {
	shown := p
	if !addrs {
		shown = xlate.ForDump(obj, lay, p)
	}
	var buf bytes.Buffer
	if err := core.WriteXlated(&buf, obj, shown, opcodes); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		// Instruction lines start "% 4d: (": the slot index.
		if head, _, ok := strings.Cut(line, ": ("); ok && strings.HasSuffix(line, "\n") {
			if i, err := strconv.Atoi(strings.TrimSpace(head)); err == nil && i >= 0 && i < len(p.Insns) {
				if note := xlate.Note(obj, lay, p, i); note != "" && (addrs || p.Insns[i].Op == core.JMP|core.TailCall) {
					line = strings.TrimSuffix(line, "\n") + "\t# " + note + "\n"
				}
			}
		}
		bw.WriteString(line)
	}
	return bw.Flush()
}
