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
	"jitsim/core/load"
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

// loadFile reads FILE by its kind: a clang-built BPF object (ELF magic or
// .o), a conformance .data file, raw little-endian instructions (.bin,
// .raw), or text assembly (anything else). helpers applies to raw files,
// which cannot say which helper ids they mean. The object is verified.
// progName picks the entry program by name, or by ELF section when no
// program has that name.
func loadFile(path string, helpers core.HelperSet, progName string) (*loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, inputError{err}
	}
	l := &loaded{}
	ext := strings.ToLower(filepath.Ext(path))
	if load.IsELF(data) {
		ext = ".o"
	}
	switch ext {
	case ".o":
		if l.obj, err = load.ELF(path, data); err != nil {
			return nil, inputError{err}
		}
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
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		l.obj = &core.Object{File: path, Helpers: helpers,
			Progs: []*core.Program{{Name: name, Insns: insns,
				SlotPos: make([]core.SlotPos, len(insns)), Origins: []core.Origin{{File: path}}}}}
	default:
		if l.obj, err = asm.ParseOpts(data, asm.Options{File: path, Line: 1, Helpers: helpers}); err != nil {
			return nil, inputError{err}
		}
	}
	if err := analysis.Check(l.obj); err != nil {
		return nil, inputError{err}
	}
	if progName != "" {
		if l.prog, err = findProg(path, l.obj, progName); err != nil {
			return nil, inputError{err}
		}
	}
	return l, nil
}

// findProg finds a program by name, else by the section of its first
// instruction (an ELF object's SEC("..."), which must then be unique).
func findProg(path string, obj *core.Object, name string) (int, error) {
	for i, p := range obj.Progs {
		if p.Name == name {
			return i, nil
		}
	}
	found := -1
	var inSection, names []string
	for i, p := range obj.Progs {
		names = append(names, p.Name)
		if len(p.SlotPos) > 0 && p.OriginOf(0).Section == name {
			found = i
			inSection = append(inSection, p.Name)
		}
	}
	switch {
	case len(inSection) == 1:
		return found, nil
	case len(inSection) > 1:
		return -1, fmt.Errorf("%s: section %q holds several programs (%s): name one", path, name, strings.Join(inSection, ", "))
	}
	return -1, fmt.Errorf("%s: no program or section %q (programs: %s)", path, name, strings.Join(names, ", "))
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
