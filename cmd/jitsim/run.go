package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"jitsim/conformance"
	"jitsim/core"
	"jitsim/core/ctx"
	"jitsim/core/xlate"
)

// slotFlags collects -set MAP[KEY]=PROG.
type slotFlags []slotSpec

func (s *slotFlags) String() string { return "" }

func (s *slotFlags) Set(v string) error {
	sp, err := parseSlot(v)
	if err != nil {
		return err
	}
	*s = append(*s, sp)
	return nil
}

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run")
	engine := fs.String("engine", "interp", "engine: interp, x86_64 or arm64")
	tcc := fs.String("tcc", "fixed", "tail call count scheme: fixed or legacy")
	memHex := fs.String("mem", "", "raw context memory as hex bytes (r1 points to it, r2 holds its length)")
	pktHex := fs.String("pkt", "", "packet as hex bytes: socket filter and tc programs get a __sk_buff, XDP programs an xdp_md, over it (default for them: the selftests' 54-byte IPv4/TCP packet)")
	pktFile := fs.String("pkt-file", "", "read the packet from a file (raw bytes)")
	ctxFields := fs.String("ctx", "", "context fields as FIELD=VALUE,... (mark, priority, ifindex, ingress_ifindex, cb[0]..cb[4], queue_mapping, tc_index, tc_classid, hash, vlan_tci, vlan_proto, rx_queue_index)")
	var slots slotFlags
	fs.Var(&slots, "set", "fill prog array slot KEY of MAP with program PROG: MAP[KEY]=PROG (repeatable; after the object's static .values)")
	budget := fs.Uint64("budget", core.DefaultBudget, "instruction budget")
	asJSON := fs.Bool("json", false, "print the result as JSON: r0, instructions, globals, maps, context, tail calls")
	trace := fs.Bool("trace", false, "print the tail calls as a tree, nested by call depth")
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
	if *pktHex != "" && *pktFile != "" {
		return usageError{"-pkt and -pkt-file: give one"}
	}
	if *memHex != "" && (*pktHex != "" || *pktFile != "" || *ctxFields != "") {
		return usageError{"-mem is raw context memory; -pkt, -pkt-file and -ctx build a kernel context: give one kind"}
	}
	opts, err := ctx.ParseOptions(*ctxFields)
	if err != nil {
		return usageError{"-ctx: " + err.Error()}
	}
	hs, err := parseHelperSet(*helpers)
	if err != nil {
		return err
	}
	e, err := conformance.NewEngine(*engine)
	if err != nil {
		return usageError{err.Error()}
	}
	defer closeEngines([]core.Engine{e})
	l, err := loadFile(fs.Arg(0), hs, *progName)
	if err != nil {
		return err
	}
	if err := fillSlots(l.obj, slots); err != nil {
		return usageError{"-set " + err.Error()}
	}
	// What the verifier would refuse or jitsim does not model (a context
	// field, a slot's program type) is bad input, not a failed run.
	if _, err := xlate.Object(l.obj); err != nil {
		return inputError{err}
	}
	p := l.obj.Progs[l.prog]
	in := l.input
	switch {
	case *memHex != "":
		if k := ctx.KindOf(p); k != ctx.Raw {
			return usageError{fmt.Sprintf("-mem: program %s gets a %s, not raw memory: give its packet with -pkt", p.Name, k)}
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(*memHex), ""))
		if err != nil {
			return usageError{fmt.Sprintf("-mem: %v", err)}
		}
		in = core.Input{Ctx: b}
	case *pktHex != "" || *pktFile != "" || *ctxFields != "" || ctx.KindOf(p) != ctx.Raw:
		pkt := ctx.PktV4()
		switch {
		case *pktHex != "":
			if pkt, err = hex.DecodeString(strings.Join(strings.Fields(*pktHex), "")); err != nil {
				return usageError{fmt.Sprintf("-pkt: %v", err)}
			}
		case *pktFile != "":
			if pkt, err = os.ReadFile(*pktFile); err != nil {
				return inputError{err}
			}
		case ctx.KindOf(p) == ctx.Raw:
			pkt = in.Ctx // -ctx alone on raw memory: Build says why not
		}
		if in, err = ctx.Build(p, pkt, opts); err != nil {
			return usageError{err.Error()}
		}
	}
	res, err := e.Run(l.obj, l.prog, in, core.RunOptions{Scheme: scheme, Budget: *budget})
	if err != nil {
		fmt.Fprintf(stderr, "jitsim run: %s/%s: %v\n", e.Name(), scheme, err)
		return errFailed
	}
	snap, err := snapshot(e, l.obj)
	if err != nil {
		return err
	}
	if *asJSON {
		out := runJSON{
			Engine: e.Name(), TCC: scheme.String(), Prog: p.Name,
			R0: res.R0, R0Hex: fmt.Sprintf("%#x", res.R0), Insns: res.Insns,
			Globals: snap.globals, Maps: snap.maps, TailCalls: traceJSON(res.TailCalls),
		}
		if len(in.Packet) > 0 {
			out.Context = ctx.KindOf(p).String()
			out.Packet = hex.EncodeToString(res.Packet)
			out.Fields = map[string]uint64{}
			for _, f := range ctx.Read(p, res.Ctx) {
				out.Fields[f.Name] = f.Value
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "r0 = %d (%#x)\n", res.R0, res.R0)
	for _, g := range snap.globals {
		fmt.Fprintf(stdout, "%s = %s\n", g.Name, g.text())
	}
	if *trace {
		writeTrace(stdout, p.Name, res.TailCalls)
	}
	return nil
}

// runJSON is what run -json prints.
type runJSON struct {
	Engine    string            `json:"engine"`
	TCC       string            `json:"tcc"`
	Prog      string            `json:"prog"`
	R0        uint64            `json:"r0"`
	R0Hex     string            `json:"r0_hex"`
	Insns     uint64            `json:"insns"`
	Globals   []globalJSON      `json:"globals"`
	Maps      []mapJSON         `json:"maps"`
	Context   string            `json:"context,omitempty"`
	Fields    map[string]uint64 `json:"ctx,omitempty"`
	Packet    string            `json:"packet,omitempty"`
	TailCalls []tailCallJSON    `json:"tail_calls"`
}
