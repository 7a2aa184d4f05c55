package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"jitsim/conformance"
	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
)

// loaded is a program ready to run: the object, its entry program and the
// input a file may carry (a .data file's mem section).
type loaded struct {
	obj   *core.Object
	prog  int
	input core.Input
	// hasInput: the file itself supplied the input.
	hasInput bool
}

// loadFile reads FILE by its kind: a conformance .data file, raw
// little-endian instructions (.bin, .raw), or text assembly (anything
// else). helpers applies to raw files, which cannot say which helper ids
// they mean. The object is verified.
func loadFile(path string, helpers core.HelperSet, progName string) (*loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, inputError{err}
	}
	l := &loaded{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".data":
		c, err := conformance.ParseCase(path, data)
		if err != nil {
			return nil, inputError{err}
		}
		if l.obj, err = c.Load(); err != nil {
			return nil, inputError{err}
		}
		l.input, l.hasInput = c.Input(), c.HasMem
	case ".bin", ".raw":
		insns, err := core.DecodeRaw(path, data)
		if err != nil {
			return nil, inputError{err}
		}
		pos := make([]core.Pos, len(insns))
		for i := range pos {
			pos[i] = core.Pos{File: path, Insn: i}
		}
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		l.obj = &core.Object{File: path, Helpers: helpers,
			Progs: []*core.Program{{Name: name, Insns: insns, Pos: pos}}}
	default:
		if l.obj, err = asm.ParseOpts(data, asm.Options{File: path, Line: 1, Helpers: helpers}); err != nil {
			return nil, inputError{err}
		}
	}
	if err := analysis.Check(l.obj); err != nil {
		return nil, inputError{err}
	}
	if progName != "" {
		l.prog = -1
		for i, p := range l.obj.Progs {
			if p.Name == progName {
				l.prog = i
			}
		}
		if l.prog < 0 {
			var names []string
			for _, p := range l.obj.Progs {
				names = append(names, p.Name)
			}
			return nil, inputError{fmt.Errorf("%s: no program %q (programs: %s)", path, progName, strings.Join(names, ", "))}
		}
	}
	return l, nil
}

func parseHelperSet(s string) (core.HelperSet, error) {
	switch s {
	case "kernel":
		return core.HelpersKernel, nil
	case "conformance":
		return core.HelpersConformance, nil
	}
	return 0, usageError{fmt.Sprintf("-helpers %q: want kernel or conformance", s)}
}
