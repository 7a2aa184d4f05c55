package interp_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
	"jitsim/core/interp"
	"jitsim/core/kabi"
	"jitsim/core/maps"
	"jitsim/core/mem"
)

func parse(t testing.TB, src string) *core.Object {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

var ctx8 = core.Input{Ctx: make([]byte, 8)}

// countTiming: 10 attempts on an empty slot, then a program that counts
// and tail-calls itself (conformance/testdata/tailcall/count_timing.data).
const countTiming = `
.map jmp prog_array key=4 value=4 max=2
.slot jmp 0 counter
.map count array key=4 value=4 max=1 section=.bss
.prog entry tc
	r6 = r1
	r7 = 10
miss:
	r1 = r6
	r2 = map[jmp] ll
	r3 = 1
	call bpf_tail_call
	r7 -= 1
	if r7 != 0 goto miss
	r1 = r6
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	r0 = 0xff
	exit
.prog counter tc
	r6 = r1
	r1 = map[count][0]+0
	r2 = *(u32 *)(r1 +0)
	r2 += 1
	*(u32 *)(r1 +0) = r2
	r1 = r6
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	r1 = map[count][0]+0
	r0 = *(u32 *)(r1 +0)
	exit
`

// TestCountPoint: when an attempt is counted, per scheme by default and
// forced either way by the option.
func TestCountPoint(t *testing.T) {
	obj := parse(t, countTiming)
	for _, tc := range []struct {
		point  interp.CountPoint
		scheme core.Scheme
		want   uint64
	}{
		{interp.CountPerScheme, core.Fixed, 33},
		{interp.CountPerScheme, core.Legacy, 23},
		{interp.CountBeforeSlot, core.Fixed, 23}, // the kernel's interpreter
		{interp.CountAfterSlot, core.Legacy, 33},
		{interp.CountBeforeSlot, core.Legacy, 23},
		{interp.CountAfterSlot, core.Fixed, 33},
	} {
		e := interp.NewWith(interp.Options{TailCallCount: tc.point})
		res, err := e.Run(obj, 0, ctx8, core.RunOptions{Scheme: tc.scheme})
		e.Close()
		if err != nil || res.R0 != tc.want || uint64(len(res.TailCalls)) != tc.want {
			t.Errorf("point %d %v: r0 %v, err %v; want %d and as many tail calls", tc.point, tc.scheme, res, err, tc.want)
			continue
		}
		// The first success: before the slot check, the ten misses have
		// already brought the count to 10.
		first := res.TailCalls[0]
		wantBefore := uint32(0)
		if tc.want == 23 {
			wantBefore = 10
		}
		if first.CountBefore != wantBefore || first.CountAfter != wantBefore+1 {
			t.Errorf("point %d %v: first tail call counts %d -> %d, want %d -> %d", tc.point, tc.scheme, first.CountBefore, first.CountAfter, wantBefore, wantBefore+1)
		}
	}
}

// hierarchy is the seed's shape: main calls a subprogram twice, each
// starting a chain of tail calls through subprograms.
const hierarchy = `
.map jmp prog_array key=4 value=4 max=2
.slot jmp 0 c0
.slot jmp 1 c1
.prog main tc
	r6 = r1
	r7 = 7
	r2 = 0
	call tail
	r1 = r6
	r2 = 1
	call tail
	r0 = r7
	exit
tail:
	r3 = r2
	r2 = map[jmp] ll
	r7 = 99         # callee-saved: the caller's r7 comes back
	call bpf_tail_call
	r0 = 0
	exit
.prog c0 tc
	r2 = 0
	call tail
	exit
tail:
	r3 = r2
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 1
	exit
.prog c1 tc
	r2 = 1
	call tail
	exit
tail:
	r3 = r2
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 2
	exit
`

// TestTrace: every successful tail call, with the frame's depth and the
// count it changed; legacy's count restarts with main's copy after the
// first chain returns.
func TestTrace(t *testing.T) {
	obj := parse(t, hierarchy)
	e := interp.New()
	defer e.Close()
	for _, sc := range []core.Scheme{core.Fixed, core.Legacy} {
		res, err := e.Run(obj, 0, ctx8, core.RunOptions{Scheme: sc})
		if err != nil {
			t.Fatal(err)
		}
		if res.R0 != 7 {
			t.Errorf("%v: r0 = %d, want main's own r7 (7) back", sc, res.R0)
		}
		want := []core.TailCallEvent{
			// main's subprogram, depth 1; the key is an argument: indirect
			{From: "main", To: "c0", Slot: 0, Direct: false, CountBefore: 0, CountAfter: 1, Depth: 1},
			// c0 replaced tail's frame at depth 1 and calls its own tail
			{From: "c0", To: "c0", Slot: 0, Direct: true, CountBefore: 1, CountAfter: 2, Depth: 2},
		}
		n := 33
		if sc == core.Legacy {
			n = 66
		}
		if len(res.TailCalls) != n || !slices.Equal(res.TailCalls[:2], want) {
			t.Fatalf("%v: %d tail calls, first %+v", sc, len(res.TailCalls), res.TailCalls[:min(2, len(res.TailCalls))])
		}
		last := res.TailCalls[32]
		if last.CountAfter != 33 || last.Depth != 33 || last.To != "c0" {
			t.Errorf("%v: 33rd tail call %+v", sc, last)
		}
		if sc == core.Legacy {
			second := res.TailCalls[33]
			if second != (core.TailCallEvent{From: "main", To: "c1", Slot: 1, CountBefore: 0, CountAfter: 1, Depth: 1}) {
				t.Errorf("legacy: the second chain starts with %+v", second)
			}
		}
	}
}

// TestTailCallFrame: the new program keeps r1 (the context) and r10, and
// exits to whoever called the frame; the frame's caller gets its r6-r9.
func TestTailCallFrame(t *testing.T) {
	obj := parse(t, `
.map jmp prog_array key=4 value=4 max=1
.slot jmp 0 target
.prog entry tc
	r6 = 1
	r9 = 9
	call sub
	r0 += r6        # 1 + 9 + what target returned
	r0 += r9
	exit
sub:
	r6 = 100        # the caller's r6 is restored at exit
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	r0 = 1000
	exit
.prog target tc
	r0 = r10
	r0 -= r1
	exit
`)
	e := interp.New()
	defer e.Close()
	res, err := e.Run(obj, 0, ctx8, core.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// target runs in sub's frame: r10 = StackTop - 512, r1 = the context.
	want := uint64(mem.StackTop-kabi.MaxBPFStack-mem.CtxBase) + 10
	if res.R0 != want || res.TailCalls[0].Depth != 1 {
		t.Fatalf("r0 = %#x, want %#x; trace %+v", res.R0, want, res.TailCalls)
	}
}

// TestDepth: tail calls from subprograms nest programs beyond
// MAX_CALL_FRAMES, which the verifier bounds per program only; one
// program's own nesting is still bounded, and the stack region bounds
// the rest.
func TestDepth(t *testing.T) {
	// Each level: entry -> f1 -> ... -> f6, and f6 tail-calls entry: six
	// frames per tail call, so the stack region (119 frames) runs out
	// before the count (33 levels) does.
	src := `
.map jmp prog_array key=4 value=4 max=1
.slot jmp 0 entry
.prog entry tc
	call f1
	exit
f1:
	call f2
	exit
f2:
	call f3
	exit
f3:
	call f4
	exit
f4:
	call f5
	exit
f5:
	call f6
	exit
f6:
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	r0 = 0
	exit
`
	e := interp.New()
	defer e.Close()
	_, err := e.Run(parse(t, src), 0, ctx8, core.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "entry: t.s:20:2 (insn 10): run: stack overflow: no room for a 512-byte frame at call depth 120") {
		t.Fatalf("err = %v", err)
	}
	// With two frames per level the count ends it first: 34 executions.
	src2 := strings.Replace(src, "f1:\n\tcall f2", "f1:\n\tcall f6", 1)
	res, err := e.Run(parse(t, src2), 0, ctx8, core.RunOptions{})
	if err != nil || len(res.TailCalls) != 33 || res.TailCalls[32].Depth != 66 {
		t.Fatalf("err %v, %d tail calls", err, len(res.TailCalls))
	}
}

// TestKeepMaps: globals persist across runs only when asked; user-space
// changes through the Holder are what the next such run sees.
func TestKeepMaps(t *testing.T) {
	obj := parse(t, countTiming)
	e := interp.New()
	defer e.Close()
	set, err := e.Maps(obj)
	if err != nil {
		t.Fatal(err)
	}
	count, _ := set.Lookup("count")
	for i, tc := range []struct {
		keep bool
		want uint64
	}{{false, 33}, {true, 66}, {true, 99}, {false, 33}} {
		if _, err := e.Run(obj, 0, ctx8, core.RunOptions{KeepMaps: tc.keep}); err != nil {
			t.Fatal(err)
		}
		if v, _ := count.Uint(); v != tc.want {
			t.Fatalf("run %d: count %d, want %d", i, v, tc.want)
		}
	}
	if err := set.ClearSlot(0, 0); err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(obj, 0, ctx8, core.RunOptions{KeepMaps: true})
	if err != nil || res.R0 != 0xff || len(res.TailCalls) != 0 {
		t.Fatalf("after clearing slot 0: %+v, %v", res, err)
	}
	// Another object replaces the maps; the first is rebuilt when it
	// comes back, from its initial contents.
	if _, err := e.Run(object(core.HelpersKernel, prog(mov(core.R0, 1), exit())), 0, core.Input{}, core.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	set2, err := e.Maps(obj)
	if err != nil || set2 == set {
		t.Fatalf("maps not rebuilt: %v", err)
	}
	if p, ok := set2.Map(0).Slot(0); !ok || p != 1 {
		t.Fatal("slot 0 not back to counter")
	}
}

// TestDirectUsesThePoke: a direct tail call goes where its poke
// descriptor says, as the JIT's patched jump does, whatever r2 and r3
// hold.
func TestDirectUsesThePoke(t *testing.T) {
	obj := parse(t, `
.map jmp prog_array key=4 value=4 max=2
.slot jmp 1 one
.prog entry tc
	r2 = 0
	r3 = 0
	tail_call
	r0 = 0
	exit
.prog one tc
	r0 = 1
	exit
`)
	obj.Progs[0].Insns[2].Imm = 1
	obj.Progs[0].TailCallPokes = []core.TailCallPoke{{Map: 0, Key: 1}}
	e := interp.New()
	defer e.Close()
	res, err := e.Run(obj, 0, ctx8, core.RunOptions{})
	if err != nil || res.R0 != 1 || !res.TailCalls[0].Direct {
		t.Fatalf("%+v, %v", res, err)
	}
	// Indirect, the same r2 is no prog array: the verifier would not have
	// let it through, so the run stops.
	obj.Progs[0].Insns[2].Imm = 0
	_, err = e.Run(obj, 0, ctx8, core.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "entry: t.s:7:2 (insn 2): run: tail call through r2 = 0x0, which is not a prog_array") {
		t.Fatalf("err = %v", err)
	}
}

// TestMapsInRuns: programs reach the maps through the helpers and
// ld_imm64 of values; an xlate error stops the run before it starts.
func TestMapsInRuns(t *testing.T) {
	obj := parse(t, `
.map h hash key=4 value=8 max=4
.map g array key=4 value=8 max=1 section=.data
.elem g 0 5
	*(u32 *)(r10 -4) = 3
	*(u64 *)(r10 -16) = 40
	r1 = map[h] ll
	r2 = r10
	r2 += -4
	r3 = r10
	r3 += -16
	r4 = 0
	call bpf_map_update_elem
	r1 = map[h] ll
	r2 = r10
	r2 += -4
	call bpf_map_lookup_elem
	if r0 == 0 goto out
	r1 = map[g][0]+0
	r2 = *(u64 *)(r1 +0)
	r0 = *(u64 *)(r0 +0)
	r0 += r2
	exit
out:
	r0 = 0
	exit
`)
	e := interp.New()
	defer e.Close()
	res, err := e.Run(obj, 0, core.Input{}, core.RunOptions{})
	if err != nil || res.R0 != 45 {
		t.Fatalf("%+v, %v", res, err)
	}
	set, _ := e.Maps(obj)
	h, _ := set.Lookup("h")
	if v := h.Value(maps.Key(3)); v == nil || v[0] != 40 {
		t.Fatalf("h[3] = %v", v)
	}
	bad := parse(t, `
.map a array key=4 value=4 max=1
	r2 = map[a] ll
	r3 = 0
	call bpf_tail_call
	exit
`)
	_, err = e.Run(bad, 0, core.Input{}, core.RunOptions{})
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Op != "xlate" || ce.Pos.Insn != 3 {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkTailCall: a program tail-calling itself, 34 executions per run.
func BenchmarkTailCall(b *testing.B) {
	obj := parse(b, `
.map jmp prog_array key=4 value=4 max=1
.slot jmp 0 entry
.prog entry tc
	r6 = r1
	r7 = 0
loop:
	r7 += 1
	if r7 < 20 goto loop
	r1 = r6
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	r0 = r7
	exit
`)
	e := interp.New()
	defer e.Close()
	var insns, calls uint64
	for b.Loop() {
		res, err := e.Run(obj, 0, ctx8, core.RunOptions{})
		if err != nil || res.R0 != 20 || len(res.TailCalls) != 33 {
			b.Fatalf("%+v, %v", res, err)
		}
		insns += res.Insns
		calls += uint64(len(res.TailCalls))
	}
	b.ReportMetric(float64(insns)/b.Elapsed().Seconds(), "insns/s")
	b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "tailcalls/s")
}
