package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"jitsim/core"
	"jitsim/core/maps"
)

// Step is one line of a "-- runs" section (our extension, for programs
// with maps and tail calls whose selftests run several times and change
// prog array slots and globals between runs): run a program, or change a
// map from outside as user space would, each with what must come out.
type Step struct {
	Line int
	// Scheme restricts the step to one scheme ("fixed:" or "legacy:"
	// before the step).
	Scheme    core.Scheme
	HasScheme bool
	Op        string // "run", "update", "delete", "set"
	Prog      string // run: the program ("" = the first); update: the slot's program
	Map       string
	Key       uint64
	Value     int64 // set
	Checks    []Check
}

// Check is one expectation of a step.
type Check struct {
	// What is "r0", "tail_calls", "error", "errno", or the name of a map
	// whose value is compared (a global variable's map).
	What    string
	Key     uint32 // NAME[KEY]; 0 when not given
	AtLeast bool   // ">=": a lower bound
	Val     uint64
	Text    string // error=TEXT, errno=NAME
	text    string // the check as written, for messages
}

// errnos are the errno names a step may expect.
var errnos = map[string]syscall.Errno{
	"ENOENT": syscall.ENOENT, "EEXIST": syscall.EEXIST, "E2BIG": syscall.E2BIG, "EINVAL": syscall.EINVAL,
}

// parseRuns reads a "-- runs" section.
func parseRuns(file string, body [][]byte, lines []int) ([]Step, error) {
	var steps []Step
	for n, raw := range body {
		line := lines[n]
		errorf := func(format string, args ...any) error {
			return core.Errorf(core.Pos{File: file, Line: line, Insn: -1}, "parse", format, args...)
		}
		if j := bytes.IndexByte(raw, '#'); j >= 0 {
			raw = raw[:j]
		}
		words, err := fields(string(raw))
		if err != nil {
			return nil, errorf("%v", err)
		}
		if len(words) == 0 {
			continue
		}
		st := Step{Line: line}
		if sc, ok := strings.CutSuffix(words[0], ":"); ok {
			s, ok := core.ParseScheme(sc)
			if !ok {
				return nil, errorf("%q: a step may start with fixed: or legacy:", words[0])
			}
			st.Scheme, st.HasScheme = s, true
			words = words[1:]
			if len(words) == 0 {
				return nil, errorf("%s: with no step", sc)
			}
		}
		st.Op = words[0]
		args := words[1:]
		var plain []string // arguments before the checks
		for len(args) > 0 && !strings.ContainsAny(args[0], "=") {
			plain, args = append(plain, args[0]), args[1:]
		}
		want := map[string]int{"run": 1, "update": 3, "delete": 2, "set": 3}
		nargs, ok := want[st.Op]
		if !ok {
			return nil, errorf("unknown step %q (want run, update, delete or set)", st.Op)
		}
		if st.Op == "run" && len(plain) > 1 || st.Op != "run" && len(plain) != nargs {
			return nil, errorf("%s takes %s", st.Op, map[string]string{
				"run": "[PROG] then checks", "update": "MAP KEY PROG", "delete": "MAP KEY", "set": "MAP KEY VALUE",
			}[st.Op])
		}
		switch st.Op {
		case "run":
			if len(plain) == 1 {
				st.Prog = plain[0]
			}
		default:
			st.Map = plain[0]
			if st.Key, err = strconv.ParseUint(plain[1], 0, 32); err != nil {
				return nil, errorf("key %q is not a u32", plain[1])
			}
			switch st.Op {
			case "update":
				st.Prog = plain[2]
			case "set":
				if st.Value, err = parseInt(plain[2]); err != nil {
					return nil, errorf("value %q is not a number", plain[2])
				}
			}
		}
		for _, a := range args {
			c, err := parseCheck(st.Op, a)
			if err != nil {
				return nil, errorf("%v", err)
			}
			st.Checks = append(st.Checks, c)
		}
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return nil, core.Errorf(core.Pos{File: file, Insn: -1}, "parse", "the runs section has no step")
	}
	return steps, nil
}

// fields splits on blanks, keeping "double quoted" text (after a '=')
// whole.
func fields(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		end := strings.IndexAny(s, " \t")
		if q := strings.Index(s, `="`); q >= 0 && (end < 0 || q < end) {
			close := strings.IndexByte(s[q+2:], '"')
			if close < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			end = q + 2 + close + 1
			out = append(out, s[:q+1]+s[q+2:end-1])
			s = s[end:]
			continue
		}
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

func parseInt(s string) (int64, error) {
	if strings.HasPrefix(s, "-") {
		return strconv.ParseInt(s, 0, 64)
	}
	u, err := strconv.ParseUint(s, 0, 64)
	return int64(u), err
}

func parseCheck(op, a string) (Check, error) {
	c := Check{text: a}
	name, val, ok := strings.Cut(a, "=")
	if n, found := strings.CutSuffix(name, ">"); found {
		name, c.AtLeast = n, true
	}
	if !ok || name == "" {
		return c, fmt.Errorf("check %q: want NAME=VALUE or NAME>=VALUE", a)
	}
	if i := strings.IndexByte(name, '['); i >= 0 {
		k, found := strings.CutSuffix(name[i+1:], "]")
		kv, err := strconv.ParseUint(k, 0, 32)
		if !found || err != nil {
			return c, fmt.Errorf("check %q: want NAME[KEY] with a u32 key", a)
		}
		name, c.Key = name[:i], uint32(kv)
	}
	c.What = name
	switch {
	case name == "error" || name == "errno":
		if c.AtLeast {
			return c, fmt.Errorf("check %q: %s takes =", a, name)
		}
		if name == "errno" {
			if _, ok := errnos[val]; !ok {
				return c, fmt.Errorf("check %q: errno is one of ENOENT, EEXIST, E2BIG, EINVAL", a)
			}
		}
		if (name == "error") != (op == "run") {
			return c, fmt.Errorf("check %q: error= goes with run, errno= with update, delete and set", a)
		}
		c.Text = val
		return c, nil
	case op != "run":
		return c, fmt.Errorf("check %q: %s takes only errno=", a, op)
	}
	v, err := parseInt(val)
	if err != nil {
		return c, fmt.Errorf("check %q: %q is not a number", a, val)
	}
	c.Val = uint64(v)
	return c, nil
}

// stepOutcome is what one step left, for comparing engines.
type stepOutcome struct {
	line  int
	r0    uint64
	err   error
	snap  [][]byte
	calls int
}

// runSteps runs a case's steps on one engine under one scheme. Maps start
// from the object's initial contents and keep what each run and step
// leaves, as the selftests' globals do.
func (r *Runner) runSteps(c *Case, obj *core.Object, e core.Engine, scheme core.Scheme, rep *Report) []stepOutcome {
	h, ok := e.(maps.Holder)
	if !ok {
		rep.Reason = fmt.Sprintf("engine %s does not give access to its maps (maps.Holder)", e.Name())
		return nil
	}
	set, err := h.Maps(obj)
	if err != nil {
		rep.Err, rep.Reason = err, "rejected: "+err.Error()
		return nil
	}
	set.Reset()
	var outs []stepOutcome
	for _, st := range c.Runs {
		if st.HasScheme && st.Scheme != scheme {
			continue
		}
		fail := func(format string, args ...any) []stepOutcome {
			rep.Reason = fmt.Sprintf("%s:%d: %s", c.File, st.Line, fmt.Sprintf(format, args...))
			return outs
		}
		if st.Op != "run" {
			if err := mapStep(set, obj, st); err != nil {
				return fail("%v", err)
			}
			outs = append(outs, stepOutcome{line: st.Line, snap: set.Snapshot()})
			continue
		}
		prog := 0
		if st.Prog != "" {
			prog = -1
			for i, p := range obj.Progs {
				if p.Name == st.Prog {
					prog = i
					break
				}
			}
			if prog < 0 {
				return fail("no program %q", st.Prog)
			}
		}
		opts := core.RunOptions{Scheme: scheme, Budget: c.Budget, KeepMaps: true}
		res, err := e.Run(obj, prog, c.Input(), opts)
		// Later steps see the maps the engine holds now (a run may have
		// rebuilt them).
		var merr error
		if set, merr = h.Maps(obj); merr != nil {
			return fail("maps after the run: %v", merr)
		}
		o := stepOutcome{line: st.Line, err: err, snap: set.Snapshot()}
		if res != nil {
			o.r0, o.calls = res.R0, len(res.TailCalls)
			rep.R0, rep.HasR0 = res.R0, true
		}
		rep.Err = err
		outs = append(outs, o)
		wantErr := false
		for _, ck := range st.Checks {
			if ck.What == "error" {
				wantErr = true
				if err == nil {
					return fail("ran without error (r0 = %#x), want an error containing %q", res.R0, ck.Text)
				}
				if !strings.Contains(err.Error(), ck.Text) {
					return fail("error %q does not contain %q", err.Error(), ck.Text)
				}
			}
		}
		if err != nil && !wantErr {
			return fail("error: %v", err)
		}
		for _, ck := range st.Checks {
			var got uint64
			switch ck.What {
			case "error":
				continue
			case "r0", "tail_calls":
				if res == nil {
					return fail("%s: the run failed, there is no result", ck.text)
				}
				got = res.R0
				if ck.What == "tail_calls" {
					got = uint64(len(res.TailCalls))
				}
			default:
				m, ok := set.Lookup(ck.What)
				if !ok {
					return fail("%s: no map %q", ck.text, ck.What)
				}
				v := m.Value(maps.Key(ck.Key))
				if m.Def.KeySize != 4 || v == nil || len(v) > 8 {
					return fail("%s: map %s has no number at key %d", ck.text, ck.What, ck.Key)
				}
				got = leUint(v)
			}
			if ck.AtLeast && got < ck.Val || !ck.AtLeast && got != ck.Val {
				return fail("%s = %d (%#x), want %s", ck.What, got, got, ck.text)
			}
		}
	}
	rep.Pass = true
	return outs
}

func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// mapStep does an update, delete or set step and checks its errno.
func mapStep(set *maps.Set, obj *core.Object, st Step) error {
	m, ok := set.Lookup(st.Map)
	if !ok {
		return fmt.Errorf("no map %q", st.Map)
	}
	var err error
	switch st.Op {
	case "update":
		prog := -1
		for i, p := range obj.Progs {
			if p.Name == st.Prog {
				prog = i
				break
			}
		}
		if prog < 0 {
			return fmt.Errorf("no program %q", st.Prog)
		}
		err = set.SetSlot(m.Index, uint32(st.Key), prog)
	case "delete":
		if m.Def.Type == core.MapProgArray {
			err = set.ClearSlot(m.Index, uint32(st.Key))
		} else {
			err = m.Delete(keyBytes(m, st.Key))
		}
	case "set":
		v := make([]byte, m.Def.ValueSize)
		for i := 0; i < len(v) && i < 8; i++ {
			v[i] = byte(uint64(st.Value) >> (8 * i))
		}
		err = m.Update(keyBytes(m, st.Key), v, 0)
	}
	want := ""
	for _, ck := range st.Checks {
		want = ck.Text
	}
	switch {
	case want == "" && err != nil:
		return fmt.Errorf("%s %s %d: %s", st.Op, st.Map, st.Key, errnoText(err))
	case want != "" && !errors.Is(err, errnos[want]):
		return fmt.Errorf("%s %s %d: %s, want %s", st.Op, st.Map, st.Key, errnoText(err), want)
	}
	return nil
}

// errnoText names an errno as the kernel headers do.
func errnoText(err error) string {
	if err == nil {
		return "no error"
	}
	for name, e := range errnos {
		if errors.Is(err, e) {
			return name + " (" + err.Error() + ")"
		}
	}
	return err.Error()
}

// keyBytes is the map's key for a step's number (little-endian, zero
// padded or cut to the key size).
func keyBytes(m *maps.Map, k uint64) []byte {
	b := make([]byte, m.Def.KeySize)
	for i := 0; i < len(b) && i < 8; i++ {
		b[i] = byte(k >> (8 * i))
	}
	return b
}

// stepsDisagree compares an engine's step outcomes with the interpreter's.
func stepsDisagree(ref, got []stepOutcome) string {
	for i := range min(len(ref), len(got)) {
		a, b := ref[i], got[i]
		if i > 0 && errors.Is(ref[i-1].err, core.ErrBudget) {
			// After a budget stop the engines may have stopped at
			// different points of a run that never ends: what follows
			// compares only with the case's own checks.
			return ""
		}
		if (a.err == nil) != (b.err == nil) ||
			errors.Is(a.err, core.ErrBudget) != errors.Is(b.err, core.ErrBudget) ||
			errors.Is(a.err, core.ErrFault) != errors.Is(b.err, core.ErrFault) {
			return fmt.Sprintf("line %d: interp error %v, engine error %v", a.line, a.err, b.err)
		}
		if a.err == nil && (a.r0 != b.r0 || a.calls != b.calls) {
			return fmt.Sprintf("line %d: r0 %#x and %d tail calls, interp %#x and %d", a.line, b.r0, b.calls, a.r0, a.calls)
		}
		if a.err == nil {
			for m := range min(len(a.snap), len(b.snap)) {
				if !bytes.Equal(a.snap[m], b.snap[m]) {
					return fmt.Sprintf("line %d: map %d differs from interp's", a.line, m)
				}
			}
		}
	}
	return ""
}
