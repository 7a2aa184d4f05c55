package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"jitsim/conformance"
	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/ctx"
	"jitsim/core/load"
	"jitsim/examples"
)

// The story's demo: which programs go in which slots (the story's loader
// fills them from user space; the object has no static .values), and the
// numbers the kernel's rules give (shared/docs/tailcall-hierarchy.md).
var (
	demoSlots = []slotSpec{{"jmp_table", 0, "classifier_01"}, {"jmp_table", 2, "classifier_23"}}
	demoWant  = map[core.Scheme]demoRow{
		core.Legacy: {count0: 33, count1: 33, tailCalls: 66},
		core.Fixed:  {count0: 33, count1: 0, tailCalls: 33},
	}
)

// demoRow is one line of the demo's table.
type demoRow struct {
	engine                 string
	scheme                 core.Scheme
	count0, count1, r0     uint64
	tailCalls              int
	trace                  []core.TailCallEvent
	err                    error
	haveCount0, haveCount1 bool
	insns                  uint64
}

func (r demoRow) same(o demoRow) bool {
	return r.count0 == o.count0 && r.count1 == o.count1 && r.tailCalls == o.tailCalls
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo")
	objPath := fs.String("obj", "", "the demo object to run (default: examples/seed/demo.o as built into jitsim)")
	engines := fs.String("engine", "", "engines, comma-separated (default: every available engine)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	name, data := "examples/seed/demo.o, built in", examples.Demo
	if *objPath != "" {
		b, err := os.ReadFile(*objPath)
		if err != nil {
			return inputError{err}
		}
		name, data = *objPath, b
	}
	list := *engines
	if list == "" {
		list = strings.Join(conformance.Available(), ",")
	}
	es, err := conformance.NewEngines(list)
	if err != nil {
		return usageError{err.Error()}
	}
	defer closeEngines(es)
	obj, err := load.ELF(name, data)
	if err != nil {
		return inputError{err}
	}
	if err := analysis.Check(obj); err != nil {
		return inputError{err}
	}
	if err := fillSlots(obj, demoSlots); err != nil {
		return inputError{fmt.Errorf("%s: %w", name, err)}
	}
	entry, err := findProg(name, obj, "entry")
	if err != nil {
		return inputError{err}
	}
	in, err := ctx.Build(obj.Progs[entry], ctx.PktV4(), ctx.Options{})
	if err != nil {
		return inputError{err}
	}

	var rows []demoRow
	for _, e := range es {
		for _, s := range []core.Scheme{core.Legacy, core.Fixed} {
			r := demoRow{engine: e.Name(), scheme: s}
			res, err := e.Run(obj, entry, in, core.RunOptions{Scheme: s})
			if err == nil {
				var st state
				if st, err = snapshot(e, obj); err == nil {
					r.r0, r.insns, r.tailCalls, r.trace = res.R0, res.Insns, len(res.TailCalls), res.TailCalls
					r.count0, r.haveCount0 = st.global("count0")
					r.count1, r.haveCount1 = st.global("count1")
				}
			}
			r.err = err
			rows = append(rows, r)
		}
	}

	fmt.Fprintf(stdout, "The tailcall hierarchy demo (the story in shared/seed, round 1): %s\n", name)
	fmt.Fprintln(stdout, "  entry calls subprog_tailcall(skb, 0), then subprog_tailcall(skb, 2). jmp_table[0] holds")
	fmt.Fprintln(stdout, "  classifier_01, jmp_table[2] classifier_23: each counts (count0++, count1++) and, through a")
	fmt.Fprintln(stdout, "  subprogram, tail-calls its own slot again (packet byte 0 is 0: the selftests' 54-byte")
	fmt.Fprintln(stdout, "  IPv4/TCP packet). MAX_TAIL_CALL_CNT is 33.")
	fmt.Fprintln(stdout)
	writeDemoTable(stdout, rows)
	fmt.Fprintln(stdout)

	bad := false
	first := map[core.Scheme]demoRow{}
	for _, r := range rows {
		want := demoWant[r.scheme]
		ref, seen := first[r.scheme]
		if !seen && r.err == nil {
			first[r.scheme] = r
		}
		switch {
		case r.err != nil:
			fmt.Fprintf(stdout, "FAIL %s/%s: %v\n", r.engine, r.scheme, r.err)
			bad = true
		case !r.haveCount0 || !r.haveCount1:
			fmt.Fprintf(stdout, "FAIL %s/%s: the object has no count0/count1 globals\n", r.engine, r.scheme)
			bad = true
		case !r.same(want):
			fmt.Fprintf(stdout, "FAIL %s/%s: count0 %d, count1 %d, %d tail calls; the kernel's rules give %d, %d, %d\n",
				r.engine, r.scheme, r.count0, r.count1, r.tailCalls, want.count0, want.count1, want.tailCalls)
			bad = true
		case seen && (r.insns != ref.insns || !slices.Equal(r.trace, ref.trace)):
			fmt.Fprintf(stdout, "FAIL %s/%s: %d instructions and its tail calls differ from %s's (%d)\n", r.engine, r.scheme, r.insns, ref.engine, ref.insns)
			bad = true
		}
	}
	if bad {
		return errFailed
	}
	fmt.Fprintf(stdout, "Every engine agrees: legacy %d + %d, fixed %d + %d.\n\n",
		demoWant[core.Legacy].count0, demoWant[core.Legacy].count1, demoWant[core.Fixed].count0, demoWant[core.Fixed].count1)
	fmt.Fprint(stdout, demoWhy)
	for _, s := range []core.Scheme{core.Legacy, core.Fixed} {
		r := first[s]
		fmt.Fprintf(stdout, "\nThe tail calls under %s, the same on every engine (%d instructions run):\n", s, r.insns)
		writeTrace(stdout, "entry", r.trace)
	}
	return nil
}

func writeDemoTable(w io.Writer, rows []demoRow) {
	const row = "%-7s %-7s %7s %7s %11s %4s\n"
	fmt.Fprintf(w, row, "engine", "scheme", "count0", "count1", "tail calls", "r0")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(w, row, r.engine, r.scheme, "-", "-", "-", "fail")
			continue
		}
		fmt.Fprintf(w, row, r.engine, r.scheme, strconv.FormatUint(r.count0, 10), strconv.FormatUint(r.count1, 10),
			strconv.Itoa(r.tailCalls), strconv.FormatUint(r.r0, 10))
	}
}

const demoWhy = `Why. Each tail call from subprog_tailcall replaces that subprogram's frame with
classifier_01 (slot 0) or classifier_23 (slot 2), which calls subprog_tail_01/23, which
tail-calls the same slot again: each chain stops only when the tail call count says 33.
  legacy (Linux <= 6.10): the count travels by value (x86-64: in rax and a stack slot of each
    frame; arm64: in x26, saved and restored by subprograms). The chain started by the first
    subprog_tailcall counts on a copy; when that call returns, entry's own count is still 0, so
    the second call starts a fresh chain: 33 + 33 tail calls, twice MAX_TAIL_CALL_CNT.
  fixed (Linux >= 6.11, "tailcall hierarchy" fix): entry's frame holds the one count and every
    frame gets a pointer to it (tcc_ptr in rax / x26): the first chain uses up all 33, and the
    second call's tail call finds 33 and fails: 33 + 0.
`
