package xlate_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"jitsim/core"
	"jitsim/core/asm"
	"jitsim/core/maps"
	"jitsim/core/mem"
	"jitsim/core/xlate"
)

func parse(t *testing.T, src string) *core.Object {
	t.Helper()
	obj, err := asm.Parse("t.s", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

const header = `
.map jmp prog_array key=4 value=4 max=4
.map other prog_array key=4 value=4 max=2
.map arr array key=4 value=8 max=1
.map g array key=4 value=16 max=1 section=.bss
`

// TestLdImm64: map references become the addresses core/maps lays out.
func TestLdImm64(t *testing.T) {
	obj := parse(t, header+`
	r1 = map[jmp] ll
	r2 = map[g][0]+12
	r3 = map[arr] ll
	r4 = 0x1234 ll
	exit
`)
	x, err := xlate.Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	p := x.Progs[0]
	for _, tc := range []struct {
		slot int
		want uint64
	}{
		{0, mem.MapBase},                 // jmp, the first map
		{2, mem.GlobalBase + 0x110 + 12}, // .bss value + 12
		{4, mem.MapBase + 0x4000},        // arr, after jmp and other
		{6, 0x1234},                      // a constant stays
	} {
		lo, hi := p.Insns[tc.slot], p.Insns[tc.slot+1]
		if !lo.IsLdImm64() || lo.Src != 0 || core.Imm64(lo, hi) != tc.want {
			t.Errorf("slot %d: %v / %v = %#x, want src 0 and %#x", tc.slot, lo, hi, core.Imm64(lo, hi), tc.want)
		}
	}
	if len(p.SlotPos) != len(p.Insns) || p.PosOf(2) != obj.Progs[0].PosOf(2) {
		t.Fatal("positions were not kept per slot")
	}
	if obj.Progs[0].Insns[0].Src != core.PseudoMapFD {
		t.Fatal("xlate changed its input")
	}
	// Running it again changes nothing: xlated code holds no pseudo
	// sources, and the poke table survives.
	again, err := xlate.Object(x)
	if err != nil || !slices.Equal(again.Progs[0].Insns, p.Insns) {
		t.Fatalf("xlate of xlated code differs: %v", err)
	}
}

// TestTailCallSites: direct (a poke descriptor) or indirect, as the
// verifier's record_func_key and map pointer tracking decide.
func TestTailCallSites(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		pokes      []core.TailCallPoke // in site order; nil entries = indirect
		direct     []bool
	}{
		{"constant map and key", `
	r2 = map[jmp] ll
	r3 = 3
	call bpf_tail_call
	r0 = 0
	exit`, []core.TailCallPoke{{Map: 0, Key: 3}}, []bool{true}},
		{"key past max_entries", `
	r2 = map[jmp] ll
	r3 = 4
	call bpf_tail_call
	r0 = 0
	exit`, nil, []bool{false}},
		{"key from memory", `
	r3 = *(u32 *)(r1 +0)
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 0
	exit`, nil, []bool{false}},
		{"key computed from constants", `
	r3 = 10
	r3 -= 4
	r3 >>= 1
	w3 += 0
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 0
	exit`, []core.TailCallPoke{{Map: 0, Key: 3}}, []bool{true}},
		{"a different key per path (tailcall5)", `
	r0 = *(u32 *)(r1 +0)
	r3 = 0
	if r0 == 1 goto one
	goto call
one:
	r3 = 1
call:
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 0
	exit`, nil, []bool{false}},
		{"a branch decided by constants is not a path", `
	r3 = 2
	r4 = 5
	if r4 > 6 goto other
	goto call
other:
	r3 = 1
call:
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 0
	exit`, []core.TailCallPoke{{Map: 0, Key: 2}}, []bool{true}},
		{"the same key on two paths", `
	r0 = *(u32 *)(r1 +0)
	r3 = 1
	if r0 == 1 goto call
	r3 = 1
call:
	r2 = map[jmp] ll
	call bpf_tail_call
	r0 = 0
	exit`, []core.TailCallPoke{{Map: 0, Key: 1}}, []bool{true}},
		{"map moved through registers and a subprogram argument", `
	r7 = map[other] ll
	r2 = r7
	r3 = 1
	call sub
	r0 = 0
	exit
sub:
	call bpf_tail_call
	r0 = 0
	exit`, []core.TailCallPoke{{Map: 1, Key: 1}}, []bool{true}},
		{"two maps through one subprogram (hierarchy_3)", `
	r6 = r1
	r2 = map[jmp] ll
	call sub
	r1 = r6
	r2 = map[other] ll
	call sub
	r0 = 0
	exit
sub:
	r3 = 0
	call bpf_tail_call
	r0 = 0
	exit`, nil, []bool{false}},
		{"a helper call clobbers r2 and r3", `
	r2 = map[jmp] ll
	r3 = 0
	call bpf_ktime_get_ns
	call bpf_tail_call
	r0 = 0
	exit`, nil, []bool{false}},
		{"callee-saved registers survive calls", `
	r6 = 1
	r7 = map[jmp] ll
	call bpf_ktime_get_ns
	r2 = r7
	r3 = r6
	call bpf_tail_call
	r3 = r6
	r2 = r7
	call bpf_tail_call
	r0 = 0
	exit`, []core.TailCallPoke{{Map: 0, Key: 1}, {Map: 0, Key: 1}}, []bool{true, true}},
		{"unreached site", `
	r0 = 0
	exit
	r2 = map[jmp] ll
	r3 = 0
	call bpf_tail_call
	exit`, nil, []bool{false}},
		{"32-bit move of a map is no map", `
	r2 = map[jmp] ll
	w2 = w2
	r3 = 0
	call bpf_tail_call
	r0 = 0
	exit`, nil, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, header+".prog p tc\n"+tc.body+"\n")
			x, err := xlate.Object(obj)
			if err != nil {
				t.Fatal(err)
			}
			p := x.Progs[0]
			var direct []bool
			for i, ins := range p.Insns {
				if ins.Op == core.JMP|core.TailCall {
					_, ok := xlate.IsDirect(p, i)
					direct = append(direct, ok)
					if ok && ins.Imm != int32(len(direct)-countFalse(direct)) {
						t.Errorf("slot %d: imm %d is not its poke index + 1", i, ins.Imm)
					}
				}
				if ins.IsHelperCall() && ins.Imm == 12 {
					t.Fatalf("slot %d: bpf_tail_call was not rewritten", i)
				}
			}
			if !slices.Equal(direct, tc.direct) {
				t.Fatalf("direct %v, want %v", direct, tc.direct)
			}
			if !slices.Equal(p.TailCallPokes, tc.pokes) {
				t.Fatalf("pokes %v, want %v", p.TailCallPokes, tc.pokes)
			}
		})
	}
}

func countFalse(b []bool) int {
	n := 0
	for _, v := range b {
		if !v {
			n++
		}
	}
	return n
}

// TestConformanceHelpers: helper 12 is bpf_tail_call only in the kernel
// id space.
func TestConformanceHelpers(t *testing.T) {
	obj := parse(t, ".helpers conformance\ncall 12\nexit\n")
	x, err := xlate.Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	if ins := x.Progs[0].Insns[0]; !ins.IsHelperCall() || ins.Imm != 12 {
		t.Fatalf("call 12 became %v", ins)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"tail call through an array", header + `
.prog p tc
	r2 = map[arr] ll
	r3 = 0
	call bpf_tail_call
	exit`, "p: t.s:10:2 (insn 3): xlate: bpf_tail_call: r2 is map arr, a array; tail calls go through a prog_array"},
		{"an array as a subprogram's argument", header + `
.prog p tc
	r2 = map[jmp] ll
	call sub
	r2 = map[g] ll
	call sub
	exit
sub:
	r3 = 0
	call bpf_tail_call
	exit`, "p: t.s:15:2 (insn 8): xlate: bpf_tail_call: r2 may be map g, a array; tail calls go through a prog_array"},
		{"map value of a multi-entry array", `
.map big array key=4 value=8 max=2
	r1 = map[big][0]+0
	exit`, "main: t.s:3:2 (insn 0): xlate: ld_imm64 of a value of map big: direct value access needs an array with one entry, not a array with 2"},
		{"prog array slot of another type", header + `
.slot jmp 0 q
.prog p tc
	r2 = map[jmp] ll
	exit
.prog q xdp
	exit`, "p: t.s:9:2 (insn 0): xlate: prog_array jmp: slot 0 holds q, a xdp program, but p, a sched_cls program, tail-calls through it (bpf_prog_map_compatible)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := xlate.Object(parse(t, tc.src))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
			if _, ok := errors.AsType[*core.Error](err); !ok {
				t.Fatalf("%T is not a *core.Error", err)
			}
		})
	}
	// A map index the object lacks, as a raw loader could produce.
	ld := core.LdImm64(core.R1, core.PseudoMapFD, 7)
	obj := &core.Object{Progs: []*core.Program{{Name: "p", Insns: []core.Insn{ld[0], ld[1], {Op: core.JMP | core.Exit}}}}}
	if _, err := xlate.Object(obj); err == nil || err.Error() != "p: (insn 0): xlate: ld_imm64 refers to map 7, but the object has 0 maps" {
		t.Fatalf("bad map index: %v", err)
	}
}

// TestStructureIsTheVerifiers: broken jumps and calls are left for the
// verifier and the decoder to report; xlate must not fail or panic on
// them.
func TestStructureIsTheVerifiers(t *testing.T) {
	for _, insns := range [][]core.Insn{
		{{Op: core.JMP | core.JA, Off: 10}, {Op: core.JMP | core.Exit}},
		{{Op: core.JMP | core.JA, Off: -5}},
		{{Op: core.JMP | core.Call, Src: core.PseudoCall, Imm: 100}, {Op: core.JMP | core.Exit}},
		{{Op: core.JMP | core.JA, Off: 1}, {Op: core.LD | core.IMM | core.DW}, {}, {Op: core.JMP | core.Exit}},
		{{Op: core.LD | core.IMM | core.DW, Src: core.PseudoMapFD}},
		{{Op: core.ALU64 | core.K | core.Mov, Dst: 14}},
		{},
	} {
		obj := &core.Object{Helpers: core.HelpersKernel, Progs: []*core.Program{{Name: "p", Insns: insns}}}
		x, err := xlate.Object(obj)
		if err != nil {
			t.Errorf("%v: %v", insns, err)
			continue
		}
		if !slices.Equal(x.Progs[0].Insns, insns) {
			t.Errorf("%v became %v", insns, x.Progs[0].Insns)
		}
	}
}

// TestLayoutShared: xlate and core/maps agree on addresses.
func TestLayoutShared(t *testing.T) {
	obj := parse(t, header+".prog p tc\n r1 = map[other] ll\n exit\n")
	lay, err := maps.Plan(obj)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xlate.Object(obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := core.Imm64(x.Progs[0].Insns[0], x.Progs[0].Insns[1]); got != lay.Maps[1].Addr {
		t.Fatalf("ld_imm64 %#x, layout %#x", got, lay.Maps[1].Addr)
	}
	if !strings.HasPrefix(x.Progs[0].Name, "p") || x.Maps[1] != obj.Maps[1] {
		t.Fatal("xlated object does not share the maps")
	}
}
