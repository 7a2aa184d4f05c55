// Package conformance runs the public eBPF conformance suite's .data files,
// and our own cases in the same format, on every engine and tail call
// count scheme, comparing r0 (or the expected rejection) exactly.
package conformance

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"jitsim/core"
	"jitsim/core/asm"
)

// Case is one .data file (format: shared/bpf_conformance/README.md).
type Case struct {
	File string
	// Asm is the "-- asm" section and AsmLine the file line of its first
	// line, so assembler errors name the .data file's own lines.
	Asm     []byte
	AsmLine int
	HasAsm  bool
	// Raw is the "-- raw" section decoded from hex; rawLines gives the
	// file line of each byte, so errors name the line of an instruction.
	Raw      []byte
	rawLines []int
	HasRaw   bool
	// Mem is the memory r1 points to (HasMem false: r1 = r2 = 0).
	Mem    []byte
	HasMem bool
	// Result is the expected r0.
	Result    uint64
	HasResult bool
	// Error is set when the program must be rejected (or fail to run);
	// ErrorText is the section's text: the other runtime's wording, which
	// we match only for our own cases (Strict).
	Error     bool
	ErrorText string
	// Budget overrides the run's instruction budget (our extension:
	// "-- budget N"), for cases about budget exhaustion.
	Budget uint64
	// Scheme restricts the case to one tail call count scheme (our
	// extension: "-- tcc fixed|legacy").
	Scheme    core.Scheme
	HasScheme bool
	// Runs is the "-- runs" section (our extension): several runs and map
	// changes, each with its checks (runs.go). It replaces result and
	// error.
	Runs []Step
}

// section names this runner knows. "c" and "no register offset" carry text
// for people; every engine here has register-offset calls, so nothing is
// skipped for the latter.
var knownSections = map[string]bool{
	"asm": true, "raw": true, "mem": true, "result": true, "error": true,
	"c": true, "no register offset": true, "budget": true, "tcc": true,
	"runs": true,
}

// ParseCase reads a .data file. Errors name the file and line.
func ParseCase(file string, data []byte) (*Case, error) {
	c := &Case{File: file}
	type section struct {
		name  string
		line  int // line of the first body line
		body  [][]byte
		lines []int
	}
	var secs []*section
	var cur *section
	for n, line := range bytes.Split(data, []byte("\n")) {
		lineNo := n + 1
		line = bytes.TrimRight(line, "\r")
		if name, ok := bytes.CutPrefix(line, []byte("-- ")); ok {
			cur = &section{name: strings.TrimSpace(string(name)), line: lineNo + 1}
			if !knownSections[cur.name] {
				return nil, core.Errorf(core.Pos{File: file, Line: lineNo, Insn: -1}, "parse", "unknown section %q", cur.name)
			}
			for _, s := range secs {
				if s.name == cur.name {
					return nil, core.Errorf(core.Pos{File: file, Line: lineNo, Insn: -1}, "parse", "section %q appears twice", cur.name)
				}
			}
			secs = append(secs, cur)
			continue
		}
		if cur == nil {
			if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
				return nil, core.Errorf(core.Pos{File: file, Line: lineNo, Insn: -1}, "parse", "text before the first section: %q", t)
			}
			continue
		}
		cur.body = append(cur.body, line)
		cur.lines = append(cur.lines, lineNo)
	}
	for _, s := range secs {
		pos := core.Pos{File: file, Line: s.line - 1, Insn: -1}
		switch s.name {
		case "asm":
			c.Asm, c.AsmLine, c.HasAsm = bytes.Join(s.body, []byte("\n")), s.line, true
		case "raw":
			b, byteLines, err := decodeHexLines(file, s.body, s.lines)
			if err != nil {
				return nil, err
			}
			c.Raw, c.rawLines, c.HasRaw = b, byteLines, true
		case "mem":
			b, _, err := decodeHexLines(file, s.body, s.lines)
			if err != nil {
				return nil, err
			}
			c.Mem, c.HasMem = b, len(b) > 0
		case "result":
			text := firstText(s.body)
			v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(text), "0x"), 16, 64)
			if err != nil || text == "" {
				return nil, core.Errorf(pos, "parse", "result %q is not a hex number", text)
			}
			c.Result, c.HasResult = v, true
		case "error":
			c.Error, c.ErrorText = true, firstText(s.body)
		case "budget":
			text := firstText(s.body)
			v, err := strconv.ParseUint(text, 0, 64)
			if err != nil || v == 0 {
				return nil, core.Errorf(pos, "parse", "budget %q is not a positive number", text)
			}
			c.Budget = v
		case "runs":
			steps, err := parseRuns(file, s.body, s.lines)
			if err != nil {
				return nil, err
			}
			c.Runs = steps
		case "tcc":
			text := firstText(s.body)
			sc, ok := core.ParseScheme(text)
			if !ok {
				return nil, core.Errorf(pos, "parse", "tcc %q: want fixed or legacy", text)
			}
			c.Scheme, c.HasScheme = sc, true
		}
	}
	pos := core.Pos{File: file, Insn: -1}
	switch {
	case !c.HasAsm && !c.HasRaw:
		return nil, core.Errorf(pos, "parse", "no program: the file has neither an asm nor a raw section")
	case c.Runs != nil && (c.HasResult || c.Error):
		return nil, core.Errorf(pos, "parse", "a runs section carries its own checks: no result or error section with it")
	case !c.HasResult && !c.Error && c.Runs == nil:
		return nil, core.Errorf(pos, "parse", "no expectation: the file has neither a result, an error nor a runs section")
	case c.HasResult && c.Error:
		return nil, core.Errorf(pos, "parse", "both a result and an error section")
	}
	return c, nil
}

// firstText returns the first line of a section that is not blank or a
// comment.
func firstText(body [][]byte) string {
	for _, l := range body {
		if t := strings.TrimSpace(string(l)); t != "" && t[0] != '#' {
			return t
		}
	}
	return ""
}

// decodeHexLines reads whitespace-separated hex bytes ("04 10 00 00"),
// with # comments, and the line each byte came from.
func decodeHexLines(file string, body [][]byte, lines []int) ([]byte, []int, error) {
	var out []byte
	var outLines []int
	for i, l := range body {
		if j := bytes.IndexByte(l, '#'); j >= 0 {
			l = l[:j]
		}
		for _, f := range bytes.Fields(l) {
			if w, ok := bytes.CutPrefix(f, []byte("0x")); ok {
				// A whole instruction as a 64-bit number (lddw.data): the
				// slot's bytes are its little-endian encoding.
				v, err := strconv.ParseUint(string(w), 16, 64)
				if err != nil || len(w) != 16 {
					return nil, nil, core.Errorf(core.Pos{File: file, Line: lines[i], Insn: -1}, "parse", "%q is not a 64-bit instruction word", f)
				}
				out = binary.LittleEndian.AppendUint64(out, v)
				for range 8 {
					outLines = append(outLines, lines[i])
				}
				continue
			}
			var b [64]byte
			if len(f)%2 != 0 || len(f) > 2*len(b) {
				return nil, nil, core.Errorf(core.Pos{File: file, Line: lines[i], Insn: -1}, "parse", "%q is not hex bytes", f)
			}
			n, err := hex.Decode(b[:], f)
			if err != nil {
				return nil, nil, core.Errorf(core.Pos{File: file, Line: lines[i], Insn: -1}, "parse", "%q is not hex bytes", f)
			}
			out = append(out, b[:n]...)
			for range n {
				outLines = append(outLines, lines[i])
			}
		}
	}
	return out, outLines, nil
}

// Load assembles or decodes the case's program into an object using the
// conformance suite's helper ids. A file with both an asm and a raw section
// (lddw.data) runs the asm, which must assemble to exactly the raw bytes.
func (c *Case) Load() (*core.Object, error) {
	if c.HasAsm {
		obj, err := asm.ParseOpts(c.Asm, asm.Options{File: c.File, Line: c.AsmLine, Helpers: core.HelpersConformance})
		if err == nil && c.HasRaw {
			err = c.checkRaw(obj)
		}
		return obj, err
	}
	insns, err := core.DecodeRaw(c.File, c.Raw)
	if err != nil {
		return nil, err
	}
	pos := make([]core.SlotPos, len(insns))
	for i := range pos {
		pos[i] = core.SlotPos{Line: int32(c.rawLines[i*core.InsnSize])}
	}
	p := &core.Program{Name: "prog", Insns: insns, SlotPos: pos, Origins: []core.Origin{{File: c.File}}}
	return &core.Object{File: c.File, Progs: []*core.Program{p}, Helpers: core.HelpersConformance}, nil
}

// Input is the run input the case describes.
func (c *Case) Input() core.Input {
	if !c.HasMem {
		return core.Input{}
	}
	return core.Input{Ctx: c.Mem}
}

func (c *Case) String() string { return fmt.Sprintf("case %s", c.File) }

// checkRaw compares the assembled program with the raw section.
func (c *Case) checkRaw(obj *core.Object) error {
	var got []core.Insn
	for _, p := range obj.Progs {
		got = append(got, p.Insns...)
	}
	want, err := core.DecodeRaw(c.File, c.Raw)
	if err != nil {
		return err
	}
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			pos := core.Pos{File: c.File, Insn: i}
			if i*core.InsnSize < len(c.rawLines) {
				pos.Line = c.rawLines[i*core.InsnSize]
			}
			return core.Errorf(pos, "parse", "the asm section assembles to %d slots that differ from the raw section's %d at slot %d", len(got), len(want), i)
		}
	}
	return nil
}
