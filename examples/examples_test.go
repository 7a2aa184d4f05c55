package examples_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"jitsim/conformance"
	"jitsim/core"
	"jitsim/core/analysis"
	"jitsim/core/asm"
	"jitsim/core/ctx"
	"jitsim/core/load"
	"jitsim/core/maps"
)

// Every example object runs on every engine under both tail call count
// schemes, with the numbers the kernel gives: its selftests'
// (tools/testing/selftests/bpf/prog_tests/tailcalls.c, summarised in
// shared/docs/kernel-notes/selftests.md), the story's, or worked by hand
// from the C source and the kernel's rules (BPF_PROG_TEST_RUN's contexts,
// shared/docs/tailcall-hierarchy.md for the schemes). Every engine must
// also match the interpreter's run exactly: r0, instructions, tail calls
// and every map's bytes after each run.

// build holds the objects the tests run: fresh builds from the C sources
// when clang-19 and libbpf's headers are installed, else the checked-in
// ones.
var build struct {
	once  sync.Once
	dir   string // where fresh objects are, "" when not built
	clang string
	err   error
}

// sources lists the example C files, relative to examples/.
func sources(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"seed", "tailcall", "real"} {
		m, err := filepath.Glob(filepath.Join(sub, "*.c"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	// README.md lists them: the demo, 15 tail call selftests, 3 real-world
	// shapes. A new one needs a scenario below.
	if len(out) != 19 {
		t.Fatalf("found %d example sources, want 19: %v", len(out), out)
	}
	return out
}

func buildAll(t *testing.T) {
	build.once.Do(func() {
		clang, err := exec.LookPath("clang-19")
		if err != nil {
			return
		}
		if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
			return
		}
		root, err := filepath.Abs("..")
		if err != nil {
			build.err = err
			return
		}
		dir, err := os.MkdirTemp("", "jitsim-examples-")
		if err != nil {
			build.err = err
			return
		}
		machine, err := exec.Command("uname", "-m").Output()
		if err != nil {
			build.err = err
			return
		}
		build.dir, build.clang = dir, clang
		for _, src := range sources(t) {
			out := filepath.Join(dir, strings.TrimSuffix(src, ".c")+".o")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				build.err = err
				return
			}
			// examples/build.sh's flags, from the project root.
			cmd := exec.Command(clang, "-target", "bpf", "-O2", "-g", "-fdebug-prefix-map="+root+"=.",
				"-I/usr/include/"+strings.TrimSpace(string(machine))+"-linux-gnu", "-c", filepath.Join("examples", src), "-o", out)
			cmd.Dir = root
			if msg, err := cmd.CombinedOutput(); err != nil {
				build.err = fmt.Errorf("%s: %v\n%s", src, err, msg)
				return
			}
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
}

// object loads example rel ("seed/demo.o") afresh: built from its C
// source by this test when clang-19 is here, else the checked-in object.
func object(t *testing.T, rel string) *core.Object {
	t.Helper()
	buildAll(t)
	path := rel
	if build.dir != "" {
		path = filepath.Join(build.dir, rel)
	}
	return loadObject(t, path, rel)
}

// loadObject loads and verifies the object at path, naming it rel.
func loadObject(tb testing.TB, path, rel string) *core.Object {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := load.ELF(rel, data)
	if err != nil {
		tb.Fatal(err)
	}
	if err := analysis.Check(obj); err != nil {
		tb.Fatal(err)
	}
	return obj
}

// TestObjectsUpToDate: the checked-in objects hold the programs their C
// sources build to (names, types, every instruction, maps and globals).
// Without clang-19 each source still needs a checked-in object that loads.
func TestObjectsUpToDate(t *testing.T) {
	buildAll(t)
	for _, src := range sources(t) {
		rel := strings.TrimSuffix(src, ".c") + ".o"
		data, err := os.ReadFile(rel)
		if err != nil {
			t.Errorf("%s has no checked-in object: %v", src, err)
			continue
		}
		in, err := load.ELF(rel, data)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if build.dir == "" {
			continue
		}
		fresh := object(t, rel)
		if got, want := describe(fresh), describe(in); got != want {
			t.Errorf("%s: a fresh build with %s differs from the checked-in object (rebuild with examples/build.sh):\nfresh:\n%s\nchecked in:\n%s", rel, build.clang, got, want)
		}
	}
	if build.dir == "" {
		t.Log("clang-19 or libbpf-dev missing: the checked-in objects were loaded, not rebuilt")
	}
}

// describe is what must not differ between two builds of an object.
func describe(obj *core.Object) string {
	var b strings.Builder
	for _, p := range obj.Progs {
		fmt.Fprintf(&b, "prog %s type %d\n", p.Name, p.Type)
		for i, ins := range p.Insns {
			fmt.Fprintf(&b, "  %d: %v\n", i, ins)
		}
	}
	for _, m := range obj.Maps {
		fmt.Fprintf(&b, "map %s %v %d/%d/%d %s %v %v\n", m.Name, m.Type, m.KeySize, m.ValueSize, m.MaxEntries, m.Section, m.Vars, m.Progs)
		for _, e := range m.Entries {
			fmt.Fprintf(&b, "  %x: %x\n", e.Key, e.Value)
		}
	}
	return b.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	for _, e := range engines.list {
		if c, ok := e.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	os.Exit(code)
}

// engines are built once for every test here and reused, as the CLI does.
var engines struct {
	once sync.Once
	list []core.Engine
	err  error
}

func allEngines(t testing.TB) []core.Engine {
	engines.once.Do(func() {
		engines.list, engines.err = conformance.NewEngines(strings.Join(conformance.Available(), ","))
	})
	if engines.err != nil {
		t.Fatal(engines.err)
	}
	if len(engines.list) != 3 || engines.list[0].Name() != "interp" {
		t.Fatalf("engines %v: want interp, x86_64 and arm64", conformance.Available())
	}
	return engines.list
}

// step is what one run left: compared between engines.
type step struct {
	r0, insns uint64
	trace     []core.TailCallEvent
	errText   string
	maps      [][]byte
}

// h runs one scenario on one engine under one scheme.
type h struct {
	t      *testing.T
	e      core.Engine
	scheme core.Scheme
	obj    *core.Object
	set    *maps.Set
	pkt    []byte
	res    *core.Result
	err    error
	what   string  // the last run, for messages
	steps  []step  // this engine's runs
	ref    *[]step // the interpreter's runs of the same scenario and scheme
}

// run runs prog on the scenario's packet; maps keep what earlier runs and
// steps left (the selftests' globals accumulate).
func (x *h) run(prog string) *h {
	x.t.Helper()
	pi := -1
	for i, p := range x.obj.Progs {
		if p.Name == prog {
			pi = i
		}
	}
	if pi < 0 {
		x.t.Fatalf("no program %s", prog)
	}
	in, err := ctx.Build(x.obj.Progs[pi], x.pkt, ctx.Options{})
	if err != nil {
		x.t.Fatal(err)
	}
	x.what = fmt.Sprintf("run %d of %s", len(x.steps)+1, prog)
	x.res, x.err = x.e.Run(x.obj, pi, in, core.RunOptions{Scheme: x.scheme, KeepMaps: true})
	s := step{maps: x.set.Snapshot()}
	if x.err != nil {
		s.errText = x.err.Error()
	} else {
		s.r0, s.insns, s.trace = x.res.R0, x.res.Insns, x.res.TailCalls
	}
	x.steps = append(x.steps, s)
	if x.e.Name() == "interp" {
		*x.ref = append(*x.ref, s)
	} else if k := len(x.steps) - 1; k >= len(*x.ref) {
		x.t.Errorf("%s: the interpreter made no run %d", x.what, k+1)
	} else if r := (*x.ref)[k]; s.r0 != r.r0 || s.insns != r.insns || !slices.Equal(s.trace, r.trace) || !slices.EqualFunc(s.maps, r.maps, slices.Equal) || (s.errText == "") != (r.errText == "") {
		x.t.Errorf("%s differs from the interpreter's: r0 %d/%d, insns %d/%d, %d/%d tail calls, maps equal %v, error %q/%q",
			x.what, s.r0, r.r0, s.insns, r.insns, len(s.trace), len(r.trace), slices.EqualFunc(s.maps, r.maps, slices.Equal), s.errText, r.errText)
	}
	return x
}

func (x *h) ok() bool {
	x.t.Helper()
	if x.err != nil {
		x.t.Errorf("%s: %v", x.what, x.err)
		return false
	}
	return true
}

func (x *h) r0(want uint64) *h {
	x.t.Helper()
	if x.ok() && x.res.R0 != want {
		x.t.Errorf("%s: r0 = %d (%#x), want %d (%#x)", x.what, x.res.R0, x.res.R0, want, want)
	}
	return x
}

func (x *h) tailCalls(want int) *h {
	x.t.Helper()
	if x.ok() && len(x.res.TailCalls) != want {
		x.t.Errorf("%s: %d tail calls, want %d", x.what, len(x.res.TailCalls), want)
	}
	return x
}

// budget: the run ended on the instruction budget.
func (x *h) budget() *h {
	x.t.Helper()
	if !errors.Is(x.err, core.ErrBudget) {
		x.t.Errorf("%s: err = %v, want the instruction budget exhausted", x.what, x.err)
	}
	return x
}

// globalAt finds C global name: its bytes in its data map's value.
func (x *h) globalAt(name string) []byte {
	x.t.Helper()
	for i, m := range x.obj.Maps {
		for _, v := range m.Vars {
			if v.Name == name {
				val := x.set.Map(i).Value(maps.Key(0))
				return val[v.Offset : v.Offset+v.Size]
			}
		}
	}
	x.t.Fatalf("no global %s", name)
	return nil
}

func (x *h) global(name string, want uint64) *h {
	x.t.Helper()
	b := x.globalAt(name)
	if got := leUint(b); got != want {
		x.t.Errorf("%s: %s = %d, want %d", x.what, name, got, want)
	}
	return x
}

func (x *h) globalAtLeast(name string, min uint64) *h {
	x.t.Helper()
	if got := leUint(x.globalAt(name)); got < min {
		x.t.Errorf("%s: %s = %d, want at least %d", x.what, name, got, min)
	}
	return x
}

func (x *h) setGlobal(name string, v uint64) {
	x.t.Helper()
	b := x.globalAt(name)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
}

func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (x *h) mapIndex(name string) int {
	x.t.Helper()
	for i, m := range x.obj.Maps {
		if m.Name == name {
			return i
		}
	}
	x.t.Fatalf("no map %s", name)
	return -1
}

// deleteSlot and setSlot change a prog array from user space between runs.
func (x *h) deleteSlot(m string, k uint32) {
	x.t.Helper()
	if err := x.set.ClearSlot(x.mapIndex(m), k); err != nil {
		x.t.Fatalf("delete %s[%d]: %v", m, k, err)
	}
}

func (x *h) setSlot(m string, k uint32, prog string) {
	x.t.Helper()
	for i, p := range x.obj.Progs {
		if p.Name == prog {
			if err := x.set.SetSlot(x.mapIndex(m), k, i); err != nil {
				x.t.Fatalf("update %s[%d] = %s: %v", m, k, prog, err)
			}
			return
		}
	}
	x.t.Fatalf("no program %s", prog)
}

// scenario is one example object and what its runs must give.
type scenario struct {
	name, obj string
	pkt       []byte // nil: the selftests' 54-byte pkt_v4
	// prepare changes the object before any engine loads it (libbpf's
	// skeleton writing .rodata before the load).
	prepare func(t *testing.T, obj *core.Object)
	steps   func(x *h)
}

// zero128 is the selftests' buff[128] context.
var zero128 = make([]byte, 128)

func runScenarios(t *testing.T, list []scenario) {
	es := allEngines(t)
	for _, sc := range list {
		t.Run(sc.name, func(t *testing.T) {
			refs := map[core.Scheme]*[]step{core.Fixed: {}, core.Legacy: {}}
			for _, e := range es {
				for _, s := range []core.Scheme{core.Fixed, core.Legacy} {
					t.Run(e.Name()+"/"+s.String(), func(t *testing.T) {
						obj := object(t, sc.obj) // a fresh object: maps start from the initial contents
						if sc.prepare != nil {
							sc.prepare(t, obj)
						}
						hold, ok := e.(maps.Holder)
						if !ok {
							t.Fatalf("%s keeps no maps", e.Name())
						}
						set, err := hold.Maps(obj)
						if err != nil {
							t.Fatal(err)
						}
						pkt := sc.pkt
						if pkt == nil {
							pkt = ctx.PktV4()
						}
						sc.steps(&h{t: t, e: e, scheme: s, obj: obj, set: set, pkt: pkt, ref: refs[s]})
					})
				}
			}
		})
	}
}

// TestSeedDemo: the story's demo. Its loader fills slot 0 with
// classifier_01 and slot 2 with classifier_23; packet byte 0 is 0. Story:
// "count0 is 33. And count1 is 33, too" (legacy); fixed: 33 and 0.
func TestSeedDemo(t *testing.T) {
	runScenarios(t, []scenario{{name: "demo", obj: "seed/demo.o", steps: func(x *h) {
		x.setSlot("jmp_table", 0, "classifier_01")
		x.setSlot("jmp_table", 2, "classifier_23")
		if x.scheme == core.Legacy {
			x.run("entry").r0(0).global("count0", 33).global("count1", 33).tailCalls(66)
		} else {
			x.run("entry").r0(0).global("count0", 33).global("count1", 0).tailCalls(33)
		}
	}}})
}

// TestTailcallSelftests: prog_tests/tailcalls.c's subtests, run by run,
// on the objects standing for progs/tailcall*.c (kernel-notes/selftests.md;
// the legacy numbers worked by hand in conformance/testdata/tailcall).
func TestTailcallSelftests(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "tailcall_1", obj: "tailcall/tailcall1.o", pkt: zero128, steps: func(x *h) {
			for i := range uint32(3) {
				x.run("entry").r0(uint64(i)).tailCalls(1)
				x.deleteSlot("jmp_table", i)
			}
			x.run("entry").r0(3).tailCalls(0)
			for i := range uint32(3) {
				x.setSlot("jmp_table", i, fmt.Sprintf("classifier_%d", i))
			}
			x.run("entry").r0(0).tailCalls(1)
			for i := range uint32(3) {
				x.setSlot("jmp_table", i, fmt.Sprintf("classifier_%d", 2-i))
			}
			for i := range uint32(3) {
				x.run("entry").r0(uint64(2 - i)).tailCalls(1)
				x.deleteSlot("jmp_table", i)
			}
			x.run("entry").r0(3).tailCalls(0)
			for i := range uint32(3) {
				if err := x.set.ClearSlot(x.mapIndex("jmp_table"), i); !errors.Is(err, maps.ENOENT) {
					t.Errorf("deleting empty slot %d: %v, want ENOENT", i, err)
				}
				x.run("entry").r0(3).tailCalls(0)
			}
		}},
		{name: "tailcall_2", obj: "tailcall/tailcall2.o", pkt: zero128, steps: func(x *h) {
			x.run("entry").r0(2).tailCalls(3)
			x.deleteSlot("jmp_table", 2)
			x.run("entry").r0(1).tailCalls(2)
			x.deleteSlot("jmp_table", 0)
			// entry's attempts on empty slots 0 and 2 count under legacy
			// (the count goes up before the slot is read), not under
			// fixed; c3 <-> c4 take what is left, ending in c3 either way.
			if x.scheme == core.Legacy {
				x.run("entry").r0(3).tailCalls(31)
			} else {
				x.run("entry").r0(3).tailCalls(33)
			}
		}},
		{name: "tailcall_3", obj: "tailcall/tailcall3.o", pkt: zero128, steps: func(x *h) {
			x.run("entry").r0(1).global("count", 33).tailCalls(33)
			x.deleteSlot("jmp_table", 0)
			x.run("entry").r0(0).global("count", 33).tailCalls(0)
		}},
		{name: "tailcall_4", obj: "tailcall/tailcall4.o", pkt: zero128, steps: func(x *h) {
			for i := range uint64(3) {
				x.setGlobal("selector", i)
				x.run("entry").r0(i).tailCalls(1)
			}
			for i := range uint32(3) {
				x.setGlobal("selector", uint64(i))
				x.deleteSlot("jmp_table", i)
				x.run("entry").r0(3).tailCalls(0)
			}
		}},
		{name: "tailcall_5", obj: "tailcall/tailcall5.o", pkt: zero128, steps: func(x *h) {
			sel := []uint64{1111, 1234, 5678}
			for i, s := range sel {
				x.setGlobal("selector", s)
				x.run("entry").r0(uint64(i)).tailCalls(1)
			}
			for i, s := range sel {
				x.setGlobal("selector", s)
				x.deleteSlot("jmp_table", uint32(i))
				x.run("entry").r0(3).tailCalls(0)
			}
		}},
		{name: "tailcall_6", obj: "tailcall/tailcall6.o", pkt: zero128, steps: func(x *h) {
			x.run("entry").r0(1).global("count", 33).tailCalls(33)
			x.deleteSlot("jmp_table", 0)
			x.run("entry").r0(0).global("count", 33).tailCalls(0)
		}},
		{name: "bpf2bpf_1", obj: "tailcall/tailcall_bpf2bpf1.o", steps: func(x *h) {
			x.run("entry").r0(1).tailCalls(1)
			x.deleteSlot("jmp_table", 1)
			x.run("entry").r0(0).tailCalls(1)
			x.deleteSlot("jmp_table", 0)
			x.run("entry").r0(54 * 2).tailCalls(0)
		}},
		{name: "bpf2bpf_2", obj: "tailcall/tailcall_bpf2bpf2.o", pkt: zero128, steps: func(x *h) {
			x.run("entry").r0(1).global("count", 33).tailCalls(33)
			x.deleteSlot("jmp_table", 0)
			x.run("entry").r0(0).global("count", 33).tailCalls(0)
		}},
		{name: "bpf2bpf_3", obj: "tailcall/tailcall_bpf2bpf3.o", steps: func(x *h) {
			x.run("entry").r0(54 * 3).tailCalls(2)
			x.deleteSlot("jmp_table", 1)
			x.run("entry").r0(54).tailCalls(1)
			x.deleteSlot("jmp_table", 0)
			x.run("entry").r0(54 * 2).tailCalls(0)
		}},
		{name: "bpf2bpf_4", obj: "tailcall/tailcall_bpf2bpf4.o", steps: func(x *h) {
			x.run("entry").r0(54*3).global("count", 31).tailCalls(33)
		}},
		{name: "bpf2bpf_5", obj: "tailcall/tailcall_bpf2bpf4.o", steps: func(x *h) {
			x.setGlobal("noise", 1)
			x.run("entry").r0(54*3).global("count", 31).tailCalls(33)
		}},
		{name: "bpf2bpf_6", obj: "tailcall/tailcall_bpf2bpf6.o", steps: func(x *h) {
			x.run("entry").r0(0).global("done", 1).tailCalls(1)
		}},
		// Fixed: one count for the whole hierarchy, entry runs 1 + 33
		// times. Legacy: each subprog_tail call works on its own copy, the
		// tree doubles at every level and the run ends on the budget; an
		// execution of entry runs at most 27 instructions (13 of its own,
		// 7 per subprog_tail call), so 1,000,000 make count at least 37,037.
		{name: "hierarchy_1", obj: "tailcall/tailcall_bpf2bpf_hierarchy1.o", steps: func(x *h) {
			if x.scheme == core.Legacy {
				x.run("entry").budget().globalAtLeast("count", 37037)
				return
			}
			x.run("entry").r0(1).global("count", 34).tailCalls(33)
			x.deleteSlot("jmp_table", 0)
			x.run("entry").r0(1).global("count", 35).tailCalls(0)
		}},
		{name: "hierarchy_2", obj: "tailcall/tailcall_bpf2bpf_hierarchy2.o", pkt: zero128, steps: func(x *h) {
			if x.scheme == core.Legacy {
				x.run("tailcall_bpf2bpf_hierarchy_2").r0(33<<16|33).global("count0", 33).global("count1", 33).tailCalls(66)
				return
			}
			x.run("tailcall_bpf2bpf_hierarchy_2").r0(33).global("count0", 33).global("count1", 0).tailCalls(33)
		}},
		// classifier_0 runs at most 27 instructions per execution (13 of
		// its own, 7 per subprog_tail call) and main 5 before its tail
		// call: legacy's budget stop leaves count at least 37,036.
		{name: "hierarchy_3", obj: "tailcall/tailcall_bpf2bpf_hierarchy3.o", pkt: zero128, steps: func(x *h) {
			if x.scheme == core.Legacy {
				x.run("tailcall_bpf2bpf_hierarchy_3").budget().globalAtLeast("count", 37036)
				return
			}
			x.run("tailcall_bpf2bpf_hierarchy_3").r0(33).global("count", 33).tailCalls(33)
		}},
		// main calls sub, sub tail-calls main: 33 tail calls, each from one
		// frame deeper, then every main returns 0.
		{name: "tailcall_jit", obj: "tailcall/tailcall_jit.o", pkt: zero128, steps: func(x *h) {
			x.run("main").r0(0).tailCalls(33)
			if x.ok() && x.res.TailCalls[32].Depth != 33 {
				x.t.Errorf("the last tail call is made at depth %d, want 33", x.res.TailCalls[32].Depth)
			}
		}},
	})
}

// Packets for the real-world programs.
func eth(proto uint16, payload ...byte) []byte {
	p := make([]byte, 12, 14+len(payload))
	p = binary.BigEndian.AppendUint16(p, proto)
	return append(p, payload...)
}

func ipv4(ihl byte, proto byte, payload ...byte) []byte {
	h := make([]byte, int(ihl)*4)
	if ihl < 5 {
		h = make([]byte, 20)
	}
	h[0] = 4<<4 | ihl
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	return append(h, payload...)
}

// tcp builds a header: flags in byte 13 (0x02 SYN, 0x10 ACK), options
// padded to 4 bytes.
func tcp(dport uint16, flags byte, opts ...byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	h := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], dport)
	h[12] = byte(5+len(opts)/4) << 4
	h[13] = flags
	return append(h, opts...)
}

func udp(dport uint16) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], 5353)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], 8)
	return h
}

const (
	ethIPv4, ethARP, ethVLAN, ethIPv6 = 0x0800, 0x0806, 0x8100, 0x86dd
	protoTCP, protoUDP                = 6, 17
	tcActOK, tcActShot                = 0, 2 // TC_ACT_OK, TC_ACT_SHOT
	xdpDrop, xdpPass                  = 1, 2 // XDP_DROP, XDP_PASS
)

// TestParse: real/parse.c, a tc parser with bounded loops, over packets
// built here; r0 and the counters worked from its C. Maps keep what
// earlier packets counted.
func TestParse(t *testing.T) {
	syn := byte(0x02)
	packets := []struct {
		name      string
		pkt       []byte
		r0        uint64
		parsed    uint64
		synCounts [3]uint64 // after this packet
	}{
		{"pkt_v4 (TCP, no flags): not a SYN", ctx.PktV4(), tcActOK, 1, [3]uint64{}},
		{"SYN without options: slot 0", eth(ethIPv4, ipv4(5, protoTCP, tcp(80, syn)...)...), tcActOK, 2, [3]uint64{1, 0, 0}},
		{"SYN, MSS 1460: slot 2", eth(ethIPv4, ipv4(5, protoTCP, tcp(80, syn, 2, 4, 0x05, 0xb4)...)...), tcActOK, 3, [3]uint64{1, 0, 1}},
		{"SYN, NOP NOP MSS 536: slot 1", eth(ethIPv4, ipv4(5, protoTCP, tcp(80, syn, 1, 1, 2, 4, 0x02, 0x18)...)...), tcActOK, 4, [3]uint64{1, 1, 1}},
		{"SYN behind a VLAN tag: slot 0", eth(ethVLAN, append([]byte{0, 5, 0x08, 0x00}, ipv4(5, protoTCP, tcp(80, syn)...)...)...), tcActOK, 5, [3]uint64{2, 1, 1}},
		{"SYN with IP options (ihl 6)", eth(ethIPv4, ipv4(6, protoTCP, tcp(80, syn)...)...), tcActOK, 6, [3]uint64{3, 1, 1}},
		{"SYN-ACK: not counted", eth(ethIPv4, ipv4(5, protoTCP, tcp(80, syn|0x10)...)...), tcActOK, 7, [3]uint64{3, 1, 1}},
		{"UDP", eth(ethIPv4, ipv4(5, protoUDP, udp(53)...)...), tcActOK, 8, [3]uint64{3, 1, 1}},
		{"ARP: not IPv4", eth(ethARP, make([]byte, 28)...), tcActOK, 8, [3]uint64{3, 1, 1}},
		{"IPv6: not IPv4", eth(ethIPv6, make([]byte, 40)...), tcActOK, 8, [3]uint64{3, 1, 1}},
		{"ihl 4: dropped", eth(ethIPv4, ipv4(4, protoTCP, tcp(80, syn)...)...), tcActShot, 8, [3]uint64{3, 1, 1}},
		{"IPv4 header cut short: dropped", eth(ethIPv4, make([]byte, 10)...), tcActShot, 8, [3]uint64{3, 1, 1}},
		{"TCP header cut short: dropped", eth(ethIPv4, ipv4(5, protoTCP, make([]byte, 12)...)...), tcActShot, 9, [3]uint64{3, 1, 1}},
		{"VLAN header cut short: dropped", eth(ethVLAN, 0, 5), tcActShot, 9, [3]uint64{3, 1, 1}},
	}
	runScenarios(t, []scenario{{name: "parse", obj: "real/parse.o", steps: func(x *h) {
		for _, p := range packets {
			x.pkt = p.pkt
			x.run("parse").r0(p.r0).global("parsed", p.parsed).tailCalls(0)
			var got [3]uint64
			for k := range 3 {
				got[k] = binary.LittleEndian.Uint64(x.set.Map(x.mapIndex("syn_count")).Value(maps.Key(uint32(k))))
			}
			if got != p.synCounts {
				x.t.Errorf("%s: syn_count %v, want %v", p.name, got, p.synCounts)
			}
		}
	}}})
}

// TestCounter: real/counter.c, a socket filter counting packets and bytes
// per EtherType in a hash map. Socket filters see the packet from the
// network header (test_run pushes the Ethernet header back for tc only),
// so skb->len is the frame less 14; the key is skb->protocol as the
// program reads it (htons(ETH_P_IP) = 0x0008 on little-endian).
func TestCounter(t *testing.T) {
	arp := eth(ethARP, make([]byte, 46)...) // a minimal 60-byte frame
	runScenarios(t, []scenario{{name: "counter", obj: "real/counter.o", steps: func(x *h) {
		for range 3 {
			x.pkt = ctx.PktV4()
			x.run("count_by_proto").r0(54 - 14)
		}
		for range 2 {
			x.pkt = arp
			x.run("count_by_proto").r0(60 - 14)
		}
		x.global("dropped_updates", 0)
		var got []string
		for _, e := range x.set.Map(x.mapIndex("counts")).Entries() {
			got = append(got, fmt.Sprintf("%x: packets %d bytes %d", e.Key,
				binary.LittleEndian.Uint64(e.Value), binary.LittleEndian.Uint64(e.Value[8:])))
		}
		want := []string{"08000000: packets 3 bytes 120", "08060000: packets 2 bytes 92"}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			x.t.Errorf("counts = %q, want %q", got, want)
		}
	}}})
}

// TestXDPDrop: real/xdp_drop.c drops TCP and UDP by destination port: the
// blocked hash map or .rodata's default_port (8080). XDP_DROP is 1,
// XDP_PASS 2.
func TestXDPDrop(t *testing.T) {
	to := func(port uint16) []byte { return eth(ethIPv4, ipv4(5, protoTCP, tcp(port, 0x02)...)...) }
	runScenarios(t, []scenario{
		{name: "xdp_drop", obj: "real/xdp_drop.o", steps: func(x *h) {
			x.pkt = to(8080)
			x.run("xdp_drop_port").r0(xdpDrop).global("dropped_total", 1)
			x.pkt = to(80)
			x.run("xdp_drop_port").r0(xdpPass).global("dropped_total", 1)
			blocked := x.set.Map(x.mapIndex("blocked"))
			if err := blocked.Update([]byte{80, 0}, make([]byte, 8), 0); err != nil {
				x.t.Fatal(err)
			}
			x.run("xdp_drop_port").r0(xdpDrop).global("dropped_total", 2)
			if v := blocked.Value([]byte{80, 0}); v == nil || binary.LittleEndian.Uint64(v) != 1 {
				x.t.Errorf("blocked[80] = %x, want 1", v)
			}
			x.pkt = eth(ethIPv4, ipv4(5, protoUDP, udp(8080)...)...)
			x.run("xdp_drop_port").r0(xdpDrop).global("dropped_total", 3)
			x.pkt = eth(ethARP, make([]byte, 28)...)
			x.run("xdp_drop_port").r0(xdpPass)
			x.pkt = eth(ethIPv4, ipv4(5, protoTCP, make([]byte, 10)...)...) // TCP header cut short
			x.run("xdp_drop_port").r0(xdpPass)
			x.setGlobal("enabled", 0)
			x.pkt = to(8080)
			x.run("xdp_drop_port").r0(xdpPass).global("dropped_total", 3)
		}},
		{name: "default_port 9090", obj: "real/xdp_drop.o", prepare: setRodata("default_port", 9090), steps: func(x *h) {
			x.pkt = to(8080)
			x.run("xdp_drop_port").r0(xdpPass).global("default_port", 9090)
			x.pkt = to(9090)
			x.run("xdp_drop_port").r0(xdpDrop).global("dropped_total", 1)
		}},
	})
}

// setRodata writes a const volatile before the load, as a libbpf skeleton
// does through skel->rodata.
func setRodata(name string, v uint64) func(t *testing.T, obj *core.Object) {
	return func(t *testing.T, obj *core.Object) {
		for _, m := range obj.Maps {
			for _, vr := range m.Vars {
				if vr.Name == name && len(m.Entries) == 1 {
					b := slices.Clone(m.Entries[0].Value)
					for i := range vr.Size {
						b[vr.Offset+i] = byte(v >> (8 * i))
					}
					m.Entries[0].Value = b
					return
				}
			}
		}
		t.Fatalf("no initialised global %s", name)
	}
}

// TestContextRewritesAllEngines: every kind of rewritten context access
// (chains, masks, narrow and sign-extending reads, the queue_mapping
// guard, packet pointers, LD_ABS/LD_IND with their early exit) gives the
// interpreter's r0 on every engine. The values are checked against the
// kernel's rules on the interpreter in core/ctx's tests.
func TestContextRewritesAllEngines(t *testing.T) {
	progs := []struct{ typ, src string }{
		{"tc", "r0 = *(u32 *)(r1 +40)\nr2 = *(u32 *)(r1 +4)\nr0 += r2\nr2 = *(u8 *)(r1 +17)\nr0 += r2"},
		{"socket", "r0 = *(u32 *)(r1 +40)\nr2 = *(s8 *)(r1 +8)\nr0 += r2\nr2 = *(u16 *)(r1 +18)\nr0 += r2"},
		{"tc", "r0 = *(u32 *)(r1 +20)\n*(u32 *)(r1 +12) = 65535\nr2 = 7\n*(u32 *)(r1 +12) = r2\nr2 = *(u32 *)(r1 +12)\nr0 += r2"},
		{"tc", "r2 = *(u32 *)(r1 +76)\nr3 = *(u32 *)(r1 +80)\nr0 = r3\nr0 -= r2\nr2 = *(u8 *)(r2 +23)\nr0 += r2"},
		{"xdp", "r0 = *(u32 *)(r1 +12)\nr2 = *(u32 *)(r1 +16)\nr0 += r2\nr2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr3 -= r2\nr0 += r3"},
		{"tc", "r6 = r1\nr7 = 20\nr0 = *(u16 *)skb[12]\nr8 = r0\nr0 = *(u8 *)skb[r7 + 3]\nr0 += r8\nr8 = r0\nr0 = *(u32 *)skb[-1048572]\nr0 += r8"},
		{"socket", "r6 = r1\nr0 = *(u8 *)skb[200]\nr0 = 99"},
	}
	es := allEngines(t)
	for k, pr := range progs {
		obj, err := asm.Parse("t.s", []byte(".helpers kernel\n.prog p "+pr.typ+"\n"+pr.src+"\nexit\n"))
		if err != nil {
			t.Fatal(err)
		}
		obj.Progs[0].KernelCtx = true
		if err := analysis.Check(obj); err != nil {
			t.Fatal(err)
		}
		opts := ctx.Options{Mark: 0xff80, VlanTCI: 3}
		if pr.typ == "xdp" {
			opts = ctx.Options{Ifindex: 4, RxQueueIndex: 2}
		}
		in, err := ctx.Build(obj.Progs[0], ctx.PktV4(), opts)
		if err != nil {
			t.Fatal(err)
		}
		var want uint64
		for _, e := range es {
			for _, s := range []core.Scheme{core.Fixed, core.Legacy} {
				res, err := e.Run(obj, 0, in, core.RunOptions{Scheme: s})
				if err != nil {
					t.Fatalf("program %d on %s/%s: %v", k, e.Name(), s, err)
				}
				if e.Name() == "interp" && s == core.Fixed {
					want = res.R0
				} else if res.R0 != want {
					t.Errorf("program %d on %s/%s: r0 %#x, interpreter %#x", k, e.Name(), s, res.R0, want)
				}
			}
		}
	}
}
